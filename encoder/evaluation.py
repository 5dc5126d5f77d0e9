"""How well a score separates two groups: ROC AUC by the rank (Mann-Whitney) formula.

Used to judge reconstruction error as an outlier detector: the AUC is the probability
that a randomly chosen positive (an outlier) scores higher than a randomly chosen
negative, ties counting one half. 1.0 separates perfectly, 0.5 is chance.
"""

from __future__ import annotations

import numpy as np

from latentsearch.encoder.errors import LatentSearchError


class AUCError(LatentSearchError, ValueError):
    """The scores or labels cannot give an AUC (mismatched, non-finite, or one class only)."""


def midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def roc_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher = more positive) for boolean ``positives``.

    ``AUC = (R - n_pos (n_pos + 1) / 2) / (n_pos n_neg)``, where ``R`` is the sum of the
    positives' midranks among all scores.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives = np.asarray(positives, dtype=bool).ravel()
    if scores.shape != positives.shape:
        raise AUCError(f"{scores.size} scores but {positives.size} labels")
    if not np.all(np.isfinite(scores)):
        raise AUCError("scores must be finite (no NaN or infinity)")
    n_pos = int(positives.sum())
    n_neg = positives.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise AUCError(f"need both classes, got {n_pos} positives and {n_neg} negatives")
    rank_sum = midranks(scores)[positives].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
