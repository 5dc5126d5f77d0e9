"""The one index maker: what ``index``, the Ray build and the benchmark all build."""

import faiss
import numpy as np
import pytest

from latentsearch.indexer.bench.approx import build_approximate
from latentsearch.indexer.indexes.choice import IndexChoiceError, search_parameters
from latentsearch.indexer.indexes.factory import (
    empty_index,
    filled_index,
    train_index,
    training_rows,
)
from latentsearch.indexer.indexes.faiss_helpers import HAMMING, prepare_vectors, stored_ids


def vectors(n=3000, dim=16, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def nprobe(index) -> int:
    return faiss.extract_index_ivf(index).nprobe


def test_a_filled_ivf_index_is_trained_holds_every_row_and_probes_as_chosen():
    index = filled_index("IVF32,Flat", prepare_vectors(vectors(), "cosine"), "cosine")
    assert index.is_trained and index.ntotal == 3000
    assert sorted(stored_ids(index)) == list(range(3000))
    assert nprobe(index) == search_parameters("IVF32,Flat")["nprobe"] > 1
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT


def test_training_rows_are_a_sorted_sample_and_none_for_an_untrained_key():
    rows = training_rows("IVF32,Flat", 100_000, seed=3)
    assert len(rows) < 100_000 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, training_rows("IVF32,Flat", 100_000, seed=3))
    assert len(training_rows("HNSW32", 100_000)) == 0


def test_a_failed_training_names_the_key_and_the_count():
    index = empty_index("IVF1024,Flat", 16, "l2")
    with pytest.raises(IndexChoiceError, match=r"IVF1024,Flat on 50 codes"):
        train_index(index, "IVF1024,Flat", vectors(50))


def test_a_binary_index_takes_no_search_parameters():
    index = empty_index("BFlat", 64, HAMMING)
    assert isinstance(index, faiss.IndexBinary) and index.d == 64


def test_the_benchmark_builds_the_same_index_as_the_factory():
    database = prepare_vectors(vectors(), "cosine")
    bench_index, _ = build_approximate("IVF32,Flat", database)
    made = filled_index("IVF32,Flat", database, "l2")
    queries = database[:50]
    np.testing.assert_array_equal(bench_index.search(queries, 10)[1], made.search(queries, 10)[1])
    assert nprobe(bench_index) == nprobe(made)
