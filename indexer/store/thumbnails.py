"""Thumbnails in segment files beside the metadata, one per ``SEGMENT_ROWS`` rows.

A million 96-px JPEG thumbnails are 1.2 GB, nine tenths of what the metadata would hold.
Kept inside ``metadata.h5`` they made every update copy them all (8.6 s of a 41-s update
of a million images). Here row ``r``'s thumbnail is entry ``r % SEGMENT_ROWS`` of segment
``r // SEGMENT_ROWS``, so an update links the full segments it keeps and writes again only
the last one (its new rows go on the end) and those whose rows are mostly deleted (the
deleted ones left out). Builds made before keep their thumbnails in ``metadata.h5``
(``Metadata`` reads both).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

import h5py
import numpy as np

# the raw-pixel segments' rule: a segment is written again once this share of its rows went
from latentsearch.indexer.indexes.pixel_segments import COMPACT_FROM, link_or_copy
from latentsearch.indexer.store.disk import GuardedFile
from latentsearch.indexer.store.hdf5_rows import close_guarded, open_guarded, write_blobs

log = logging.getLogger(__name__)
SEGMENT_ROWS = 65_536
SEGMENT_FILE = re.compile(r"thumbs-(\d{5,})\.h5")
DATASET = "thumbnail"
# rows a segment was written with emptied: those deleted rows are not counted again, so a
# segment written once is not written again by every later update
EMPTIED = "emptied_rows"
_BYTES = h5py.vlen_dtype(np.uint8)


class ThumbnailError(RuntimeError):
    """A thumbnail segment is missing or unreadable (the caller words it for the user)."""


def segment_name(number: int) -> str:
    return f"thumbs-{number:05d}.h5"


def segment_numbers(folder: Path) -> list[int]:
    """The thumbnail segments in ``folder``, by number."""
    found = (SEGMENT_FILE.fullmatch(name) for name in os.listdir(folder))
    return sorted(int(match.group(1)) for match in found if match)


class ThumbnailWriter:
    """Appends thumbnails from row ``start`` on, into the segments those rows fall in; a
    failed write (a full disk) is raised as ``OSError`` (see ``disk.GuardedFile``)."""

    def __init__(self, folder: Path, start: int) -> None:
        self.folder, self.next_row = Path(folder), start
        self._segment: tuple[int, GuardedFile, h5py.File] | None = None
        self._error: OSError | None = None  # the first write refused, kept past closing

    def append(self, blobs: list[bytes] | np.ndarray) -> None:
        done = 0
        while done < len(blobs):
            number, offset = divmod(self.next_row, SEGMENT_ROWS)
            part = blobs[done : done + SEGMENT_ROWS - offset]
            dataset = self._open(number)[DATASET]
            if len(dataset) != offset:
                raise ThumbnailError(
                    f"{segment_name(number)} has {len(dataset)} rows, not {offset}"
                )
            dataset.resize((offset + len(part),))
            write_blobs(dataset, offset, part)
            done += len(part)
            self.next_row += len(part)
        self.check()

    def _open(self, number: int) -> h5py.File:
        if self._segment and self._segment[0] == number:
            return self._segment[2]
        self.release()
        self.check()
        path = self.folder / segment_name(number)
        exists = path.exists()
        if exists and path.stat().st_nlink > 1:  # linked from a build in use: never written
            raise ThumbnailError(f"{path} is shared with another build")
        sink, handle = open_guarded(path, existing=exists)
        if not exists:
            handle.create_dataset(
                DATASET, (0,), _BYTES, maxshape=(SEGMENT_ROWS,), chunks=(min(1024, SEGMENT_ROWS),)
            )
        self._segment = (number, sink, handle)
        return handle

    def mark_emptied(self, count: int) -> None:
        """Record on the open segment how many of its rows were written empty (deleted)."""
        if self._segment is not None:
            self._segment[2][DATASET].attrs[EMPTIED] = count
        self.check()

    def check(self) -> None:
        """Raise the first write refused (a full disk), here or in a segment closed since."""
        if self._segment and self._segment[1].error is not None:
            raise self._segment[1].error
        if self._error is not None:
            raise self._error

    def release(self) -> None:
        """Close the open segment; a refused write is kept for ``check``."""
        if self._segment is None:
            return
        _, sink, handle = self._segment
        self._segment = None
        try:
            close_guarded(sink, handle)
        finally:
            self._error = self._error or sink.error

    def close(self) -> None:
        self.release()
        self.check()


class ThumbnailReader:
    """Reads one thumbnail at a time; segments are opened when first needed (thread-safe)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._files: dict[int, h5py.File] = {}
        self._lock = threading.Lock()

    def read(self, row: int) -> bytes:
        number, offset = divmod(int(row), SEGMENT_ROWS)
        dataset = self._file(number)[DATASET]
        if not 0 <= offset < len(dataset):
            raise ThumbnailError(f"{segment_name(number)} has no row {offset}")
        return dataset[offset].tobytes()

    def _file(self, number: int) -> h5py.File:
        with self._lock:
            if number not in self._files:
                path = self.folder / segment_name(number)
                try:
                    self._files[number] = h5py.File(path, "r")
                except OSError as err:
                    raise ThumbnailError(f"cannot read {path}: {err}") from err
            return self._files[number]

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


def carry_thumbnails(previous: Path, staging: Path, deleted: np.ndarray) -> list[str]:
    """Put ``previous``'s thumbnail segments into ``staging`` for an update: linked when full
    and fewer than ``COMPACT_FROM`` of their rows ``deleted``; else written again with the
    deleted rows emptied. Returns the names linked unchanged."""
    numbers = segment_numbers(previous)
    deleted = np.asarray(deleted, dtype=np.int64)
    linked = []
    for number in numbers:
        name = segment_name(number)
        start = number * SEGMENT_ROWS
        gone = deleted[(deleted >= start) & (deleted < start + SEGMENT_ROWS)] - start
        with h5py.File(previous / name, "r") as handle:
            rows = len(handle[DATASET])
            emptied = int(handle[DATASET].attrs.get(EMPTIED, 0))  # when last written
            newly = len(gone) - emptied
            if rows == SEGMENT_ROWS and (newly == 0 or newly < COMPACT_FROM * (rows - emptied)):
                link_or_copy(previous / name, staging / name)
                linked.append(name)
                continue
            blobs = handle[DATASET][:]
        for offset in gone:
            blobs[offset] = np.zeros(0, np.uint8)
        writer = ThumbnailWriter(staging, start)
        writer.append(blobs)
        writer.mark_emptied(len(gone))
        writer.close()
        log.debug("thumbnail segment %s written again without %d deleted rows", name, len(gone))
    return linked
