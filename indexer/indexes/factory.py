"""The one maker of FAISS indexes for codes: empty, trained, or trained and filled.

``latentsearch index`` (local and Ray), ``update``, the benchmark's approximate indexes and
``benchmarks/index_recall.py`` all make their index here, so a figure measured by one
holds for the others.
"""

from __future__ import annotations

import logging

import faiss
import numpy as np

from latentsearch.indexer.indexes.choice import IndexChoiceError, search_parameters, training_size
from latentsearch.indexer.indexes.faiss_helpers import (
    HAMMING,
    add_vectors,
    new_index,
    set_search_parameters,
)
from latentsearch.indexer.indexes.gpu import use_gpu_for_training

log = logging.getLogger(__name__)


def empty_index(key: str, dim: int, metric: str) -> faiss.Index:
    """The empty index for a factory ``key``, its search parameters (nprobe, efSearch) set."""
    index = new_index(key, dim, metric)
    if metric != HAMMING:  # a binary Flat index has no parameters to set
        set_search_parameters(index, search_parameters(key))
    return index


def train_index(index: faiss.Index, key: str, vectors: np.ndarray) -> None:
    """Train ``index`` on ``vectors`` as stored (``prepare_vectors``), on a GPU when the
    faiss GPU build sees one; a failure says which key and how many vectors."""
    log.info("training %s on %d codes", key, len(vectors))
    use_gpu_for_training(index)
    try:
        index.train(vectors)
    except RuntimeError as err:
        raise IndexChoiceError(f"cannot train {key} on {len(vectors)} codes: {err}") from err


def training_rows(key: str, count: int, seed: int = 0) -> np.ndarray:
    """Sorted rows of ``count`` vectors to train ``key`` on (none when it needs no training)."""
    sample = training_size(key, count)
    if not sample:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(count, sample, replace=False))


def filled_index(key: str, vectors: np.ndarray, metric: str, seed: int = 0) -> faiss.Index:
    """The index for ``key`` trained on a sample of ``vectors`` (as stored) and holding all of
    them, with ids 0..n-1: for vectors already in memory."""
    index = empty_index(key, vectors.shape[1], metric)
    rows = training_rows(key, len(vectors), seed)
    if len(rows):
        train_index(index, key, np.ascontiguousarray(vectors[rows], dtype=np.float32))
    add_vectors(index, vectors, np.arange(len(vectors), dtype=np.int64))
    return index
