"""Training settings chosen from the collection: batch size and epochs from its size, the
mirror from how the photos look mirrored."""

from __future__ import annotations

import numpy as np
import pytest

from latentsearch.encoder.adaptive import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    TARGET_STEPS,
    choose_batch_size,
    choose_epochs,
    choose_image_size,
    filters_for,
    mirror_ratio,
    resolve_training,
    training_images,
)
from latentsearch.encoder.config import ConfigError, ModelConfig, TrainConfig


@pytest.mark.parametrize(
    ("train_count", "batch"),
    [(100, 32), (1856, 32), (3199, 32), (3200, 64), (4500, 64), (6400, 128), (45000, 128)],
)
def test_batch_shrinks_for_small_collections(train_count, batch):
    assert choose_batch_size(train_count) == batch


def test_epochs_give_about_the_target_steps_within_bounds():
    assert choose_epochs(45000, 128) == MIN_EPOCHS  # 352 steps an epoch: 5 pass the target
    sign = choose_epochs(1856, 32)  # 58 steps an epoch
    assert sign == 14 and (sign - 1) * 58 < TARGET_STEPS <= sign * 58
    assert choose_epochs(200, 32) == MAX_EPOCHS  # 7 steps an epoch: capped
    assert choose_epochs(10**7, 128) == MIN_EPOCHS


def test_resolve_training_fills_only_auto_settings_and_says_why():
    auto = resolve_training(TrainConfig(), 2062)
    assert training_images(2062, TrainConfig()) == 1856
    assert (auto.batch_size, auto.epochs) == (32, 14)
    assert "32" in auto.reasons["batch_size"] and "14" in auto.reasons["epochs"]
    fixed = resolve_training(TrainConfig(epochs=3, batch_size=7), 2062)
    assert (fixed.batch_size, fixed.epochs, fixed.reasons) == (7, 3, {})
    half = resolve_training(TrainConfig(batch_size=128), 50000)
    assert half.batch_size == 128 and set(half.reasons) == {"epochs"}
    assert resolve_training(auto, 2062) == auto  # already resolved: unchanged


def test_mirror_ratio_is_one_for_a_symmetric_collection_and_high_for_a_handed_one():
    rng = np.random.default_rng(0)
    # each "photo" is a random point; mirroring swaps the two halves of its feature vector
    left, right = rng.normal(size=(2, 2000, 8))
    symmetric, symmetric_mirrored = np.hstack([left, right]), np.hstack([right, left])
    assert mirror_ratio(symmetric, symmetric_mirrored) == pytest.approx(1.0, abs=0.05)
    half = left
    handed = np.hstack([half + 3.0, half])  # every photo has its bright side on the left
    handed_mirrored = np.hstack([half, half + 3.0])
    assert mirror_ratio(handed, handed_mirrored) > 2.0


@pytest.mark.parametrize(
    ("sides", "size"),
    [([32] * 9, 32), ([28, 28], 32), ([63, 63, 500], 32), ([100] * 5, 64), ([64, 3000], 64)],
)
def test_input_size_follows_the_typical_photo(sides, size):
    assert choose_image_size(sides) == size


def test_no_photo_sizes_is_an_error():
    with pytest.raises(ConfigError, match="no photo sizes"):
        choose_image_size([])


@pytest.mark.parametrize("size", [32, 64])
def test_every_default_encoder_ends_on_a_4x4_grid(size):
    assert ModelConfig(image_size=size, filters=filters_for(size)).grid == 4


def test_a_size_with_no_encoder_of_its_own_gets_the_32_px_one():
    assert filters_for(48) == filters_for(16) == filters_for(32) == (32, 64, 128)
