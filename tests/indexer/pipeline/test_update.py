"""``index --update``: only new or changed files are encoded; untouched ids and vectors stay."""

import logging
import os
import shutil
import time
from dataclasses import replace

import faiss
import keras
import numpy as np
import pytest

from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.model_files import ENCODER_FILE, model_files
from latentsearch.indexer.cli.parser import main
from latentsearch.indexer.files.folders import file_sha256, hash_files
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.files.listing import file_signature
from latentsearch.indexer.indexes import pixel_segments
from latentsearch.indexer.indexes.faiss_helpers import (
    prepare_vectors,
    search,
    stored_ids,
    stored_vectors,
)
from latentsearch.indexer.pipeline import update_plan as plan_module
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.pipeline.update import update_index
from latentsearch.indexer.pipeline.update_plan import plan_update, unchanged_hashes
from latentsearch.indexer.serve.search import Searcher
from latentsearch.indexer.store.bundle import IndexBundle
from latentsearch.indexer.store.manifest import MODEL_DIR, IndexLoadError, current_index_build
from latentsearch.indexer.store.metadata import SIGNATURE_DATASET, Metadata

SETTINGS = BuildSettings(batch_size=16, workers=2)


def test_plan_update_sorts_files_into_kept_new_changed_and_gone():
    old_paths = ["a", "b", "", "c", "d"]
    old_hashes = ["1", "2", "", "3", "4"]
    plan = plan_update(old_paths, old_hashes, ["a", "b", "c", "e"], ["1", "9", "3", "5"])
    assert plan.unchanged == 2  # a and c
    assert plan.to_encode == ["b", "e"]  # changed b, new e
    assert plan.stale_rows == [1, 4]  # b's old row and deleted d; the blank row stays blank


def test_plan_update_of_unchanged_folder_is_empty():
    plan = plan_update(["a", "b"], ["1", "2"], ["a", "b"], ["1", "2"])
    assert (plan.to_encode, plan.stale_rows, plan.unchanged, plan.old_rows) == ([], [], 2, 2)


def rows_by_path(bundle):
    return {p: row for row, p in enumerate(bundle.metadata.paths) if p}


def test_update_of_unchanged_folder_keeps_everything(folder_and_index):
    folder, out = folder_and_index
    before = IndexBundle.load(out)
    manifest = update_index(folder, before.model.path, out, SETTINGS)

    assert manifest.update["unchanged"] == len(before) and manifest.update["added"] == 0
    assert manifest.update["removed"] == 0 and manifest.count == len(before)
    after = IndexBundle.load(out)
    assert after.path == before.path  # nothing changed: nothing rewritten
    assert rows_by_path(after) == rows_by_path(before)
    ids = np.array(after.metadata.live_rows())
    for index in ("latent", "raw"):
        np.testing.assert_array_equal(
            stored_vectors(getattr(after, index), ids), stored_vectors(getattr(before, index), ids)
        )


def test_update_adds_changed_and_new_removes_deleted(folder_and_index, make_image):
    folder, out = folder_and_index
    before = IndexBundle.load(out)
    old_rows = rows_by_path(before)
    deleted, changed = folder / "red" / "00.png", folder / "green" / "03.png"
    deleted.unlink()
    make_image(changed, (10, 10, 10), seed=42)
    added = make_image(folder / "blue" / "new.png", (30, 40, 220), seed=77)

    manifest = update_index(folder, before.model.path, out, SETTINGS)

    assert IndexBundle.load(out).path != before.path  # a new build, published like a full one
    assert manifest.update["added"] == 2 and manifest.update["removed"] == 2
    assert manifest.update["unchanged"] == len(before) - 2
    after = IndexBundle.load(out)
    assert len(after) == len(before)  # one file deleted, one added
    rows = rows_by_path(after)
    assert str(deleted.resolve()) not in rows
    untouched = {p: r for p, r in old_rows.items() if p in rows and p != str(changed.resolve())}
    assert all(rows[p] == r for p, r in untouched.items())  # ids stay stable
    for row in untouched.values():  # and untouched vectors bit for bit
        np.testing.assert_array_equal(after.latent.reconstruct(row), before.latent.reconstruct(row))
        np.testing.assert_array_equal(after.raw.reconstruct(row), before.raw.reconstruct(row))
    assert rows[str(changed.resolve())] >= len(before.metadata)  # a new id for new content
    searcher = Searcher(after)
    for query in (changed, added):
        hits = searcher.search(query, k=2)
        assert hits.latent[0].path == hits.raw[0].path == str(query.resolve())
        assert hits.raw[0].distance == pytest.approx(0.0, abs=1e-5)
    gone = old_rows[str(deleted.resolve())]
    assert gone not in stored_ids(after.latent) and gone not in stored_ids(after.raw)
    assert after.metadata.paths[gone] == "" and after.metadata.hashes[gone] == ""


