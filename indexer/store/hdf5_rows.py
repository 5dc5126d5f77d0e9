"""Writing HDF5 files: opened through a ``GuardedFile`` (a refused write never reaches
HDF5, see ``store.disk``), and many rows of a dataset in one call (HDF5 pays per write,
not per row)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from latentsearch.indexer.store.disk import GuardedFile


def open_guarded(path: Path, existing: bool) -> tuple[GuardedFile, h5py.File]:
    """``path`` as an HDF5 file written through a ``GuardedFile``: a new one, or with
    ``existing`` one already there to add to. The sink is closed if HDF5 cannot open it."""
    sink = GuardedFile(path, "r+b" if existing else "w+b")
    try:
        return sink, h5py.File(sink, "r+" if existing else "w")
    except BaseException:
        sink.close()
        raise


def close_guarded(sink: GuardedFile, handle: h5py.File) -> None:
    """Close what ``open_guarded`` opened; the sink even when HDF5 fails to close."""
    try:
        handle.close()
    finally:
        sink.close()


def blob_array(blobs: list[bytes]) -> np.ndarray:
    """Byte strings as the object array of uint8 rows a variable-length dataset takes."""
    rows = np.empty(len(blobs), dtype=object)
    for i, blob in enumerate(blobs):
        rows[i] = np.frombuffer(blob, dtype=np.uint8)
    return rows


def write_blobs(dataset: h5py.Dataset, start: int, blobs: list[bytes] | np.ndarray) -> None:
    """Write byte strings (or ``blob_array`` rows) to rows ``start...`` of a
    variable-length uint8 dataset in one call.

    Through the low-level API: ``dataset[a:b] = ...`` turns equal-length rows into a 2-D
    array it then refuses, and one write per row costs ~36x more.
    """
    rows = blobs if isinstance(blobs, np.ndarray) else blob_array(blobs)
    selection = dataset.id.get_space()
    selection.select_hyperslab((start,), (len(rows),))
    _write(dataset, selection, rows)


def write_points(dataset: h5py.Dataset, cells: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` to the scattered ``cells`` ((n, dataset.ndim) coordinates) in one
    call, an HDF5 point selection: 10,000 scattered rows one write each took seconds."""
    selection = dataset.id.get_space()
    selection.select_elements(np.asarray(cells, dtype=np.uint64))
    _write(dataset, selection, values)


def _write(dataset: h5py.Dataset, selection: h5py.h5s.SpaceID, values: np.ndarray) -> None:
    memory = h5py.h5s.create_simple((len(values),))
    dataset.id.write(memory, selection, values, h5py.h5t.py_create(dataset.dtype))
