"""Near-duplicate groups: pairs within a calibrated threshold, joined into groups."""

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from latentsearch.indexer.cli.parser import main
from latentsearch.indexer.indexes.factory import filled_index
from latentsearch.indexer.indexes.faiss_helpers import prepare_vectors
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.serve.duplicates import (
    CATCH_SHARE,
    COPIES,
    NoCalibrationError,
    calibrate,
    close_pairs,
    find_duplicates,
    group_pairs,
)
from latentsearch.indexer.store.bundle import IndexBundle


def test_pairs_join_into_groups_of_mutual_pairs_largest_first():
    clique = [(1, 2, 0.1), (1, 3, 0.2), (2, 3, 0.15), (3, 4, 0.1), (1, 4, 0.1), (2, 4, 0.1)]
    assert group_pairs([(8, 7, 0.1), *clique]) == [[1, 2, 3, 4], [7, 8]]
    assert group_pairs([]) == []


def test_a_chain_whose_ends_are_apart_is_not_one_group():
    chain = [(1, 2, 0.1), (2, 3, 0.05), (3, 4, 0.1)]  # 1 and 3, 2 and 4 are not close
    assert group_pairs(chain) == [[2, 3]]  # the closest pair; 1 and 4 join no one


def test_close_pairs_keeps_planted_copies_and_nothing_else():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors[[10, 20, 30]] = vectors[[11, 21, 31]] + 0.01 * rng.normal(size=(3, 16))
    stored = prepare_vectors(vectors, "cosine")
    index = filled_index("Flat", stored, "cosine")
    pairs = close_pairs(index, np.arange(200), threshold=0.01)
    assert [(a, b) for a, b, _ in pairs] == [(10, 11), (20, 21), (30, 31)]
    assert all(0 <= d <= 0.01 for _, _, d in pairs)


def _colour_embedder(images: list[bytes]) -> np.ndarray:
    """Mean colour of each image: copies stay close to their original."""
    means = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), np.float32).mean((0, 1))
             for b in images]  # fmt: skip
    return prepare_vectors(np.stack(means), "l2")


def test_the_threshold_reaches_the_chosen_share_of_generated_copies(tmp_path, make_image):
    files = [
        make_image(tmp_path / f"{n}.png", (40 * n, 100, 200 - 30 * n), seed=n) for n in range(6)
    ]
    calibration = calibrate(_colour_embedder, files, "l2")
    assert calibration.originals == 6 and calibration.copies == 6 * len(COPIES)
    assert calibration.threshold > 0 and calibration.share == CATCH_SHARE
    mirrored = calibrate(_colour_embedder, files, "l2", mirrored=True)
    assert mirrored.copies == 6 * (len(COPIES) + 1) and "mirrored" in mirrored.kinds


def test_calibration_without_a_readable_file_says_what_to_do(tmp_path):
    (tmp_path / "a.jpg").write_text("not a photo")
    with pytest.raises(NoCalibrationError, match="--threshold"):
        calibrate(_colour_embedder, [tmp_path / "a.jpg", tmp_path / "gone.jpg"], "l2")


@pytest.fixture(scope="module")
def planted(tmp_path_factory, image_folder, trained_model_dir):
    """The test collection plus a re-saved JPEG and a resized copy of two of its photos."""
    folder = tmp_path_factory.mktemp("dups") / "photos"
    shutil.copytree(image_folder, folder)
    originals = sorted((folder / "red").glob("*.png"))[:2]
    Image.open(originals[0]).save(folder / "red" / "copy-a.jpg", quality=80)
    Image.open(originals[1]).resize((20, 20)).save(folder / "red" / "copy-b.png")
    out = folder.parent / "index"
    build_index(folder, trained_model_dir, out, BuildSettings(batch_size=16, workers=2))
    pairs = [(str(originals[0]), str(folder / "red" / "copy-a.jpg")),
             (str(originals[1]), str(folder / "red" / "copy-b.png"))]  # fmt: skip
    return out, pairs


def test_planted_copies_end_up_in_one_group(planted):
    index, pairs = planted
    report = find_duplicates(IndexBundle.load(index))
    assert report.calibration is not None and report.threshold == report.calibration.threshold
    group_of = {path: n for n, group in enumerate(report.groups) for path in group.paths}
    for original, copy in pairs:
        assert original in group_of and group_of[original] == group_of.get(copy)
    assert [len(g.rows) for g in report.groups] == sorted(
        (len(g.rows) for g in report.groups), reverse=True
    )


def test_the_raw_pixel_baseline_finds_the_planted_copies_too(planted):
    index, pairs = planted
    report = find_duplicates(IndexBundle.load(index), pixels=True)
    assert report.metric == "l2" and report.calibration is not None
    group_of = {path: n for n, group in enumerate(report.groups) for path in group.paths}
    for original, copy in pairs:
        assert original in group_of and group_of[original] == group_of.get(copy)


def test_a_zero_threshold_finds_only_identical_codes(planted):
    report = find_duplicates(IndexBundle.load(planted[0]), threshold=0.0)
    assert report.calibration is None
    assert all(g.distance == 0.0 for g in report.groups)


def test_the_cli_prints_groups_and_writes_csv_and_json(capsys, planted, tmp_path):
    index, pairs = planted
    assert main(["duplicates", "--index", str(index), "--out", str(tmp_path / "d.csv")]) == 0
    printed = capsys.readouterr().out
    assert "groups of near-duplicates hold" in printed and "group 1:" in printed
    rows = (tmp_path / "d.csv").read_text().splitlines()
    assert rows[0] == "group,size,path,distance"
    assert any(pairs[0][1] in row for row in rows[1:])
    assert main(["duplicates", "--index", str(index), "--out", str(tmp_path / "d.json")]) == 0
    data = json.loads((tmp_path / "d.json").read_text())
    assert data["threshold"] > 0 and data["groups"][0]["size"] >= 2
    assert data["calibration"]["share"] == CATCH_SHARE


def test_the_library_refuses_an_unknown_report_format_and_keeps_the_old_file(tmp_path):
    from latentsearch.encoder.errors import UserError
    from latentsearch.indexer.serve.duplicates import DuplicateReport, write_duplicates

    report = DuplicateReport(groups=[], threshold=0.1, images=3)
    with pytest.raises(UserError, match=r"\.csv or \.json"):
        write_duplicates(report, tmp_path / "groups.txt")
    old = tmp_path / "groups.csv"
    old.write_text("keep me")
    write_duplicates(report, old)
    assert old.read_text() == "group,size,path,distance\n"
    assert not list(tmp_path.glob("*.partial"))
