"""Thumbnails are written a batch at a time and read back byte for byte, row by row."""

import h5py
import numpy as np
import pytest

from latentsearch.indexer.metadata import Metadata, MetadataWriter, write_blobs


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
    thumbs = [bytes([n]) * (10 + n % 3) for n in range(7)]
    with MetadataWriter(tmp_path / "metadata.h5") as writer:
        writer.append([f"{n}.png" for n in range(4)], [None] * 4, thumbs[:4])
        writer.append([f"{n}.png" for n in range(4, 7)], ["x"] * 3, thumbs[4:])
    metadata = Metadata.open(tmp_path / "metadata.h5")
    try:
        assert [metadata.thumbnail(n) for n in range(7)] == thumbs
        assert metadata.paths == [f"{n}.png" for n in range(7)]
    finally:
        metadata.close()
