"""Model-sized arrays back to pictures: what the page and ``denoise`` show and write."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def as_picture(image: np.ndarray) -> Image.Image:
    """A (size, size, channels) array in [0, 1] as an 8-bit grey or RGB picture."""
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def png_bytes(image: np.ndarray, side: int | None = None) -> bytes:
    """``image`` as PNG, enlarged to ``side`` pixels (nearest neighbour: the model's pixels
    stay visible) when given."""
    picture = as_picture(image)
    if side is not None:
        picture = picture.resize((side, side), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
