"""The projected search code: PCA of the features feeding the bottleneck, and a decoder for it."""

from __future__ import annotations

import numpy as np
import pytest

from latentsearch.encoder.config import ConfigError, LossConfig, ModelConfig, TrainConfig
from latentsearch.encoder.search_code import (
    WHITENING,
    mirror_looks_alike,
    principal_axes,
    project_features,
    search_parts,
    uses_features,
    whitened_axes,
)
from latentsearch.encoder.training import load_model, save_model, train_autoencoder

TINY = ModelConfig(image_size=16, channels=3, latent_dim=8, filters=(8, 16))


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    ramp = np.broadcast_to(
        np.linspace(0, 1, 16, dtype=np.float32)[None, :, None, None], (1, 16, 16, 1)
    )
    images = np.clip(
        rng.random((200, 1, 1, 3)) * 0.7 + rng.random((200, 1, 1, 1)) * ramp * 0.3, 0, 1
    )
    images = images.astype(np.float32)
    model, history = train_autoencoder(images, TINY, TrainConfig(epochs=3, batch_size=16))
    return model, history, images


def test_principal_axes_are_orthonormal_and_find_the_widest_direction():
    rng = np.random.default_rng(1)
    direction = np.array([3.0, 4.0, 0.0, 0.0]) / 5
    points = rng.normal(size=(500, 1)) * 10 * direction + rng.normal(size=(500, 4)) + 7
    mean, axes = principal_axes(points, 2)
    np.testing.assert_allclose(mean, points.mean(axis=0))
    np.testing.assert_allclose(axes.T @ axes, np.eye(2), atol=1e-9)
    assert abs(axes[:, 0] @ direction) > 0.99
    with pytest.raises(ConfigError, match="cannot project"):
        principal_axes(points[:3], 4)


def test_whitening_narrows_the_gap_between_wide_and_narrow_axes():
    points = np.random.default_rng(2).normal(size=(4000, 3)) * [10.0, 1.0, 0.0]
    mean, axes = whitened_axes(points, 3)
    spread = ((points - mean) @ axes).std(axis=0)
    assert spread[0] / spread[1] == pytest.approx(10 ** (1 - WHITENING), rel=0.05)
    assert np.isfinite(spread).all() and spread[2] < 1e-6  # a constant axis stays flat
    mean, axes = whitened_axes(points, 3, power=0.0)  # plain PCA
    spread = ((points - mean) @ axes).std(axis=0)
    assert spread[0] / spread[1] == pytest.approx(10, rel=0.05)


def test_projected_codes_are_centred_decorrelated_and_redrawable(trained):
    model, _, images = trained
    encoder, decoder = project_features(
        model.get_layer("encoder"), model.get_layer("decoder"), images, 8
    )
    codes = np.asarray(encoder.predict(images, verbose=0))
    assert codes.shape == (200, 8)
    np.testing.assert_allclose(codes.mean(axis=0), 0, atol=1e-3)
    variances = codes.var(axis=0)
    assert (np.diff(variances) <= 1e-6).all()  # principal components, widest first
    sideways = images.transpose(0, 2, 1, 3)  # the ramp left to right: not symmetric
    np.testing.assert_allclose(  # a mirror image, the same code
        encoder.predict(sideways[:, :, ::-1], verbose=0),
        encoder.predict(sideways, verbose=0),
        atol=1e-5,
    )
    covariance = np.cov(codes, rowvar=False)
    np.testing.assert_allclose(covariance - np.diag(np.diag(covariance)), 0, atol=1e-3)
    bottleneck = model.get_layer("encoder").predict(images, verbose=0)
    plain = ((model.get_layer("decoder").predict(bottleneck, verbose=0) - images) ** 2).mean()
    redrawn = ((np.asarray(decoder.predict(codes, verbose=0)) - images) ** 2).mean()
    assert redrawn < 1.5 * plain + 1e-4
    # the decoder's first layer maps a projected code back to the bottleneck it came from
    mapped = np.asarray(decoder.get_layer("to_bottleneck")(codes))
    explained = (
        1 - ((mapped - bottleneck) ** 2).sum() / ((bottleneck - bottleneck.mean(0)) ** 2).sum()
    )
    assert explained > 0.5


def test_without_mirror_a_mirror_image_gets_its_own_code(trained):
    model, _, images = trained
    encoder, _ = project_features(
        model.get_layer("encoder"), model.get_layer("decoder"), images, 8, mirror=False
    )
    assert "mirror" not in [layer.name for layer in encoder.layers]
    sideways = images.transpose(0, 2, 1, 3)  # the ramp left to right: not symmetric
    codes = np.asarray(encoder.predict(sideways, verbose=0))
    mirrored = np.asarray(encoder.predict(sideways[:, :, ::-1], verbose=0))
    assert np.abs(mirrored - codes).max() > 1e-2


