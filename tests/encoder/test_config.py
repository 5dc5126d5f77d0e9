"""ModelConfig / TrainConfig validation and their JSON files."""

import json

import pytest

from latentsearch.encoder.config import (
    ConfigError,
    ModelConfig,
    TrainConfig,
    from_dict,
    load_json,
    save_json,
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": 2}, "channels"),
        ({"channels": 4}, "channels"),
        ({"decoder": "nearest"}, "decoder"),
        ({"image_size": 20, "filters": (32, 64, 128)}, "multiple of 8"),
        ({"image_size": 36, "filters": (32, 64, 128)}, "multiple of 8"),
        ({"image_size": 4, "filters": (32, 64, 128)}, "multiple of 8"),
        ({"latent_dim": 0}, "positive"),
        ({"filters": ()}, "positive"),
        ({"filters": (8, 0)}, "positive"),
    ],
)
def test_model_config_rejects(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**kwargs)


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        ModelConfig(channels=2)


@pytest.mark.parametrize(
    ("image_size", "filters"), [(32, (32, 64, 128)), (16, (8, 16)), (8, (4, 4, 4)), (12, (8, 8))]
)
def test_model_config_accepts_divisible_sizes(image_size, filters):
    config = ModelConfig(image_size=image_size, filters=filters)
    assert config.input_shape == (image_size, image_size, 3)
    assert config.raw_dim == image_size * image_size * 3


def test_filters_list_becomes_int_tuple():
    config = ModelConfig(image_size=16, filters=[8, "16"])
    assert config.filters == (8, 16)
    assert isinstance(config.filters, tuple)


def test_grey_raw_dim():
    assert ModelConfig(image_size=16, channels=1, filters=(8, 16)).raw_dim == 256


@pytest.mark.parametrize(
    "kwargs",
    [{"epochs": 0}, {"batch_size": 0}, {"validation_split": 0.5}, {"validation_split": -0.1}],
)
def test_train_config_rejects(kwargs):
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)


def test_model_config_json_round_trip(tmp_path):
    config = ModelConfig(
        image_size=24, channels=1, latent_dim=5, filters=(4, 6, 8), decoder="bilinear"
    )
    path = tmp_path / "model_config.json"
    save_json(config, path)
    assert json.loads(path.read_text())["filters"] == [4, 6, 8]
    loaded = load_json(ModelConfig, path)
    assert loaded == config
    assert isinstance(loaded.filters, tuple)
    assert hash(loaded) == hash(config)


def test_train_config_json_round_trip(tmp_path):
    config = TrainConfig(epochs=3, batch_size=7, learning_rate=5e-4, validation_split=0.2, seed=9)
    path = tmp_path / "train_config.json"
    save_json(config, path)
    assert load_json(TrainConfig, path) == config


def test_from_dict_ignores_unknown_keys_and_still_validates():
    data = {"image_size": 16, "filters": [8, 16], "added_in_a_later_version": True}
    assert from_dict(ModelConfig, data) == ModelConfig(image_size=16, filters=(8, 16))
    with pytest.raises(ConfigError):
        from_dict(ModelConfig, {"image_size": 18, "filters": [8, 16]})
