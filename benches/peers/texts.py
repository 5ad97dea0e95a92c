#!/usr/bin/env python3
"""Write the benchmark texts (one per line) from the seed corpus.

    python3 benches/peers/texts.py OUT.txt [--seeds corpus/seeds] [--limit 200]

A paragraph is one non-empty line of a seed file (the seeds keep each paragraph
on its own line; 003 has no blank lines at all, so blank-line blocks would turn
it into a single 4k-character text). Each is trimmed, NFC-normalized, internal
whitespace runs collapsed to one space (so it fits on one output line), and kept
if it has >= 20 characters; exact duplicates are dropped. Files are read in
name order (README.md skipped) and paragraphs are taken round-robin across the
files (1st of each file, then 2nd of each, ...) so the first N texts mix all
sources. Standard library only; output is byte-identical for the same seeds.
"""
import argparse
import glob
import os
import re
import sys
import unicodedata


def paragraphs(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = re.sub(r"\s+", " ", unicodedata.normalize("NFC", line)).strip()
            if len(t) >= 20:
                yield t


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--seeds", default=os.path.join(root, "corpus", "seeds"))
    ap.add_argument("--limit", type=int, default=200, help="max texts (0 = all)")
    a = ap.parse_args()

    files = sorted(p for p in glob.glob(os.path.join(a.seeds, "*"))
                   if os.path.isfile(p) and os.path.basename(p) != "README.md")
    per_file = [list(paragraphs(p)) for p in files]
    seen, out = set(), []
    for i in range(max(map(len, per_file), default=0)):
        for ps in per_file:
            if i < len(ps) and ps[i] not in seen:
                seen.add(ps[i])
                out.append(ps[i])
    if a.limit > 0:
        out = out[:a.limit]
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(t + "\n" for t in out)
    print("texts.py: %d texts (%d chars) from %d files -> %s"
          % (len(out), sum(map(len, out)), len(files), a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
