"""A 2-D map of the collection: PCA of a sample of the latent codes, with a query placed on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import faiss
import numpy as np

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.indexes.faiss_helpers import stored_vectors

if TYPE_CHECKING:  # only for the annotation: serve depends on store, not the other way
    from latentsearch.indexer.store.bundle import IndexBundle

MAP_SAMPLE = 2000


class NoMapError(UserError, RuntimeError):
    """The index cannot give back its stored codes (e.g. a compressed index without a map)."""


@dataclass(frozen=True)
class CollectionMap:
    """Sampled rows, their 2-D coordinates, and the projection that placed them."""

    rows: np.ndarray  # (n,) int64 row numbers in the index
    points: np.ndarray  # (n, 2) float32
    mean: np.ndarray  # (d,) code mean of the sample
    axes: np.ndarray  # (2, d) the first two principal directions
    explained: tuple[float, float]  # share of the sample's variance along each axis

    def place(self, codes: np.ndarray) -> np.ndarray:
        """Map coordinates (n, 2) of latent ``codes`` (n, d), or of packed binary codes."""
        return ((as_map_vectors(codes) - self.mean) @ self.axes.T).astype(np.float32)


def as_map_vectors(codes: np.ndarray) -> np.ndarray:
    """Float rows; packed binary codes (uint8, as a binary index stores them) as 0/1 bits."""
    codes = np.asarray(codes)
    if codes.dtype == np.uint8:
        return np.unpackbits(codes, axis=1).astype(np.float32)
    return codes.astype(np.float32)


def stored_codes(index: faiss.Index, rows: np.ndarray) -> np.ndarray:
    """The vectors an index holds for ``rows`` as floats (binary codes as 0/1 bits); works
    for Flat indexes and any with a map."""
    try:
        stored = stored_vectors(index, rows)
    except RuntimeError as err:  # faiss: "reconstruct not implemented" / no direct map
        raise NoMapError(f"this index cannot return its stored codes ({err})") from err
    return as_map_vectors(stored)


def stored_inputs(bundle: IndexBundle, rows: np.ndarray) -> np.ndarray:
    """The model inputs of indexed ``rows``, from the raw-pixel baseline (one byte a
    value, lossless); ``NoMapError`` where the baseline keeps a shrunken grid."""
    grid, shape = bundle.pixel_grid, bundle.model.config.input_shape
    if grid.shrunk:
        raise NoMapError(
            f"the raw-pixel baseline keeps {grid.describe()} pixels to fit the index's "
            "memory budget, not the model's input; rebuild with a larger --memory-budget"
        )
    return stored_codes(bundle.raw, np.asarray(rows)).reshape(len(rows), *shape)


def sample_rows(rows: np.ndarray, size: int = MAP_SAMPLE, seed: int = 0) -> np.ndarray:
    """At most ``size`` of ``rows``, always the same ones for the same ``seed``."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) <= size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))


def principal_axes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Mean, the top two directions (zero-padded for 1-d codes) and their variance shares."""
    mean = codes.mean(axis=0)
    _, singular, vt = np.linalg.svd(codes - mean, full_matrices=False)
    axes = np.zeros((2, codes.shape[1]), np.float32)
    axes[: min(2, len(vt))] = vt[:2]
    variance = singular**2
    total = float(variance.sum()) or 1.0
    shares = [float(v) / total for v in variance[:2]] + [0.0, 0.0]
    return mean.astype(np.float32), axes, (shares[0], shares[1])


def collection_map(
    index: faiss.Index, rows: np.ndarray, size: int = MAP_SAMPLE, seed: int = 0
) -> CollectionMap:
    """Project the codes of at most ``size`` of ``rows`` (the index's ids) onto their first
    two principal axes."""
    if len(rows) == 0:
        raise NoMapError("the index is empty")
    rows = sample_rows(rows, size, seed)
    codes = stored_codes(index, rows)
    mean, axes, explained = principal_axes(codes)
    points = ((codes - mean) @ axes.T).astype(np.float32)
    return CollectionMap(rows=rows, points=points, mean=mean, axes=axes, explained=explained)
