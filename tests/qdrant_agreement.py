#!/usr/bin/env python3
"""Qdrant Edge agreement test: `recommend export` loaded into Qdrant's own engine.

Qdrant's server cannot be installed on the build machines, but Qdrant Edge (PyPI
`qdrant-edge-py`) is the same engine in process. This loads the exported paper points into
an Edge shard (cosine distance, the manifest's dimension) and checks, for every paper, that
Qdrant's recommend query with that paper as the positive example returns the same top 10 as
`recommend similar --scoring cosine`. Run by `.ci/run` in a throwaway virtual environment:

    python tests/qdrant_agreement.py path/to/recommend path/to/index

(`cargo test --test cli qdrant` runs it on the seed index when QDRANT_EDGE_PYTHON names
a Python with qdrant-edge-py installed.)
"""

import json
import subprocess
import sys
import tempfile

from qdrant_edge import (
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeVectorParams,
    Filter,
    HasIdCondition,
    Point,
    Query,
    QueryRequest,
    RecommendQuery,
    SearchParams,
    UpdateOperation,
)

VECTOR = "paper"
K = 10
# Scores closer than this are a tie: float rounding may order them either way.
TIE = 1e-5


def check(paper, name, ours, theirs, scores):
    """Fails unless Qdrant's top K is ours, up to the order of exact ties."""
    ours_ids = [r["id"] for r in ours]
    theirs_ids = [s.payload["id"] for s in theirs]
    ours_scores = {r["id"]: r["score"] for r in ours}
    if ours_ids != theirs_ids:
        same = sorted(ours_ids) == sorted(theirs_ids) and all(
            abs(ours_scores[a] - ours_scores[b]) < TIE
            for a, b in zip(ours_ids, theirs_ids)
            if a != b
        )
        if not same:
            sys.exit(f"{paper}: `similar` gives {ours_ids}, Qdrant {name} gives {theirs_ids}")
    if scores:
        for s in theirs:
            if abs(ours_scores[s.payload["id"]] - s.score) > 1e-4:
                sys.exit(f"{paper}: score {ours_scores[s.payload['id']]} vs Qdrant {s.score}")


def main(binary, index):
    def run(*args):
        out = subprocess.run(
            [binary, "--index", index, *args], check=True, capture_output=True, text=True
        )
        return out.stdout

    points = [json.loads(line) for line in run("export", "--format", "jsonl").splitlines()]
    dim = len(points[0]["vector"])
    with tempfile.TemporaryDirectory() as shard_dir:
        config = EdgeConfig(vectors={VECTOR: EdgeVectorParams(size=dim, distance=Distance.Cosine)})
        shard = EdgeShard.create(shard_dir, config)
        for start in range(0, len(points), 256):
            batch = [
                Point(p["id"], {VECTOR: p["vector"]}, p["payload"])
                for p in points[start : start + 256]
            ]
            shard.update(UpdateOperation.upsert_points(batch))
        checked = 0
        for p in points:
            paper = p["payload"]["id"]
            ours = json.loads(
                run("similar", "--id", paper, "--scoring", "cosine", "-k", str(K), "--json")
            )["results"]
            not_itself = Filter(must_not=[HasIdCondition({p["id"]})])
            exact = SearchParams(exact=True)
            # Qdrant's recommend (best-score strategy, this paper the one positive example)
            # must rank as `similar` does; its scores are a monotone transform of the
            # cosine, so the plain nearest-neighbour query checks the scores themselves.
            recommended = shard.query(
                QueryRequest(
                    limit=K,
                    query=Query.RecommendBestScore(
                        RecommendQuery(positives=[p["vector"]], negatives=[]), using=VECTOR
                    ),
                    filter=not_itself,
                    with_payload=True,
                    params=exact,
                )
            )
            nearest = shard.query(
                QueryRequest(
                    limit=K,
                    query=Query.Nearest(p["vector"], using=VECTOR),
                    filter=not_itself,
                    with_payload=True,
                    params=exact,
                )
            )
            for name, theirs in (("recommend", recommended), ("nearest", nearest)):
                check(paper, name, ours, theirs, scores=name == "nearest")
            checked += 1
        shard.close()
    print(f"Qdrant Edge agrees with `similar --scoring cosine` on all {checked} papers (top {K})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
