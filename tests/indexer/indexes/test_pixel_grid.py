"""The raw-pixel baseline's grid: the model's input, halved until it fits the budget."""

import numpy as np
import pytest

from latentsearch.indexer.indexes.choice import ID_BYTES
from latentsearch.indexer.indexes.pixel_grid import (
    MIN_SIDE,
    PixelGrid,
    grid_for_budget,
    grid_of_build,
    grid_side,
)

MILLION, GIB = 1_000_000, 1 << 30


@pytest.mark.parametrize(
    ("count", "size", "channels", "budget", "side"),
    [
        (50_000, 32, 3, 2 * GIB, 32),  # CIFAR-10: 154 MB, full size
        (MILLION, 32, 3, 2 * GIB, 16),  # 3.09 GB does not fit, 784 MB does
        (MILLION, 32, 3, 8 * GIB, 32),
        (MILLION, 64, 3, 2 * GIB, 16),  # 12.3 GB, then 3.1 GB, then 0.8 GB
        (MILLION, 28, 1, 100 << 20, 14),  # 14: 212 MB, over; 7 is below the minimum
        (MILLION, 32, 3, 1, MIN_SIDE),  # never below 8x8, whatever the budget
        (MILLION, 24, 3, 1, 12),  # 12 is even but 6 is below the minimum
        (10, 33, 3, 1, 33),  # an odd side cannot be halved
    ],
)
def test_grid_side(count, size, channels, budget, side):
    assert grid_side(count, size, channels, budget) == side


def test_the_chosen_grid_fits_exactly_at_the_boundary():
    fits = 1000 * (16 * 16 * 3 + ID_BYTES)
    assert grid_side(1000, 32, 3, fits) == 16
    assert grid_side(1000, 32, 3, fits - 1) == 8
    assert grid_for_budget(1000, 32, 3, fits) == PixelGrid(32, 3, 16)


def test_vectors_average_each_block_of_pixels():
    images = np.random.default_rng(0).random((5, 8, 8, 3)).astype(np.float32)
    grid = PixelGrid(image_size=8, channels=3, side=2)  # 4x4 blocks
    expected = images.reshape(5, 2, 4, 2, 4, 3).mean(axis=(2, 4)).reshape(5, -1)
    np.testing.assert_allclose(grid.vectors(images), expected, rtol=1e-6)
    np.testing.assert_allclose(grid.vectors(images.reshape(5, -1)), expected, rtol=1e-6)
    block = images[1, 4:8, 0:4, 2].mean()  # block (1, 0), blue, of the second image
    assert grid.vectors(images)[1, (1 * 2 + 0) * 3 + 2] == pytest.approx(block, rel=1e-6)


def test_a_full_size_grid_keeps_the_pixels_as_they_are():
    images = np.random.default_rng(1).random((3, 4, 4, 1)).astype(np.float32)
    grid = PixelGrid(4, 1, 4)
    assert not grid.shrunk and grid.describe() == "4x4"
    np.testing.assert_array_equal(grid.vectors(images), images.reshape(3, 16))


def test_a_build_s_grid_comes_back_from_its_raw_dimension():
    assert grid_of_build(32, 3, 16 * 16 * 3) == PixelGrid(32, 3, 16)
    assert grid_of_build(32, 3, 3072).describe() == "32x32"
    assert PixelGrid(32, 3, 16).describe() == "16x16 (shrunk from 32x32)"
    with pytest.raises(ValueError, match="no square grid"):
        grid_of_build(32, 3, 100)
    with pytest.raises(ValueError, match="no 12-pixel grid"):
        PixelGrid(32, 3, 12)
