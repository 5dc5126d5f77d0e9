"""Exact PCA of many rows: the covariance accumulated in chunks, then one symmetric eigensolve.

For 50,000 x 3,072 pixels this takes a BLAS product and a 3,072-wide ``eigh``, several times
faster than ``faiss.PCAMatrix`` on two cores, and needs no copy of the whole centred array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK_ROWS = 4096


@dataclass(frozen=True)
class PCA:
    """Projection onto the ``dim`` directions of largest variance of the fitted rows."""

    mean: np.ndarray  # (d,) float32
    components: np.ndarray  # (dim, d) float32, orthonormal rows, largest variance first
    explained_variance: np.ndarray  # (dim,) variance along each component
    total_variance: float  # of the fitted rows, over all d directions

    @property
    def explained_share(self) -> float:
        return float(self.explained_variance.sum() / self.total_variance)

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """(n, d) rows -> (n, dim) float32 coordinates."""
        rows = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        return np.ascontiguousarray((rows - self.mean) @ self.components.T, dtype=np.float32)


def covariance(rows: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Covariance (d, d) float64 of ``rows``, centred a chunk at a time."""
    d = rows.shape[1]
    total = np.zeros((d, d), dtype=np.float64)
    for start in range(0, len(rows), CHUNK_ROWS):
        centred = rows[start : start + CHUNK_ROWS] - mean
        total += centred.T @ centred  # float32 BLAS per chunk, summed in float64
    return total / max(len(rows) - 1, 1)


def fit_pca(rows: np.ndarray, dim: int) -> PCA:
    """Fit on ``rows`` (n, d); ``dim`` must be below both n and d."""
    rows = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    if not 1 <= dim < min(rows.shape):
        raise ValueError(f"PCA to {dim} dimensions needs more than {dim} rows and columns")
    mean = rows.mean(axis=0, dtype=np.float64).astype(np.float32)
    values, vectors = np.linalg.eigh(covariance(rows, mean))
    top = np.argsort(values)[::-1][:dim]
    components = vectors[:, top].T
    # fix each axis's sign (largest entry positive) so refits give the same coordinates
    signs = np.sign(components[np.arange(dim), np.abs(components).argmax(axis=1)])
    return PCA(
        mean=mean,
        components=(components * signs[:, np.newaxis]).astype(np.float32),
        explained_variance=values[top],
        total_variance=float(values.sum()),
    )
