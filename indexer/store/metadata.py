"""Per-vector metadata (path, label, hash, ...) in one HDF5 file, written as it streams;
thumbnails in segment files beside it (``thumbnails``)."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.store.hdf5_rows import (
    blob_array,
    close_guarded,
    open_guarded,
    write_blobs,
    write_points,
)
from latentsearch.indexer.store.thumbnails import DATASET as THUMBNAIL_DATASET
from latentsearch.indexer.store.thumbnails import ThumbnailError, ThumbnailReader, ThumbnailWriter

_TEXT = h5py.string_dtype("utf-8")
ERRORS_DATASET = "reconstruction_error"
HASH_DATASET = "sha256"
# per file (size, mtime_ns, when seen): an update re-hashes only files whose stat changed
SIGNATURE_DATASET = "file_signature"
# Thumbnails are written 96 px; the page decodes what it is given, so nothing larger is
# passed on from a crafted or damaged file.
MAX_THUMBNAIL_SIDE = 1024


class MetadataError(UserError, RuntimeError):
    """The metadata file is missing, unreadable or does not match the index."""


class MetadataWriter:
    """Appends rows to growable HDF5 datasets so no batch stays in memory.

    HDF5 writes through a :class:`GuardedFile`, so a failed write (a full disk) is raised
    here as ``OSError`` after an append or at close, never left inside HDF5.
    """

    def __init__(self, path: Path, append: bool = False) -> None:
        """A new file, or with ``append`` more rows for an existing one (incremental updates)."""
        self._thumbs: ThumbnailWriter | None = None
        self._sink, self._file = open_guarded(path, existing=append)
        self._check()
        self._path = self._column("path", _TEXT)
        self._label = self._column("label", _TEXT)
        # a build from before thumbnail segments keeps its thumbnails where they are
        self._thumb = self._file.get(THUMBNAIL_DATASET) if append else None
        self._thumbs = (
            ThumbnailWriter(path.parent, len(self._path)) if self._thumb is None else None
        )
        # per-image reconstruction error, for the page's outlier score (NaN: not known)
        self._error = self._column(ERRORS_DATASET, np.float32)
        # content hash per file, so `index --update` re-encodes only new or changed files
        self._hash = self._column(HASH_DATASET, _TEXT)
        self._signature = self._signature_column()

    def _column(self, name: str, dtype: object) -> h5py.Dataset:
        if name in self._file:
            return self._file[name]
        return self._file.create_dataset(name, (0,), dtype, maxshape=(None,), chunks=True)

    def _signature_column(self) -> h5py.Dataset:
        rows = self._path.shape[0]
        if SIGNATURE_DATASET in self._file:
            return self._file[SIGNATURE_DATASET]
        # an older file gains the column with zeros (unknown) for the rows it has
        return self._file.create_dataset(
            SIGNATURE_DATASET, (rows, 3), np.int64, maxshape=(None, 3), chunks=(256, 3)
        )

    def append(
        self,
        paths: list[str],
        labels: list[str | None],
        thumbnails: list[bytes],
        errors: np.ndarray | None = None,
        hashes: list[str] | None = None,
        signatures: list[tuple[int, int, int]] | None = None,
    ) -> None:
        start = self._path.shape[0]
        end = start + len(paths)
        for dataset in (self._path, self._label, self._error, self._hash):
            dataset.resize((end,))
        self._signature.resize((end, 3))
        self._signature[start:end] = signatures if signatures else np.zeros((len(paths), 3))
        self._error[start:end] = np.nan if errors is None else errors
        self._hash[start:end] = hashes if hashes is not None else [""] * len(paths)
        self._path[start:end] = paths
        # HDF5 strings cannot be None: "" stands for "no label" and is read back as None
        self._label[start:end] = [label or "" for label in labels]
        thumbnails = thumbnails or [b""] * len(paths)  # rows stay aligned with the paths
        if self._thumb is not None:  # an older build's own column
            self._thumb.resize((end,))
            write_blobs(self._thumb, start, thumbnails)
        elif self._thumbs is not None:
            self._thumbs.append(thumbnails)
        self._check()

    def blank(self, rows: list[int]) -> None:
        """Empty the rows of deleted files; the row numbers (the ids) of the others stay."""
        unique = np.unique(np.asarray(rows, dtype=np.int64))
        if len(unique) == 0:
            return
        cells = unique[:, None]
        texts = np.array([""] * len(unique), dtype=object)
        for dataset in (self._path, self._label, self._hash):
            write_points(dataset, cells, texts)
        if self._thumb is not None:  # segments: rewritten once mostly deleted (thumbnails)
            write_points(self._thumb, cells, blob_array([b""] * len(unique)))
        write_points(self._error, cells, np.full(len(unique), np.nan, dtype=np.float32))
        columns = self._signature.shape[1]
        every_column = np.stack(
            [np.repeat(unique, columns), np.tile(np.arange(columns), len(unique))], axis=1
        )
        write_points(self._signature, every_column, np.zeros(len(every_column), np.int64))
        self._check()

    def _check(self) -> None:
        """Raise the first write the file refused (HDF5 itself was told it succeeded)."""
        if self._sink.error is not None:
            raise self._sink.error
        if self._thumbs is not None:
            self._thumbs.check()

    def _release(self) -> None:
        try:
            close_guarded(self._sink, self._file)
        finally:
            if self._thumbs is not None:
                self._thumbs.release()

    def close(self) -> None:
        self._release()
        self._check()

    def __enter__(self) -> MetadataWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._release()  # the error on its way out says what went wrong


def _texts(stored: np.ndarray) -> list[str]:
    """A string column as ``str``: h5py gives UTF-8 text as bytes."""
    return [text.decode() if isinstance(text, bytes) else text for text in stored]


@dataclass(frozen=True)
class Metadata:
    """Paths in memory; labels read from the open file once, when first asked for;
    thumbnails and signatures read from it on demand."""

    paths: list[str]
    file: h5py.File
    errors: np.ndarray | None = None  # reconstruction errors; None in older index builds
    hashes: list[str] | None = None  # sha256 per file; None in older builds; "" = deleted row
    thumbnails: ThumbnailReader | None = None  # None: older builds keep them in the file

    @classmethod
    def open(cls, path: Path) -> Metadata:
        try:
            handle = h5py.File(path, "r")
        except OSError as err:
            raise MetadataError(f"cannot read metadata file {path}: {err}") from err
        try:
            paths = _texts(handle["path"][:])
            errors = handle[ERRORS_DATASET][:] if ERRORS_DATASET in handle else None
            hashes = _texts(handle[HASH_DATASET][:]) if HASH_DATASET in handle else None
        except (OSError, KeyError) as err:
            handle.close()
            raise MetadataError(f"cannot read metadata file {path}: {err}") from err
        thumbnails = None if THUMBNAIL_DATASET in handle else ThumbnailReader(Path(path).parent)
        return cls(paths, handle, errors, hashes, thumbnails)

    @staticmethod
    def hashes_every_row(path: Path) -> bool:
        """Whether the file keeps a content hash for every row (builds since updates
        exist), read from its datasets' shapes alone."""
        try:
            with h5py.File(path, "r") as handle:
                rows = len(handle["path"])
                return HASH_DATASET in handle and len(handle[HASH_DATASET]) == rows
        except (OSError, KeyError) as err:
            raise MetadataError(f"cannot read metadata file {path}: {err}") from err

    def __len__(self) -> int:
        return len(self.paths)

    @functools.cached_property
    def labels(self) -> list[str | None]:
        """Each row's label, None where it has none. Read when first asked for: an update
        needs none, and a million of them take 0.7 s."""
        try:
            stored = self.file["label"][:]
        except (OSError, KeyError) as err:
            raise MetadataError(f"cannot read the labels in {self.file.filename}: {err}") from err
        return [label or None for label in _texts(stored)]

    def signatures(self) -> np.ndarray | None:
        """(rows, 3) file signatures (0s: unknown); None in older builds. Read on demand:
        only an update needs them, not a server starting up."""
        if SIGNATURE_DATASET not in self.file:
            return None
        return self.file[SIGNATURE_DATASET][:]

    def live_rows(self) -> list[int]:
        """Rows of indexed files (an incremental update blanks the rows of deleted ones)."""
        return [row for row, path in enumerate(self.paths) if path]

    def close(self) -> None:
        self.file.close()
        if self.thumbnails is not None:
            self.thumbnails.close()

    def thumbnail(self, row: int) -> bytes:
        """The stored JPEG of row ``row``; :class:`MetadataError` unless it is a small JPEG."""
        try:
            if self.thumbnails is None:
                data = self.file[THUMBNAIL_DATASET][row].tobytes()
            else:
                data = self.thumbnails.read(row)
        except ThumbnailError as err:
            raise MetadataError(f"the thumbnail of row {row} cannot be read: {err}") from err
        try:
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
                side = max(img.size)
        except Exception as err:  # anything Pillow cannot read as a JPEG header
            raise MetadataError(f"the thumbnail of row {row} is not a JPEG ({err})") from err
        if side > MAX_THUMBNAIL_SIDE:
            raise MetadataError(f"the thumbnail of row {row} is {side} px, not a thumbnail")
        return data
