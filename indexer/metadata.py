"""Per-vector metadata (path, label, thumbnail) in one HDF5 file, written as it streams."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

_TEXT = h5py.string_dtype("utf-8")
_BYTES = h5py.vlen_dtype(np.uint8)


class MetadataError(RuntimeError):
    """The metadata file is missing, unreadable or does not match the index."""


class MetadataWriter:
    """Appends rows to growable HDF5 datasets so no batch stays in memory."""

    def __init__(self, path: Path) -> None:
        self._file = h5py.File(path, "w")
        self._path = self._file.create_dataset("path", (0,), _TEXT, maxshape=(None,), chunks=True)
        self._label = self._file.create_dataset("label", (0,), _TEXT, maxshape=(None,), chunks=True)
        self._thumb = self._file.create_dataset(
            "thumbnail", (0,), _BYTES, maxshape=(None,), chunks=True
        )

    def append(self, paths: list[str], labels: list[str | None], thumbnails: list[bytes]) -> None:
        start = self._path.shape[0]
        end = start + len(paths)
        for dataset in (self._path, self._label, self._thumb):
            dataset.resize((end,))
        self._path[start:end] = paths
        # HDF5 strings cannot be None: "" stands for "no label" and is read back as None
        self._label[start:end] = [label or "" for label in labels]
        for i, thumb in enumerate(thumbnails, start):
            self._thumb[i] = np.frombuffer(thumb, dtype=np.uint8)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> MetadataWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Metadata:
    """Paths and labels in memory; thumbnails read on demand from the open file."""

    paths: list[str]
    labels: list[str | None]
    file: h5py.File

    @classmethod
    def open(cls, path: Path) -> Metadata:
        try:
            handle = h5py.File(path, "r")
        except OSError as err:
            raise MetadataError(f"cannot read metadata file {path}: {err}") from err
        try:
            paths = [p.decode() if isinstance(p, bytes) else p for p in handle["path"][:]]
            labels = [
                (lab.decode() if isinstance(lab, bytes) else lab) or None
                for lab in handle["label"][:]
            ]
        except (OSError, KeyError) as err:
            handle.close()
            raise MetadataError(f"cannot read metadata file {path}: {err}") from err
        return cls(paths=paths, labels=labels, file=handle)

    def __len__(self) -> int:
        return len(self.paths)

    def close(self) -> None:
        self.file.close()

    def thumbnail(self, row: int) -> bytes:
        return self.file["thumbnail"][row].tobytes()
