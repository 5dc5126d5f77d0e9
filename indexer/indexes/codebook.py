"""A vqvae's latent index: each image stored as its grid of codebook indices.

A vqvae's code is a grid of ``M = grid^2`` vectors, each one of the ``K`` codebook
entries. That is exactly a product quantiser with ``M`` sub-quantisers that share one
codebook, so a FAISS ``IndexPQ`` whose every sub-quantiser table is that codebook stores
each image in ``ceil(M * log2 K / 8)`` bytes (8x8 indices of 9 bits: 72 bytes), and its
asymmetric distance is the exact L2 distance between quantised grids. No training: the
model's codebook is the index's.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from latentsearch.encoder.config import ModelConfig
from latentsearch.encoder.quantiser import codebook_of
from latentsearch.encoder.training import TrainedModel
from latentsearch.indexer.indexes.faiss_helpers import new_index


def index_bits(codebook_size: int) -> int:
    """Bits per stored index: enough for ``codebook_size`` entries."""
    return max(1, math.ceil(math.log2(codebook_size)))


def codebook_key(config: ModelConfig) -> str:
    """The factory key of the index: ``PQ{M}x{bits}``."""
    return f"PQ{config.grid**2}x{index_bits(config.codebook_size)}"


def code_bytes(config: ModelConfig) -> int:
    """Bytes one image takes in the index (the PQ code size)."""
    return math.ceil(config.grid**2 * index_bits(config.codebook_size) / 8)


def shared_codebook_table(codebook: np.ndarray, positions: int) -> np.ndarray:
    """PQ centroids (M, 2^bits, D): the codebook at every position, padded to a power of
    two with copies of entry 0 (a copy is never nearer than the entry it copies)."""
    size, dim = codebook.shape
    table = np.repeat(codebook[:1], 2 ** index_bits(size), axis=0)
    table[:size] = codebook
    return np.ascontiguousarray(np.broadcast_to(table, (positions, *table.shape)), np.float32)


def new_codebook_index(model: TrainedModel) -> tuple[str, faiss.Index]:
    """An empty, ready L2 index (id-mapped, as ``faiss_helpers.new_index``) of the model's
    quantised grids, stored as codebook indices."""
    config = model.config
    key = codebook_key(config)
    index = new_index(key, config.latent_dim, "l2")
    quantiser = faiss.downcast_index(index.index)
    table = shared_codebook_table(codebook_of(model.encoder), config.grid**2)
    faiss.copy_array_to_vector(table.ravel(), quantiser.pq.centroids)
    quantiser.is_trained = index.is_trained = True
    return key, index
