"""A build whose raw-pixel baseline would not fit its memory budget keeps a shrunken grid."""

import shutil

import numpy as np
import pytest

from latentsearch.indexer.cli.parser import main
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.indexes.faiss_helpers import stored_vectors
from latentsearch.indexer.pipeline.build import BuildSettings
from latentsearch.indexer.pipeline.update import update_index
from latentsearch.indexer.serve.collection_map import NoMapError
from latentsearch.indexer.serve.collection_outliers import unusual_scores
from latentsearch.indexer.serve.duplicates import bundle_embedder
from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.indexer.serve.queries import stored_image
from latentsearch.indexer.serve.search import Searcher
from latentsearch.indexer.store.bundle import IndexBundle

# The fixture's model takes 16x16x3 input; tests/conftest.py's ``shrunk_index_dir`` is
# built within a budget (``shrinking_budget``) that holds 8x8 pixels of every image but
# not 16x16.
SHRUNK_SIDE = 8


@pytest.fixture
def shrunk_dir(image_folder, shrunk_index_dir):
    return image_folder, shrunk_index_dir


def test_the_baseline_keeps_a_grid_that_fits_the_budget(shrunk_dir):
    folder, out = shrunk_dir
    bundle = IndexBundle.load(out)
    grid = bundle.pixel_grid
    assert (grid.side, grid.image_size) == (SHRUNK_SIDE, 16) and grid.shrunk
    assert bundle.manifest.raw_dim == bundle.raw.d == SHRUNK_SIDE * SHRUNK_SIDE * 3
    rows = np.array(bundle.metadata.live_rows())
    images = np.stack([load_image(bundle.metadata.paths[r], 16, 3) for r in rows])
    stored = stored_vectors(bundle.raw, rows)
    # 2x2 block means of bytes, stored one byte each: within half a step of 1/255
    np.testing.assert_allclose(stored, grid.vectors(images), atol=0.5 / 255 + 1e-6)


def test_searches_and_duplicates_shrink_the_query_the_same_way(shrunk_dir):
    folder, out = shrunk_dir
    bundle = IndexBundle.load(out)
    query = sorted(folder.rglob("*.png"))[3]
    hits = Searcher(bundle).search(query, k=3)
    assert hits.raw[0].path == hits.latent[0].path == str(query.resolve())
    assert hits.raw[0].distance < 1e-3 < hits.raw[1].distance
    embedded = bundle_embedder(bundle, pixels=True)([query.read_bytes()])
    assert embedded.shape == (1, bundle.raw.d)


def test_model_inputs_come_from_the_files_where_the_baseline_cannot_give_them(shrunk_dir):
    folder, out = shrunk_dir
    bundle = IndexBundle.load(out)
    row = bundle.metadata.live_rows()[5]
    np.testing.assert_array_equal(
        stored_image(bundle, row), load_image(bundle.metadata.paths[row], 16, 3)
    )
    with pytest.raises(NoMapError, match="8x8 \\(shrunk from 16x16\\)"):
        unusual_scores(bundle)
    assert Explorer(Searcher(bundle)).fit_ratio is None


def test_an_update_adds_its_rows_on_the_build_s_grid(shrunk_dir, tmp_path, make_image):
    folder, out = shrunk_dir
    copy, index = tmp_path / "images", tmp_path / "index"
    shutil.copytree(folder, copy)
    shutil.copytree(out, index)
    bundle = IndexBundle.load(index)
    update_index(copy, bundle.model.path, index, BuildSettings(batch_size=16, workers=2))
    added = make_image(copy / "blue" / "new.png", (30, 40, 220), seed=77)

    # a larger budget: the update still keeps the grid the build chose
    manifest = update_index(copy, bundle.model.path, index, BuildSettings(batch_size=16))

    assert manifest.update["added"] == 1 and manifest.raw_dim == bundle.manifest.raw_dim
    hits = Searcher(IndexBundle.load(index)).search(added, k=2)
    assert hits.raw[0].path == str(added.resolve()) and hits.raw[0].distance < 1e-3


def test_the_cli_says_when_the_baseline_was_shrunk(
    image_folder, trained_model_dir, shrinking_budget, tmp_path, capsys
):
    common = ["index", "--data", str(image_folder), "--model", str(trained_model_dir)]
    common += ["--index-type", "flat", "--batch-size", "16"]
    budget = ["--memory-budget", str(shrinking_budget)]
    assert main([*common, "--out", str(tmp_path / "a"), *budget]) == 0
    assert "raw-pixel baseline on a 8x8 (shrunk from 16x16) grid" in capsys.readouterr().out
    assert main([*common, "--out", str(tmp_path / "b")]) == 0
    assert "raw-pixel baseline" not in capsys.readouterr().out
