#!/usr/bin/env python3
"""Draws the scale benchmark's curve (time vs. papers, log-log) from its JSON output.

    python benches/scale_plot.py SCALE_DIR/scale.json docs/scale.png

Needs matplotlib (e.g. in a throwaway virtual environment).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src, dst):
    rows = sorted(json.load(open(src)), key=lambda r: r["papers"])
    n = [r["papers"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = [
        ("similar_p50_ms", "similar (process wall, p50)"),
        ("search_vector_p50_ms", "search, fixed vector (process wall, p50)"),
        ("search_model_p50_ms", "search with the model (process wall, p50)"),
        ("open_ms", "index open"),
        ("graph_load_ms", "paper graph load"),
        ("first_stage_p50_ms", "similar first stage in process (graph + 10 rows)"),
    ]
    for key, label in series:
        ax.plot(n, [max(r.get(key, 0), 1e-3) for r in rows], marker="o", label=label)
    ax.axhline(50, color="grey", linestyle=":", linewidth=1)
    ax.text(n[0], 55, "similar target 50 ms", color="grey", fontsize=8)
    ax.axhline(1000, color="grey", linestyle="--", linewidth=1)
    ax.text(n[0], 1100, "search target 1 s", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("papers (10 passages each)")
    ax.set_ylabel("milliseconds")
    ax.set_title("recommend at scale (synthetic indexes, 2-core AMD EPYC Zen 3)")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
