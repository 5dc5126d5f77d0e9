"""VQ-VAE codes against FAISS product quantisation of continuous codes, at equal bytes.

    python benchmarks/vq_vs_pq.py --data TRAIN --query-data TEST --vq MODEL \\
        --continuous MODEL [--continuous MODEL ...] [--queries-per-class 100] --out F.json

For each model: mAP@1000 and P@10 of class-based retrieval (queries sampled per class
from the query folder, the database is the data folder, as ``latentsearch bench``), the
bytes each image takes in the index, PSNR of reconstructions of the query photos, and for
the vqvae the codebook usage (perplexity) over the database. Methods:

- ``vq grid, L2``: the ``latentsearch index`` of a vqvae (``indexes.codebook``): its indices.
- ``vq grid, cosine``: the same quantised grids, flattened, unit length, exact.
- ``vq histogram``: how often each codebook entry occurs in the grid (bag of codes,
  tf-idf weighted), cosine, exact.
- ``continuous, cosine``: each continuous model's float32 codes, exact (Flat).
- ``continuous PQ``: the same codes, unit length, in a FAISS ``PQ{M}x{bits}`` index of as
  many bytes per image as the vqvae's grid of indices.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import faiss
import numpy as np

from latentsearch.encoder.inference import decode_codes, encode_images
from latentsearch.encoder.quantiser import codebook_of, perplexity
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.bench.data import read_pixels, split_queries
from latentsearch.indexer.bench.metrics import average_precision_at_k, precision_at_k
from latentsearch.indexer.indexes.codebook import code_bytes, index_bits, new_codebook_index
from latentsearch.indexer.indexes.faiss_helpers import add_vectors, prepare_vectors

log = logging.getLogger("vq_vs_pq")
K_MAP, K_PRECISION = 1000, 10
PQ_TRAIN = 20_000  # about 39 points per centroid of a 9-bit sub-quantiser, FAISS's minimum


def scores(index: faiss.Index, queries: np.ndarray, db_labels, query_labels) -> dict:
    """mAP@1000 and P@10 (at most the database size) of ``index`` (ids = database rows)."""
    k = min(K_MAP, index.ntotal)
    _, ids = index.search(np.ascontiguousarray(queries, np.float32), k)
    hits = db_labels[ids] == query_labels[:, None]
    return {
        f"map@{k}": float(average_precision_at_k(hits, k).mean()),
        f"p@{K_PRECISION}": float(precision_at_k(hits, K_PRECISION).mean()),
    }


def flat(vectors: np.ndarray) -> faiss.Index:
    """An exact cosine index (inner product on unit rows)."""
    vectors = prepare_vectors(vectors, "cosine")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def encode(model: TrainedModel, pixels: np.ndarray) -> np.ndarray:
    images = pixels.reshape(len(pixels), *model.config.input_shape)
    return np.concatenate(
        [encode_images(model.encoder, images[i : i + 2048]) for i in range(0, len(images), 2048)]
    )


def psnr(model: TrainedModel, pixels: np.ndarray) -> float:
    """Mean over images of 10 log10(1 / MSE) of the reconstruction (pixels in [0, 1])."""
    images = pixels.reshape(len(pixels), *model.config.input_shape)
    rebuilt = decode_codes(model.decoder, encode_images(model.encoder, images))
    mse = ((rebuilt - images) ** 2).reshape(len(images), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def vq_indices(model: TrainedModel, codes: np.ndarray) -> np.ndarray:
    """(N, grid^2) codebook indices of quantised grids: the index's stored codes, unpacked."""
    config = model.config
    codebook = codebook_of(model.encoder)
    vectors = codes.reshape(-1, config.codebook_dim)
    nearest = faiss.IndexFlatL2(config.codebook_dim)
    nearest.add(codebook)
    return nearest.search(vectors, 1)[1].reshape(len(codes), -1)


def histograms(indices: np.ndarray, size: int, idf: np.ndarray) -> np.ndarray:
    counts = np.stack([np.bincount(row, minlength=size) for row in indices]).astype(np.float32)
    return counts * idf


