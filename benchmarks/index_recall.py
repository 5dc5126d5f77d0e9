"""Recall@10 of each index type against exact search, on the codes of a built index.

    python benchmarks/index_recall.py --index INDEX_DIR [--queries 1000] [--budget 2G]

Reads the latent codes an index already holds (so no model runs), builds every index type
from them the way ``latentsearch index`` does (same factory keys, training sample size
and search parameters), and prints a markdown table: recall@10, build and query time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from latentsearch.indexer.indexes.choice import index_key_for, parse_memory_budget
from latentsearch.indexer.indexes.factory import filled_index
from latentsearch.indexer.indexes.faiss_helpers import prepare_vectors, stored_vectors
from latentsearch.indexer.store.bundle import IndexBundle

TYPES = ("flat", "hnsw", "ivf", "ivfpq", "auto")


def build(key: str, codes: np.ndarray, metric: str, seed: int = 0):
    started = time.perf_counter()
    index = filled_index(key, codes, metric, seed)
    return index, time.perf_counter() - started


def recall_at(k: int, truth: np.ndarray, found: np.ndarray) -> float:
    return float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--budget", default="2G")
    args = parser.parse_args()
    bundle = IndexBundle.load(args.index)
    raw_codes = stored_vectors(bundle.latent, np.array(bundle.metadata.live_rows()))
    budget = parse_memory_budget(args.budget)
    rng = np.random.default_rng(1)
    print("| metric | type | factory key | recall@10 | build s | query ms |")
    print("|---|---|---|---|---|---|")
    for metric in ("l2", "cosine"):
        codes = prepare_vectors(raw_codes, metric)
        queries = codes[rng.choice(len(codes), args.queries, replace=False)]
        exact, _ = build("Flat", codes, metric)
        _, truth = exact.search(queries, 10)
        for index_type in TYPES:
            key = index_key_for(index_type, len(codes), codes.shape[1], budget)
            index, seconds = build(key, codes, metric)
            started = time.perf_counter()
            _, found = index.search(queries, 10)
            ms = (time.perf_counter() - started) * 1e3 / len(queries)
            recall = recall_at(10, truth, found)
            row = [metric, index_type, f"`{key}`", f"{recall:.3f}", f"{seconds:.1f}", f"{ms:.3f}"]
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
