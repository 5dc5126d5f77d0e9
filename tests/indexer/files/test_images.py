"""Tests for latentsearch.indexer.files.images, on small synthetic images made in tmp_path."""

import hashlib
import io
import pickle

import numpy as np
import pytest
from PIL import Image

from latentsearch.indexer.files.images import (
    ImageReadError,
    fit_square,
    load_image,
    make_thumbnail,
    open_image,
    read_for_index,
    shorter_side,
    to_mode,
)
from latentsearch.indexer.files.listing import IMAGE_EXTENSIONS, label_for, list_images

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def save(img, path, **params):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **params)
    return path


def noise_jpeg_bytes(width=64, height=48):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def near(pixel, colour, tolerance=30):
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, colour, strict=True))


# --- listing and labels -------------------------------------------------------------


def test_list_images_recurses_filters_and_sorts(tmp_path):
    tiny = Image.new("RGB", (2, 2))
    names = ["b/2.png", "a/1.JPG", "a/deep/3.jpeg", "top.webp", "z.TIFF", "c/4.gif"]
    for rel in names + ["a/zz.png", "a-b/5.png"]:
        save(tiny, tmp_path / rel, format="PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "model.npy").write_bytes(b"\x00")
    save(tiny, tmp_path / ".hidden.png")
    save(tiny, tmp_path / ".cache" / "x.png")
    save(tiny, tmp_path / "a" / ".thumbs" / "y.jpg", format="PNG")
    (tmp_path / "link").symlink_to(tmp_path / "b")  # a link to a folder is not followed

    found = list_images(tmp_path)

    rel = [p.relative_to(tmp_path).as_posix() for p in found]
    # Path order, part by part: "a/deep/..." before "a/zz.png", every "a/..." before "a-b"
    assert rel == [
        "a/1.JPG",
        "a/deep/3.jpeg",
        "a/zz.png",
        "a-b/5.png",
        "b/2.png",
        "c/4.gif",
        "top.webp",
        "z.TIFF",
    ]
    assert found == sorted(found)
    assert list_images(str(tmp_path)) == found  # str roots work too


def test_image_extensions_are_lower_case_with_dot():
    assert {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"} == IMAGE_EXTENSIONS


def test_list_images_rejects_missing_root_and_file_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_images(tmp_path / "nope")
    file_root = save(Image.new("RGB", (2, 2)), tmp_path / "one.png")
    with pytest.raises(NotADirectoryError):
        list_images(file_root)


def test_label_for_first_sub_folder_or_none(tmp_path):
    assert label_for(tmp_path / "cat" / "x" / "1.jpg", tmp_path) == "cat"
    assert label_for(tmp_path / "dog" / "2.jpg", tmp_path) == "dog"
    assert label_for(tmp_path / "3.jpg", tmp_path) is None


# --- load_image and modes -----------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_load_image_shape_dtype_range(tmp_path, channels):
    path = save(Image.new("RGB", (50, 30), (200, 100, 50)), tmp_path / "c.png")
    array = load_image(path, size=16, channels=channels)
    assert array.shape == (16, 16, channels)
    assert array.dtype == np.float32
    assert 0.0 <= array.min() and array.max() <= 1.0
    if channels == 3:
        np.testing.assert_allclose(array[8, 8], [200 / 255, 100 / 255, 50 / 255], atol=1e-6)
    else:
        expected = (200 * 299 + 100 * 587 + 50 * 114) / 1000 / 255  # ITU-R 601 luma
        assert array[8, 8, 0] == pytest.approx(expected, abs=2 / 255)


def test_load_image_grey_source_to_three_channels(tmp_path):
    path = save(Image.new("L", (20, 20), 128), tmp_path / "g.png")
    array = load_image(path, size=8, channels=3)
    assert array.shape == (8, 8, 3)
    np.testing.assert_allclose(array, 128 / 255, atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), RED)
    img.paste(BLUE, (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = save(img, tmp_path / "rot.jpg", exif=exif, quality=95)

    upright = open_image(path)

    assert upright.size == (20, 40)
    assert near(upright.getpixel((10, 5)), RED)  # the left edge is now at the top
    assert near(upright.getpixel((10, 35)), BLUE)


def test_palette_transparency_becomes_white(tmp_path):
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # index 0 black, index 1 red
    img.paste(1, (0, 0, 5, 10))
    path = save(img, tmp_path / "p.png", transparency=0)

    array = load_image(path, size=10, channels=3)

    np.testing.assert_allclose(array[5, 8], [1, 1, 1])  # transparent black -> white
    np.testing.assert_allclose(array[5, 1], [1, 0, 0])


def test_rgba_composites_over_white():
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (0, 0, 5, 10))
    rgb = to_mode(img, 3)
    assert rgb.mode == "RGB"
    assert rgb.getpixel((8, 5)) == WHITE
    assert rgb.getpixel((1, 5)) == RED
    assert to_mode(Image.new("LA", (4, 4), (0, 0)), 1).getpixel((0, 0)) == 255


def test_cmyk_jpeg_loads_as_rgb(tmp_path):
    path = save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")
    assert open_image(path).mode == "CMYK"
    array = load_image(path, size=8, channels=3)
    assert array[4, 4, 0] > 0.9 and array[4, 4, 1] < 0.1 and array[4, 4, 2] < 0.1


def test_16_bit_png_keeps_its_brightness(tmp_path):
    values = np.full((8, 8), 65535, dtype=np.uint16)
    values[:, :4] = 32768  # not Image.paste: pasting an int into I;16 mangles values >= 256
    path = save(Image.fromarray(values), tmp_path / "deep.png")
    assert open_image(path).mode == "I;16"

    array = load_image(path, size=8, channels=1)

    assert array[4, 6, 0] == pytest.approx(1.0, abs=1e-6)
    assert array[4, 1, 0] == pytest.approx(0.5, abs=1 / 255)


def test_32_bit_int_and_float_modes_are_scaled():
    assert to_mode(Image.new("I", (2, 2), 200), 1).getpixel((0, 0)) == 200  # 8-bit range
    assert to_mode(Image.new("I", (2, 2), 65535), 1).getpixel((0, 0)) == 255  # 16-bit range
    assert to_mode(Image.new("F", (2, 2), 0.5), 3).getpixel((0, 0)) == (128, 128, 128)
    assert to_mode(Image.new("1", (2, 2), 1), 1).getpixel((0, 0)) == 255


def test_to_mode_rejects_other_channel_counts():
    with pytest.raises(ValueError, match="channels"):
        to_mode(Image.new("RGB", (2, 2)), 2)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), colour) for colour in (RED, GREEN, BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(path).n_frames == 3

    array = load_image(path, size=10, channels=3)

    np.testing.assert_allclose(array[5, 5], [1, 0, 0], atol=0.05)


def test_draft_decodes_big_jpeg_smaller(tmp_path):
    path = save(Image.new("RGB", (4000, 3000), (10, 120, 200)), tmp_path / "big.jpg")
    assert open_image(path).size == (4000, 3000)

    small = open_image(path, draft_size=64)

    assert small.width < 4000
    assert min(small.size) >= 64  # draft never goes below the requested size
    assert load_image(path, size=64, channels=3).shape == (64, 64, 3)


# --- fit_square --------------------------------------------------------------------


def test_center_crop_keeps_the_centre():
    img = Image.new("RGB", (300, 100), RED)
    img.paste(GREEN, (100, 0, 200, 100))  # the central square is green
    out = fit_square(img, 32)
    assert out.size == (32, 32)
    assert out.getpixel((0, 0)) == GREEN
    assert out.getpixel((31, 16)) == GREEN


# --- errors ------------------------------------------------------------------------


def read_error(source):
    with pytest.raises(ImageReadError) as caught:
        load_image(source, size=8, channels=3)
    return caught.value


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    error = read_error(path)
    assert error.path == str(path)
    assert "empty" in error.reason and str(path) in str(error)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "fake.jpg"
    path.write_text("hello, I am not a picture\n" * 10)
    assert "not an image" in read_error(path).reason


def test_truncated_jpeg(tmp_path):
    data = noise_jpeg_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in read_error(path).reason


def test_missing_file(tmp_path):
    error = read_error(tmp_path / "gone.png")
    assert "not found" in error.reason
    assert error.path == str(tmp_path / "gone.png")


@pytest.mark.parametrize("limit", [1000, 6000])  # past Pillow's error / warning threshold
def test_decompression_bomb(tmp_path, monkeypatch, limit):
    path = save(Image.new("RGB", (100, 100)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    assert "too large" in read_error(path).reason


def test_error_pickles_with_path_and_reason():
    error = pickle.loads(pickle.dumps(ImageReadError("file is empty", "a/b.jpg")))
    assert (error.path, error.reason) == ("a/b.jpg", "file is empty")
    assert str(error) == "cannot read image a/b.jpg: file is empty"


# --- other sources, thumbnails, read_for_index -------------------------------------


def test_bytes_and_binary_stream_sources(tmp_path):
    data = noise_jpeg_bytes()
    path = tmp_path / "n.jpg"
    path.write_bytes(data)
    from_path = load_image(path, size=16, channels=3)

    np.testing.assert_array_equal(load_image(data, size=16, channels=3), from_path)
    np.testing.assert_array_equal(load_image(io.BytesIO(data), size=16, channels=3), from_path)
    with open(path, "rb") as handle:
        np.testing.assert_array_equal(load_image(handle, size=16, channels=3), from_path)
    assert read_error(b"").reason == "file is empty"


def test_make_thumbnail_is_small_jpeg(tmp_path):
    img = Image.new("RGBA", (300, 150), (0, 0, 255, 255))
    thumb = make_thumbnail(img, max_side=96)
    assert thumb[:2] == b"\xff\xd8"
    with Image.open(io.BytesIO(thumb)) as decoded:
        assert decoded.format == "JPEG" and decoded.mode == "RGB"
        assert decoded.size == (96, 48)
    assert img.size == (300, 150) and img.mode == "RGBA"  # caller's image untouched

    path = save(Image.new("RGB", (40, 80), RED), tmp_path / "tall.png")
    with Image.open(io.BytesIO(make_thumbnail(path, max_side=32))) as decoded:
        assert decoded.size == (16, 32)


def test_read_for_index_returns_array_and_whole_photo_thumbnail(tmp_path):
    img = Image.new("RGB", (200, 100), RED)
    img.paste(GREEN, (50, 0, 150, 100))
    path = save(img, tmp_path / "cat" / "wide.png")

    image = read_for_index(path, size=32, channels=3, thumb_side=64)

    assert image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels / 255.0, load_image(path, size=32, channels=3))
    assert image.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with Image.open(io.BytesIO(image.thumbnail)) as decoded:
        assert decoded.size == (64, 32)  # whole photo, not the square crop
        assert near(decoded.getpixel((2, 16)), RED)
    with pytest.raises(ImageReadError):
        read_for_index(tmp_path / "missing.jpg", size=32, channels=3)


def test_a_small_upright_jpeg_is_its_own_thumbnail(tmp_path):
    path = tmp_path / "small.jpg"
    path.write_bytes(noise_jpeg_bytes(64, 48))
    assert read_for_index(path, size=32, channels=3).thumbnail == path.read_bytes()


def test_a_large_or_rotated_jpeg_gets_a_new_upright_thumbnail(tmp_path):
    large = tmp_path / "large.jpg"
    large.write_bytes(noise_jpeg_bytes(400, 300))
    thumb = read_for_index(large, size=32, channels=3).thumbnail
    with Image.open(io.BytesIO(thumb)) as decoded:
        assert decoded.size == (96, 72)

    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated 90 degrees
    rotated = save(Image.new("RGB", (64, 32), RED), tmp_path / "rotated.jpg", exif=exif)
    thumb = read_for_index(rotated, size=32, channels=3).thumbnail
    assert thumb != rotated.read_bytes()
    with Image.open(io.BytesIO(thumb)) as decoded:
        assert decoded.size == (32, 64)


def test_shorter_side_reads_the_header_of_a_photo(tmp_path):
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (300, 120), RED).save(path)
    assert shorter_side(path) == 120
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match="image size"):
        shorter_side(tmp_path / "broken.png")
    with pytest.raises(ImageReadError):
        shorter_side(tmp_path / "missing.jpg")
