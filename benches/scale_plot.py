#!/usr/bin/env python3
"""Draws the scale benchmark's curve (time vs. papers, log-log) from its JSON output.

    python benches/scale_plot.py "CPU NAME" docs/scale.png SCALE_DIR/scale.json [MORE.json ...]

Several JSON files (runs of different sizes, `SCALE_SIZES`) are drawn as one curve; a
series is drawn only where the runs measured it. Needs matplotlib (e.g. in a throwaway
virtual environment).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SERIES = [
    ("similar_p50_ms", "similar, process wall p50 (page cache as it was)"),
    ("similar_warm_p50_ms", "similar, process wall p50 (its files cached, fresh seeds)"),
    ("search_vector_p50_ms", "search, fixed vector, process wall p50"),
    ("search_model_p50_ms", "search with the model, process wall p50"),
    ("first_stage_p50_ms", "similar's first stage in process (lists + re-scoring)"),
    ("open_ms", "index open"),
]


def main(cpu, dst, sources):
    rows = sorted(
        (r for src in sources for r in json.load(open(src))), key=lambda r: r["papers"]
    )
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for key, label in SERIES:
        points = [(r["papers"], r[key]) for r in rows if r.get(key, 0) > 0]
        if points:
            ax.plot(*zip(*points), marker="o", label=label)
    n0 = rows[0]["papers"]
    ax.axhline(50, color="grey", linestyle=":", linewidth=1)
    ax.text(n0, 55, "similar target 50 ms", color="grey", fontsize=8)
    ax.axhline(1000, color="grey", linestyle="--", linewidth=1)
    ax.text(n0, 1100, "search target 1 s", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("papers (10 passages each)")
    ax.set_ylabel("milliseconds")
    ax.set_title(f"recommend at scale (synthetic indexes, {cpu})", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