def test_which_variants_get_the_projection():
    assert uses_features(TINY, "auto") and uses_features(TINY, "features")
    assert not uses_features(TINY, "bottleneck")
    contractive = ModelConfig(**{**TINY.__dict__, "variant": "contractive"})
    assert not uses_features(contractive, "auto") and uses_features(contractive, "features")
    vae = ModelConfig(**{**TINY.__dict__, "variant": "vae"})
    binary = ModelConfig(**{**TINY.__dict__, "binary_bits": 8})
    for config in (vae, binary):
        assert not uses_features(config, "auto")
        with pytest.raises(ConfigError, match="features applies to"):
            uses_features(config, "features")
    with pytest.raises(ConfigError, match="search_code"):
        TrainConfig(search_code="pixels")


def test_saved_projection_loads_and_encodes_identically(trained, tmp_path):
    model, history, images = trained
    parts, _ = search_parts(model, TINY, TrainConfig(search_code="features"), images)
    save_model(model, TINY, TrainConfig(), history, tmp_path / "m", LossConfig(), parts)
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(
        loaded.encoder.predict(images[:5], verbose=0),
        parts[0].predict(images[:5], verbose=0),
        atol=1e-6,
    )
    assert loaded.decoder.predict(np.zeros((1, 8), np.float32), verbose=0).shape == (1, 16, 16, 3)


def test_photos_of_a_projected_model_are_redrawn_through_the_bottleneck(trained, tmp_path):
    model, history, images = trained
    sideways = images.transpose(0, 2, 1, 3)[:20]  # not mirror-symmetric
    projected, _ = search_parts(model, TINY, TrainConfig(search_code="features"), images)
    save_model(model, TINY, TrainConfig(), history, tmp_path / "p", LossConfig(), projected)
    parts, _ = search_parts(model, TINY, TrainConfig(search_code="bottleneck"), images)
    save_model(model, TINY, TrainConfig(), history, tmp_path / "b", LossConfig(), parts)
    loaded = load_model(tmp_path / "p")
    codes = loaded.encoder.predict(sideways, verbose=0)
    redrawn = loaded.redrawer.predict(sideways, verbose=0)
    np.testing.assert_allclose(redrawn, model.predict(sideways, verbose=0), atol=1e-5)
    from_code = loaded.decoder.predict(codes, verbose=0)  # what the code alone allows
    assert not np.allclose(redrawn, from_code, atol=1e-3)
    assert load_model(tmp_path / "b").redrawer is None  # its decoder takes the bottleneck
    assert load_model(tmp_path / "p", with_decoder=False).redrawer is None


def test_auto_projects_photos_that_look_the_same_mirrored_and_says_why(trained):
    model, _, images = trained
    symmetric = np.concatenate([images, images[:, :, ::-1]])
    (encoder, _), chosen = search_parts(model, TINY, TrainConfig(), symmetric)
    assert (chosen.search_code, chosen.mirror) == ("features", True)
    assert "mirror" in [layer.name for layer in encoder.layers]
    assert chosen.reasons["mirror"].startswith("on")
    assert chosen.reasons["search_code"].startswith("features: the photos look the same")


def test_auto_searches_the_bottleneck_of_photos_unlike_their_mirror_images(trained):
    model, _, images = trained
    handed = images.copy()
    handed[:, :, :4] = 1.0  # a white band on the left of every photo
    (encoder, _), chosen = search_parts(model, TINY, TrainConfig(), handed)
    assert encoder is model.get_layer("encoder")
    assert chosen.search_code == "bottleneck" and chosen.mirror is False
    assert chosen.reasons["mirror"].startswith("off")
    (encoder, _), told = search_parts(model, TINY, TrainConfig(mirror=False), images)
    assert encoder is model.get_layer("encoder") and "mirror" not in told.reasons
    (encoder, _), few = search_parts(model, TINY, TrainConfig(), images[:5])
    assert encoder is model.get_layer("encoder") and "too few" in few.reasons["search_code"]


def test_asked_for_features_decide_only_the_mirror(trained):
    model, _, images = trained
    (encoder, _), chosen = search_parts(model, TINY, TrainConfig(search_code="features"), images)
    assert chosen.search_code == "features" and chosen.mirror in (True, False)
    assert chosen.reasons["mirror"].startswith("on" if chosen.mirror else "off")
    assert ("mirror" in [layer.name for layer in encoder.layers]) == chosen.mirror
    asked = TrainConfig(search_code="features", mirror=False)
    _, kept = search_parts(model, TINY, asked, images)
    assert kept.mirror is False and "mirror" not in kept.reasons
    assert kept.reasons["search_code"] == "features: asked for"


def test_mirror_test_tells_a_symmetric_collection_from_a_handed_one(trained):
    model, _, images = trained
    encoder = model.get_layer("encoder")
    symmetric = np.concatenate([images, images[:, :, ::-1]])  # every photo in both ways
    assert mirror_looks_alike(encoder, symmetric)[0]
    handed = images.copy()
    handed[:, :, :4] = 1.0  # a white band on the left of every photo
    alike, reason = mirror_looks_alike(encoder, handed)
    assert not alike and reason.startswith("off")


def test_asked_for_features_with_too_few_photos_is_an_error(trained):
    model, _, images = trained
    asked = TrainConfig(search_code="features", mirror=False)
    with pytest.raises(ConfigError, match="cannot project"):
        search_parts(model, TINY, asked, images[:5])
