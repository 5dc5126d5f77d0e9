"""``BuildSettings``: how ``latentsearch index`` builds, shared by full builds and updates.

Imports no Keras, so the command line can describe an update before Keras is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentsearch.indexer.files.folders import DEFAULT_WORKERS
from latentsearch.indexer.indexes.choice import (
    DEFAULT_MEMORY_BUDGET,
    RECALL_TARGET,
    parse_memory_budget,
)


@dataclass(frozen=True)
class BuildSettings:
    batch_size: int | None = None  # None: by device (encoder.devices.choose_inference)
    workers: int = DEFAULT_WORKERS
    index_type: str = "auto"  # flat | hnsw | ivf | ivfpq | auto (see index_choice)
    metric: str | None = None  # l2 | cosine, latent index; None: cosine, or as before for --update
    memory_budget: int = parse_memory_budget(DEFAULT_MEMORY_BUDGET)  # bytes, for auto/ivfpq
    seed: int = 0  # picks the training sample of IVF indexes
    recall_target: float = RECALL_TARGET  # recall@10 an IVF index's probes are tuned to

    @property
    def chosen_metric(self) -> str:
        """``metric`` once the build has chosen it (``latent_metric``)."""
        return _chosen(self.metric, "metric")

    @property
    def chosen_batch_size(self) -> int:
        """``batch_size`` once the build has chosen it (``for_indexing``)."""
        return _chosen(self.batch_size, "batch_size")


def _chosen(value, name: str):
    if value is None:  # a bug: the build resolves its settings before it uses them
        raise ValueError(f"the build's {name} is used before it was chosen")
    return value
