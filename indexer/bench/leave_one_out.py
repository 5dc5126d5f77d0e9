"""Retrieval quality from labels: leave-one-out precision@k over indexed images."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.indexes.faiss_helpers import search, stored_vectors
from latentsearch.indexer.store.bundle import IndexBundle


class NoLabelsError(UserError, ValueError):
    """Precision needs labels (one sub-folder per class)."""


@dataclass(frozen=True)
class PrecisionReport:
    k: int
    queries: int
    latent: float
    raw: float


def precision_at_k(index: faiss.Index, labels: np.ndarray, query_ids: np.ndarray, k: int) -> float:
    """Mean fraction of the top ``k`` neighbours (the query itself excluded) sharing its label."""
    _, found = search(index, stored_vectors(index, query_ids), k + 1)
    hits = []
    for query, row in zip(query_ids, found, strict=True):
        neighbours = [i for i in row if i != query and i >= 0][:k]
        hits.append(np.mean(labels[neighbours] == labels[query]))
    return float(np.mean(hits))


def leave_one_out_precision(
    bundle: IndexBundle, k: int = 10, queries: int = 500, seed: int = 0
) -> PrecisionReport:
    """Precision@k of latent and raw search, each query an indexed image left out."""
    labels = np.array(bundle.metadata.labels, dtype=object)
    rows = np.array(bundle.metadata.live_rows())  # an update leaves deleted files' rows blank
    if any(labels[row] is None for row in rows):
        raise NoLabelsError("precision needs every image in a labelled sub-folder")
    rng = np.random.default_rng(seed)
    query_ids = rng.choice(rows, size=min(queries, len(rows)), replace=False)
    return PrecisionReport(
        k=k,
        queries=len(query_ids),
        latent=precision_at_k(bundle.latent, labels, query_ids, k),
        raw=precision_at_k(bundle.raw, labels, query_ids, k),
    )
