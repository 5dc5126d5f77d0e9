"""What the search page asks of the indexer: query sources, outlier scores, the map."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import faiss
import keras
import numpy as np
import pytest
from PIL import Image

from latentsearch.indexer.files.images import ImageReadError, load_image
from latentsearch.indexer.indexes.faiss_helpers import faiss_threads, stored_vectors
from latentsearch.indexer.serve.collection_map import (
    NoMapError,
    collection_map,
    principal_axes,
    sample_rows,
)
from latentsearch.indexer.serve.explorer import Explorer, leave_out, precision
from latentsearch.indexer.serve.outliers import (
    ERROR_SAMPLES,
    MIN_ERROR_STRIDE,
    OUTLIER_PERCENTILE,
    error_stride,
    known_errors,
    score,
)
from latentsearch.indexer.serve.queries import (
    QueryError,
    UploadTooLargeError,
    check_upload,
    find_rows,
)
from latentsearch.indexer.serve.search import Hit
from latentsearch.indexer.store.manifest import current_index_build


@pytest.fixture(scope="module")
def explorer(built_index_dir) -> Explorer:
    return Explorer.open_build(current_index_build(built_index_dir))


def row_of(explorer: Explorer, name: str) -> int:
    return explorer.names.index(name)


def test_build_stores_the_reconstruction_errors_of_a_sample(explorer):
    stored = explorer.bundle.metadata.errors
    assert stored is not None and stored.shape == (len(explorer),)
    sampled = np.arange(len(explorer)) % MIN_ERROR_STRIDE == 0
    assert np.isfinite(stored[sampled]).all() and np.isnan(stored[~sampled]).all()
    model = explorer.bundle.model
    row = MIN_ERROR_STRIDE  # the second sampled row
    image = load_image(explorer.bundle.metadata.paths[row], 16, 3)[np.newaxis]
    assert model.redrawer is not None  # the fixture searches a projected code
    autoencoder = keras.saving.load_model(model.path / "autoencoder.keras", compile=False)
    expected = ((autoencoder.predict(image, verbose=0) - image) ** 2).mean()
    assert stored[row] == pytest.approx(expected, rel=1e-4)


def test_outlier_score_ranks_an_error_among_the_collections():
    errors = known_errors(np.array([0.4, np.nan, 0.1, 0.3, 0.2], np.float32))
    assert errors.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert score(0.25, errors).percentile == 50.0
    assert score(0.05, errors).percentile == 0.0
    worst = score(9.0, errors)
    assert worst.percentile == 100.0 and worst.is_outlier
    assert not score(0.35, errors).is_outlier
    assert OUTLIER_PERCENTILE == 99.0
    assert known_errors(None) is None
    assert known_errors(np.full(3, np.nan, np.float32)) is None  # an index without scores


def test_look_shows_the_model_input_its_reconstruction_and_the_outlier_score(
    explorer, image_folder
):
    row = MIN_ERROR_STRIDE  # an indexed image whose error the build stored
    query = explorer.upload("q.png", Path(explorer.bundle.metadata.paths[row]).read_bytes())
    view = explorer.look(query)
    assert view.model_input.shape == view.reconstruction.shape == (16, 16, 3)
    assert 0.0 <= view.reconstruction.min() and view.reconstruction.max() <= 1.0
    stored = explorer.bundle.metadata.errors[row]
    assert view.error == pytest.approx(stored, rel=1e-4)
    assert 0.0 <= view.outlier.percentile < 100.0


def test_a_photo_unlike_the_collection_scores_as_an_outlier(explorer):
    # a black and white chessboard: nothing like the noisy single-colour images indexed
    squares = (np.indices((24, 24)) // 8).sum(axis=0) % 2
    board = np.repeat((squares * 255).astype(np.uint8)[..., None], 3, axis=2)
    buffer = io.BytesIO()
    Image.fromarray(board).save(buffer, format="PNG")
    view = explorer.look(explorer.upload("board.png", buffer.getvalue()))
    assert view.outlier.percentile == 100.0 and view.outlier.is_outlier


def test_a_collection_query_is_read_back_from_the_stored_raw_vector(explorer, image_folder):
    row = row_of(explorer, "green/07.png")
    query = explorer.pick(row)
    assert (query.name, query.row, query.label) == ("green/07.png", row, "green")
    np.testing.assert_allclose(query.image, load_image(image_folder / "green/07.png", 16, 3))
    with pytest.raises(QueryError):
        explorer.pick(len(explorer) + 5)


def test_a_collection_query_leaves_itself_out_of_its_results(explorer):
    row = row_of(explorer, "green/07.png")
    result = explorer.search(explorer.pick(row), k=5)
    for hits in (result.latent, result.raw):
        assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
        assert row not in [h.id for h in hits]
    assert precision(result.raw, "green") == 1.0


def test_leave_out_and_precision():
    found = [(4, "a"), (7, "b"), (9, "a")]
    hits = [Hit(rank, i, f"/{i}.png", label, 0.0) for rank, (i, label) in enumerate(found, 1)]
    kept = leave_out(hits, 7, k=5)
    assert [(h.rank, h.id) for h in kept] == [(1, 4), (2, 9)]
    assert precision(hits, "a") == pytest.approx(2 / 3)
    assert precision(hits, None) is None and precision([], "a") is None


def test_find_rows_matches_part_of_the_name_in_any_case():
    names = ["cat/0001.jpg", "dog/0001.jpg", "", "cat/0002.jpg"]
    assert find_rows(names, "CAT/") == ([0, 3], 2)
    assert find_rows(names, "0001", limit=1) == ([0], 2)
    assert find_rows(names, "  ") == ([], 0)


def test_uploads_are_judged_by_size_and_by_content():
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    check_upload(png.getvalue())  # accepted whatever the file is called
    with pytest.raises(UploadTooLargeError, match="limit is 1 MB"):
        check_upload(b"\0" * (2**20 + 1), limit_mb=1)
    tiff = io.BytesIO()
    Image.new("RGB", (4, 4)).save(tiff, format="TIFF")
    with pytest.raises(ImageReadError, match="TIFF"):
        check_upload(tiff.getvalue())


def test_map_projects_a_sample_and_places_a_query_where_its_code_lies(explorer):
    cmap = explorer.collection_map()
    assert len(cmap.rows) == len(explorer) and cmap.points.shape == (len(explorer), 2)
    assert sum(cmap.explained) <= 1.0 + 1e-6
    row = int(cmap.rows[5])
    code = explorer.bundle.latent.reconstruct(row)
    np.testing.assert_allclose(explorer.map_position(code), cmap.points[5], atol=1e-4)


def test_principal_axes_find_the_direction_of_spread():
    rng = np.random.default_rng(0)
    along = rng.normal(size=(500, 1)) * np.array([[3.0, 4.0, 0.0]]) / 5.0
    codes = (along + rng.normal(scale=0.01, size=(500, 3))).astype(np.float32)
    _, axes, explained = principal_axes(codes)
    assert abs(axes[0] @ np.array([0.6, 0.8, 0.0])) == pytest.approx(1.0, abs=1e-3)
    assert explained[0] > 0.99


def test_sample_rows_is_bounded_and_repeatable():
    rows = np.arange(10_000)
    first = sample_rows(rows, size=300, seed=1)
    assert len(first) == 300 and len(set(first.tolist())) == 300
    np.testing.assert_array_equal(first, sample_rows(rows, size=300, seed=1))
    np.testing.assert_array_equal(sample_rows(rows[:50], size=300), rows[:50])


def test_an_index_that_cannot_return_its_codes_has_no_map():
    quantizer = faiss.IndexFlatL2(4)
    index = faiss.IndexIVFFlat(quantizer, 4, 2)
    data = np.random.default_rng(0).random((50, 4), dtype=np.float32)
    index.train(data)
    index.add(data)  # no direct map: reconstruct() is refused
    with pytest.raises(NoMapError):
        collection_map(index, np.arange(50))


def test_a_page_search_runs_on_one_openmp_thread_and_restores_the_setting():
    before = faiss.omp_get_max_threads()
    with faiss_threads(1):
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == before


def test_a_binary_index_is_mapped_by_its_bits():
    index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(16))
    bits = np.random.default_rng(0).integers(0, 2, (40, 16)).astype(np.uint8)
    index.add_with_ids(np.packbits(bits, axis=1), np.arange(100, 140, dtype=np.int64))
    cmap = collection_map(index, np.arange(100, 140))
    assert cmap.mean.shape == (16,)
    # a stored code, packed as the index keeps it, lands on its own map point
    placed = cmap.place(np.packbits(bits[3:4], axis=1))[0]
    np.testing.assert_allclose(placed, cmap.points[3], atol=1e-5)


def test_fit_ratio_is_zero_for_a_perfect_model_and_one_for_flat_colour():
    from latentsearch.indexer.serve.outliers import fit_ratio, flat_errors

    images = np.random.default_rng(0).random((50, 8, 8, 3), dtype=np.float32)
    flat = flat_errors(images)
    colour = images.reshape(50, -1, 3).mean(axis=1)[:, None, None, :]
    assert flat == pytest.approx(((images - colour) ** 2).mean(axis=(1, 2, 3)), rel=1e-5)
    assert fit_ratio(np.zeros(50), flat) == 0.0
    assert fit_ratio(flat, flat) == pytest.approx(1.0)


def test_the_explorer_judges_its_model_from_the_collection(explorer):
    from latentsearch.indexer.serve.outliers import fit_ratio, flat_errors

    pixels = stored_vectors(explorer.bundle.raw, np.arange(explorer.bundle.raw.ntotal))
    images = pixels.reshape(-1, *explorer.bundle.model.config.input_shape)
    whole = fit_ratio(explorer.errors, flat_errors(images))  # the 37 images are the sample
    assert explorer.fit_ratio == pytest.approx(whole, rel=0.01)


def test_the_original_of_a_collection_image_is_its_file_until_it_is_gone(
    tmp_path, image_folder, trained_model_dir
):
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index
    from latentsearch.indexer.serve.queries import QueryError

    folder = tmp_path / "photos"
    shutil.copytree(image_folder / "red", folder / "red")
    build_index(folder, trained_model_dir, tmp_path / "index", BuildSettings(workers=1))
    explorer = Explorer.open_build(current_index_build(tmp_path / "index"))
    row = row_of(explorer, "red/03.png")
    assert explorer.original(row) == (folder / "red" / "03.png").resolve()
    (folder / "red" / "03.png").unlink()
    with pytest.raises(QueryError, match="no longer in the indexed folder"):
        explorer.original(row)


def test_error_stride_keeps_one_in_eight_then_about_error_samples():
    assert error_stride(100) == error_stride(10_000) == MIN_ERROR_STRIDE
    for count in (50_000, 1_000_000):
        kept = len(range(0, count, error_stride(count)))
        assert ERROR_SAMPLES <= kept < 1.1 * ERROR_SAMPLES