def test_update_links_untouched_pixel_segments_and_leaves_removed_rows_out(
    folder_and_index, make_image, monkeypatch
):
    folder, out = folder_and_index
    monkeypatch.setattr(pixel_segments, "SEGMENT_ROWS", 8)  # several segments of 16-row batches
    model = IndexBundle.load(out).model.path
    build_index(folder, model, out, replace(SETTINGS, index_type="ivf"))  # probes tuned
    before = IndexBundle.load(out)
    assert len(before.raw.parts) >= 2
    deleted = folder / "red" / "00.png"
    gone = rows_by_path(before)[str(deleted.resolve())]
    deleted.unlink()
    make_image(folder / "blue" / "new.png", (30, 40, 220), seed=77)

    update_index(folder, model, out, SETTINGS)

    after = IndexBundle.load(out)
    linked = [p.name for p in after.path.glob("raw-*.faiss") if (before.path / p.name).exists()]
    assert linked and all(
        (after.path / name).stat().st_ino == (before.path / name).stat().st_ino for name in linked
    )
    # the last, partly filled segment takes the new row instead of a segment of its own
    assert len(linked) == len(before.raw.parts) - 1 == len(after.raw.parts) - 1
    assert gone in after.raw.removed and after.raw.ntotal == len(after) == len(before)
    pixels = stored_vectors(before.raw, [gone])
    _, found = search(after.raw, pixels, after.raw.ntotal)
    assert gone not in found
    # an update keeps the probes the build tuned, in the index and in the manifest
    assert after.manifest.probes == before.manifest.probes is not None
    assert faiss.extract_index_ivf(after.latent).nprobe == before.manifest.probes["nprobe"]


def test_update_without_an_index_builds_one(tmp_path, image_folder, trained_model_dir, caplog):
    with caplog.at_level(logging.WARNING):
        manifest = update_index(image_folder, trained_model_dir, tmp_path / "index", SETTINGS)
    assert manifest.update is None and manifest.count == len(IndexBundle.load(tmp_path / "index"))
    assert "full rebuild" in caplog.text


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory, trained_model_dir):
    """The same architecture with different weights: a changed model."""
    other = tmp_path_factory.mktemp("other") / "model"
    shutil.copytree(model_files(trained_model_dir), other)
    encoder = keras.saving.load_model(other / ENCODER_FILE, compile=False)
    encoder.set_weights([w * 0.5 for w in encoder.get_weights()])
    encoder.save(other / ENCODER_FILE)
    return other


def test_changed_model_forces_full_rebuild(folder_and_index, other_model_dir, caplog):
    folder, out = folder_and_index
    with caplog.at_level(logging.WARNING):
        manifest = update_index(folder, other_model_dir, out, SETTINGS)
    assert "full rebuild: the model changed" in caplog.text
    assert manifest.update is None
    bundle = IndexBundle.load(out)
    assert bundle.manifest.model_sha256 == manifest.model_sha256
    codes = stored_vectors(bundle.latent, np.arange(4))  # a full build: ids are 0..n-1 again
    images = np.stack([load_image(p, 16, 3) for p in bundle.metadata.paths[:4]])
    expected = prepare_vectors(encode_images(bundle.model.encoder, images), bundle.manifest.metric)
    np.testing.assert_allclose(codes, expected, atol=1e-4)


