"""Retrieval metrics on ranked relevance, as the image-retrieval and hashing literature uses them.

Every function takes ``hits``: a boolean matrix (queries, ranks) whose entry ``[q, i]`` says
whether the result at rank ``i + 1`` for query ``q`` is relevant (has the query's label),
and, where recall is involved, ``relevant_totals``: how many relevant images the whole
database holds for each query. Functions return one value per query; averaging over
queries is the caller's (so a large query set can be scored chunk by chunk).

Definitions (``k`` is a rank cut-off, ``rel_i`` the relevance of rank ``i``):

- precision@k = (relevant results in the top k) / k
- recall@k = (relevant results in the top k) / (relevant images in the database)
- AP@k = mean of precision@i over the ranks i <= k with rel_i = 1; 0 when the top k holds
  no relevant image. mAP@k is its mean over queries (hashing literature, e.g. HashNet).
- precision-recall curve: precision@c and recall@c, averaged over queries, at cut-offs c.
- k-NN accuracy: a query's predicted label is the most common label among its k nearest
  neighbours (ties go to the tied label ranked nearest); the fraction predicted right.
"""

from __future__ import annotations

import numpy as np

DEFINITIONS = {
    "precision@k": "relevant results in the top k, divided by k",
    "recall@k": "relevant results in the top k, divided by all relevant images in the database",
    "mAP@k": (
        "per query, the mean of precision@i over the ranks i <= k that hold a relevant image "
        "(0 when none does), averaged over queries (hashing-literature mAP@k)"
    ),
    "mAP@all": "mAP@k with k = the whole database",
    "PR curve": "precision@c and recall@c averaged over queries, at cut-offs c from 1 to all",
    "k-NN accuracy": (
        "fraction of queries whose most common label among the k nearest database images "
        "(ties: the tied label ranked nearest) is the query's own"
    ),
    "relevant": "a database image is relevant to a query when it has the query's label",
}


def _top(hits: np.ndarray, k: int) -> np.ndarray:
    hits = np.asarray(hits, dtype=bool)
    if hits.ndim != 2:
        raise ValueError(f"hits must be a (queries, ranks) matrix, got shape {hits.shape}")
    if not 1 <= k <= hits.shape[1]:
        raise ValueError(f"k must be in [1, {hits.shape[1]}] (the ranks given), got {k}")
    return hits[:, :k]


def _totals(relevant_totals: np.ndarray, queries: int) -> np.ndarray:
    totals = np.asarray(relevant_totals, dtype=np.float64)
    if totals.shape != (queries,):
        raise ValueError(f"relevant_totals must have one entry per query ({queries})")
    if np.any(totals <= 0):
        raise ValueError("every query needs at least one relevant image in the database")
    return totals


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """Fraction of the top ``k`` results that are relevant, per query."""
    return _top(hits, k).sum(axis=1) / k


def recall_at_k(hits: np.ndarray, relevant_totals: np.ndarray, k: int) -> np.ndarray:
    """Fraction of all relevant database images found in the top ``k``, per query."""
    top = _top(hits, k)
    return top.sum(axis=1) / _totals(relevant_totals, len(top))


def average_precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """AP@k per query: mean precision@i over the relevant ranks i <= k; 0 when there are none."""
    top = _top(hits, k)
    found = np.cumsum(top, axis=1)
    precision_at_each_rank = found / np.arange(1, k + 1)
    relevant_found = found[:, -1]
    summed = (precision_at_each_rank * top).sum(axis=1)
    return np.divide(summed, relevant_found, out=np.zeros(len(top)), where=relevant_found > 0)


def precision_recall_curve(
    hits: np.ndarray, relevant_totals: np.ndarray, cutoffs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query (precision, recall) at each cut-off: two (queries, len(cutoffs)) arrays."""
    cutoffs = np.asarray(cutoffs, dtype=np.int64)
    top = _top(hits, int(cutoffs.max()))
    if cutoffs.min() < 1:
        raise ValueError("cut-offs start at rank 1")
    found = np.cumsum(top, axis=1)[:, cutoffs - 1]
    totals = _totals(relevant_totals, len(top))
    return found / cutoffs, found / totals[:, np.newaxis]


def knn_predictions(neighbour_labels: np.ndarray) -> np.ndarray:
    """Majority label of each row of (queries, k) integer labels, nearest first.

    Ties go to the tied label whose first occurrence is nearest: of labels with equal
    votes, the one the closest neighbour carries wins.
    """
    neighbour_labels = np.asarray(neighbour_labels)
    if neighbour_labels.ndim != 2 or neighbour_labels.shape[1] == 0:
        raise ValueError("neighbour_labels must be a (queries, k >= 1) matrix")
    predictions = np.empty(len(neighbour_labels), dtype=neighbour_labels.dtype)
    for row, labels in enumerate(neighbour_labels):
        values, first_rank, votes = np.unique(labels, return_index=True, return_counts=True)
        # most votes first, then nearest first occurrence
        best = np.lexsort((first_rank, -votes))[0]
        predictions[row] = values[best]
    return predictions


def knn_correct(neighbour_labels: np.ndarray, query_labels: np.ndarray) -> np.ndarray:
    """Per query, whether the k-NN majority vote gives the query's own label."""
    query_labels = np.asarray(query_labels)
    if len(query_labels) != len(neighbour_labels):
        raise ValueError("one query label per row of neighbour labels")
    return knn_predictions(neighbour_labels) == query_labels


def cutoff_grid(database_size: int, extra: tuple[int, ...] = (), points: int = 60) -> np.ndarray:
    """Rank cut-offs for curves: geometric from 1 to ``database_size``, plus ``extra``."""
    if database_size < 1:
        raise ValueError("the database is empty")
    grid = np.geomspace(1, database_size, num=points).round().astype(np.int64)
    extra_cutoffs = [k for k in extra if 1 <= k <= database_size]
    return np.unique(np.concatenate([grid, extra_cutoffs, [database_size]]).astype(np.int64))
