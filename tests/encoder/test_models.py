"""Encoder / decoder shapes, names, training and the ``.keras`` save / load round trip."""

import json

import numpy as np
import pytest

from latentsearch.encoder.config import ModelConfig, TrainConfig
from latentsearch.encoder.inference import encode_images, reconstruction_errors
from latentsearch.encoder.model_files import (
    CURVES_FILE,
    DECODER_FILE,
    ENCODER_FILE,
    HISTORY_FILE,
    MODEL_CONFIG_FILE,
    ModelLoadError,
    model_files,
)
from latentsearch.encoder.models import build_decoder, build_encoder
from latentsearch.encoder.training import load_model, save_model, train_autoencoder
from latentsearch.encoder.variants import build_autoencoder

DECODER_KINDS = ("transpose", "bilinear")


def tiny(decoder="transpose", channels=3):
    return ModelConfig(
        image_size=16, channels=channels, latent_dim=8, filters=(8, 16), decoder=decoder
    )


def random_images(n, config, seed=0):
    return np.random.default_rng(seed).random((n, *config.input_shape), dtype=np.float32)


def scramble_weights(model, seed=1):
    """Non-default weights everywhere (BatchNorm statistics too), so a round trip shows."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) * 0.2 for w in model.get_weights()]
    )


@pytest.mark.parametrize("decoder", DECODER_KINDS)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_names(decoder, channels):
    config = tiny(decoder, channels)
    images = random_images(2, config)

    encoder, dec, auto = build_encoder(config), build_decoder(config), build_autoencoder(config)

    assert encoder.name == "encoder" and dec.name == "decoder"
    codes = np.asarray(encoder.predict_on_batch(images))
    assert codes.shape == (2, 8)
    rebuilt = np.asarray(dec.predict_on_batch(codes))
    assert rebuilt.shape == (2, 16, 16, channels)
    assert rebuilt.min() >= 0.0 and rebuilt.max() <= 1.0
    assert np.asarray(auto.predict_on_batch(images)).shape == images.shape
    assert auto.get_layer("encoder").name == "encoder"
    assert auto.get_layer("decoder").output_shape == (None, 16, 16, channels)


def test_decoders_differ_in_layers():
    transpose = {layer.name for layer in build_decoder(tiny("transpose")).layers}
    bilinear = {layer.name for layer in build_decoder(tiny("bilinear")).layers}
    assert "deconv0" in transpose and "up0" not in transpose
    assert "up0" in bilinear and "deconv0" not in bilinear


@pytest.mark.parametrize("decoder", DECODER_KINDS)
def test_save_load_round_trip(tmp_path, decoder):
    config = tiny(decoder)
    model = build_autoencoder(config)
    scramble_weights(model)
    images = random_images(4, config, seed=3)
    codes = encode_images(model.get_layer("encoder"), images)
    rebuilt = np.asarray(model.get_layer("decoder").predict_on_batch(codes))

    folder = save_model(model, config, TrainConfig(epochs=1), {"loss": [0.5]}, tmp_path / "m")
    loaded = load_model(tmp_path / "m")

    assert loaded.path == folder
    assert loaded.config == config
    assert (folder / ENCODER_FILE).is_file() and (folder / DECODER_FILE).is_file()
    assert json.loads((folder / HISTORY_FILE).read_text()) == {"loss": [0.5]}
    assert (folder / CURVES_FILE).stat().st_size > 0
    np.testing.assert_array_equal(encode_images(loaded.encoder, images), codes)
    np.testing.assert_array_equal(np.asarray(loaded.decoder.predict_on_batch(codes)), rebuilt)


def test_load_model_from_build_folder_and_without_decoder(tmp_path):
    config = tiny()
    folder = save_model(build_autoencoder(config), config, TrainConfig(), {}, tmp_path / "m")
    assert model_files(folder) == folder
    assert not (folder / CURVES_FILE).exists()  # untrained: no curves, no matplotlib needed
    loaded = load_model(folder, with_decoder=False)
    assert loaded.decoder is None
    assert loaded.encoder.output_shape == (None, config.latent_dim)


def test_load_model_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="not a trained model"):
        load_model(tmp_path / "missing")
    config = tiny()
    folder = save_model(build_autoencoder(config), config, TrainConfig(), {}, tmp_path / "m")
    (folder / MODEL_CONFIG_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(folder)


def test_train_autoencoder_history_and_errors():
    config = tiny()
    images = random_images(20, config)
    model, history = train_autoencoder(images, config, TrainConfig(epochs=2, batch_size=8))
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    assert all(np.isfinite(history["loss"]))
    errors = reconstruction_errors(model.get_layer("encoder"), model.get_layer("decoder"), images)
    assert errors.shape == (20,) and np.all(errors >= 0)
    with pytest.raises(ValueError, match="shape"):
        train_autoencoder(random_images(4, tiny(channels=1)), config, TrainConfig())
    with pytest.raises(ValueError, match="at least 2"):
        train_autoencoder(images[:1], config, TrainConfig())
