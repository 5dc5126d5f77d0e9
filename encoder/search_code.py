"""The search code as a PCA projection of the encoder's last hidden features.

The bottleneck of an autoencoder keeps what helps to redraw pixels; a principal-component
projection of the features that feed it (same size as the bottleneck) keeps more of what
tells photos apart. Two standard retrieval steps make it rank better still: the features
are the element-wise maximum over the photo and its mirror image (a mirrored photo shows
the same thing, and gets the same code), and the principal axes are partly whitened (each
scaled by its standard deviation to the power -WHITENING), so that a few wide axes do not
drown the rest. On CIFAR-10 this ranks better than the bottleneck for the undercomplete,
denoising and sparse variants, worse for the contractive one (docs/family.md); on
collections that look different mirrored (hand signs, digits) the bottleneck ranks
better, so ``auto`` projects only photos that look the same mirrored (docs/quality.md). After
training, the saved encoder ends in that projection instead of the bottleneck, so
indexing, search and the page need no change; the saved decoder starts with a
least-squares map from the projected code back to the bottleneck, so a code alone can
still be drawn (blurred: a mirror-invariant code cannot say which way the photo faces).
Reconstructions of photos, and outlier scores, go through the bottleneck itself
(``TrainedModel.redrawer``).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import keras
import numpy as np
from keras import layers

from latentsearch.encoder.adaptive import mirror_ratio
from latentsearch.encoder.config import SEARCH_CODES, ConfigError, ModelConfig, TrainConfig
from latentsearch.encoder.layers import HorizontalFlip

log = logging.getLogger(__name__)
# Variants whose encoder is one image -> one continuous code through a Dense named "code".
PROJECTABLE = ("undercomplete", "denoising", "sparse", "contractive")
# Where auto uses it: the contractive penalty flattens the features themselves, and their
# PCA ranks worse than its bottleneck (docs/family.md).
PROJECTED_BY_DEFAULT = ("undercomplete", "denoising", "sparse")
FIT_SAMPLE = 10_000  # images the projection is fitted on: plenty for a 2,048-d covariance
MIRROR_SAMPLE = 2000  # photos the mirror test encodes (twice)
# mirror on up to this adaptive.mirror_ratio: measured 1.00 on CIFAR-10, 1.40 on the sign
# photos, 1.54 on the MNIST digits (docs/quality.md)
MIRROR_MAX_RATIO = 1.15
# Axis i is scaled by std_i ** -WHITENING. Full whitening (1) lifts noisy narrow axes as
# much as the wide ones; 0.25-0.5 rank best on CIFAR-10 for three trained models.
WHITENING = 0.35
PROJECTED_DECODER_START = "to_bottleneck"  # the first layer of a projected code's decoder


def uses_features(config: ModelConfig, search_code: str) -> bool:
    """Whether ``search_code`` may give this model the projection (auto: if the photos
    look the same mirrored, ``search_parts``); a bad choice raises ``ConfigError``."""
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
    autoencoder: keras.Model, config: ModelConfig, train: TrainConfig, images: np.ndarray
) -> tuple[tuple[keras.Model, keras.Model], TrainConfig]:
    """The encoder and decoder to save, and ``train`` with its auto choices filled in.

    ``features`` projects; ``auto`` projects, mirror-invariant, when the photos look the
    same mirrored (``train.mirror``, or measured by ``mirror_looks_alike``), and searches
    the bottleneck otherwise: on the quality suite the projection ranked better on
    CIFAR-10's photos (at 3,000 and 50,000) and worse on hand signs and digits, the
    collections that look different mirrored (docs/quality.md).
    """
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    reasons, mirror = dict(train.reasons), train.mirror
    too_few = train.search_code == "auto" and len(images) <= config.latent_dim
    if not uses_features(config, train.search_code) or too_few:
        reasons["search_code"] = _bottleneck_reason(config, train, len(images))
        return (encoder, decoder), replace(train, search_code="bottleneck", reasons=reasons)
    if mirror is None:
        mirror, reasons["mirror"] = mirror_looks_alike(encoder, images)
    if train.search_code == "auto" and not mirror:
        reasons["search_code"] = (
            "bottleneck: the photos look different mirrored (digits, text, hands), where "
            "it ranked better than the projected features (docs/quality.md)"
        )
        chosen = replace(train, search_code="bottleneck", mirror=False, reasons=reasons)
        return (encoder, decoder), chosen
    reasons["search_code"] = (
        "features: asked for"
        if train.search_code == "features"
        else "features: the photos look the same mirrored, where a mirror-invariant PCA of "
        "the features ranked better than the bottleneck (docs/quality.md)"
    )
    parts = project_features(encoder, decoder, images, config.latent_dim, mirror)
    return parts, replace(train, search_code="features", mirror=mirror, reasons=reasons)


def _bottleneck_reason(config: ModelConfig, train: TrainConfig, count: int) -> str:
    if train.search_code == "bottleneck":
        return "bottleneck: asked for"
    if uses_features(config, train.search_code):
        return f"bottleneck: {count} photos, too few for a {config.latent_dim}-axis projection"
    return f"bottleneck: the {config.variant} variant searches its own code"


def mirror_looks_alike(encoder: keras.Model, images: np.ndarray) -> tuple[bool, str]:
    """Whether mirrored photos look like the collection (``adaptive.mirror_ratio`` of the
    features on a sample), and why."""
    features_of = _features_model(encoder)
    sample = images[:: max(1, len(images) // MIRROR_SAMPLE)]
    plain = features_of.predict(sample, batch_size=256, verbose=0)
    flipped = features_of.predict(sample[:, :, ::-1], batch_size=256, verbose=0)
    ratio = mirror_ratio(plain, flipped)
    alike = ratio <= MIRROR_MAX_RATIO
    return alike, (
        f"{'on' if alike else 'off'}: mirrored photos sit {ratio:.2f}x as far from their "
        f"nearest neighbours as the photos themselves (on up to {MIRROR_MAX_RATIO}x)"
    )


def _features_model(encoder: keras.Model) -> keras.Model:
    """Image -> the features that feed the bottleneck."""
    return keras.Model(encoder.input, encoder.get_layer("code").input, name="features")


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


def _search_features(features_of: keras.Model, mirror: bool) -> keras.Model:
    """``features_of`` (image -> features), or with ``mirror`` its maximum over the mirror."""
    if not mirror:
        return features_of
    image = keras.Input(shape=features_of.input.shape[1:], name="image")
    mirrored = HorizontalFlip(name="mirror")(image)
    pooled = layers.Maximum(name="mirror_max")([features_of(image), features_of(mirrored)])
    return keras.Model(image, pooled, name="mirror_features")


def whitened_axes(
    features: np.ndarray, dim: int, power: float = WHITENING
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and principal axes of ``features``, each axis scaled by std ** -power."""
    mean, axes = principal_axes(features, dim)
    spread = ((features - mean) @ axes).std(axis=0)
    spread = np.maximum(spread, 1e-6 * spread.max())  # a constant feature: no blow-up
    return mean, axes * spread**-power


