"""Bytes per vector of each latent index type, in memory (RSS growth) and on disk.

    python benchmarks/index_bytes.py [--count 100000] [--dim 64] [--bits 64]

Each index is built by ``faiss_helpers.new_index`` as ``latentsearch index`` builds it
(ids, direct maps and all) from random vectors in its own process; the memory figure is
the growth of the process's resident set while the vectors are added (the vectors to add
are allocated before), so it includes FAISS's own bookkeeping. Feeds ``docs/scaling.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

KEYS = ("Flat", "HNSW32", "IVF1024,Flat", "IVF1024,PQ32np", "IVF1024,PQ16np", "BFlat")


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def one(key: str, count: int, dim: int, bits: int) -> dict:
    import faiss
    import numpy as np

    from latentsearch.indexer.indexes.faiss_helpers import HAMMING, add_vectors, new_index

    rng = np.random.default_rng(0)
    ids = np.arange(count, dtype=np.int64)
    if key == "BFlat":
        index = new_index(key, bits, HAMMING)
        vectors = rng.integers(0, 256, (count, bits // 8), dtype=np.uint8)
    else:
        index = new_index(key, dim)
        vectors = rng.standard_normal((count, dim), dtype=np.float32)
        if key.startswith("IVF"):
            index.train(vectors[:65_536])
    before = rss_bytes()
    add_vectors(index, vectors, ids)
    grown = rss_bytes() - before
    writer = faiss.serialize_index_binary if key == "BFlat" else faiss.serialize_index
    return {
        "key": key,
        "count": count,
        "memory_bytes_per_vector": round(grown / count, 1),
        "file_bytes_per_vector": round(len(writer(index)) / count, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--bits", type=int, default=64, help="binary codes")
    parser.add_argument("--key", help=argparse.SUPPRESS)  # set in the child processes
    args = parser.parse_args()
    if args.key:
        print(json.dumps(one(args.key, args.count, args.dim, args.bits)), flush=True)
        return
    for key in KEYS:
        child = [sys.executable, __file__, *sys.argv[1:], "--key", key]
        output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        print(output.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
