"""The search code as a PCA projection of the encoder's last hidden features.

The bottleneck of an autoencoder keeps what helps to redraw pixels; a principal-component
projection of the features that feed it (same size as the bottleneck) keeps more of what
tells photos apart. On CIFAR-10 it ranks better for the undercomplete, denoising and
sparse variants, worse for the contractive one (docs/family.md). After training, the
saved encoder ends in that projection instead of the bottleneck, so indexing, search and
the page need no change; the saved decoder starts with a least-squares map from the
projected code back to the bottleneck, so reconstructions (and outlier scores) still
work, a little blurrier.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
from keras import layers

from latentsearch.encoder.config import SEARCH_CODES, ConfigError, ModelConfig

log = logging.getLogger(__name__)
# Variants whose encoder is one image -> one continuous code through a Dense named "code".
PROJECTABLE = ("undercomplete", "denoising", "sparse", "contractive")
# Where auto uses it: the contractive penalty flattens the features themselves, and their
# PCA ranks worse than its bottleneck (docs/family.md).
PROJECTED_BY_DEFAULT = ("undercomplete", "denoising", "sparse")
FIT_SAMPLE = 10_000  # images the projection is fitted on: plenty for a 2,048-d covariance


def uses_features(config: ModelConfig, search_code: str) -> bool:
    """Whether ``search_code`` asks for the projection, for a model of this ``config``."""
    if search_code not in SEARCH_CODES:
        raise ConfigError(f"search code must be one of {SEARCH_CODES}, got {search_code!r}")
    projectable = config.variant in PROJECTABLE and not config.binary_bits
    if search_code == "features" and not projectable:
        raise ConfigError(
            f"--search-code features applies to the {', '.join(PROJECTABLE)} variants "
            f"without --binary-bits, not to {config.variant!r}"
        )
    by_default = projectable and config.variant in PROJECTED_BY_DEFAULT
    return search_code == "features" or (search_code == "auto" and by_default)


def search_parts(
    autoencoder: keras.Model, config: ModelConfig, search_code: str, images: np.ndarray
) -> tuple[keras.Model, keras.Model]:
    """The encoder and decoder to save: projected when ``search_code`` asks for it."""
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    if not uses_features(config, search_code):
        return encoder, decoder
    if search_code == "auto" and len(images) <= config.latent_dim:
        log.warning(
            "too few images for a %d-d projection: searching the bottleneck", config.latent_dim
        )
        return encoder, decoder
    return project_features(encoder, decoder, images, config.latent_dim)


def principal_axes(features: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and the ``dim`` leading principal axes (F, dim) of ``features`` (N, F)."""
    if dim > min(features.shape):
        raise ConfigError(f"cannot project {features.shape} features onto {dim} axes")
    mean = features.mean(axis=0)
    covariance = np.cov(features - mean, rowvar=False)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:dim]
    return mean, vectors[:, order]


def _fixed_dense(units: int, kernel: np.ndarray, bias: np.ndarray, name: str) -> layers.Dense:
    dense = layers.Dense(units, name=name)
    dense.build((None, kernel.shape[0]))
    dense.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return dense


def project_features(
    encoder: keras.Model, decoder: keras.Model, images: np.ndarray, dim: int
) -> tuple[keras.Model, keras.Model]:
    """An encoder ending in the PCA of its code layer's input, and a decoder that accepts it."""
    sample = images[:: max(1, len(images) // FIT_SAMPLE)]
    code_layer = encoder.get_layer("code")  # the encoder's last layer, for these variants
    features_of = keras.Model(encoder.input, code_layer.input)
    features = np.asarray(features_of.predict(sample, batch_size=256, verbose=0))
    bottleneck = np.asarray(code_layer(features), np.float64)  # no second pass of the trunk
    features = features.astype(np.float64)
    mean, axes = principal_axes(features, dim)
    projection = _fixed_dense(dim, axes, -mean @ axes, "code")
    searcher = keras.Model(encoder.input, projection(features_of.output), name="encoder")
    codes = (features - mean) @ axes
    # least squares: bottleneck ~ codes @ back + offset, so the old decoder can follow
    design = np.hstack([codes, np.ones((len(codes), 1))])
    solution, *_ = np.linalg.lstsq(design, bottleneck, rcond=None)
    code = keras.Input(shape=(dim,), name="code")
    back = _fixed_dense(bottleneck.shape[1], solution[:-1], solution[-1], "to_bottleneck")
    redrawer = keras.Model(code, decoder(back(code)), name="decoder")
    log.info("search code: PCA of %d-d features onto %d axes", features.shape[1], dim)
    return searcher, redrawer
