"""What the search page needs from one index build, in one object it can keep loaded.

Queries come from uploads or from the collection itself; a collection query leaves
itself out of its results, carries its label (so precision can be shown), and is read
back from the stored raw-pixel vector rather than from a file that may have moved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from latentsearch.encoder.config import TrainConfig
from latentsearch.encoder.inference import encode_images, errors_of
from latentsearch.encoder.training import load_train_config
from latentsearch.indexer.indexes.faiss_helpers import faiss_threads, prepare_vectors
from latentsearch.indexer.serve.collection_map import (
    CollectionMap,
    NoMapError,
    collection_map,
    sample_rows,
    stored_inputs,
)
from latentsearch.indexer.serve.collection_outliers import (
    LabelDoubt,
    Outlier,
    UnusualScores,
    label_doubts,
    most_unusual,
    unusual_scores,
)
from latentsearch.indexer.serve.duplicates import DuplicateReport, find_duplicates
from latentsearch.indexer.serve.outliers import (
    OutlierScore,
    fit_ratio,
    flat_errors,
    known_errors,
    rebuild,
    score,
)
from latentsearch.indexer.serve.queries import (
    MAX_UPLOAD_MB,
    QueryImage,
    display_name,
    find_rows,
    from_row,
    from_upload,
    original_file,
)
from latentsearch.indexer.serve.search import Hit, Searcher, SearchResult


@dataclass(frozen=True)
class ModelView:
    """What the model made of a query: its input, its reconstruction and how unusual it is."""

    model_input: np.ndarray  # (size, size, channels) in [0, 1]
    code: np.ndarray  # (latent_dim,)
    reconstruction: np.ndarray | None  # None when the model has no decoder
    error: float | None
    outlier: OutlierScore | None  # None when the index stores no collection errors


def precision(hits: list[Hit], label: str | None) -> float | None:
    """Share of ``hits`` with the query's ``label``; None without a label or hits."""
    if label is None or not hits:
        return None
    return sum(hit.label == label for hit in hits) / len(hits)


def leave_out(hits: list[Hit], row: int, k: int) -> list[Hit]:
    """The top ``k`` hits other than ``row`` itself, ranked from 1 again."""
    kept = [hit for hit in hits if hit.id != row][:k]
    return [replace(hit, rank=rank) for rank, hit in enumerate(kept, start=1)]


FIT_SAMPLE = 200  # collection images whose pixels judge how well the model fits


class Explorer:
    """Search, query sources, model view and map for one loaded index build."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.bundle = searcher.bundle
        meta = self.bundle.metadata
        root = self.bundle.manifest.data_root
        # "" for the blanked rows of files an incremental update removed
        self.names = [display_name(path, root) if path else "" for path in meta.paths]
        self.rows = np.array(meta.live_rows(), dtype=np.int64)
        self.errors = known_errors(meta.errors)
        self.has_labels = any(meta.labels[row] is not None for row in self.rows)
        self._map: CollectionMap | None = None
        self._map_lock = threading.Lock()
        model = self.bundle.model
        if model.decoder is not None:  # trace it at load, as Searcher does the encoder
            blank = np.zeros((1, *model.config.input_shape), np.float32)
            rebuild(model, blank, np.zeros((1, model.config.latent_dim), np.float32))

    @classmethod
    def open_build(cls, folder: Path) -> Explorer:
        return cls(Searcher.open_build(folder))

    def __len__(self) -> int:
        return len(self.rows)

    def upload(self, name: str, data: bytes, limit_mb: int = MAX_UPLOAD_MB) -> QueryImage:
        config = self.bundle.model.config
        return from_upload(name, data, config.image_size, config.channels, limit_mb)

    def pick(self, row: int) -> QueryImage:
        return from_row(self.bundle, row)

    def original(self, row: int) -> Path:
        """The original file of collection image ``row`` (``QueryError`` if it is gone)."""
        return original_file(self.bundle, row)

    def random_row(self, rng: np.random.Generator | None = None) -> int:
        return int((rng or np.random.default_rng()).choice(self.rows))

    def find(self, text: str, limit: int = 20) -> tuple[list[int], int]:
        return find_rows(self.names, text, limit)

    def search(self, query: QueryImage, k: int, raw: bool = True) -> SearchResult:
        """Both searches (the latent one alone without ``raw``); a collection image's own
        row is left out of its results.

        One query is one pass over a flat index: more OpenMP threads only add barrier waits
        (3x slower on a busy 2-core machine), so it runs on one."""
        if query.row is None:
            with faiss_threads(1):
                return self.searcher.search_array(query.image, k, raw)
        with faiss_threads(1):
            found = self.searcher.search_array(query.image, k + 1, raw)
        return replace(
            found,
            latent=leave_out(found.latent, query.row, k),
            raw=None if found.raw is None else leave_out(found.raw, query.row, k),
        )

    def look(self, query: QueryImage) -> ModelView:
        model = self.bundle.model
        batch = query.image[np.newaxis].astype(np.float32)
        code = encode_images(model.encoder, batch)
        if model.decoder is None:
            return ModelView(query.image, code[0], None, None, None)
        rebuilt = rebuild(model, batch, code)
        error = float(errors_of(batch, rebuilt)[0])
        outlier = None if self.errors is None else score(error, self.errors)
        return ModelView(query.image, code[0], np.clip(rebuilt[0], 0, 1), error, outlier)

    @cached_property
    def fit_ratio(self) -> float | None:
        """How little the model rebuilds of the collection (``outliers.fit_ratio`` on a
        sample); None where the index stores no errors or cannot return its pixels."""
        if self.errors is None:
            return None
        try:
            images = stored_inputs(self.bundle, sample_rows(self.rows, FIT_SAMPLE))
        except NoMapError:
            return None
        return fit_ratio(self.errors, flat_errors(images))

    @cached_property
    def duplicates(self) -> DuplicateReport:
        """Near-duplicate groups with the calibrated threshold, found once per build."""
        return find_duplicates(self.bundle)

    @cached_property
    def unusual_scores(self) -> UnusualScores:
        """Every live row's outlier measures, computed once per build."""
        return unusual_scores(self.bundle)

    def most_unusual(self, count: int) -> list[Outlier]:
        return most_unusual(self.unusual_scores, self.bundle.metadata.paths, count)

    @cached_property
    def doubted_labels(self) -> list[LabelDoubt]:
        """Files whose label their nearest neighbours disagree with, found once per build."""
        return label_doubts(self.bundle)

    @cached_property
    def training(self) -> TrainConfig:
        """How the index's model was trained, with the reasons for its auto choices (read
        once: the page asks on every rerun)."""
        return load_train_config(self.bundle.model.path)

    def collection_map(self) -> CollectionMap:
        """The 2-D map, computed on first use (raises ``NoMapError`` where it cannot be)."""
        with self._map_lock:
            if self._map is None:
                self._map = collection_map(self.bundle.latent, self.rows)
            return self._map

    def map_position(self, code: np.ndarray) -> tuple[float, float]:
        """Where a query's code lands on the map (normalised first, as stored, for cosine)."""
        config = self.bundle.model.config
        stored = prepare_vectors(
            code[np.newaxis], self.bundle.manifest.metric, config.binary_threshold
        )
        x, y = self.collection_map().place(stored)[0]
        return float(x), float(y)
