"""VQ-VAE and conditional VAE: round trips, the quantiser's parts, and sampling."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from PIL import Image

from latentsearch.encoder.config import ConfigError, MissingLabelsError, ModelConfig, TrainConfig
from latentsearch.encoder.inference import decode_codes, encode_images
from latentsearch.encoder.layers import LabelDropout
from latentsearch.encoder.quantiser import CodebookMonitor, VectorQuantiser, perplexity
from latentsearch.encoder.sampling import (
    UnknownLabelError,
    posterior_samples,
    prior_samples,
    write_sample_grid,
)
from latentsearch.encoder.training import load_model, save_model, train_autoencoder

TINY = dict(image_size=16, channels=3, filters=(8, 16))
VQ = ModelConfig(**TINY, latent_dim=4 * 4 * 4, variant="vqvae", codebook_size=8, codebook_dim=4)
CVAE = ModelConfig(**TINY, latent_dim=8, variant="cvae", labels=("a", "b", "c"))
ONE_EPOCH = TrainConfig(epochs=1, batch_size=8)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).random((24, 16, 16, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def cvae_dir(images, tmp_path_factory):
    model, history = train_autoencoder(images, CVAE, ONE_EPOCH, labels=np.arange(24) % 3)
    return save_model(model, CVAE, ONE_EPOCH, history, tmp_path_factory.mktemp("cvae") / "m")


@pytest.mark.parametrize("config", [VQ, CVAE], ids=["vqvae", "cvae"])
def test_new_variant_trains_saves_and_loads_identically(config, images, tmp_path):
    labels = np.arange(24) % 3 if config.variant == "cvae" else None
    model, history = train_autoencoder(images, config, ONE_EPOCH, labels=labels)
    assert np.isfinite(history["loss"][0])
    save_model(model, config, ONE_EPOCH, history, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config == config  # the label vocabulary comes back as it was saved
    before = encode_images(model.get_layer("encoder"), images[:5])
    after = encode_images(loaded.encoder, images[:5])
    assert after.shape == (5, config.latent_dim)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    rebuilt = decode_codes(loaded.decoder, after)
    assert rebuilt.shape == (5, 16, 16, 3) and 0 <= rebuilt.min() <= rebuilt.max() <= 1


def test_vqvae_codes_are_codebook_entries_and_its_history_reports_usage(images):
    model, history = train_autoencoder(images, VQ, TrainConfig(epochs=2, batch_size=8))
    assert len(history["perplexity"]) == 2 and len(history["codebook_used"]) == 2
    assert 1.0 <= min(history["perplexity"]) and max(history["perplexity"]) <= 8.0
    encoder = model.get_layer("encoder")
    codes, indices = encoder.predict_on_batch(images[:3])
    assert indices.shape == (3, 4, 4) and 0 <= indices.min() and indices.max() < 8
    codebook = keras.ops.convert_to_numpy(encoder.get_layer("quantiser").codebook)
    np.testing.assert_allclose(codes.reshape(3, 4, 4, 4), codebook[indices], atol=1e-6)


def gradient_of_sum(fn, x: np.ndarray) -> np.ndarray:
    """d sum(fn(x)) / dx, through the autodiff of the Keras backend in use."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(fn(x))
        return tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: keras.ops.sum(fn(v)))(x))
    if backend == "torch":
        import torch

        tensor = torch.tensor(x, requires_grad=True)
        keras.ops.sum(fn(tensor)).backward()
        return tensor.grad.cpu().numpy()
    pytest.skip(f"no gradient helper for the {backend} backend")


def test_quantiser_snaps_to_the_nearest_entry_and_passes_gradients_straight_through():
    layer = VectorQuantiser(3, commitment=0.5)
    layer.build((None, 1, 2, 2))
    layer.codebook.assign(np.array([[0, 0], [1, 1], [5, 5]], np.float32))
    vectors = np.array([[[[0.9, 1.2], [4.0, 6.0]]]], np.float32)
    weights = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], np.float32)
    gradient = gradient_of_sum(lambda v: layer(v)[0] * weights, vectors)
    np.testing.assert_allclose(gradient, [[[[1, 2], [3, 4]]]])
    quantised, indices = layer(vectors)  # after the gradient: its losses are the ones kept
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(indices), [[[1, 2]]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(quantised), [[[[1, 1], [5, 5]]]])
    squared = np.mean(np.square([0.1, -0.2, 1.0, -1.0]))  # codebook term, then commitment
    assert float(layer.losses[0]) == pytest.approx(squared * 1.5, rel=1e-5)