def vq_methods(model, db_codes, query_codes, db_labels, query_labels) -> dict:
    results = {}
    key, index = new_codebook_index(model)
    add_vectors(index, db_codes, np.arange(len(db_codes)))
    stored = faiss.downcast_index(index.index).code_size
    results[f"vq grid, L2 ({key})"] = {
        **scores(index, query_codes, db_labels, query_labels),
        "bytes": stored,
    }
    results["vq grid, cosine (exact floats)"] = {
        **scores(flat(db_codes), prepare_vectors(query_codes, "cosine"), db_labels, query_labels),
        "bytes": stored,
    }
    size = model.config.codebook_size
    db_idx, query_idx = vq_indices(model, db_codes), vq_indices(model, query_codes)
    documents = np.stack([np.bincount(row, minlength=size) > 0 for row in db_idx]).sum(axis=0)
    idf = np.log((1 + len(db_idx)) / (1 + documents)).astype(np.float32) + 1
    db_hist, query_hist = histograms(db_idx, size, idf), histograms(query_idx, size, idf)
    results["vq histogram, tf-idf cosine"] = {
        **scores(flat(db_hist), prepare_vectors(query_hist, "cosine"), db_labels, query_labels),
        "bytes": stored,
    }
    usage = np.bincount(db_idx.ravel(), minlength=size)
    results["codebook"] = {
        "perplexity_database": perplexity(usage),
        "entries_used_database": int(np.count_nonzero(usage)),
        "codebook_size": size,
    }
    return results


def pq_method(db_codes, query_codes, db_labels, query_labels, subquantisers, bits) -> dict:
    """Unit-length codes in a PQ index (L2 on unit vectors ranks as cosine), trained on a
    random sample of ``PQ_TRAIN`` codes (all 50,000 took over 6 minutes per model)."""
    db = prepare_vectors(db_codes, "cosine")
    index = faiss.IndexPQ(db.shape[1], subquantisers, bits, faiss.METRIC_L2)
    sample = np.random.default_rng(0).choice(len(db), min(PQ_TRAIN, len(db)), replace=False)
    index.train(db[np.sort(sample)])
    index.add(db)
    query = prepare_vectors(query_codes, "cosine")
    return {**scores(index, query, db_labels, query_labels), "bytes": index.code_size}


def pq_shape(dim: int, target_bytes: int, bits: int) -> tuple[int, int]:
    """(sub-quantisers, bits) with ``target_bytes`` per code whose count divides ``dim``."""
    subquantisers = target_bytes * 8 // bits
    if dim % subquantisers == 0 and subquantisers * bits == target_bytes * 8:
        return subquantisers, bits
    subquantisers = math.gcd(dim, target_bytes)
    return subquantisers, target_bytes * 8 // subquantisers


def run(args: argparse.Namespace) -> dict:
    split = split_queries(Path(args.data), Path(args.query_data), args.queries_per_class, 0)
    vq = load_model(args.vq)
    size, channels = vq.config.image_size, vq.config.channels
    db = read_pixels(split.database, size, channels, description="database")
    queries = read_pixels(split.queries, size, channels, description="queries")
    names = sorted(set(db.labels))
    db_labels = np.array([names.index(label) for label in db.labels])
    query_labels = np.array([names.index(label) for label in queries.labels])
    report = {"database": len(db_labels), "queries": len(query_labels), "models": {}}
    started = time.perf_counter()
    db_codes, query_codes = encode(vq, db.pixels), encode(vq, queries.pixels)
    report["models"][str(args.vq)] = {
        "psnr_queries": psnr(vq, queries.pixels),
        **vq_methods(vq, db_codes, query_codes, db_labels, query_labels),
    }
    target = code_bytes(vq.config)
    for path in args.continuous:
        model = load_model(path)
        db_codes, query_codes = encode(model, db.pixels), encode(model, queries.pixels)
        m, bits = pq_shape(model.config.latent_dim, target, index_bits(vq.config.codebook_size))
        report["models"][str(path)] = {
            "psnr_queries": psnr(model, queries.pixels),
            "continuous, cosine (Flat)": {
                **scores(
                    flat(db_codes), prepare_vectors(query_codes, "cosine"), db_labels, query_labels
                ),  # fmt: skip
                "bytes": 4 * model.config.latent_dim,
            },
            f"continuous PQ{m}x{bits}, cosine": pq_method(
                db_codes, query_codes, db_labels, query_labels, m, bits
            ),
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--query-data", required=True)
    parser.add_argument("--queries-per-class", type=int, default=100)
    parser.add_argument("--vq", required=True, type=Path)
    parser.add_argument("--continuous", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    report = run(args)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
