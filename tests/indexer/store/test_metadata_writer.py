"""Thumbnails are written a batch at a time and read back byte for byte, row by row."""

import errno
import io

import h5py
import numpy as np
import pytest
from PIL import Image

from latentsearch.indexer.store import disk as staging
from latentsearch.indexer.store.hdf5_rows import write_blobs
from latentsearch.indexer.store.metadata import Metadata, MetadataWriter


def jpeg(n: int) -> bytes:
    """A small JPEG, different for every ``n``."""
    out = io.BytesIO()
    Image.new("RGB", (8 + n % 3, 8), (n * 30 % 256, 0, 0)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    "batches",
    [[[b"abc", b"de"], [b"xy", b"zw"], [b"q"]], [[b"\0" * 900] * 3], [[b""] * 2, [b"\xff"]]],
    ids=["mixed-lengths", "equal-lengths", "empty-blobs"],
)
def test_write_blobs_keeps_every_row(tmp_path, batches):
    with h5py.File(tmp_path / "m.h5", "w") as handle:
        rows = handle.create_dataset("b", (0,), h5py.vlen_dtype(np.uint8), maxshape=(None,))
        for blobs in batches:
            start = rows.shape[0]
            rows.resize((start + len(blobs),))
            write_blobs(rows, start, blobs)
        assert [bytes(row) for row in rows[:]] == [b for blobs in batches for b in blobs]


def test_appended_thumbnails_line_up_with_paths(tmp_path):
    thumbs = [jpeg(n) for n in range(7)]
    with MetadataWriter(tmp_path / "metadata.h5") as writer:
        writer.append([f"{n}.png" for n in range(4)], [None] * 4, thumbs[:4])
        writer.append([f"{n}.png" for n in range(4, 7)], ["x"] * 3, thumbs[4:])
    metadata = Metadata.open(tmp_path / "metadata.h5")
    try:
        assert [metadata.thumbnail(n) for n in range(7)] == thumbs
        assert metadata.paths == [f"{n}.png" for n in range(7)]
    finally:
        metadata.close()


def test_labels_are_read_when_first_asked_for(tmp_path):
    with MetadataWriter(tmp_path / "metadata.h5") as writer:
        writer.append(["a.png", "b.png", "c.png"], [None, "cats", ""], [jpeg(n) for n in range(3)])
    metadata = Metadata.open(tmp_path / "metadata.h5")
    try:
        assert "labels" not in vars(metadata)  # opening (as an update does) left them on disk
        assert metadata.labels == [None, "cats", None]
        assert metadata.labels is metadata.labels  # read once
    finally:
        metadata.close()


def test_blanked_rows_are_emptied_and_the_rest_kept(tmp_path):
    thumbs = [jpeg(n) for n in range(8)]
    with MetadataWriter(tmp_path / "metadata.h5") as writer:
        paths = [f"{n}.png" for n in range(8)]
        hashes, signatures = [f"h{n}" for n in range(8)], [(n + 1, 2, 3) for n in range(8)]
        writer.append(paths, ["x"] * 8, thumbs, np.arange(8.0), hashes, signatures)
    with MetadataWriter(tmp_path / "metadata.h5", append=True) as writer:
        writer.blank([6, 2, 3, 4, 3])  # unsorted, a row twice
        writer.blank([])
    metadata = Metadata.open(tmp_path / "metadata.h5")
    try:
        assert metadata.live_rows() == [0, 1, 5, 7]
        for row in (2, 3, 4, 6):
            assert metadata.paths[row] == metadata.hashes[row] == ""
            assert np.isnan(metadata.errors[row])
        assert [metadata.thumbnail(n) for n in (1, 5, 7)] == [thumbs[1], thumbs[5], thumbs[7]]
        assert metadata.hashes[5] == "h5" and metadata.errors[7] == 7.0
        signatures = metadata.signatures()
        assert not signatures[[2, 3, 4, 6]].any() and signatures[[0, 1, 5, 7]].all()
    finally:
        metadata.close()


class FullDisk(io.FileIO):
    """A file on a disk with ``LIMIT`` bytes free."""

    LIMIT = 40_000

    def write(self, data):
        if self.tell() + memoryview(data).nbytes > self.LIMIT:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_full_disk_is_raised_and_the_file_still_closes(tmp_path, monkeypatch):
    monkeypatch.setattr(
        staging, "open", lambda path, mode, buffering: FullDisk(path, mode), raising=False
    )
    path = tmp_path / "metadata.h5"
    writer = MetadataWriter(path)
    thumbs = [jpeg(n) * 20 for n in range(64)]  # ~ 40 KB a batch
    with pytest.raises(OSError) as raised:
        with writer:
            for batch in range(10):
                writer.append([f"{batch}-{n}.png" for n in range(64)], [None] * 64, thumbs)
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename in (str(path), str(tmp_path / "thumbs-00000.h5"))
    assert not writer._file.id.valid  # HDF5 closed it: no handle left to crash at exit
    assert writer._sink._raw.closed and writer._thumbs._segment is None
