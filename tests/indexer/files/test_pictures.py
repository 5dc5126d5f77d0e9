"""Arrays back to pictures: modes, enlargement, and values outside [0, 1]."""

import io

import numpy as np
from PIL import Image

from latentsearch.indexer.files.pictures import as_picture, png_bytes


def test_grey_and_colour_arrays_become_l_and_rgb_pictures():
    assert as_picture(np.zeros((4, 4, 1), np.float32)).mode == "L"
    assert as_picture(np.zeros((4, 4, 3), np.float32)).mode == "RGB"


def test_values_outside_the_range_are_clipped_not_wrapped():
    image = np.array([[[-0.2], [1.3]]], np.float32)
    assert list(as_picture(image).getdata()) == [0, 255]


def test_png_is_enlarged_by_nearest_neighbour_when_asked():
    image = np.array([[[0.0], [1.0]], [[1.0], [0.0]]], np.float32)
    small = Image.open(io.BytesIO(png_bytes(image)))
    large = np.asarray(Image.open(io.BytesIO(png_bytes(image, side=8))))
    assert small.size == (2, 2) and large.shape == (8, 8)
    assert set(np.unique(large)) == {0, 255}  # no blended pixels
    assert (large[:4, :4] == 0).all() and (large[:4, 4:] == 255).all()