def test_vqvae_restarts_dead_entries_within_an_epoch_of_many_batches():
    # the monitor checks every 10 batches: on JAX the training state is off the variables
    # then, and the check failed before it asked the model to attach it
    images = np.random.default_rng(1).random((100, 16, 16, 3), dtype=np.float32)
    config = replace(VQ, codebook_size=64)
    model, history = train_autoencoder(images, config, TrainConfig(epochs=1, batch_size=8))
    assert history["codebook_restarted"][0] > 0  # random init: most entries start unpicked
    codebook = keras.ops.convert_to_numpy(
        model.get_layer("encoder").get_layer("quantiser").codebook
    )
    # an entry never picked keeps its +-1/64 initial value; a restarted one sits on the data
    assert (np.abs(codebook).max(axis=1) > 1 / 64).sum() >= history["codebook_restarted"][0]


def test_perplexity_counts_the_entries_in_use():
    assert perplexity(np.array([5, 5, 5, 5])) == pytest.approx(4.0)
    assert perplexity(np.array([9, 0, 0, 0])) == pytest.approx(1.0)
    assert perplexity(np.zeros(4)) == 0.0


def test_monitor_restarts_dead_entries_on_recent_encoder_outputs():
    layer = VectorQuantiser(4)
    layer.build((None, 2, 2, 3))
    layer(np.full((2, 2, 2, 3), 7.0, np.float32), training=True)  # every vector picks one entry
    before = keras.ops.convert_to_numpy(layer.codebook).copy()
    monitor = CodebookMonitor(layer, every=1)
    monitor.on_train_batch_end(0)
    after = keras.ops.convert_to_numpy(layer.codebook)
    used = int(np.argmax(monitor.epoch_counts))
    dead = [i for i in range(4) if i != used]
    np.testing.assert_array_equal(after[used], before[used])
    np.testing.assert_allclose(after[dead], 7.0)  # moved onto the data
    assert monitor.restarted == 3 and not keras.ops.convert_to_numpy(layer.counts).any()


def test_vqvae_config_checks_the_flattened_grid_length():
    with pytest.raises(ConfigError, match="grid"):
        ModelConfig(**TINY, latent_dim=10, variant="vqvae", codebook_size=8, codebook_dim=4)
    with pytest.raises(ConfigError, match="codebook_size"):
        ModelConfig(**TINY, latent_dim=64, variant="vqvae", codebook_size=1, codebook_dim=4)


def test_label_dropout_blanks_about_its_share_of_whole_labels_in_training_only():
    labels = np.tile(np.eye(4, dtype=np.float32), (250, 1))
    dropped = keras.ops.convert_to_numpy(LabelDropout(0.3, seed=0)(labels, training=True))
    blank = dropped.sum(axis=1) == 0
    assert 0.25 < blank.mean() < 0.35
    np.testing.assert_array_equal(dropped[~blank], labels[~blank])
    np.testing.assert_array_equal(LabelDropout(0.3)(labels, training=False), labels)


def test_cvae_refuses_to_train_without_labels(images):
    with pytest.raises(MissingLabelsError, match="label"):
        train_autoencoder(images, CVAE, ONE_EPOCH)


def test_cvae_samples_follow_the_label(cvae_dir):
    model = load_model(cvae_dir)
    a = prior_samples(model, 4, seed=0, label="a")
    b = prior_samples(model, 4, seed=0, label="b")
    assert a.shape == (4, 16, 16, 3) and np.abs(a - b).max() > 1e-4  # same codes, other label
    with pytest.raises(UnknownLabelError, match=r"\['a', 'b', 'c'\]"):
        prior_samples(model, 2, label="zebra")


def test_cvae_grid_has_one_row_per_label_or_one_label(cvae_dir, tmp_path):
    every = write_sample_grid(cvae_dir, 5, tmp_path / "all.png")
    assert Image.open(every).size == (5 * 16, 3 * 16)
    one = write_sample_grid(cvae_dir, 4, tmp_path / "a.png", label="a")
    assert Image.open(one).size == (2 * 16, 2 * 16)


def test_posterior_samples_are_variations_of_the_photo(cvae_dir, images, tmp_path):
    model = load_model(cvae_dir)
    drawn = posterior_samples(model, images[0], 6, seed=1)
    assert drawn.shape == (6, 16, 16, 3)
    assert np.abs(drawn[0] - drawn[1]).max() > 1e-5  # distinct draws, not one mean
    again = posterior_samples(model, images[0], 6, seed=1)
    np.testing.assert_array_equal(drawn, again)  # a seed repeats them
    grid = write_sample_grid(cvae_dir, 8, tmp_path / "like.png", like=images[0])
    assert Image.open(grid).size == (3 * 16, 3 * 16)
