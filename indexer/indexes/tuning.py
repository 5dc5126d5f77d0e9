"""How many lists an IVF index probes: the fewest that keep a measured recall target.

The number of lists (``choice.ivf_lists``) depends on the count alone; how many of them a
search must visit depends on how the codes spread, which only the codes can tell. So once
an IVF index is filled, a sample of its own vectors is searched twice: through every list
(what an exact scan of the stored vectors finds) and through more and more probes, until
the probed search finds ``target`` of the exhaustive top 10. Autofaiss tunes the same
setting from the data, within a query-time budget.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from latentsearch.indexer.indexes.choice import RECALL_TARGET
from latentsearch.indexer.indexes.faiss_helpers import search, stored_ids, stored_vectors

log = logging.getLogger(__name__)
TUNING_QUERIES = 300
TUNING_K = 10


@dataclass(frozen=True)
class ProbeChoice:
    """The probes chosen and the recall@10 they reached on ``queries`` stored vectors."""

    nprobe: int
    lists: int
    recall_at_10: float
    target: float
    queries: int

    def as_dict(self) -> dict:
        return asdict(self)


def probe_candidates(nprobe: int, lists: int) -> list[int]:
    """``nprobe``, then doubling, up to every list."""
    candidates = [max(1, min(nprobe, lists))]
    while candidates[-1] < lists:
        candidates.append(min(lists, candidates[-1] * 2))
    return candidates


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of each row of ``exact`` (-1: no neighbour) that ``found``'s row holds too."""
    hits = total = 0
    for row, truth in zip(found, exact, strict=True):
        truth = truth[truth >= 0]
        hits += len(np.intersect1d(row, truth))
        total += len(truth)
    return hits / total if total else 1.0


def tune_probes(index: faiss.Index, target: float = RECALL_TARGET, seed: int = 0) -> ProbeChoice:
    """Set the IVF ``index``'s ``nprobe`` to the fewest probes (from its current setting,
    doubling) whose recall@10 on up to ``TUNING_QUERIES`` of its stored vectors reaches
    ``target``, each query's own vector left out of both answers."""
    ivf = faiss.extract_index_ivf(index)
    ids = np.sort(stored_ids(index))  # in id order, not the lists' order
    picked = np.random.default_rng(seed).choice(ids, min(len(ids), TUNING_QUERIES), replace=False)
    queries = stored_vectors(index, np.sort(picked)).astype(np.float32)
    start = ivf.nprobe
    ivf.nprobe = ivf.nlist
    exact = _without_self(search(index, queries, TUNING_K + 1)[1])
    recall = 1.0
    for nprobe in probe_candidates(start, ivf.nlist):
        ivf.nprobe = nprobe
        recall = recall_at(search(index, queries, TUNING_K + 1)[1], exact)
        if recall >= target:
            break
    choice = ProbeChoice(ivf.nprobe, ivf.nlist, round(recall, 4), target, len(queries))
    log.info(
        "probing %d of %d lists: recall@10 %.4f on %d stored codes (target %s)",
        choice.nprobe,
        choice.lists,
        choice.recall_at_10,
        choice.queries,
        target,
    )
    return choice


def _without_self(found: np.ndarray) -> np.ndarray:
    """Each row's answers after its first, the query's own vector (or an exact copy of it,
    which any probe finds as well): only the neighbours beyond it test the probes."""
    return found[:, 1:]
