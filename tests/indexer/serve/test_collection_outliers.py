"""The collection's outliers: worst rebuilt images, and labels their neighbours disagree with."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from latentsearch.encoder.inference import encode_images, errors_of
from latentsearch.indexer.cli.parser import main
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.serve.collection_outliers import (
    MAJORITY,
    all_errors,
    label_doubts,
    worst_rebuilt,
)
from latentsearch.indexer.serve.outliers import rebuild
from latentsearch.indexer.store.bundle import IndexBundle


@pytest.fixture(scope="module")
def odd_index(tmp_path_factory, image_folder, trained_model_dir, make_image):
    """The test collection plus a black-and-white checkerboard and a red photo filed under
    blue."""
    folder = tmp_path_factory.mktemp("odd") / "photos"
    shutil.copytree(image_folder, folder)
    board = (np.indices((24, 24)).sum(axis=0) % 2 * 255).astype(np.uint8)
    Image.fromarray(board).convert("RGB").save(folder / "checkerboard.png")
    make_image(folder / "blue" / "misfiled.png", (220, 30, 30), seed=4242)
    out = folder.parent / "index"
    build_index(folder, trained_model_dir, out, BuildSettings(batch_size=16, workers=2))
    return out


def test_the_worst_rebuilt_are_the_largest_errors_with_their_rank(odd_index):
    bundle = IndexBundle.load(odd_index)
    rows, errors = all_errors(bundle)
    worst = worst_rebuilt(bundle, 3)
    expected = rows[np.argsort(-errors)[:3]]
    assert [o.row for o in worst] == list(expected)
    assert worst[0].percentile == pytest.approx(100.0 * (len(rows) - 1) / len(rows))
    assert [o.error for o in worst] == sorted((o.error for o in worst), reverse=True)


def test_each_error_is_the_files_own_reconstruction_error(odd_index):
    """From the stored pixels, as from the file: the raw index keeps them losslessly."""
    bundle = IndexBundle.load(odd_index)
    rows, errors = all_errors(bundle)
    config = bundle.model.config
    images = np.stack([load_image(bundle.metadata.paths[r], config.image_size, config.channels)
                       for r in rows[:8]])  # fmt: skip
    codes = encode_images(bundle.model.encoder, images)
    direct = errors_of(images, rebuild(bundle.model, images, codes))
    np.testing.assert_allclose(errors[:8], direct, rtol=1e-4, atol=1e-6)
    assert np.all(np.isfinite(errors)) and len(rows) == len(bundle)


def test_a_misfiled_photo_is_doubted_and_its_neighbours_label_named(odd_index):
    doubts = label_doubts(IndexBundle.load(odd_index))
    misfiled = [d for d in doubts if d.path.endswith("misfiled.png")]
    assert len(misfiled) == 1
    assert (misfiled[0].label, misfiled[0].neighbours_say) == ("blue", "red")
    assert misfiled[0].share >= MAJORITY
    assert all(d.label != d.neighbours_say for d in doubts)


def test_the_cli_lists_both_and_writes_them(capsys, odd_index, tmp_path):
    assert (
        main(["outliers", "--index", str(odd_index), "-n", "2", "--out", str(tmp_path / "o.json")])
        == 0
    )
    printed = capsys.readouterr().out
    assert "rebuilds worst" in printed and "misfiled.png" in printed
    data = json.loads((tmp_path / "o.json").read_text())
    assert len(data["outliers"]) == 2 and data["label_doubts"]
    assert main(["outliers", "--index", str(odd_index), "--out", str(tmp_path / "o.csv")]) == 0
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines[0] == "kind,path,score,detail" and lines[1].startswith("outlier,")
