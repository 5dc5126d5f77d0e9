"""Index types and metrics: FAISS helpers on synthetic vectors, and real builds of each type."""

import faiss
import numpy as np
import pytest

from latentsearch.encoder.versioned_dir import current_build
from latentsearch.indexer.indexes.factory import empty_index, filled_index, train_index
from latentsearch.indexer.indexes.faiss_helpers import (
    add_vectors,
    prepare_vectors,
    remove_ids,
    search,
    stored_ids,
)
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.serve.search import Searcher
from latentsearch.indexer.store.bundle import IndexBundle

KEYS = ["Flat", "HNSW32", "IVF16,Flat", "IVF16,PQ8np"]
EXACT_KEYS = ["Flat", "HNSW32", "IVF16,Flat"]  # store the vectors themselves


def clustered(n=2000, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim)) * 4
    return (centres[rng.integers(0, 20, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def filled(key, vectors, metric="l2", ids=None):
    prepared = prepare_vectors(vectors, metric)
    if ids is None:
        return filled_index(key, prepared, metric)
    index = empty_index(key, prepared.shape[1], metric)
    if not index.is_trained:
        train_index(index, key, prepared)
    add_vectors(index, prepared, ids)
    return index


def recall_at_10(index, vectors, metric="l2"):
    exact = filled("Flat", vectors, metric)
    queries = prepare_vectors(vectors[:200], metric)
    _, truth = exact.search(queries, 10)
    _, found = search(index, queries, 10)
    return np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])


@pytest.mark.parametrize(("key", "floor"), [("Flat", 1.0), ("HNSW32", 0.95), ("IVF16,Flat", 0.95)])
def test_recall_against_exact_search(key, floor):
    vectors = clustered()
    assert recall_at_10(filled(key, vectors), vectors) >= floor


def test_pq_recall_is_reported_not_promised():
    vectors = clustered()
    assert 0.2 < recall_at_10(filled("IVF16,PQ8np", vectors), vectors) <= 1.0


def test_cosine_ranks_by_angle_and_ignores_length():
    vectors = clustered(500)
    index = filled("Flat", vectors, "cosine")
    query = vectors[:1] * 7.5  # same direction, other length
    distances, ids = search(index, prepare_vectors(query, "cosine"), 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit[0]), kind="stable")[:5]
    assert ids[0].tolist() == expected.tolist()
    # reported as cosine distance 1 - similarity: 0 for the same direction, ascending
    assert distances[0][0] == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(distances[0], 1 - unit[expected] @ unit[0], atol=1e-5)
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT
    np.testing.assert_allclose(np.linalg.norm(index.reconstruct(3)), 1.0, rtol=1e-5)


def test_prepare_leaves_the_callers_array_alone():
    vectors = clustered(10)
    before = vectors.copy()
    prepare_vectors(vectors, "cosine")
    np.testing.assert_array_equal(vectors, before)


@pytest.mark.parametrize("key", KEYS)
def test_remove_keeps_other_ids_and_vectors(key):
    vectors = clustered(600)
    ids = np.arange(1000, 1600)
    index = filled(key, vectors, ids=ids)
    before = {i: index.reconstruct(int(i)) for i in (1000, 1001, 1599)}
    gone = np.array([1002, 1003, 1500])

    index = remove_ids(index, gone)

    assert index.ntotal == 597
    assert sorted(stored_ids(index)) == sorted(set(ids) - set(gone))
    for i, vector in before.items():
        np.testing.assert_array_equal(index.reconstruct(int(i)), vector)
    _, found = search(index, vectors[[2, 3, 500]], 50)
    assert not set(found.ravel()) & set(gone)


@pytest.mark.parametrize("key", EXACT_KEYS)
def test_stored_vectors_are_exact(key):
    vectors = clustered(300)
    index = filled(key, vectors)
    np.testing.assert_array_equal(index.reconstruct(17), vectors[17])


@pytest.mark.parametrize(
    ("index_type", "metric", "prefix"),
    [
        ("hnsw", "l2", "HNSW"),
        ("ivf", "cosine", "IVF"),
        ("ivfpq", "l2", "IVF"),
        ("auto", None, "Flat"),
    ],
)
def test_build_with_each_index_type(
    tmp_path, image_folder, trained_model_dir, index_type, metric, prefix
):
    settings = BuildSettings(batch_size=16, workers=2, index_type=index_type, metric=metric)
    manifest = build_index(image_folder, trained_model_dir, tmp_path / "index", settings)

    assert manifest.index_type.startswith(prefix)
    assert manifest.metric == (metric or "cosine")
    bundle = IndexBundle.load(tmp_path / "index")
    assert (bundle.manifest.index_type, bundle.manifest.metric) == (
        manifest.index_type,
        manifest.metric,
    )
    assert bundle.raw.metric_type == faiss.METRIC_L2  # the raw-pixel baseline stays exact L2
    if prefix == "IVF":  # probes tuned at build time, saved in the index and the manifest
        assert manifest.probes["nprobe"] == faiss.extract_index_ivf(bundle.latent).nprobe
        assert manifest.probes["recall_at_10"] >= manifest.probes["target"] == 0.999
    else:
        assert manifest.probes is None
    searcher = Searcher(bundle)
    query = sorted((image_folder / "blue").iterdir())[4]
    result = searcher.search(query, k=3)
    assert result.raw[0].path == str(query.resolve())
    if index_type != "ivfpq":  # PQ codes are approximate: itself first is not promised
        assert result.latent[0].path == str(query.resolve())
    assert current_build(tmp_path / "index").name in str(bundle.path)


@pytest.mark.parametrize("metric", ["cosine", "l2", "hamming"])
def test_pair_distances_are_the_distances_search_reports(metric):
    from latentsearch.indexer.indexes.faiss_helpers import HAMMING, pair_distances

    vectors = clustered(300, dim=32)
    if metric == HAMMING:
        stored = prepare_vectors(vectors > 0, HAMMING)
        index = empty_index("BFlat", 32, HAMMING)
        add_vectors(index, stored, np.arange(300))
    else:
        stored = prepare_vectors(vectors, metric)
        index = filled("Flat", vectors, metric)
    distances, found = search(index, stored[:50], 5)
    for column in range(5):
        expected = pair_distances(stored[:50], stored[found[:, column]], metric)
        np.testing.assert_allclose(distances[:, column], expected, rtol=1e-4, atol=1e-5)
