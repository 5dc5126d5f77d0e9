"""Small single-purpose FAISS helpers, in the spirit of ``faiss.contrib``."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from latentsearch.encoder.errors import UserError
from latentsearch.indexer.store.disk import strerror_errno

# Cosine similarity is inner product on unit-length vectors (normalised on add and query).
METRICS = {"l2": faiss.METRIC_L2, "cosine": faiss.METRIC_INNER_PRODUCT}
# What `index` builds and `bench` measures unless told otherwise: cosine ranks better than L2
# for every variant but the sparse one (docs/family.md).
DEFAULT_METRIC = "cosine"
# Binary codes (semantic hashing) are packed bits in a FAISS binary index, compared by
# Hamming distance; their only index type is an exact scan.
HAMMING = "hamming"
BINARY_KEY = "BFlat"


class IndexFileError(UserError, RuntimeError):
    """A FAISS index file is missing or unreadable."""


def as_float32(vectors: np.ndarray) -> np.ndarray:
    """FAISS wants C-contiguous float32 rows."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return np.ascontiguousarray(vectors.reshape(len(vectors), -1))


def metric_code(metric: str) -> int:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {sorted(METRICS)}")
    return METRICS[metric]


def new_flat_index(dim: int, metric: str = "l2") -> faiss.Index:
    """An exact index built with the index factory (``Flat``)."""
    return faiss.index_factory(dim, "Flat", metric_code(metric))


# Raw pixels are bytes scaled to [0, 1] (k/255). An 8-bit uniform scalar quantiser whose
# bucket k is centred on k/255 stores each one losslessly in one byte: the baseline stays
# exact at a quarter of a Flat index's memory (3 KB, not 12 KB, per 32x32 colour image).
# A shrunken grid's block means (indexes.pixel_grid) are stored to the nearest 1/255.
_PIXEL_RANGE = (-0.5 / 255, 1.0)  # (vmin, vdiff): code = int(255 * (x - vmin) / vdiff)


def new_pixel_index(dim: int) -> faiss.Index:
    """An empty L2 index of raw pixels in [0, 1], one byte per value, ids as in ``new_index``."""
    quantised = faiss.IndexScalarQuantizer(
        dim, faiss.ScalarQuantizer.QT_8bit_uniform, faiss.METRIC_L2
    )
    faiss.copy_array_to_vector(np.array(_PIXEL_RANGE, np.float32), quantised.sq.trained)
    quantised.is_trained = True  # the range is fixed: no training sample needed
    return faiss.IndexIDMap2(quantised)


def new_index(key: str, dim: int, metric: str = "l2") -> faiss.Index:
    """An empty index that takes caller-chosen int64 ids (``add_with_ids``/``remove_ids``).

    IVF indexes store ids natively (a hash-table direct map lets them ``reconstruct`` by
    id); the others are wrapped in ``IDMap2``, which also reconstructs by id.
    """
    if metric == HAMMING:
        if key != BINARY_KEY:
            raise ValueError(f"binary codes are searched with a {BINARY_KEY} index, not {key}")
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(dim))
    if key.startswith("IVF"):
        index = faiss.index_factory(dim, key, metric_code(metric))
        faiss.extract_index_ivf(index).set_direct_map_type(faiss.DirectMap.Hashtable)
        return probe_lists_in_parallel(index)
    return faiss.index_factory(dim, f"IDMap2,{key}", metric_code(metric))


def probe_lists_in_parallel(index: faiss.Index) -> faiss.Index:
    """Let an IVF index share one query's lists among its threads (FAISS's parallel mode
    1; it is not saved in the file). The default shares out queries, so a server's single
    query ran on one core: at a million codes, 512 probes took 10.7 ms one way and 5.7 ms
    the other for a random query on 2 cores, and a batch of 1,000 queries 7.5 and 5.7 s."""
    if is_ivf(index):
        faiss.extract_index_ivf(index).parallel_mode = 1
    return index


def is_ivf(index) -> bool:
    """Whether ``index`` is (or wraps) an inverted-file index, which probes lists."""
    if not isinstance(index, faiss.Index):
        return False
    try:
        faiss.extract_index_ivf(index)
    except RuntimeError:
        return False
    return True


def is_binary(index) -> bool:
    return isinstance(index, faiss.IndexBinary)


def prepare_vectors(vectors: np.ndarray, metric: str = "l2", threshold: float = 0.5) -> np.ndarray:
    """Rows as the index stores them (build and query alike): unit length for cosine, and
    for Hamming the code thresholded at ``threshold`` and packed 8 bits to a byte."""
    if metric == HAMMING:
        return np.ascontiguousarray(np.packbits(np.asarray(vectors) > threshold, axis=1))
    vectors = as_float32(vectors)
    if metric == "cosine":
        vectors = vectors.copy()
        faiss.normalize_L2(vectors)
    return vectors


def set_search_parameters(index: faiss.Index, parameters: dict[str, int]) -> None:
    """Set ``nprobe`` / ``efSearch``; FAISS saves them in the index file."""
    space = faiss.ParameterSpace()
    for name, value in parameters.items():
        space.set_index_parameter(index, name, value)


def _as_index_rows(index, vectors: np.ndarray) -> np.ndarray:
    """Float32 rows for a float index, packed uint8 bits for a binary one; dimension checked."""
    if is_binary(index):
        rows, dim = np.ascontiguousarray(vectors, dtype=np.uint8), vectors.shape[1] * 8
    else:
        rows = as_float32(vectors)
        dim = rows.shape[1]
    if dim != index.d:
        raise ValueError(f"vectors have dimension {dim}, the index {index.d}")
    return rows


