"""FAISS on GPUs when the faiss GPU build sees one; the same CPU index otherwise.

Only IVF training (k-means, the costly part of a build) runs on the GPU, through the
``clustering_index`` hook FAISS provides: the trained index stays a CPU index, so it is
saved, updated and searched identically on machines with and without a GPU.
"""

from __future__ import annotations

import logging

import faiss

from latentsearch.indexer.indexes.faiss_helpers import is_ivf

log = logging.getLogger(__name__)


def gpu_count() -> int:
    """GPUs FAISS can use (0 with faiss-cpu, which has no ``get_num_gpus`` or returns 0)."""
    try:
        return int(faiss.get_num_gpus())
    except (AttributeError, RuntimeError):
        return 0


def gpu_clustering_index(dim: int, metric: int) -> faiss.Index | None:
    """A flat index on every GPU for k-means assignment, or None to cluster on the CPU."""
    if gpu_count() == 0:
        return None
    try:
        return faiss.index_cpu_to_all_gpus(faiss.IndexFlat(dim, metric))
    except (AttributeError, RuntimeError) as err:
        log.warning("FAISS GPU unavailable (%s); training on the CPU", err)
        return None


def use_gpu_for_training(index: faiss.Index) -> bool:
    """Point an IVF index's k-means at the GPUs; False (CPU training) when there are none."""
    if not is_ivf(index):
        return False
    ivf = faiss.extract_index_ivf(index)
    clustering = gpu_clustering_index(ivf.d, ivf.metric_type)
    if clustering is None:
        return False
    ivf.clustering_index = clustering
    log.info("training the IVF quantiser on %d GPU(s)", gpu_count())
    return True
