"""Training from a folder: the input size and encoder chosen from the photos' sizes."""

from __future__ import annotations

import pytest
from PIL import Image

from latentsearch.indexer.files.folders import NothingReadableError
from latentsearch.indexer.pipeline.train import SIZE_SAMPLE, choose_shape, photo_sides


def _photos(folder, sides, colour=(90, 120, 200)):
    for n, (width, height) in enumerate(sides):
        path = folder / "photos" / f"{n:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (width, height), colour).save(path)
    return folder


def test_photo_sides_reads_the_shorter_side_and_skips_broken_files(tmp_path):
    folder = _photos(tmp_path, [(120, 80), (70, 90)])
    (folder / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    assert sorted(photo_sides(folder)) == [70, 80]


def test_photo_sides_samples_a_large_folder(tmp_path):
    folder = _photos(tmp_path, [(40, 40)] * (2 * SIZE_SAMPLE + 10))
    assert SIZE_SAMPLE <= len(photo_sides(folder)) <= SIZE_SAMPLE + 10


def test_a_folder_with_nothing_readable_is_an_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"text")
    with pytest.raises(NothingReadableError, match="none of the 1 image files .*a.jpg"):
        photo_sides(tmp_path)


def test_larger_photos_get_the_64_px_encoder_and_a_reason(tmp_path):
    size, filters, reasons = choose_shape(_photos(tmp_path, [(100, 100)] * 5 + [(24, 24)]))
    assert (size, filters) == (64, (16, 32, 64, 128))
    assert "100 px" in reasons["image_size"] and "64 px" in reasons["filters"]


def test_thumbnails_get_the_32_px_encoder(tmp_path):
    size, filters, _ = choose_shape(_photos(tmp_path, [(32, 32)] * 4))
    assert (size, filters) == (32, (32, 64, 128))


def test_given_settings_are_kept_without_reading_the_folder(tmp_path):
    missing = tmp_path / "nowhere"
    assert choose_shape(missing, 16, (8, 16)) == (16, (8, 16), {})
    size, filters, reasons = choose_shape(_photos(tmp_path, [(200, 150)]), filters=(8, 16))
    assert (size, filters, set(reasons)) == (64, (8, 16), {"image_size"})
