"""Outlier scores: how badly the autoencoder rebuilds an image, against the collection.

The build stores the reconstruction errors of a sample of the indexed images (see
:func:`collection_errors`); a query's error is then ranked among them. A photo the model
rebuilds worse than nearly every indexed image is unlike anything it was shown, and its
nearest neighbours say little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentsearch.encoder.errors import LatentSearchError
from latentsearch.encoder.inference import decode_codes, errors_of
from latentsearch.encoder.training import TrainedModel

# Above this percentile of the collection's own errors the page warns plainly.
OUTLIER_PERCENTILE = 99.0
# A model whose median error on the collection is over this share of the error of flat
# patches of each photo's average colour rebuilds little: its reconstructions and outlier
# scores say little. Trained defaults measured 0.05 (MNIST), 0.16 (sign photos) and 0.18
# (CIFAR-10); a model that draws grey squares is near 1.
WEAK_FIT = 0.5


class NoDecoderError(LatentSearchError, RuntimeError):
    """The model has no decoder, so nothing can be reconstructed."""


def rebuild(model: TrainedModel, images: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The model's reconstructions (N, H, W, C) of ``images``, whose latent codes are ``codes``.

    Through the bottleneck where the search code is a projection (``model.redrawer``);
    else by decoding the codes, which costs no second pass of the encoder.
    """
    if model.decoder is None:
        raise NoDecoderError(f"the model in {model.path} has no decoder")
    if model.redrawer is not None:
        return np.asarray(model.redrawer.predict_on_batch(images), dtype=np.float32)
    return np.asarray(decode_codes(model.decoder, codes), dtype=np.float32)


def flat_errors(images: np.ndarray) -> np.ndarray:
    """Per image (N, H, W, C), the mean squared error of a flat image of its own average
    colour: what a model that rebuilds nothing of the picture would score."""
    pixels = np.asarray(images, np.float32).reshape(len(images), -1, images.shape[-1])
    return ((pixels - pixels.mean(axis=1, keepdims=True)) ** 2).mean(axis=(1, 2))


# Covariance ridge, as a share of the codes' mean variance: keeps the inverse finite when
# a collection has fewer images than code dimensions, or dimensions it never uses.
RARITY_RIDGE = 1e-6


def code_rarity(codes: np.ndarray) -> np.ndarray:
    """Per code (N, D), its squared Mahalanobis distance from the collection's codes (the
    same N): far along a direction in which the codes hardly vary counts for much."""
    codes = np.asarray(codes, np.float64)
    centred = codes - codes.mean(axis=0)
    covariance = centred.T @ centred / max(1, len(codes) - 1)
    ridge = RARITY_RIDGE * max(float(np.trace(covariance)) / len(covariance), 1e-12)
    inverse = np.linalg.inv(covariance + ridge * np.eye(len(covariance)))
    return np.einsum("ij,jk,ik->i", centred, inverse, centred).astype(np.float32)


def fit_ratio(errors: np.ndarray, flat: np.ndarray) -> float:
    """Median reconstruction error over the median flat-image error (near 0: a good fit)."""
    return float(np.median(errors) / max(float(np.median(flat)), 1e-12))


# The decoder pass costs about five times the encoder's (the CIFAR-10 model, on a CPU); a
# percentile and a median need a sample, not every image: one image in eight, and for a
# large collection only about ERROR_SAMPLES in all.
MIN_ERROR_STRIDE = 8
ERROR_SAMPLES = 2048


def error_stride(count: int) -> int:
    """One image in how many gets its reconstruction error stored, for ``count`` images."""
    return max(MIN_ERROR_STRIDE, count // ERROR_SAMPLES)


def collection_errors(
    model: TrainedModel,
    images: np.ndarray,
    codes: np.ndarray,
    rows: np.ndarray,
    stride: int = MIN_ERROR_STRIDE,
) -> np.ndarray:
    """Errors for one build batch, reusing its codes, for the rows that are a multiple of
    ``stride`` (see :func:`error_stride`); NaN for the others, and for all when the model
    has no decoder."""
    errors = np.full(len(images), np.nan, dtype=np.float32)
    sampled = np.flatnonzero(np.asarray(rows) % stride == 0)
    if model.decoder is not None and sampled.size:
        rebuilt = rebuild(model, images[sampled], codes[sampled])
        errors[sampled] = errors_of(images[sampled], rebuilt)
    return errors


@dataclass(frozen=True)
class OutlierScore:
    """A query's reconstruction error and where it falls among the collection's."""

    error: float
    percentile: float  # share of indexed images rebuilt better than this one, 0-100
    collection_median: float

    @property
    def is_outlier(self) -> bool:
        return self.percentile >= OUTLIER_PERCENTILE


def known_errors(stored: np.ndarray | None) -> np.ndarray | None:
    """The collection's errors, sorted, or None where the index stores none (an older build)."""
    if stored is None:
        return None
    finite = np.sort(stored[np.isfinite(stored)])
    return finite if finite.size else None


def score(error: float, sorted_errors: np.ndarray) -> OutlierScore:
    """Rank ``error`` among ``sorted_errors`` (from :func:`known_errors`)."""
    below = np.searchsorted(sorted_errors, error, side="left")
    return OutlierScore(
        error=float(error),
        percentile=100.0 * below / len(sorted_errors),
        collection_median=float(np.median(sorted_errors)),
    )
