"""autofaiss on the codes a latentsearch build stored, for benchmarks/million.py.

    python autofaiss_run.py WORK_DIR --memory-budget 2G

Runs in an environment that has autofaiss (it pins numpy<2, so not latentsearch's own):
reads WORK_DIR/codes/codes.npy (unit-length rows), WORK_DIR/queries.npy and
WORK_DIR/truth.npy (exact top-10 ids, row numbers of codes.npy), builds with
``autofaiss.build_index`` under the same memory budget and inner product, and prints one
JSON line: the index key autofaiss chose, build seconds, recall@10 of its own search
against the exact top 10, and single-query latency percentiles.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from autofaiss import build_index


def recall_at_10(truth: np.ndarray, found: np.ndarray) -> float:
    return float(
        np.mean([len(set(t) & set(f)) / len(t) for t, f in zip(truth, found, strict=True)])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("work", type=Path)
    parser.add_argument("--memory-budget", default="2G")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    queries, truth = np.load(args.work / "queries.npy"), np.load(args.work / "truth.npy")
    started = time.perf_counter()
    index, infos = build_index(
        embeddings=str(args.work / "codes"),
        index_path=str(args.work / "autofaiss.index"),
        index_infos_path=str(args.work / "autofaiss_infos.json"),
        max_index_memory_usage=args.memory_budget,
        current_memory_available="4G",
        metric_type="ip",
        nb_cores=args.cores,
        min_nearest_neighbors_to_retrieve=10,
    )
    build_seconds = time.perf_counter() - started
    _, found = index.search(queries, 10)
    latencies = []
    for row in queries[:200]:
        begun = time.perf_counter()
        index.search(row[np.newaxis], 10)
        latencies.append((time.perf_counter() - begun) * 1e3)
    report = {
        "index_key": infos.get("index_key"),
        "build_s": round(build_seconds, 1),
        "recall_at_10": round(recall_at_10(truth, found), 4),
        "search_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "search_p95_ms": round(float(np.percentile(latencies, 95)), 3),
        "index_bytes": (args.work / "autofaiss.index").stat().st_size,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