def test_changed_metric_forces_full_rebuild(folder_and_index, caplog):
    folder, out = folder_and_index
    model = IndexBundle.load(out).model.path
    with caplog.at_level(logging.WARNING):
        manifest = update_index(folder, model, out, BuildSettings(batch_size=16, metric="l2"))
    assert "metric changed" in caplog.text
    assert manifest.metric == "l2" and manifest.update is None
    # a later update without --metric keeps l2 (not the default cosine) and is incremental
    again = update_index(folder, model, out, SETTINGS)
    assert again.metric == "l2" and again.update["added"] == 0


def test_index_with_a_swapped_model_fails_to_load(folder_and_index, other_model_dir):
    _, out = folder_and_index
    build = current_index_build(out)
    shutil.copyfile(other_model_dir / ENCODER_FILE, build / MODEL_DIR / ENCODER_FILE)
    with pytest.raises(IndexLoadError, match="not the one the index was built with"):
        IndexBundle.load(out)


def test_cli_update(folder_and_index, capsys):
    folder, out = folder_and_index
    model = IndexBundle.load(out).model.path
    args = ["index", "--data", str(folder), "--model", str(model), "--out", str(out)]
    assert main([*args, "--update", "--batch-size", "8"]) == 0
    assert "'added': 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "bad",
    [
        ["--memory-budget", "lots"],
        ["--batch-size", "0"],
        ["--index-type", "annoy"],
        ["--recall-target", "0"],
        ["--recall-target", "1.5"],
        ["--recall-target", "nan"],
        ["--recall-target", "high"],
    ],
)
def test_cli_rejects_bad_index_options(tmp_path, bad, capsys):
    args = ["index", "--data", str(tmp_path), "--model", str(tmp_path), "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as stop:
        main([*args, *bad])
    assert stop.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_hash_files_keeps_order(image_folder):
    paths = sorted(image_folder.rglob("*.png"))
    assert hash_files(paths, workers=3) == [file_sha256(p) for p in paths]
    assert hash_files([], workers=2) == []


def signed_file(path, content: bytes, age_s: float):
    """Write ``path`` and date its modification ``age_s`` seconds back."""
    path.write_bytes(content)
    when = time.time_ns() - int(age_s * 1e9)
    os.utime(path, ns=(when, when))
    return path


def test_unchanged_hashes_trusts_only_a_settled_unchanged_signature(tmp_path):
    kept, touched, racy, unsigned = (
        signed_file(tmp_path / f"{name}.png", b"x" * 10, 3600)
        for name in ("kept", "touched", "racy", "unsigned")
    )
    rows = [kept, touched, racy, unsigned]
    signatures = np.array([file_signature(p) for p in rows])
    signatures[2, 2] = signatures[2, 1] + 1_000_000  # recorded 1 ms after its last change
    signatures[3] = 0  # an older build, or one from the Ray engine: nothing recorded
    stored = {SIGNATURE_DATASET: signatures}  # what Metadata reads from its HDF5 file
    metadata = Metadata([str(p) for p in rows], stored, None, list("abcd"))
    os.utime(touched, ns=(time.time_ns(), time.time_ns()))  # same size, new time

    found = unchanged_hashes(metadata, [str(p) for p in rows] + [str(tmp_path / "new.png")])
    assert found == ["a", None, None, None, None]


def test_update_hashes_only_files_whose_signature_changed(
    folder_and_index, trained_model_dir, make_image, monkeypatch
):
    folder, out = folder_and_index
    hour_ago = time.time_ns() - 3_600_000_000_000
    for path in folder.rglob("*.png"):  # settled long before a build records them
        os.utime(path, ns=(hour_ago, hour_ago))
    shutil.rmtree(out)
    build_index(folder, trained_model_dir, out, SETTINGS)
    changed = make_image(folder / "green" / "03.png", (10, 10, 10), seed=42)
    hashed = []
    real = plan_module.hash_files
    monkeypatch.setattr(plan_module, "hash_files", lambda p, w: hashed.extend(p) or real(p, w))

    manifest = update_index(folder, trained_model_dir, out, SETTINGS)

    assert [p.resolve() for p in hashed] == [changed.resolve()]
    assert manifest.update["added"] == 1 and manifest.update["removed"] == 1
