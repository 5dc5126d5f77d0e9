"""Thumbnails live in row-aligned segment files; an update links the full ones it keeps."""

import h5py
import numpy as np
import pytest

from latentsearch.indexer.store import thumbnails
from latentsearch.indexer.store.metadata import Metadata, MetadataError, MetadataWriter
from latentsearch.indexer.store.thumbnails import (
    ThumbnailError,
    ThumbnailReader,
    ThumbnailWriter,
    carry_thumbnails,
    segment_numbers,
)


@pytest.fixture(autouse=True)
def small_segments(monkeypatch):
    monkeypatch.setattr(thumbnails, "SEGMENT_ROWS", 4)


def blobs(rows):
    return [f"thumb {row}".encode() for row in rows]


def written(folder, count):
    writer = ThumbnailWriter(folder, 0)
    writer.append(blobs(range(3)))
    writer.append(blobs(range(3, count)))  # crosses segment ends
    writer.close()
    return folder


def test_rows_are_split_into_segments_and_read_back(tmp_path):
    written(tmp_path, 10)
    assert segment_numbers(tmp_path) == [0, 1, 2]
    with h5py.File(tmp_path / "thumbs-00002.h5") as handle:
        assert len(handle["thumbnail"]) == 2
    reader = ThumbnailReader(tmp_path)
    assert [reader.read(row) for row in range(10)] == blobs(range(10))
    with pytest.raises(ThumbnailError, match="no row"):
        reader.read(10)
    with pytest.raises(ThumbnailError, match="cannot read"):
        reader.read(12)  # a segment that does not exist
    reader.close()


def test_a_segment_linked_from_another_build_is_never_written(tmp_path):
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
    written(tmp_path / "old", 6)
    (tmp_path / "new" / "thumbs-00001.h5").hardlink_to(tmp_path / "old" / "thumbs-00001.h5")
    writer = ThumbnailWriter(tmp_path / "new", 6)
    with pytest.raises(ThumbnailError, match="shared"):
        writer.append(blobs([6]))
    writer.close()


def test_carry_links_full_segments_and_rewrites_the_rest(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    for folder in (old, new):
        folder.mkdir()
    written(old, 10)  # segments of rows 0-3, 4-7, 8-9
    deleted = np.array([1, 4, 5, 9])  # 1 of segment 0, 2 of segment 1, 1 of the last

    linked = carry_thumbnails(old, new, deleted)

    assert linked == ["thumbs-00000.h5"]
    assert (new / linked[0]).stat().st_ino == (old / linked[0]).stat().st_ino
    writer = ThumbnailWriter(new, 10)  # the update's new rows go on the rewritten last one
    writer.append(blobs([10, 11, 12]))
    writer.close()
    reader = ThumbnailReader(new)
    kept = [row for row in range(13) if row not in (4, 5, 9)]
    assert [reader.read(row) for row in kept] == blobs(kept)
    assert [reader.read(row) for row in (4, 5, 9)] == [b"", b"", b""]
    assert reader.read(1) == blobs([1])[0]  # linked: deleted only once most rows are
    reader.close()
    assert ThumbnailReader(old).read(9) == blobs([9])[0]  # the old build is untouched
    # the next update links the segment written without its deleted rows: they are gone
    newer = tmp_path / "newer"
    newer.mkdir()
    again = carry_thumbnails(new, newer, deleted)
    assert again == ["thumbs-00000.h5", "thumbs-00001.h5", "thumbs-00002.h5"]  # not 3: not full


def test_metadata_keeps_thumbnails_in_segments_and_reads_them(tmp_path):
    path = tmp_path / "metadata.h5"
    with MetadataWriter(path) as writer:
        writer.append([f"{n}.png" for n in range(6)], [None] * 6, blobs(range(6)))
        writer.append(["6.png"], [None], [])  # none given: the rows stay aligned
    with h5py.File(path) as handle:
        assert "thumbnail" not in handle
    metadata = Metadata.open(path)
    try:
        assert [metadata.thumbnails.read(n) for n in range(6)] == blobs(range(6))
        assert metadata.thumbnails.read(6) == b""  # (thumbnail() accepts JPEGs only)
        (tmp_path / "thumbs-00001.h5").unlink()
        metadata.thumbnails.close()
        with pytest.raises(MetadataError, match="cannot be read"):
            metadata.thumbnail(5)
    finally:
        metadata.close()


def test_a_build_from_before_segments_keeps_its_thumbnails_in_the_file(tmp_path):
    path = tmp_path / "metadata.h5"
    with h5py.File(path, "w") as handle:  # the older layout: a thumbnail column
        for name in ("path", "label", "sha256"):
            handle.create_dataset(name, data=["a.png"], maxshape=(None,), dtype=h5py.string_dtype())
        handle.create_dataset("reconstruction_error", data=[0.5], maxshape=(None,), dtype="f4")
        column = handle.create_dataset(
            "thumbnail", (1,), h5py.vlen_dtype(np.uint8), maxshape=(None,)
        )
        column[0] = np.frombuffer(b"old", np.uint8)
    with MetadataWriter(path, append=True) as writer:
        writer.append(["b.png"], [None], [b"new"])
        writer.blank([0])
    assert segment_numbers(tmp_path) == []
    with h5py.File(path) as handle:
        assert [bytes(row) for row in handle["thumbnail"][:]] == [b"", b"new"]
