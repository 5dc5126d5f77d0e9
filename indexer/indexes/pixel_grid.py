"""The pixel grid the raw-pixel baseline stores: the model's input, or a shrunken copy of it.

The baseline is an exact scan of every stored pixel, one byte each. At a million 32x32
colour photos that is 3 GB scanned for every query and held in every serving process.
Where the full grid would not fit the build's memory budget, each side is halved (every
2x2 block of pixels averaged) until it does: 16x16 is a quarter of the bytes and the
scan. The page and the manifest say which grid the baseline searched. Build, update and
query shrink through the one ``PixelGrid.vectors``, so stored rows and queries match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from latentsearch.indexer.indexes.choice import ID_BYTES

MIN_SIDE = 8  # below this a photo is a blur of colour; keep 8x8 and go over the budget


@dataclass(frozen=True)
class PixelGrid:
    """Images of ``image_size`` square and ``channels`` deep, stored ``side`` square."""

    image_size: int
    channels: int
    side: int

    def __post_init__(self) -> None:
        if self.side < 1 or self.image_size % self.side:
            raise ValueError(f"a {self.image_size}-pixel image has no {self.side}-pixel grid")

    @property
    def dim(self) -> int:
        return self.side * self.side * self.channels

    @property
    def shrunk(self) -> bool:
        return self.side < self.image_size

    def describe(self) -> str:
        """``32x32`` (the model's input), ``16x16 (shrunk from 32x32)``."""
        full = f"{self.image_size}x{self.image_size}"
        return f"{self.side}x{self.side} (shrunk from {full})" if self.shrunk else full

    def vectors(self, images: np.ndarray) -> np.ndarray:
        """Model inputs (n, size, size, channels), or their flattened rows, as (n, dim) rows."""
        count, size, factor = len(images), self.image_size, self.image_size // self.side
        grid = np.asarray(images, np.float32).reshape(count, size, size, self.channels)
        if factor == 1:
            return grid.reshape(count, self.dim)
        # a sum of strided views: 5x faster than a mean over a 6-D reshape's axes (2.0
        # against 10.6 ms a batch of 256 32x32 photos), the same floats
        total = np.zeros((count, self.side, self.side, self.channels), np.float32)
        for row in range(factor):
            for column in range(factor):
                total += grid[:, row::factor, column::factor]
        return (total / np.float32(factor * factor)).reshape(count, self.dim)


def grid_side(count: int, image_size: int, channels: int, memory_budget_bytes: int) -> int:
    """The side of the grid a baseline of ``count`` images keeps within the budget: the
    model's input size, halved while the bytes do not fit and the side stays even."""
    side = image_size
    while (
        count * (side * side * channels + ID_BYTES) > memory_budget_bytes
        and side % 2 == 0
        and side // 2 >= MIN_SIDE
    ):
        side //= 2
    return side


def grid_for_budget(
    count: int, image_size: int, channels: int, memory_budget_bytes: int
) -> PixelGrid:
    return PixelGrid(
        image_size, channels, grid_side(count, image_size, channels, memory_budget_bytes)
    )


def grid_of_build(image_size: int, channels: int, raw_dim: int) -> PixelGrid:
    """The grid a build stored, from its manifest's ``raw_dim``."""
    side = math.isqrt(raw_dim // channels) if channels > 0 else 0
    if side * side * channels != raw_dim:
        raise ValueError(f"{raw_dim} raw values are no square grid of {channels} channels")
    return PixelGrid(image_size, channels, side)
