"""Uploads and index files are untrusted: caps, sniffing, no files left, no path traversal."""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from dataclasses import replace

import faiss
import numpy as np
import pytest
from PIL import Image

from latentsearch.indexer.files.images import ImageReadError
from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.indexer.serve.queries import (
    MAX_UPLOAD_PIXELS,
    QueryError,
    UploadTooLargeError,
    check_upload,
    from_row,
)
from latentsearch.indexer.store.manifest import current_index_build
from latentsearch.indexer.store.metadata import Metadata, MetadataError, MetadataWriter


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` but holds no pixel data (a few dozen bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def encoded(img: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def explorer(built_index_dir) -> Explorer:
    return Explorer.open_build(current_index_build(built_index_dir))


def test_uploads_over_the_pixel_cap_are_refused_from_the_header():
    check_upload(png_header(7000, 7000))  # 49 MP: under the cap
    with pytest.raises(UploadTooLargeError, match="51.0 megapixels and the limit is 50"):
        check_upload(png_header(51_000, 1000))
    with pytest.raises(UploadTooLargeError, match="over 179 megapixels, and the limit is 50"):
        check_upload(png_header(20_000, 20_000))
    small = encoded(Image.new("RGB", (20, 20)), "PNG")
    with pytest.raises(UploadTooLargeError, match="megapixels"):
        check_upload(small, max_pixels=399)
    assert MAX_UPLOAD_PIXELS == 50_000_000


def test_upload_content_decides_not_the_name(explorer):
    tiff = encoded(Image.new("RGB", (8, 8)), "TIFF")
    with pytest.raises(ImageReadError, match="content is TIFF"):
        explorer.upload("photo.png", tiff)
    webp = encoded(Image.new("RGB", (8, 8), (200, 10, 10)), "WEBP")
    assert explorer.upload("named.tiff", webp).image.shape == (16, 16, 3)


def test_an_upload_leaves_no_file_anywhere(explorer, tmp_path, monkeypatch):
    """Uploads stay in memory: nothing lands in the temp folder or the working folder."""
    scratch, cwd = tmp_path / "tmp", tmp_path / "cwd"
    scratch.mkdir(), cwd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.chdir(cwd)
    good = encoded(Image.new("RGB", (300, 200), (10, 200, 10)), "JPEG")
    for name, data in [("ok.jpg", good), ("../../escape.png", good), ("cut.jpg", good[:100])]:
        try:
            explorer.search(explorer.upload(name, data), k=3)
        except ImageReadError:
            assert name == "cut.jpg"
    assert list(scratch.iterdir()) == [] and list(cwd.iterdir()) == []


@pytest.fixture
def mapless(explorer):
    """The bundle with a raw index that cannot return its vectors, so a collection query
    has to read the file its metadata names."""
    dim = explorer.bundle.raw.d
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, 1)
    index.train(np.zeros((1, dim), np.float32))
    return replace(explorer.bundle, raw=index)


@pytest.mark.parametrize(
    "crafted",
    ["/etc/passwd", "../../../../etc/passwd", "{root}/../outside.png", "{root}/red/link.png"],
    ids=["absolute", "relative", "dot-dot", "symlink-out"],
)
def test_crafted_metadata_paths_cannot_read_outside_the_collection(
    mapless, crafted, tmp_path, image_folder
):
    root = mapless.manifest.data_root
    outside = tmp_path / "outside.png"
    outside.write_bytes((image_folder / "red" / "00.png").read_bytes())
    link = tmp_path / "collection" / "red" / "link.png"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    # the link's folder stands in for the collection: "{root}" is where it lies
    root = str(tmp_path / "collection") if "link" in crafted else root
    manifest = replace(mapless.manifest, data_root=root)
    paths = [crafted.format(root=root)] * len(mapless.metadata.paths)
    bundle = replace(mapless, manifest=manifest, metadata=replace(mapless.metadata, paths=paths))
    with pytest.raises(QueryError, match="not inside the indexed folder"):
        from_row(bundle, 0)


def test_a_path_inside_the_collection_is_read(mapless):
    row = next(r for r, p in enumerate(mapless.metadata.paths) if p.endswith("red/00.png"))
    query = from_row(mapless, row)
    assert query.image.shape == (16, 16, 3) and query.label == "red"


def test_only_small_jpeg_thumbnails_are_passed_on(tmp_path):
    jpeg = encoded(Image.new("RGB", (96, 64)), "JPEG")
    big_jpeg = encoded(Image.new("L", (2000, 8)), "JPEG")
    png = encoded(Image.new("RGB", (8, 8)), "PNG")
    with MetadataWriter(tmp_path / "m.h5") as writer:
        writer.append(["a", "b", "c", "d"], [None] * 4, [jpeg, big_jpeg, png, b"\xff\xd8junk"])
    meta = Metadata.open(tmp_path / "m.h5")
    try:
        assert meta.thumbnail(0) == jpeg
        with pytest.raises(MetadataError, match="2000 px, not a thumbnail"):
            meta.thumbnail(1)
        for row in (2, 3):
            with pytest.raises(MetadataError, match="is not a JPEG"):
                meta.thumbnail(row)
    finally:
        meta.close()


def test_pixel_data_of_a_crafted_png_header_is_never_allocated():
    """A 20000 x 20000 header with no data: refused before any decoding."""
    from latentsearch.indexer.files.images import load_image

    with pytest.raises(ImageReadError, match="too large: over 89 megapixels"):
        load_image(png_header(20_000, 20_000), size=16, channels=3)
