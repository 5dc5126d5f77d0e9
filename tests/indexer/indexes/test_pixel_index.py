"""The raw-pixel baseline stores one byte per value, losslessly, and searches like Flat."""

import faiss
import numpy as np

from latentsearch.indexer.indexes.faiss_helpers import (
    add_vectors,
    new_flat_index,
    new_pixel_index,
    read_index,
    search,
    stored_vectors,
    write_index,
)
from latentsearch.indexer.store.bundle import IndexBundle


def pixels(n=300, dim=48, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, dim)) / 255.0).astype(np.float32)


def test_pixels_round_trip_exactly_through_a_saved_index(tmp_path):
    vectors, ids = pixels(), np.arange(300) + 1000
    index = new_pixel_index(48)
    add_vectors(index, vectors, ids)
    write_index(index, tmp_path / "raw.faiss")
    loaded = read_index(tmp_path / "raw.faiss")
    back = stored_vectors(loaded, ids)
    np.testing.assert_array_equal(np.round(back * 255), np.round(vectors * 255))
    np.testing.assert_allclose(back, vectors, atol=1e-6)
    assert faiss.downcast_index(loaded.index).code_size == 48  # one byte per value


def test_search_matches_an_exact_flat_index():
    vectors, queries = pixels(), pixels(20, seed=1)
    flat, quantised = new_flat_index(48), new_pixel_index(48)
    add_vectors(flat, vectors)
    add_vectors(quantised, vectors, np.arange(300))
    exact_d, exact_i = search(flat, queries, 10)
    d, i = search(quantised, queries, 10)
    np.testing.assert_array_equal(i, exact_i)
    np.testing.assert_allclose(d, exact_d, rtol=1e-5, atol=1e-5)


def test_out_of_range_values_are_clipped_not_wrapped():
    index = new_pixel_index(4)
    add_vectors(index, np.array([[-0.5, 0.0, 1.0, 1.7]], np.float32), np.array([7]))
    np.testing.assert_allclose(stored_vectors(index, [7])[0], [0, 0, 1, 1], atol=1e-6)


def test_a_build_stores_raw_pixels_in_bytes(built_index_dir):
    bundle = IndexBundle.load(built_index_dir)
    inner = faiss.downcast_index(bundle.raw.parts[0].index)
    assert isinstance(inner, faiss.IndexScalarQuantizer)
    assert inner.code_size == bundle.manifest.raw_dim == 16 * 16 * 3
    assert bundle.raw.metric_type == faiss.METRIC_L2


def test_a_mapped_index_searches_from_the_file_and_answers_the_same(tmp_path):
    vectors, ids = pixels(), np.arange(300) + 7
    index = new_pixel_index(48)
    add_vectors(index, vectors, ids)
    write_index(index, tmp_path / "raw.faiss")
    mapped = read_index(tmp_path / "raw.faiss", mapped=True)

    codes = faiss.downcast_index(faiss.downcast_index(mapped).index).codes
    assert not codes.is_owned  # a view of the mapped file, not a private copy
    np.testing.assert_array_equal(
        search(mapped, vectors[:20], 5)[1], search(index, vectors[:20], 5)[1]
    )
    np.testing.assert_array_equal(stored_vectors(mapped, ids[:9]), stored_vectors(index, ids[:9]))


def test_a_loaded_bundle_maps_its_raw_pixels(built_index_dir):
    bundle = IndexBundle.load(built_index_dir)
    try:
        part = bundle.raw.parts[0]
        assert not faiss.downcast_index(faiss.downcast_index(part).index).codes.is_owned
    finally:
        bundle.metadata.close()