def project_features(
    encoder: keras.Model,
    decoder: keras.Model,
    images: np.ndarray,
    dim: int,
    mirror: bool = True,
) -> tuple[keras.Model, keras.Model]:
    """An encoder ending in the PCA of its (mirror-max) features, and a decoder for it."""
    sample = images[:: max(1, len(images) // FIT_SAMPLE)]
    code_layer = encoder.get_layer("code")
    features_of = _features_model(encoder)
    plain = np.asarray(features_of.predict(sample, batch_size=256, verbose=0))
    # the bottleneck of the photo as it is: what the decoder was trained to redraw
    bottleneck = keras.ops.convert_to_numpy(code_layer(plain)).astype(np.float64)
    features = plain
    if mirror:
        flipped = np.asarray(features_of.predict(sample[:, :, ::-1], batch_size=256, verbose=0))
        features = np.maximum(plain, flipped)
    features = features.astype(np.float64)
    mean, axes = whitened_axes(features, dim)
    searched = _search_features(features_of, mirror)
    projection = _fixed_dense(dim, axes, -mean @ axes, "code")
    searcher = keras.Model(searched.input, projection(searched.output), name="encoder")
    codes = (features - mean) @ axes
    # least squares: bottleneck ~ codes @ back + offset, so the old decoder can follow
    design = np.hstack([codes, np.ones((len(codes), 1))])
    solution, *_ = np.linalg.lstsq(design, bottleneck, rcond=None)
    code = keras.Input(shape=(dim,), name="code")
    back = _fixed_dense(bottleneck.shape[1], solution[:-1], solution[-1], PROJECTED_DECODER_START)
    redrawer = keras.Model(code, decoder(back(code)), name="decoder")
    log.info(
        "search code: PCA of %d-d %sfeatures onto %d axes",
        features.shape[1],
        "mirror-max " if mirror else "",
        dim,
    )
    return searcher, redrawer
