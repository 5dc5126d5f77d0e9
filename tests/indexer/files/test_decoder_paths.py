"""Every way the product decodes a file gives the pixels a plain Pillow decode gives.

The paths: a build (``read_for_index``, which draft-decodes large JPEGs and may keep a small
JPEG as its own thumbnail), a query by path (``load_image``), an upload
(``read_with_preview``) and the Ray engine's decode stage. The reference is Pillow with no
draft scaling: open, EXIF orientation, RGB, centre square, resize.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from latentsearch.indexer.files.images import (
    as_model_input,
    load_image,
    read_for_index,
    read_with_preview,
)

SIZE = 32
ROOT = Path(__file__).resolve().parents[3]


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A smooth photo-like picture (gradients and blobs), not noise: JPEG keeps it well."""
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    rng = np.random.default_rng(seed)
    channels = [np.sin(x * rng.uniform(2, 9) + y * rng.uniform(2, 9) + c) for c in range(3)]
    pixels = (np.stack(channels, axis=-1) + 1) * 127.5
    return Image.fromarray(pixels.astype(np.uint8))


def reference(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """Pillow alone, full-size decode: what each product path must match (and the upright
    photo's size)."""
    with Image.open(path) as img:
        upright = ImageOps.exif_transpose(img.convert("RGB"))
    side = min(upright.size)
    left, top = (upright.width - side) // 2, (upright.height - side) // 2
    square = upright.crop((left, top, left + side, top + side))
    pixels = np.asarray(square.resize((SIZE, SIZE), Image.Resampling.BILINEAR)) / 255.0
    return pixels, upright.size


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("decoders")
    rotated = Image.Exif()
    rotated[0x0112] = 6
    made = {
        "small.jpg": (photo(32, 32, 0), {"quality": 92}),
        "camera.jpg": (photo(1600, 1200, 1), {"quality": 90}),  # drafted to 1/8
        "phone.jpg": (photo(1200, 900, 2), {"quality": 90, "exif": rotated}),
        "grey.jpg": (photo(400, 300, 3).convert("L"), {"quality": 90}),
        "lossless.png": (photo(300, 200, 4), {}),
    }
    for name, (img, options) in made.items():
        img.save(folder / name, **options)
    return [folder / name for name in made]


def assert_near(pixels: np.ndarray, expected: np.ndarray) -> None:
    # A reduced-scale JPEG decode is not a resize of the full one: close, not equal.
    difference = np.abs(np.asarray(pixels, np.float64).reshape(expected.shape) - expected)
    assert difference.mean() < 0.01 and difference.max() < 0.08  # 20 grey levels at most


def test_build_query_and_upload_paths_match_plain_pillow(files):
    for path in files:
        expected, (width, height) = reference(path)
        indexed = read_for_index(path, SIZE, 3)
        queried = load_image(path, SIZE, 3)
        uploaded, preview = read_with_preview(path.read_bytes(), SIZE, 3, 256)
        assert_near(queried, expected)
        # and the three give exactly the same model input: a file finds itself at distance 0
        np.testing.assert_array_equal(as_model_input(indexed.pixels), queried)
        np.testing.assert_array_equal(uploaded, queried)
        with Image.open(io.BytesIO(indexed.thumbnail)) as thumb:
            assert abs(thumb.width / thumb.height - width / height) < 0.05  # upright, whole
        with Image.open(io.BytesIO(preview)) as shown:  # full preview size, however drafted
            assert max(shown.size) == min(256, max(width, height))


def test_ray_decode_stage_matches_the_local_build(files):
    pytest.importorskip("pyarrow")
    script = (  # in a fresh process, as a Ray worker runs it
        "import sys\n"
        "from pathlib import Path\n"
        "from latentsearch.indexer.pipeline.ray.stages import _decode_one\n"
        "for name in sys.argv[1:]:\n"
        "    sys.stdout.buffer.write(_decode_one(Path(name), Path(name).parent, 32, 3)['pixels'])\n"
    )
    command = [sys.executable, "-c", script, *map(str, files)]
    done = subprocess.run(command, capture_output=True, check=True, cwd=ROOT)
    stages = np.frombuffer(done.stdout, np.uint8).reshape(len(files), SIZE, SIZE, 3)
    for path, stage in zip(files, stages, strict=True):
        np.testing.assert_array_equal(stage, read_for_index(path, SIZE, 3).pixels)
