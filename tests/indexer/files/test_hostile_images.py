"""Hostile and odd image files, read in a child process held to a memory and time limit.

Bombs, huge headers, 1x1 images, 16-bit, CMYK, palette transparency, animations, empty
files and non-images named like images: each must read or give ``ImageReadError``, and
none may crash the reader, run out of the memory limit or hang.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

MEMORY_LIMIT = 2 * 2**30  # address space of the child, bytes
SECONDS_PER_FILE = 10.0
CHILD = """
import json, resource, sys, time
from pathlib import Path
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from latentsearch.indexer.files.images import ImageReadError, load_image
for path in sorted(Path(sys.argv[1]).iterdir()):
    started = time.perf_counter()
    try:
        load_image(path, size=32, channels=3)
        outcome, reason = "read", ""
    except ImageReadError as err:
        outcome, reason = "error", err.reason
    except BaseException as err:
        outcome, reason = "untyped", repr(err)
    seconds = time.perf_counter() - started
    print(json.dumps({"name": path.name, "outcome": outcome, "reason": reason,
                      "seconds": seconds}), flush=True)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_rss_kb": peak}))
"""


def encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def grey_png_of_zeros(side: int) -> bytes:
    """A real ``side`` x ``side`` 8-bit grey PNG of zeros: a few hundred KB that inflate to
    ``side**2`` bytes (a decompression bomb when ``side`` is large)."""
    packer, row = zlib.compressobj(9), bytes(side + 1)  # filter byte 0 + the row
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def ztxt_bomb_png() -> bytes:
    """A 4x4 PNG with a text chunk that inflates to 64 MB."""
    small = encoded(Image.new("RGB", (4, 4)), "PNG")
    text = png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(bytes(64 * 2**20), 9))
    return small[:33] + text + small[33:]  # after the signature and IHDR


def with_size(data: bytes, fmt: str, width: int, height: int) -> bytes:
    """``data`` with its header saying ``width`` x ``height`` (pixel data unchanged)."""
    out = bytearray(data)
    if fmt == "JPEG":  # the SOF0 segment: FFC0, length, precision, height, width
        at = out.index(b"\xff\xc0") + 5
        out[at : at + 4] = struct.pack(">HH", height, width)
    elif fmt == "GIF":  # the logical screen, then the first image descriptor
        out[6:10] = struct.pack("<HH", width, height)
        at = out.index(b"\x2c", 13) + 5
        out[at : at + 4] = struct.pack("<HH", width, height)
    elif fmt == "BMP":
        out[18:26] = struct.pack("<ii", width, height)
    return bytes(out)


def catalogue() -> dict[str, tuple[bytes, str]]:
    """file name -> (bytes, expected outcome: "read", "error" or "either")."""
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    grey16 = Image.fromarray(rng.integers(0, 65536, (40, 60), dtype=np.uint16))
    palette = noise.quantize(8)
    frames = [noise.convert("L").point(lambda v, s=s: (v + s) % 256) for s in range(0, 250, 5)]
    valid = {
        "rgb.jpg": encoded(noise, "JPEG"),
        "cmyk.jpg": encoded(noise.convert("CMYK"), "JPEG"),
        "cmyk.tiff": encoded(noise.convert("CMYK"), "TIFF"),
        "grey16.png": encoded(grey16, "PNG"),
        "grey16.tiff": encoded(grey16, "TIFF"),
        "palette-transparent.png": encoded(palette, "PNG", transparency=0),
        "palette-transparent.gif": encoded(palette, "GIF", transparency=0),
        "animated-50-frames.gif": encoded(
            frames[0], "GIF", save_all=True, append_images=frames[1:]
        ),
        "animated.webp": encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:4]),
        "animated.png": encoded(frames[0], "PNG", save_all=True, append_images=frames[1:4]),
        "rgba.webp": encoded(noise.convert("RGBA"), "WEBP"),
    }
    for fmt, suffix in [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"),
                        ("BMP", "bmp"), ("TIFF", "tiff")]:  # fmt: skip
        valid[f"one-pixel.{suffix}"] = encoded(Image.new("RGB", (1, 1), (9, 99, 199)), fmt)
    cases = {name: (data, "read") for name, data in valid.items()}
    for name, data in valid.items():
        for cut in (0.1, 0.5, 0.9):
            cases[f"cut{int(cut * 100)}-{name}"] = (data[: int(len(data) * cut)], "either")
    for fmt, suffix in [("JPEG", "jpg"), ("GIF", "gif"), ("BMP", "bmp")]:
        huge = with_size(valid[f"one-pixel.{suffix}"], fmt, 20_000, 20_000)
        cases[f"20000x20000-header.{suffix}"] = (huge, "error")
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0))
    cases["20000x20000-header.png"] = (
        b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IEND", b""),
        "error",
    )
    cases["bomb-14000x14000-zeros.png"] = (grey_png_of_zeros(14_000), "error")
    cases["zeros-9000x9000-under-limit.png"] = (grey_png_of_zeros(9_000), "read")
    cases["ztxt-bomb.png"] = (ztxt_bomb_png(), "either")
    for suffix in ("jpg", "png", "webp", "gif"):
        cases[f"zero-bytes.{suffix}"] = (b"", "error")
    cases["text.jpg"] = (b"hello, I am not a picture\n" * 40, "error")
    cases["html.png"] = (b"<!doctype html><html><body>hi</body></html>", "error")
    cases["pdf.webp"] = (b"%PDF-1.7\n" + rng.bytes(2000), "error")
    cases["random.gif"] = (rng.bytes(4096), "error")
    cases["elf.bmp"] = (b"\x7fELF" + rng.bytes(4096), "error")
    return cases


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> tuple[dict, dict, dict]:
    folder = tmp_path_factory.mktemp("hostile")
    cases = catalogue()
    for name, (data, _) in cases.items():
        (folder / name).write_bytes(data)
    command = [sys.executable, "-c", CHILD, str(folder), str(MEMORY_LIMIT)]
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": ""}
    child = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert child.returncode == 0, child.stderr[-2000:]  # no crash, no kill for memory
    lines = [json.loads(line) for line in child.stdout.splitlines()]
    return cases, {row["name"]: row for row in lines[:-1]}, lines[-1]


def test_every_hostile_file_reads_or_gives_a_typed_error(outcomes):
    cases, found, peak = outcomes
    assert set(found) == set(cases)
    for name, (_, expected) in cases.items():
        row = found[name]
        assert row["outcome"] in ("read", "error"), row  # never any other exception
        assert expected in (row["outcome"], "either"), row
        assert row["outcome"] == "read" or row["reason"], row
        assert row["seconds"] < SECONDS_PER_FILE, row
    assert peak["peak_rss_kb"] * 1024 < MEMORY_LIMIT
    print(f"\n{len(cases)} hostile files; peak RSS {peak['peak_rss_kb'] / 1024:.0f} MB")


def test_bombs_are_refused_before_decoding(outcomes):
    _, found, _ = outcomes
    for name in ("bomb-14000x14000-zeros.png", "20000x20000-header.jpg", "20000x20000-header.png"):
        assert "could be a decompression bomb" in found[name]["reason"], found[name]
        assert found[name]["seconds"] < 1.0, found[name]


def test_the_catalogue_files_are_what_they_claim():
    cases = catalogue()
    with Image.open(io.BytesIO(cases["animated-50-frames.gif"][0])) as gif:
        assert gif.n_frames == 50
    with Image.open(io.BytesIO(cases["grey16.png"][0])) as png:
        assert png.mode.startswith("I")  # 16-bit grey
    with Image.open(io.BytesIO(cases["cmyk.jpg"][0])) as jpeg:
        assert jpeg.mode == "CMYK"
    assert struct.unpack("<ii", cases["20000x20000-header.bmp"][0][18:26]) == (20_000, 20_000)
