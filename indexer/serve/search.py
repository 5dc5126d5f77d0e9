"""Searching an index with one query image, in latent codes and raw pixels side by side."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from latentsearch.encoder.inference import encode_images
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.indexes.faiss_helpers import prepare_vectors, search
from latentsearch.indexer.store.bundle import IndexBundle


@dataclass(frozen=True)
class Hit:
    """One result: where it is in the index and which file it came from."""

    rank: int
    id: int
    path: str
    label: str | None
    distance: float


@dataclass(frozen=True)
class SearchResult:
    """Latent-code and raw-pixel results for one query, with the time each search took;
    ``raw`` and ``raw_ms`` are None where the raw-pixel search was not asked for."""

    latent: list[Hit]
    raw: list[Hit] | None
    latent_ms: float
    raw_ms: float | None

    def to_json(self) -> dict:
        return {
            "latent": [asdict(h) for h in self.latent],
            "raw": None if self.raw is None else [asdict(h) for h in self.raw],
            "latent_ms": round(self.latent_ms, 3),
            "raw_ms": None if self.raw_ms is None else round(self.raw_ms, 3),
        }


class Searcher:
    """Answers queries against one loaded :class:`IndexBundle`."""

    def __init__(self, bundle: IndexBundle) -> None:
        self.bundle = bundle
        self.config = bundle.model.config
        # The first call traces the model (~100 ms); pay that at load, not on a user's query.
        encode_images(bundle.model.encoder, np.zeros((1, *self.config.input_shape), np.float32))

    @classmethod
    def open(cls, index_dir: str | Path) -> Searcher:
        return cls(IndexBundle.load(index_dir))

    @classmethod
    def open_build(cls, build_folder: Path) -> Searcher:
        return cls(IndexBundle.load_build(build_folder))

    def prepare(self, source: str | Path | bytes | BinaryIO) -> np.ndarray:
        """The query as the model sees it: (size, size, channels) floats in [0, 1]."""
        return load_image(source, self.config.image_size, self.config.channels)

    def search(self, source: str | Path | bytes | BinaryIO, k: int = 10) -> SearchResult:
        return self.search_array(self.prepare(source), k)

    def search_array(self, image: np.ndarray, k: int = 10, raw: bool = True) -> SearchResult:
        """Both searches, or the latent one alone: at a million photos the exact raw-pixel
        scan takes about 50 times as long as the latent search (docs/scaling.md)."""
        batch = image[np.newaxis].astype(np.float32)
        started = time.perf_counter()
        code = encode_images(self.bundle.model.encoder, batch)
        # as stored: unit length for cosine, packed bits for Hamming
        code = prepare_vectors(code, self.bundle.manifest.metric, self.config.binary_threshold)
        latent = self._hits(*search(self.bundle.latent, code, k))
        middle = time.perf_counter()
        if not raw:
            return SearchResult(latent, None, (middle - started) * 1e3, None)
        pixels = self._hits(*search(self.bundle.raw, self.bundle.pixel_grid.vectors(batch), k))
        ended = time.perf_counter()
        return SearchResult(latent, pixels, (middle - started) * 1e3, (ended - middle) * 1e3)

    def _hits(self, distances: np.ndarray, ids: np.ndarray) -> list[Hit]:
        meta = self.bundle.metadata
        return [
            Hit(rank, int(i), meta.paths[i], meta.labels[i], float(d))
            for rank, (d, i) in enumerate(zip(distances[0], ids[0], strict=True), start=1)
            if i >= 0
        ]


def search_image(index_dir: str | Path, image: str | Path, k: int = 10) -> SearchResult:
    """One-shot search, for the CLI."""
    return Searcher.open(index_dir).search(Path(image), k)
