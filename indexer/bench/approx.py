"""An approximate index against exact search: recall@k of its results, with its speed and size.

The index is the one ``latentsearch index --index-type`` would build (same factory string,
training sample and search parameters), so the figures carry over to a real index.
"""

from __future__ import annotations

import time

import numpy as np

from latentsearch.indexer.bench.speed import index_bytes
from latentsearch.indexer.indexes.choice import (
    DEFAULT_MEMORY_BUDGET,
    index_key_for,
    parse_memory_budget,
)
from latentsearch.indexer.indexes.factory import filled_index
from latentsearch.indexer.indexes.faiss_helpers import as_float32, faiss_threads, search

APPROX_DEFINITION = {
    "recall@k vs exact": (
        "for an approximate index (--index-type), the share of the exact top k that its "
        "top k holds, averaged over queries; its search times are for the index search alone "
        "(single queries on one FAISS thread, batch on all)"
    )
}


def recall_against_exact(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    """Mean share of each row's exact top ``k`` ids that the found top ``k`` holds."""
    shares = [len(np.intersect1d(f[:k], e[:k])) / k for f, e in zip(found, exact, strict=True)]
    return float(np.mean(shares))


def approximate_key(index_type: str, count: int, dim: int) -> str:
    return index_key_for(index_type, count, dim, parse_memory_budget(DEFAULT_MEMORY_BUDGET))


def build_approximate(key: str, database: np.ndarray, seed: int = 0):
    """The index for ``key`` trained and filled with ``database``; seconds taken. The rows
    are already as the method ranks them (unit length for cosine), so the index is L2."""
    started = time.perf_counter()
    index = filled_index(key, as_float32(database), "l2", seed)
    return index, time.perf_counter() - started


def approximate_figures(
    key: str,
    database: np.ndarray,
    queries: np.ndarray,
    exact_top: np.ndarray,
    ks: tuple[int, ...],
    latency_queries: int = 200,
) -> dict:
    """Build ``key`` over ``database``; its recall@k against ``exact_top`` ids, speed, size."""
    index, build_s = build_approximate(key, database)
    _, found = search(index, queries, max(ks))
    started = time.perf_counter()
    search(index, queries, ks[0])
    batch_rate = len(queries) / (time.perf_counter() - started)
    times = []
    with faiss_threads(1):
        for row in queries[:latency_queries]:
            started = time.perf_counter()
            search(index, row[np.newaxis], ks[0])
            times.append((time.perf_counter() - started) * 1e3)
    return {
        "index_key": key,
        "build_s": build_s,
        "bytes_per_image": index_bytes(index) / len(database),
        "search_ms_p50": float(np.percentile(times, 50)),
        "search_ms_p95": float(np.percentile(times, 95)),
        "batch_searches_per_s": batch_rate,  # search only: the queries come embedded
        "recall_vs_exact": {str(k): recall_against_exact(found, exact_top, k) for k in ks},
    }
