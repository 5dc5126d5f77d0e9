"""Small single-purpose FAISS helpers, in the spirit of ``faiss.contrib``."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

METRICS = {"l2": faiss.METRIC_L2}


class IndexFileError(RuntimeError):
    """A FAISS index file is missing or unreadable."""


def as_float32(vectors: np.ndarray) -> np.ndarray:
    """FAISS wants C-contiguous float32 rows."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return np.ascontiguousarray(vectors.reshape(len(vectors), -1))


def new_flat_index(dim: int, metric: str = "l2") -> faiss.Index:
    """An exact index built with the index factory (``Flat``)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {sorted(METRICS)}")
    return faiss.index_factory(dim, "Flat", METRICS[metric])


def add_vectors(index: faiss.Index, vectors: np.ndarray) -> None:
    vectors = as_float32(vectors)
    if vectors.shape[1] != index.d:
        raise ValueError(f"vectors have dimension {vectors.shape[1]}, the index {index.d}")
    index.add(vectors)


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (distances, ids) per query; ``k`` is capped at the index size."""
    queries = as_float32(queries)
    if queries.shape[1] != index.d:
        raise ValueError(f"queries have dimension {queries.shape[1]}, the index {index.d}")
    k = max(1, min(k, index.ntotal))
    return index.search(queries, k)


def write_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def read_index(path: Path) -> faiss.Index:
    if not Path(path).is_file():
        raise IndexFileError(f"index file {path} is missing")
    try:
        return faiss.read_index(str(path))
    except RuntimeError as err:
        raise IndexFileError(f"cannot read index file {path}: {err}") from err
