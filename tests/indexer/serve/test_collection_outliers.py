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
    REASONS,
    UnusualScores,
    label_doubts,
    most_unusual,
    most_unusual_of,
    unusual_scores,
)
from latentsearch.indexer.serve.outliers import code_rarity, flat_errors, rebuild
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


def test_the_most_unusual_come_first_with_their_rank_and_reason(odd_index):
    bundle = IndexBundle.load(odd_index)
    worst = most_unusual_of(bundle, 3)
    scores = unusual_scores(bundle)
    combined = dict(zip(scores.rows.tolist(), scores.combined(), strict=True))
    assert min(combined[o.row] for o in worst) >= sorted(combined.values())[-3]
    assert worst[0].percentile == pytest.approx(100.0 * (len(bundle) - 1) / len(bundle))
    assert [o.percentile for o in worst] == sorted((o.percentile for o in worst), reverse=True)
    assert all(o.reason in REASONS for o in worst)


def test_an_image_first_by_any_one_measure_ranks_top():
    """Five images: one rebuilt worst, one worst for its detail, one with the rarest code."""
    scores = UnusualScores(
        rows=np.arange(5),
        errors=np.array([0.1, 0.9, 0.2, 0.3, 0.4]),
        relative=np.array([0.5, 0.1, 0.2, 0.3, 0.9]),
        rarity=np.array([0.1, 0.2, 5.0, 0.3, 0.4]),
    )
    found = most_unusual(scores, [f"p{i}" for i in range(5)], 3)
    assert sorted(o.row for o in found) == [1, 2, 4]
    assert found[0].row == 4  # first by one measure and second by another: the higher sum
    assert {o.row: o.reason for o in found} == {1: REASONS[0], 4: REASONS[1], 2: REASONS[2]}
    assert all(o.percentile >= 40 for o in found)


def test_code_rarity_weighs_directions_by_how_much_the_codes_vary():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 2)) * [10.0, 0.1]  # wide along x, narrow along y
    codes = np.vstack([codes, [[25.0, 0.0], [0.0, 1.0]]])  # 2.5 sd along x, 10 along y
    rarity = code_rarity(codes)
    assert np.argmax(rarity) == len(codes) - 1
    assert rarity[-1] > 5 * rarity[-2]


def test_each_measure_is_the_files_own(odd_index):
    """From the stored pixels, as from the file: the raw index keeps them losslessly. The
    relative measure divides by the flat-image error, 0 for a flat picture."""
    bundle = IndexBundle.load(odd_index)
    scores = unusual_scores(bundle)
    rows, errors = scores.rows, scores.errors
    config = bundle.model.config
    images = np.stack([load_image(bundle.metadata.paths[r], config.image_size, config.channels)
                       for r in rows[:8]])  # fmt: skip
    codes = encode_images(bundle.model.encoder, images)
    direct = errors_of(images, rebuild(bundle.model, images, codes))
    np.testing.assert_allclose(errors[:8], direct, rtol=1e-4, atol=1e-6)
    assert np.all(np.isfinite(errors)) and len(rows) == len(bundle)
    relative = direct / np.maximum(flat_errors(images), 1e-6)
    np.testing.assert_allclose(scores.relative[:8], relative, rtol=1e-3, atol=1e-6)
    np.testing.assert_array_equal(np.sort(rows), np.arange(len(bundle)))
    assert errors.shape == scores.relative.shape == scores.rarity.shape
    assert flat_errors(np.full((1, 16, 16, 3), 0.5, np.float32))[0] == 0.0


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
    assert "most unusual" in printed and "misfiled.png" in printed
    data = json.loads((tmp_path / "o.json").read_text())
    assert len(data["outliers"]) == 2 and data["label_doubts"]
    assert main(["outliers", "--index", str(odd_index), "--out", str(tmp_path / "o.csv")]) == 0
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines[0] == "kind,path,score,detail" and lines[1].startswith("outlier,")
