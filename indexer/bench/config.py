"""The settings of one benchmark run; saved in its report."""

from __future__ import annotations

from dataclasses import dataclass

from latentsearch.indexer.bench.data import BenchmarkError
from latentsearch.indexer.files.folders import DEFAULT_WORKERS
from latentsearch.indexer.indexes.choice import INDEX_TYPES
from latentsearch.indexer.indexes.faiss_helpers import DEFAULT_METRIC


@dataclass(frozen=True)
class BenchConfig:
    """What to benchmark and how; saved in the report."""

    data: str
    models: tuple[str, ...]
    query_data: str | None = None
    queries_per_class: int | None = None  # default 100 when queries come from ``data``
    ks: tuple[int, ...] = (10, 100, 1000)
    knn_k: int = 10
    seed: int = 0
    batch_size: int = 256
    workers: int = DEFAULT_WORKERS
    latency_queries: int = 200
    examples: int = 8
    index_type: str = "flat"  # another type adds its recall@k against exact search
    # l2 or cosine, for every method alike (binary codes: Hamming); cosine by default, as
    # ``latentsearch index`` builds, so the bench measures what users search
    metric: str = DEFAULT_METRIC

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(str(m) for m in self.models))
        object.__setattr__(self, "ks", tuple(sorted({int(k) for k in self.ks})))
        if not self.models:
            raise BenchmarkError("give at least one model (--model)")
        if not self.ks or self.ks[0] < 1 or self.knn_k < 1:
            raise BenchmarkError("every k (--k) and the k-NN k must be at least 1")
        if self.latency_queries < 1 or self.batch_size < 1:
            raise BenchmarkError("latency_queries and batch_size must be at least 1")
        if self.metric not in ("l2", "cosine"):
            raise BenchmarkError(f"metric must be l2 or cosine, not {self.metric!r}")
        if self.index_type not in INDEX_TYPES:
            raise BenchmarkError(
                f"index type must be one of {INDEX_TYPES}, not {self.index_type!r}"
            )
