"""Speed and size of one search method: build time, bytes per image, query latency, throughput."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from latentsearch.indexer.indexes.faiss_helpers import (
    add_vectors,
    faiss_threads,
    new_flat_index,
    search,
)

Embed = Callable[[np.ndarray], np.ndarray]  # raw-pixel rows (n, D) -> vectors (n, dim)

SPEED_DEFINITIONS = {
    "encode images/s": (
        "database images turned into vectors per second, from the files on disk: the timed "
        "read (decode, resize, thumbnail, as `latentsearch index` reads) plus the method's "
        "own pass over the decoded images (model forward pass, PCA projection; none for raw)"
    ),
    "build s": "seconds to create a FAISS Flat index and add every database vector",
    "bytes/image": "size of the serialised Flat index divided by the database size",
    "query ms p50/p95": (
        "one decoded query image at a time: embed it and search the Flat index for the top "
        "k (k = the smallest --k); median and 95th percentile. FAISS runs on one thread for "
        "these: a lone query gains nothing from OpenMP, whose thread hand-off made it 4-25x "
        "slower and far noisier on a busy 2-core machine"
    ),
    "search ms p50/p95": "the Flat index search alone, for the same single queries",
    "batch queries/s": (
        "all queries embedded in one call and searched in one call (FAISS on all threads); "
        "the fastest of three such runs"
    ),
}


@dataclass(frozen=True)
class Speed:
    """Times in seconds or milliseconds, rates per second, sizes in bytes."""

    encode_images_per_s: float  # from files on disk: decode (+ model or projection)
    build_s: float  # Flat index: create + add every database vector
    bytes_per_image: float  # serialised index size / database size
    query_ms_p50: float  # one query at a time: embed + search
    query_ms_p95: float
    search_ms_p50: float  # the index search alone
    search_ms_p95: float
    batch_queries_per_s: float  # every query in one call: embed + search
    latency_k: int

    def to_json(self) -> dict:
        return {key: round(value, 6) for key, value in asdict(self).items()}


def build_flat(database: np.ndarray) -> tuple[faiss.Index, float]:
    """An exact L2 index of ``database`` and the seconds building it took."""
    started = time.perf_counter()
    index = new_flat_index(database.shape[1])
    add_vectors(index, database)
    return index, time.perf_counter() - started


def index_bytes(index: faiss.Index) -> int:
    """Size of the index as ``faiss.write_index`` stores it, counted without keeping a copy."""
    size = 0

    def count(chunk: bytes) -> int:
        nonlocal size
        size += len(chunk)
        return len(chunk)

    writer = faiss.PyCallbackIOWriter(count)
    faiss.write_index(index, writer)
    del writer  # flushes its last buffered chunk into ``count``
    return size


def single_query_times(
    embed: Embed, index: faiss.Index, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds per query (embed + search) and for the search alone, one query at a time."""
    embed(queries[:1])  # the first call traces the model: not part of a user's query
    total, searching = [], []
    for row in range(len(queries)):
        started = time.perf_counter()
        vector = embed(queries[row : row + 1])
        middle = time.perf_counter()
        search(index, vector, k)
        ended = time.perf_counter()
        total.append(ended - started)
        searching.append(ended - middle)
    return np.array(total) * 1e3, np.array(searching) * 1e3


def batch_rate(
    embed: Embed, index: faiss.Index, queries: np.ndarray, k: int, repeats: int = 3
) -> float:
    """Queries per second when all of them are embedded and searched in one call each.

    The fastest of ``repeats`` calls: slower ones measure other work on the machine.
    """
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        search(index, embed(queries), k)
        seconds.append(time.perf_counter() - started)
    return len(queries) / min(seconds)


def measure_speed(
    embed: Embed,
    database: np.ndarray,
    queries: np.ndarray,
    encode_seconds: float,
    k: int = 10,
    latency_queries: int = 200,
) -> Speed:
    """Build a Flat index of ``database`` and time ``queries`` (raw-pixel rows) against it.

    ``encode_seconds`` is the time taken to turn the database files into vectors.
    """
    index, build_s = build_flat(database)
    with faiss_threads(1):
        query_ms, search_ms = single_query_times(embed, index, queries[:latency_queries], k)
    return Speed(
        encode_images_per_s=len(database) / encode_seconds,
        build_s=build_s,
        bytes_per_image=index_bytes(index) / index.ntotal,
        query_ms_p50=float(np.percentile(query_ms, 50)),
        query_ms_p95=float(np.percentile(query_ms, 95)),
        search_ms_p50=float(np.percentile(search_ms, 50)),
        search_ms_p95=float(np.percentile(search_ms, 95)),
        batch_queries_per_s=batch_rate(embed, index, queries, k),
        latency_k=k,
    )