def add_vectors(index: faiss.Index, vectors: np.ndarray, ids: np.ndarray | None = None) -> None:
    vectors = _as_index_rows(index, vectors)
    if ids is None:
        index.add(vectors)
    else:
        index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))


def stored_ids(index: faiss.Index) -> np.ndarray:
    """The ids an ``IDMap2`` or IVF index holds (or a ``SegmentedIndex``, which says)."""
    if hasattr(index, "stored_ids"):
        return index.stored_ids()
    if hasattr(index, "id_map"):
        return faiss.vector_to_array(faiss.downcast_index(index).id_map).astype(np.int64)
    invlists = faiss.extract_index_ivf(index).invlists
    lists = [
        faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
        for i in range(invlists.nlist)
        if invlists.list_size(i)
    ]
    return np.concatenate(lists).astype(np.int64) if lists else np.empty(0, np.int64)


def stored_vectors(index: faiss.Index, ids: np.ndarray) -> np.ndarray:
    """The vectors stored under ``ids``, one at a time.

    Never ``reconstruct_n`` on an id-mapped index whose ids have gaps (after an update):
    a missing id throws inside FAISS's OpenMP loop and aborts the process.
    """
    return (
        np.stack([index.reconstruct(int(i)) for i in ids]) if len(ids) else np.empty((0, index.d))
    )


def remove_ids(index: faiss.Index, ids: np.ndarray | Sequence[int]) -> faiss.Index:
    """``index`` without ``ids``; HNSW cannot remove, so its graph is rebuilt from the rest."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if len(ids) == 0:
        return index
    try:
        index.remove_ids(ids)
        return index
    except RuntimeError:
        keep = np.setdiff1d(stored_ids(index), ids)
        rebuilt = faiss.clone_index(index)
        rebuilt.reset()
        if len(keep):
            add_vectors(rebuilt, stored_vectors(index, keep), keep)
        return rebuilt


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (distances, ids) per query, nearest first; ``k`` is capped at the index size.

    An inner-product index holds unit vectors (cosine): its similarity ``s`` comes back as
    the cosine distance ``1 - s``, so that for every metric smaller means closer.
    """
    queries = _as_index_rows(index, queries)
    k = max(1, min(k, index.ntotal))
    distances, ids = index.search(queries, k)
    metric = getattr(index, "metric_type", None)  # a binary index has none
    if metric == faiss.METRIC_INNER_PRODUCT:
        distances = np.clip(1.0 - distances, 0.0, 2.0)  # rounding: never -0.000
    elif metric == faiss.METRIC_L2:
        distances = np.maximum(distances, 0.0)  # squared distances; PQ rounding goes below 0
    return distances, ids


def stored_neighbours(
    index: faiss.Index, rows: np.ndarray, k: int, batch: int = 1024
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For each of ``rows`` (ids the index holds): the row, and the distances and ids of its
    ``k`` nearest other stored vectors (itself left out, -1 padded), a batch at a time so
    a large collection's vectors are never all in memory."""
    for start in range(0, len(rows), batch):
        part = np.asarray(rows[start : start + batch])
        distances, found = search(index, stored_vectors(index, part), k + 1)
        for row, far, near in zip(part, distances, found, strict=True):
            others = near != row
            yield int(row), far[others][:k], near[others][:k]


def pair_distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """The distance from each row of ``a`` to the same row of ``b`` (both as stored), as
    ``search`` gives it: cosine ``1 - a.b``, squared L2, or Hamming bits of packed codes."""
    if metric == HAMMING:
        xor = np.bitwise_xor(np.asarray(a, np.uint8), np.asarray(b, np.uint8))
        return np.unpackbits(xor, axis=1).sum(axis=1).astype(np.float32)
    a, b = as_float32(a), as_float32(b)
    if metric == "cosine":
        return np.clip(1.0 - np.einsum("ij,ij->i", a, b), 0.0, 2.0)
    return ((a - b) ** 2).sum(axis=1)


def write_index(index: faiss.Index, path: Path) -> None:
    """Write ``index`` to ``path``; a write refused for space raises ``OSError`` with its errno."""
    try:
        if is_binary(index):
            faiss.write_index_binary(index, str(path))
        else:
            faiss.write_index(index, str(path))
    except RuntimeError as err:
        code = strerror_errno(str(err))  # faiss only reports the errno's text
        if code is None:
            raise IndexFileError(f"cannot write index file {path}: {err}") from err
        raise OSError(code, os.strerror(code), str(path)) from err


# Flat-coded indexes (the raw-pixel baseline: 3 KB an image, 3 GB at a million) can be
# searched straight from the file: the OS pages them in and may drop them again, instead
# of every server process holding a private copy. FAISS before 1.9 lacks the flag.
_MAPPED = getattr(faiss, "IO_FLAG_MMAP_IFC", 0) | getattr(faiss, "IO_FLAG_READ_ONLY", 0)


def read_index(path: Path, mapped: bool = False) -> faiss.Index:
    """Load an index file; ``mapped``: for searching only, flat codes stay in the file."""
    if not Path(path).is_file():
        raise IndexFileError(f"index file {path} is missing")
    try:
        return probe_lists_in_parallel(faiss.read_index(str(path), _MAPPED if mapped else 0))
    except RuntimeError as err:
        try:  # the file does not say which kind it is: a binary index is the other kind
            return faiss.read_index_binary(str(path))
        except RuntimeError:
            pass
        raise IndexFileError(f"cannot read index file {path}: {err}") from err


@contextmanager
def faiss_threads(count: int) -> Iterator[None]:
    """Run FAISS on ``count`` OpenMP threads inside the block; the setting is the calling
    thread's alone, and restored after."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)
