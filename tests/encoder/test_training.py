"""``fit`` + ``save_fit`` from Python save what ``latentsearch train`` saves."""

import keras
import numpy as np

from latentsearch.encoder.config import ModelConfig, TrainConfig, load_json
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.model_files import TRAIN_CONFIG_FILE
from latentsearch.encoder.training import StopWhenLearningRateSpent, fit, load_model, save_fit

CONFIG = ModelConfig(image_size=16, channels=3, latent_dim=8, filters=(8, 16))


def test_fit_chooses_the_schedule_and_search_code_and_save_fit_keeps_them(tmp_path):
    images = np.random.default_rng(0).random((40, 16, 16, 3), dtype=np.float32)
    asked = TrainConfig(epochs=1, search_code="features", mirror=False)

    result = fit(images, CONFIG, asked)

    chosen = result.train_config
    assert chosen.batch_size is not None and "batch_size" in chosen.reasons
    assert chosen.search_code == "features" and chosen.reasons["search_code"]
    assert result.parts[0] is not result.autoencoder.get_layer("encoder")  # the projection
    folder = save_fit(result, CONFIG, tmp_path / "model")
    saved = load_model(folder)
    np.testing.assert_allclose(
        encode_images(saved.encoder, images), encode_images(result.parts[0], images), atol=1e-5
    )
    assert load_json(TrainConfig, folder / TRAIN_CONFIG_FILE) == chosen


def test_training_stops_once_the_learning_rate_is_spent():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    halving = keras.callbacks.LearningRateScheduler(lambda epoch, rate: 1e-3 / 2**epoch)
    x = np.zeros((8, 2), np.float32)
    history = model.fit(
        x, x[:, :1], epochs=30, verbose=0, callbacks=[halving, StopWhenLearningRateSpent(1e-5)]
    )
    # 1e-3 / 2**7 = 7.8e-6 is the first rate under 1e-5: epoch 8 is the last one run
    assert len(history.history["loss"]) == 8
