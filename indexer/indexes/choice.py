"""Which FAISS index to build: pure functions of (vector count, dimension, memory budget).

In the spirit of autofaiss: the choice is a FAISS index-factory string, decided without
touching any data, so it is cheap to unit-test and to explain. ``auto`` keeps an exact
``Flat`` index while it is small and fits the budget (recall 1.0), moves to an IVF index
over exact vectors when a brute-force scan grows slow, and compresses with product
quantisation only when exact vectors would not fit the memory budget.
"""

from __future__ import annotations

import math
import re

from latentsearch.encoder.errors import UserError

INDEX_TYPES = ("flat", "hnsw", "ivf", "ivfpq", "auto")
DEFAULT_MEMORY_BUDGET = "2G"
# Up to this many vectors a brute-force scan answers in a few milliseconds: stay exact.
FLAT_MAX_COUNT = 100_000
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128
# IVF lists probed per query: one in 8, or one in 16 from this many lists up. Measured on
# a million 128-d codes and random subsets of them (docs/scaling.md): one list in 16 kept
# recall@10 at 0.978 with 1,024 lists (the million) and 0.968 with 512 (0.889 and 0.934
# with 128 and 256), and halved the search time (9.7 to 4.8 ms at a million).
FEWER_PROBES_FROM_LISTS = 1024
# recall@10 against scanning every list that a build tunes an IVF index's probes to
# (indexes.tuning): 0.999 took 512 of 1,024 lists on a million codes, 8.8 ms a query
# (docs/scaling.md)
RECALL_TARGET = 0.999
# FAISS wants at least 39 training points per IVF centroid.
POINTS_PER_CENTROID = 39
TRAINING_POINTS_PER_CENTROID = 64
ID_BYTES = 16  # an int64 id plus the reverse-map entry IDMap2 keeps
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


class IndexChoiceError(UserError, ValueError):
    """No index of the requested kind can be built within the limits given."""


def parse_memory_budget(text: str) -> int:
    """Bytes in a size such as ``2G``, ``512M``, ``1.5GB`` or ``1000000`` (powers of 1024)."""
    match = _SIZE.match(str(text))
    if not match:
        raise IndexChoiceError(f"cannot read memory budget {text!r}; write e.g. 2G or 512M")
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise IndexChoiceError(f"memory budget {text!r} must be more than zero")
    return size


def ivf_lists(count: int) -> int:
    """Number of IVF lists: a power of two near sqrt(count), with enough points to train each."""
    wanted = 2 ** round(math.log2(max(1.0, math.sqrt(count))))
    return max(1, min(wanted, count // POINTS_PER_CENTROID, 65_536))


def pq_bits(count: int) -> int:
    """Bits per PQ sub-code: 8, unless there are too few vectors to train 256 centroids."""
    return max(1, min(8, int(math.log2(max(2, count // POINTS_PER_CENTROID)))))


def flat_bytes(count: int, dim: int) -> int:
    return count * (dim * 4 + ID_BYTES)


def pq_key(count: int, dim: int, memory_budget_bytes: int | None) -> str:
    """``IVF…,PQm`` with the most sub-quantisers ``m`` (dividing ``dim``) the budget allows."""
    nlist, nbits = ivf_lists(count), pq_bits(count)
    overhead = nlist * dim * 4 + (dim * 4 << nbits)  # centroids and PQ codebooks
    divisors = [m for m in range(dim, 0, -1) if dim % m == 0 and m <= max(1, dim // 2)]
    for m in divisors:
        code_bytes = math.ceil(m * nbits / 8)
        if memory_budget_bytes is None or count * (code_bytes + 8) + overhead <= (
            memory_budget_bytes
        ):
            bits = "" if nbits == 8 else f"x{nbits}"
            # "np": no polysemous training, which costs minutes and only serves Hamming search
            return f"IVF{nlist},PQ{m}{bits}np"
    raise IndexChoiceError(
        f"{count} vectors of dimension {dim} do not fit a memory budget of "
        f"{memory_budget_bytes} bytes even compressed; raise --memory-budget"
    )


def choose_index_key(count: int, dim: int, memory_budget_bytes: int) -> str:
    """The FAISS factory string ``auto`` builds for ``count`` vectors of ``dim`` floats."""
    if count < 1 or dim < 1:
        raise IndexChoiceError(f"need at least one vector and one dimension, got {count}x{dim}")
    exact = flat_bytes(count, dim)
    if count <= FLAT_MAX_COUNT and exact <= memory_budget_bytes:
        return "Flat"
    nlist = ivf_lists(count)
    if exact + nlist * dim * 4 <= memory_budget_bytes:
        return f"IVF{nlist},Flat"
    return pq_key(count, dim, memory_budget_bytes)


def index_key_for(index_type: str, count: int, dim: int, memory_budget_bytes: int) -> str:
    """The factory string for an explicit ``--index-type`` (or ``auto``)."""
    if index_type == "auto":
        return choose_index_key(count, dim, memory_budget_bytes)
    if index_type == "flat":
        return "Flat"
    if index_type == "hnsw":
        return f"HNSW{HNSW_NEIGHBOURS}"
    if index_type == "ivf":
        return f"IVF{ivf_lists(count)},Flat"
    if index_type == "ivfpq":
        return pq_key(count, dim, memory_budget_bytes)
    raise IndexChoiceError(f"unknown index type {index_type!r}; choose from {INDEX_TYPES}")


def index_type_of(key: str) -> str:
    """The ``--index-type`` name a factory string belongs to."""
    if key.startswith("HNSW"):
        return "hnsw"
    if key.startswith("IVF"):
        return "ivfpq" if ",PQ" in key else "ivf"
    return "flat"


def search_parameters(key: str) -> dict[str, int]:
    """Search-time settings (saved inside the index file) that keep recall@10 high."""
    if key.startswith("HNSW"):
        return {"efSearch": HNSW_EF_SEARCH}
    match = re.match(r"^IVF(\d+),", key)
    if match:
        nlist = int(match.group(1))
        share = 16 if nlist >= FEWER_PROBES_FROM_LISTS else 8
        return {"nprobe": min(nlist, max(16, nlist // share))}
    return {}


def training_size(key: str, count: int) -> int:
    """How many vectors to train ``key`` on (0: it needs no training)."""
    match = re.match(r"^IVF(\d+),", key)
    if not match:
        return 0
    return min(count, max(int(match.group(1)) * TRAINING_POINTS_PER_CENTROID, 10_000))
