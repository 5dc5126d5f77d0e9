"""The raw-pixel baseline as segment files: written a segment at a time, searched as one.

At a million 32x32 colour photos the baseline is 3 GB. Written as one index it sat in
memory for the whole build, and an update read, trimmed and rewrote all of it. As
segments of ``SEGMENT_ROWS`` rows, a build holds one segment at a time; an update links
the unchanged segment files into the new build, writes only the new rows, and lists the
rows of removed files in ``REMOVED_FILE``, which every search leaves out. A segment that
is mostly removed rows, and a last segment not yet full, are written again with the new
rows.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from latentsearch.indexer.indexes.faiss_helpers import (
    IndexFileError,
    add_vectors,
    new_pixel_index,
    read_index,
    remove_ids,
    stored_ids,
    stored_vectors,
    write_index,
)
from latentsearch.indexer.indexes.pixel_grid import PixelGrid

log = logging.getLogger(__name__)
SEGMENT_ROWS = 65_536  # 200 MB of 32x32 colour pixels held while building
SEGMENT_FILE = re.compile(r"raw(-(\d{5,}))?\.faiss")  # raw.faiss: one segment, an older build
REMOVED_FILE = "raw-removed.npy"  # sorted ids of rows whose files left the collection
COMPACT_FROM = 0.5  # an update rewrites a segment once this share of its rows is removed
_SEARCH_THREADS = ThreadPoolExecutor(os.cpu_count() or 1)  # threads start on first use


def segment_name(number: int) -> str:
    return f"raw-{number:05d}.faiss"


def segment_names(names: Iterable[str]) -> list[str]:
    """The segment files among ``names`` (a build's files), in the order they were written."""
    return sorted((name for name in names if SEGMENT_FILE.fullmatch(name)), key=_segment_number)


def _segment_number(name: str) -> int:
    """The number in a segment's name; -1 for the single ``raw.faiss`` of an older build."""
    match = SEGMENT_FILE.fullmatch(name)
    if match is None:
        raise ValueError(f"{name} is not a raw-pixel segment file")
    return int(match.group(2) or -1)


class PixelSegmentWriter:
    """Adds images' pixels on ``grid`` under given ids, writing a segment file each
    ``SEGMENT_ROWS`` rows."""

    def __init__(self, folder: Path, grid: PixelGrid, first_number: int = 0) -> None:
        self.folder, self.grid, self.next_number = Path(folder), grid, first_number
        self.written_rows = 0
        self._current: faiss.Index | None = None

    @property
    def ntotal(self) -> int:
        return self.written_rows + (self._current.ntotal if self._current is not None else 0)

    def add(self, images: np.ndarray, ids: np.ndarray) -> None:
        """Model inputs (n, size, size, channels), or their flattened rows."""
        if self._current is None:
            self._current = new_pixel_index(self.grid.dim)
        add_vectors(self._current, self.grid.vectors(images), ids)
        if self._current.ntotal >= SEGMENT_ROWS:
            self.close()

    def add_rows_of(self, segment: faiss.Index) -> None:
        """Take over every row of another segment index, as ``add``. Its codes move over as
        they are; an older build's float (``Flat``) baseline is added again as pixels."""
        if self._current is None:
            self._current = new_pixel_index(self.grid.dim)
        try:
            self._current.merge_from(segment)
        except RuntimeError:  # FAISS: codes of another kind cannot be merged
            ids = stored_ids(segment)
            add_vectors(self._current, stored_vectors(segment, ids), ids)
        if self._current.ntotal >= SEGMENT_ROWS:
            self.close()

    def add_index(self, segment: faiss.Index) -> None:
        """Write a filled segment index as the next segment file."""
        write_index(segment, self.folder / segment_name(self.next_number))
        self.next_number += 1
        self.written_rows += segment.ntotal

    def close(self) -> None:
        """Write the rows still held (none are lost if ``add`` is called again after)."""
        if self._current is not None and self._current.ntotal:
            self.add_index(self._current)
        self._current = None


class SegmentedIndex:
    """Segment indexes searched as one, removed ids left out.

    Answers what the rest of the code asks of a FAISS index: ``search``, ``reconstruct``
    (``_n``), ``ntotal``, ``d`` and ``metric_type``. The segments are searched on parallel
    threads (FAISS lets go of the GIL), so a scan of a large baseline uses every core.
    """

    def __init__(self, parts: list[faiss.Index], removed: np.ndarray) -> None:
        if not parts:
            raise ValueError("a segmented index needs at least one segment")
        self.parts = parts
        self.removed = np.unique(np.asarray(removed, dtype=np.int64))
        self._ranges = [_id_range(part) for part in parts]
        self._params: list = [None] * len(parts)
        if len(self.removed):
            batch = faiss.IDSelectorBatch(self.removed)
            # SearchParameters keep plain pointers: the selectors must outlive them. One
            # object per segment, as an IDMap search swaps its selector while it runs.
            self._selectors = (batch, faiss.IDSelectorNot(batch))
            self._params = [faiss.SearchParameters(sel=self._selectors[1]) for _ in parts]

    @property
    def ntotal(self) -> int:
        return sum(int(part.ntotal) for part in self.parts) - len(self.removed)

    @property
    def d(self) -> int:
        return int(self.parts[0].d)

    @property
    def metric_type(self) -> int:
        return int(self.parts[0].metric_type)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's (distances, ids): each segment's best ``k``, merged."""
        found = list(
            _SEARCH_THREADS.map(
                lambda part, params: part.search(queries, k, params=params),
                self.parts,
                self._params,
            )
        )
        distances = np.concatenate([far for far, _ in found], axis=1)
        ids = np.concatenate([near for _, near in found], axis=1)
        closer = distances if self.metric_type == faiss.METRIC_L2 else -distances
        best = np.argsort(closer, axis=1, kind="stable")[:, :k]  # FAISS pads with -1 at +inf
        return np.take_along_axis(distances, best, 1), np.take_along_axis(ids, best, 1)

    def reconstruct(self, key: int) -> np.ndarray:
        """The pixels stored under ``key``; ``RuntimeError`` (as FAISS) when none are."""
        position = np.searchsorted(self.removed, key)
        if position < len(self.removed) and self.removed[position] == key:
            raise RuntimeError(f"id {key} was removed from the raw-pixel index")
        for part, (low, high) in zip(self.parts, self._ranges, strict=True):
            if low <= key <= high:
                try:
                    return part.reconstruct(int(key))
                except RuntimeError:
                    continue
        raise RuntimeError(f"id {key} is not in the raw-pixel index")

    def stored_ids(self) -> np.ndarray:
        ids = np.concatenate([stored_ids(part) for part in self.parts])
        return ids[~np.isin(ids, self.removed)]

    def reconstruct_n(self, start: int, count: int) -> np.ndarray:
        return np.stack([self.reconstruct(key) for key in range(start, start + count)])


def _id_range(part: faiss.Index) -> tuple[int, int]:
    ids = stored_ids(part)
    return (int(ids.min()), int(ids.max())) if len(ids) else (0, -1)


def removed_ids(folder: Path) -> np.ndarray:
    """The ids listed in a build's ``REMOVED_FILE`` (none when it has none)."""
    path = Path(folder) / REMOVED_FILE
    if not path.is_file():
        return np.empty(0, np.int64)
    try:
        return np.asarray(np.load(path), dtype=np.int64)  # never pickles
    except (OSError, ValueError, TypeError) as err:
        raise IndexFileError(f"cannot read {path}: {err}") from err


def read_segments(folder: Path, names: list[str]) -> SegmentedIndex:
    """The segments ``names`` of a build folder, mapped from their files (search only)."""
    parts = [read_index(Path(folder) / name, mapped=True) for name in names]
    return SegmentedIndex(parts, removed_ids(folder))


@dataclass
class CarriedSegments:
    """A previous build's segments in a new one: the writer for new rows, the removed ids
    the linked segments still hold (for ``REMOVED_FILE``), and the names linked unchanged."""

    writer: PixelSegmentWriter
    removed: np.ndarray
    linked: list[str]


def carry_segments(
    previous: Path, staging: Path, names: list[str], removed: np.ndarray, grid: PixelGrid
) -> CarriedSegments:
    """Put ``previous``'s segments into ``staging`` without ``removed`` (ids): linked when
    few of a segment's rows go; when most do, and for a last segment not yet full, their
    other rows go to the writer, to be written with the new ones. So small updates do not
    pile up small segments."""
    removed = np.union1d(removed_ids(previous), np.asarray(removed, dtype=np.int64))
    writer = PixelSegmentWriter(staging, grid, _next_number(names))
    still_removed, linked = [], []
    for position, name in enumerate(names):
        ids = stored_ids(read_index(previous / name, mapped=True))  # the pixels stay on disk
        gone = ids[np.isin(ids, removed)]
        not_full = position == len(names) - 1 and len(ids) - len(gone) < SEGMENT_ROWS
        if not_full or len(gone) >= COMPACT_FROM * len(ids):
            writer.add_rows_of(remove_ids(read_index(previous / name), gone))
            log.debug("segment %s rewritten without %d removed rows", name, len(gone))
            continue
        link_or_copy(previous / name, staging / name)
        still_removed.append(gone)
        linked.append(name)
    kept_removed = np.concatenate(still_removed) if still_removed else np.empty(0, np.int64)
    return CarriedSegments(writer, kept_removed, linked)


def write_removed(staging: Path, removed: np.ndarray) -> None:
    if len(removed):
        np.save(Path(staging) / REMOVED_FILE, np.unique(removed.astype(np.int64)))


def _next_number(names: list[str]) -> int:
    return max(map(_segment_number, names), default=-1) + 1


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link (segments are never written again once closed), a copy where the file
    system has none."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
