"""Every autoencoder variant trains, saves, loads and encodes; each loss term does its job."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops
from PIL import Image

from latentsearch.encoder.config import LossConfig, ModelConfig, TrainConfig
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.layers import (
    BinarisationPenalty,
    ContractivePenalty,
    KLSparsity,
    RandomCutout,
    RandomPatchMask,
    VAESampling,
)
from latentsearch.encoder.sampling import NotGenerativeError, image_grid, write_sample_grid
from latentsearch.encoder.training import load_model, save_model, train_autoencoder

TINY = dict(image_size=16, channels=3, latent_dim=8, filters=(8, 16))
CASES = {
    "undercomplete-bilinear": (ModelConfig(**TINY, decoder="bilinear"), LossConfig()),
    "denoising-both": (ModelConfig(**TINY, variant="denoising"), LossConfig(corruption="both")),
    "denoising-patches": (
        ModelConfig(**TINY, variant="denoising"),
        LossConfig(corruption="patches"),
    ),
    "sparse-l1": (ModelConfig(**TINY, variant="sparse"), LossConfig(sparsity="l1")),
    "sparse-kl": (ModelConfig(**TINY, variant="sparse"), LossConfig(sparsity="kl")),
    "contractive": (ModelConfig(**TINY, variant="contractive"), LossConfig()),
    "vae": (ModelConfig(**TINY, variant="vae"), LossConfig(beta=4.0)),
    "tied": (ModelConfig(**TINY, variant="tied"), LossConfig()),
    "binary-16": (ModelConfig(**{**TINY, "latent_dim": 16}, binary_bits=16), LossConfig()),
}


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).random((24, 16, 16, 3), dtype=np.float32)


@pytest.mark.parametrize("case", CASES)
def test_variant_trains_saves_and_loads_identically(case, images, tmp_path):
    config, loss = CASES[case]
    model, history = train_autoencoder(images, config, TrainConfig(epochs=1, batch_size=8), loss)
    assert np.isfinite(history["loss"][0])
    folder = save_model(model, config, TrainConfig(), history, tmp_path / "m", loss)
    assert (folder / "loss_curves.png").stat().st_size > 0
    loaded = load_model(tmp_path / "m")
    assert loaded.config == config
    before = encode_images(model.get_layer("encoder"), images[:5])
    after = encode_images(loaded.encoder, images[:5])
    assert before.shape == (5, config.latent_dim)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    rebuilt = np.asarray(loaded.decoder.predict_on_batch(after))
    assert rebuilt.shape == (5, 16, 16, 3)
    assert rebuilt.min() >= 0 and rebuilt.max() <= 1


def test_penalised_variants_add_their_loss_terms():
    from latentsearch.encoder.variants import build_autoencoder

    expected = {"undercomplete-bilinear": 0, "sparse-kl": 1, "contractive": 1, "vae": 1}
    for case, count in expected.items():
        config, loss = CASES[case]
        model = build_autoencoder(config, loss)
        model(np.zeros((2, 16, 16, 3), np.float32), training=True)
        assert len(model.losses) == count, case


def test_cutout_zeroes_one_square_in_training_only():
    images = np.ones((4, 16, 16, 1), np.float32)
    cut = np.asarray(RandomCutout(0.25, seed=1)(images, training=True))
    assert ((cut == 0).reshape(4, -1).sum(axis=1) == 16).all()  # a 4x4 hole per image
    np.testing.assert_array_equal(RandomCutout(0.25)(images, training=False), images)


def test_patch_mask_zeroes_whole_patches_at_about_the_ratio_in_training_only():
    images = np.ones((64, 16, 16, 1), np.float32)
    masked = np.asarray(RandomPatchMask(0.5, patch=4, seed=1)(images, training=True))
    patches = masked.reshape(64, 4, 4, 4, 4).transpose(0, 1, 3, 2, 4).reshape(64, 16, 16)
    assert set(np.unique(patches.min(axis=2) == patches.max(axis=2))) == {True}  # whole patches
    assert 0.4 < (patches[..., 0] == 0).mean() < 0.6
    np.testing.assert_array_equal(RandomPatchMask(0.5)(images, training=False), images)


def test_binary_code_bits_split_the_training_images_evenly(images):
    config = ModelConfig(**{**TINY, "latent_dim": 16}, binary_bits=16)
    rng = np.random.default_rng(1)
    ramp = np.broadcast_to(
        np.linspace(0, 1, 16, dtype=np.float32)[None, :, None, None], (1, 16, 16, 1)
    )
    colours, slopes = rng.random((256, 1, 1, 3)), rng.random((256, 1, 1, 1))
    data = np.clip(colours * 0.7 + slopes * 0.3 * ramp, 0, 1).astype(np.float32)
    # learnable images, and enough steps for the batch-norm moving statistics to settle
    model, _ = train_autoencoder(data, config, TrainConfig(epochs=12, batch_size=8), LossConfig())
    bits = encode_images(model.get_layer("encoder"), data) > config.binary_threshold
    # centred units: no bit is the same for every image (a dead bit carries nothing)
    assert 0 < bits.mean(axis=0).min() and bits.mean(axis=0).max() < 1
    assert 0.3 < bits.mean() < 0.7


def test_kl_sparsity_is_zero_at_the_target_and_positive_elsewhere():
    at_target = KLSparsity(rho=0.2, weight=1.0)
    at_target(np.full((8, 4), 0.2, np.float32))
    assert float(at_target.losses[0]) == pytest.approx(0.0, abs=1e-5)
    too_active = KLSparsity(rho=0.2, weight=1.0)
    too_active(np.full((8, 4), 0.6, np.float32))
    assert float(too_active.losses[0]) > 0.1


def test_contractive_estimate_matches_the_frobenius_norm_of_a_linear_map():
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((6, 3)).astype(np.float32)
    sigma = 0.1
    inputs = rng.standard_normal((20000, 6)).astype(np.float32)
    noisy = inputs + sigma * rng.standard_normal(inputs.shape).astype(np.float32)
    layer = ContractivePenalty(sigma=sigma, weight=1.0)
    layer([inputs @ weights, noisy @ weights])
    exact = float((weights**2).sum())
    assert float(layer.losses[0]) == pytest.approx(exact, rel=0.03)


def test_vae_sampling_kl_and_inference_mean():
    mean = np.zeros((5, 3), np.float32)
    layer = VAESampling(beta=1.0, seed=0)
    np.testing.assert_array_equal(layer([mean, mean], training=False), mean)
    assert float(layer.losses[0]) == pytest.approx(0.0, abs=1e-6)  # q equals the prior
    shifted = VAESampling(beta=1.0)
    shifted([mean + 2.0, mean], training=False)
    assert float(shifted.losses[0]) == pytest.approx(0.5 * 3 * 4.0)  # 0.5 * sum(mean^2)
    drawn = np.asarray(VAESampling(seed=0)([mean, mean], training=True))
    assert drawn.std() > 0.3  # a real sample, not the mean


def test_binarisation_penalty_vanishes_at_zero_and_one():
    corners = BinarisationPenalty(weight=1.0)
    corners(np.array([[0.0, 1.0]], np.float32))
    middle = BinarisationPenalty(weight=1.0)
    middle(np.array([[0.5, 0.5]], np.float32))
    assert float(corners.losses[0]) == 0.0
    assert float(middle.losses[0]) == pytest.approx(0.25)


def test_tied_decoder_uses_the_transposed_encoder_kernel():
    from latentsearch.encoder.variants import build_autoencoder

    model = build_autoencoder(CASES["tied"][0])
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    code_kernel = encoder.get_layer("code").kernel
    assert decoder.get_layer("untie_code").tied.kernel is code_kernel
    # the decoder owns no copy of the kernels, only biases
    assert {tuple(w.shape) for w in decoder.trainable_weights} >= {tuple(code_kernel.shape)}
    assert len([w for w in decoder.trainable_weights if len(w.shape) == 2]) == 2
    assert ops.convert_to_numpy(code_kernel).shape == (512, 8)


def test_vae_sample_grid_and_a_clear_error_for_other_models(images, tmp_path):
    config, loss = CASES["vae"]
    model, history = train_autoencoder(images, config, TrainConfig(epochs=1, batch_size=8), loss)
    save_model(model, config, TrainConfig(), history, tmp_path / "vae", loss)
    out = write_sample_grid(tmp_path / "vae", 6, tmp_path / "grid.png")
    assert Image.open(out).size == (3 * 16, 2 * 16)
    plain, _ = train_autoencoder(images, ModelConfig(**TINY), TrainConfig(epochs=1, batch_size=8))
    save_model(plain, ModelConfig(**TINY), TrainConfig(), {}, tmp_path / "plain")
    with pytest.raises(NotGenerativeError, match="--variant vae"):
        write_sample_grid(tmp_path / "plain", 4, tmp_path / "no.png")


def test_image_grid_tiles_row_by_row():
    tiles = np.stack([np.full((2, 2, 1), v, np.float32) for v in (0.0, 0.5, 1.0)])
    grid = np.asarray(image_grid(tiles, columns=2))
    assert grid.shape == (4, 4)
    assert grid[0, 0] == 0 and grid[0, 2] == 128 and grid[2, 0] == 255 and grid[2, 2] == 255
