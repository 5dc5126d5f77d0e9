"""Fuzzing the image reader and the upload path with generated, then damaged, images.

Every input must give a well-formed model input or a typed error with a reason; none
may raise anything else, or take longer than the deadline. The short form runs in CI
with a fixed seed; ``LATENTSEARCH_STRESS=1`` runs thousands of fresh random inputs and
prints how many of each kind were tried.
"""

from __future__ import annotations

import io
import os
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from latentsearch.indexer.files.images import ImageReadError, load_image
from latentsearch.indexer.serve.queries import UploadTooLargeError, from_upload

STRESS = os.environ.get("LATENTSEARCH_STRESS") == "1"
FUZZ = settings(
    max_examples=3000 if STRESS else 250,
    deadline=5000,  # ms per input: a hang or a runaway decode fails the test
    derandomize=not STRESS,  # CI sees the same inputs every run
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TALLY: Counter[str] = Counter()
# Pillow warns about damaged TIFF EXIF before it fails or reads on; the outcome is checked
pytestmark = [
    pytest.mark.stress,
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
]

# (format, mode, extra save options); modes each format can hold
KINDS = [
    ("JPEG", "RGB", {}),
    ("JPEG", "L", {}),
    ("JPEG", "CMYK", {}),
    ("JPEG", "RGB", {"progressive": True}),
    ("PNG", "RGB", {}),
    ("PNG", "RGBA", {}),
    ("PNG", "LA", {}),
    ("PNG", "1", {}),
    ("PNG", "I;16", {}),
    ("PNG", "P", {"transparency": 0}),
    ("WEBP", "RGB", {}),
    ("WEBP", "RGBA", {"lossless": True}),
    ("GIF", "P", {"transparency": 0}),
    ("GIF", "L", {"animated": True}),
    ("BMP", "RGB", {}),
    ("TIFF", "CMYK", {}),
    ("TIFF", "I;16", {}),
    ("TIFF", "F", {}),
]


def encode(kind: int, width: int, height: int, seed: int) -> bytes:
    fmt, mode, options = KINDS[kind]
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    elif mode == "F":
        img = Image.fromarray(rng.random((height, width), dtype=np.float32))
    else:
        img = rgb.convert(mode) if mode != "P" else rgb.quantize(16)
    options = dict(options)
    if options.pop("animated", False):
        frames = [img, Image.fromarray(255 - np.asarray(img))]
        options.update(save_all=True, append_images=frames[1:], duration=50, loop=0)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@st.composite
def images(draw) -> tuple[str, bytes]:
    """A valid image of any kind and size, then perhaps damaged; named by what was done."""
    kind = draw(st.integers(0, len(KINDS) - 1))
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    data = encode(kind, width, height, draw(st.integers(0, 2**16)))
    damage = draw(st.sampled_from(["none", "truncate", "flip", "splice", "zero", "noise"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    elif damage == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=256)) + data[at:]
    elif damage == "zero":
        data = b""
    elif damage == "noise":  # a non-image: random bytes behind the format's magic number
        data = data[:8] + draw(st.binary(max_size=512))
    fmt, mode, _ = KINDS[kind]
    return f"{fmt}-{mode}:{damage}", data


def check_outcome(kind: str, read) -> None:
    try:
        array = read()
    except (ImageReadError, UploadTooLargeError) as err:
        assert str(err) and (not isinstance(err, ImageReadError) or err.reason), kind
        damage = kind.split(":")[1]
        TALLY[f"{damage}:error"] += 1
        if damage == "none":  # an undamaged image refused: say which and why
            TALLY[f"none:error:{kind.split(':')[0]}:{str(err)[:40]}"] += 1
        return
    assert array.shape == (16, 16, 3) and array.dtype == np.float32, kind
    assert np.isfinite(array).all() and 0.0 <= array.min() and array.max() <= 1.0, kind
    TALLY[f"{kind.split(':')[1]}:read"] += 1


@pytest.fixture(scope="module", autouse=True)
def report_tally():
    yield
    if STRESS:
        print("\nfuzz tally:", dict(sorted(TALLY.items())), "total", sum(TALLY.values()))


@FUZZ
@given(images(), st.sampled_from([".jpg", ".png", ".webp", ".gif", ".bmp", ".tiff"]))
def test_fuzzed_files_read_or_fail_with_a_typed_error(tmp_path_factory, case, suffix):
    kind, data = case
    path = tmp_path_factory.getbasetemp() / f"fuzz{suffix}"  # the name need not match
    path.write_bytes(data)
    check_outcome(kind, lambda: load_image(path, size=16, channels=3))


@FUZZ
@given(images())
def test_fuzzed_uploads_read_or_fail_with_a_typed_error(case):
    kind, data = case
    check_outcome(kind, lambda: from_upload("upload.jpg", data, 16, 3).image)


def test_the_fuzzer_makes_every_kind_of_valid_image():
    """The generator itself: each kind decodes undamaged, so damage is what is tested."""
    for kind in range(len(KINDS)):
        assert load_image(encode(kind, 5, 3, seed=kind), size=16, channels=3).shape == (16, 16, 3)
