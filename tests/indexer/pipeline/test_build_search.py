"""Building an index from a folder, loading it back, searching it and scoring it."""

import io
import json
import shutil
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from PIL import Image

from latentsearch.encoder.config import ModelConfig, from_dict
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.versioned_dir import POINTER, current_build
from latentsearch.indexer.bench.leave_one_out import NoLabelsError, leave_one_out_precision
from latentsearch.indexer.files.images import load_image
from latentsearch.indexer.indexes.faiss_helpers import (
    IndexFileError,
    prepare_vectors,
    stored_vectors,
)
from latentsearch.indexer.pipeline.build import BuildSettings, NothingToIndexError, build_index
from latentsearch.indexer.serve.search import Searcher, search_image
from latentsearch.indexer.store.bundle import IndexBundle
from latentsearch.indexer.store.manifest import (
    LATENT_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    TRUST_ENV,
    IndexLoadError,
)
from latentsearch.indexer.store.metadata import MetadataError

SETTINGS = BuildSettings(batch_size=16, workers=2)


def image_files(folder):
    return sorted(p.resolve() for p in Path(folder).rglob("*.png"))


def expected_label(path, folder):
    parent = Path(path).parent
    return None if parent == Path(folder).resolve() else parent.name


@pytest.fixture(scope="module")
def bundle(built_index_dir):
    return IndexBundle.load(built_index_dir)


@pytest.fixture(scope="module")
def searcher(bundle):
    return Searcher(bundle)


@pytest.fixture(scope="module")
def labelled_copy(tmp_path_factory, image_folder):
    """A copy of the image folder without its unlabelled root image, plus a corrupt JPEG."""
    folder = tmp_path_factory.mktemp("labelled") / "images"
    shutil.copytree(image_folder, folder)
    for stray in folder.glob("*.png"):
        stray.unlink()
    corrupt = folder / "red" / "broken.jpg"
    corrupt.write_bytes(np.random.default_rng(0).bytes(500))
    return folder, corrupt.resolve()


@pytest.fixture(scope="module")
def labelled_index(tmp_path_factory, labelled_copy, trained_model_dir):
    folder, _ = labelled_copy
    out = tmp_path_factory.mktemp("labelled-index") / "index"
    manifest = build_index(folder, trained_model_dir, out, SETTINGS)
    return out, manifest


def brute_force(stored, query, k, metric="l2"):
    """Nearest stored rows by squared L2 (as FAISS reports it), or by cosine distance."""
    if metric == "cosine":  # stored rows are unit length
        distances = 1.0 - stored @ (query / np.linalg.norm(query)).reshape(-1)
    else:
        distances = ((stored - query.reshape(1, -1)) ** 2).sum(axis=1)
    order = np.argsort(distances, kind="stable")[:k]
    return order, distances[order]


# --- building ------------------------------------------------------------------------


def test_manifest_counts_labels_and_model(bundle, image_folder, tiny_model_config):
    files = image_files(image_folder)
    manifest = bundle.manifest

    assert manifest.count == len(files) == len(bundle) == bundle.latent.ntotal
    assert bundle.raw.ntotal == len(bundle.metadata) == len(files)
    assert manifest.skipped == []
    assert manifest.latent_dim == bundle.latent.d == tiny_model_config.latent_dim
    assert manifest.raw_dim == bundle.raw.d == 16 * 16 * 3
    assert from_dict(ModelConfig, manifest.model_config) == tiny_model_config
    assert bundle.model.config == tiny_model_config
    assert Path(manifest.data_root) == Path(image_folder).resolve()
    assert {"python", "faiss", "numpy", "h5py"} <= set(manifest.versions)
    assert manifest.versions["keras_backend"] == keras.backend.backend()  # what computed it
    assert sorted(Path(p) for p in bundle.metadata.paths) == files


def test_labels_follow_top_level_folders(bundle, image_folder):
    labels = dict(zip(bundle.metadata.paths, bundle.metadata.labels, strict=True))
    for path, label in labels.items():
        assert label == expected_label(path, image_folder), path
    root_image = str((Path(image_folder) / "stray.png").resolve())
    assert labels[root_image] is None
    assert set(labels.values()) == {"red", "green", "blue", None}


def test_stored_vectors_are_the_files_in_metadata_order(bundle):
    config = bundle.model.config
    size, channels = config.image_size, config.channels
    images = np.stack([load_image(p, size, channels) for p in bundle.metadata.paths])
    raw = stored_vectors(bundle.raw, np.arange(bundle.raw.ntotal))
    latent = bundle.latent.reconstruct_n(0, bundle.latent.ntotal)

    # raw pixels are stored one byte each: the same bytes, as floats within rounding
    np.testing.assert_array_equal(
        np.round(raw * 255), np.round(images.reshape(len(images), -1) * 255)
    )
    np.testing.assert_allclose(raw, images.reshape(len(images), -1), atol=1e-6)
    codes = encode_images(bundle.model.encoder, images)
    assert bundle.manifest.metric == "cosine"  # the default: codes are stored unit length
    np.testing.assert_allclose(latent, prepare_vectors(codes, "cosine"), atol=1e-4)


def test_thumbnails_line_up_with_rows(bundle):
    dominant = {"red": 0, "green": 1, "blue": 2}
    for row, label in enumerate(bundle.metadata.labels):
        thumb = Image.open(io.BytesIO(bundle.metadata.thumbnail(row)))
        assert thumb.format == "JPEG" and thumb.size == (24, 24)
        if label is not None:
            mean = np.asarray(thumb.convert("RGB"), dtype=float).mean(axis=(0, 1))
            assert int(np.argmax(mean)) == dominant[label], (row, label, mean)


def test_unreadable_file_is_skipped_and_listed(labelled_index, labelled_copy):
    folder, corrupt = labelled_copy
    out, manifest = labelled_index

    assert manifest.count == len(image_files(folder))
    assert [s["path"] for s in manifest.skipped] == [str(corrupt)]
    assert manifest.skipped[0]["reason"]
    saved = json.loads((current_build(out) / MANIFEST_FILE).read_text())
    assert saved["skipped"] == manifest.skipped
    bundle = IndexBundle.load(out)
    assert str(corrupt) not in bundle.metadata.paths
    assert len(bundle) == manifest.count


def test_all_bad_folder_raises_and_keeps_previous_index(
    tmp_path, built_index_dir, trained_model_dir, unreadable_folder
):
    out = tmp_path / "index"
    shutil.copytree(built_index_dir, out)
    before = current_build(out)

    with pytest.raises(NothingToIndexError, match="none of the 2 image files"):
        build_index(unreadable_folder, trained_model_dir, out, SETTINGS)

    assert current_build(out) == before
    assert not list(out.glob("*.partial"))
    assert len(IndexBundle.load(out)) == len(IndexBundle.load(built_index_dir))


def test_missing_data_folder_raises(tmp_path, trained_model_dir):
    with pytest.raises(FileNotFoundError):
        build_index(tmp_path / "nowhere", trained_model_dir, tmp_path / "index", SETTINGS)
    assert not (tmp_path / "index").exists()


# --- searching -----------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, 12])
def test_search_equals_brute_force(searcher, bundle, tmp_path, make_image, k):
    query = make_image(tmp_path / "query.png", (150, 60, 160), seed=7)
    config = bundle.model.config
    image = load_image(query, config.image_size, config.channels)

    result = searcher.search(query, k=k)

    code = encode_images(bundle.model.encoder, image[np.newaxis])
    for hits, index, vector, metric in (
        (result.latent, bundle.latent, code, bundle.manifest.metric),
        (result.raw, bundle.raw, image, "l2"),
    ):
        ids, distances = brute_force(index.reconstruct_n(0, index.ntotal), vector, k, metric)
        assert [h.id for h in hits] == ids.tolist()
        np.testing.assert_allclose([h.distance for h in hits], distances, rtol=1e-4, atol=1e-4)
        assert [h.rank for h in hits] == list(range(1, k + 1))
        assert [h.path for h in hits] == [bundle.metadata.paths[i] for i in ids]
        assert [h.label for h in hits] == [bundle.metadata.labels[i] for i in ids]


def test_indexed_file_finds_itself_first(searcher, bundle, image_folder):
    queries = [Path(image_folder) / name for name in ("red/03.png", "blue/11.png", "stray.png")]
    for query in queries:
        result = searcher.search(query, k=3)
        for hits in (result.latent, result.raw):
            assert Path(hits[0].path) == query.resolve()
            assert hits[0].distance == pytest.approx(0.0, abs=1e-4)
            assert hits[0].label == expected_label(query.resolve(), image_folder)


def test_raw_neighbours_share_the_label(searcher, image_folder):
    hits = searcher.search(Path(image_folder) / "green" / "00.png", k=6).raw
    assert [h.label for h in hits] == ["green"] * 6


def test_k_is_capped_at_index_size(searcher, bundle):
    result = searcher.search(bundle.metadata.paths[0], k=1000)
    for hits in (result.latent, result.raw):
        assert len(hits) == len(bundle)
        assert sorted(h.id for h in hits) == list(range(len(bundle)))
        distances = [h.distance for h in hits]
        assert distances == sorted(distances)
    assert len(searcher.search(bundle.metadata.paths[0], k=0).latent) == 1


def test_query_sources_agree(searcher, built_index_dir, image_folder):
    path = Path(image_folder) / "red" / "05.png"
    by_path = searcher.search(path, k=4)
    by_bytes = searcher.search(path.read_bytes(), k=4)
    with open(path, "rb") as handle:
        by_stream = searcher.search(handle, k=4)
    one_shot = search_image(built_index_dir, path, k=4)
    for other in (by_bytes, by_stream, one_shot):
        assert [h.id for h in other.latent] == [h.id for h in by_path.latent]
        assert [h.id for h in other.raw] == [h.id for h in by_path.raw]
        assert [h.distance for h in other.raw] == [h.distance for h in by_path.raw]


def test_result_json(searcher, image_folder):
    result = searcher.search(Path(image_folder) / "stray.png", k=3)
    data = json.loads(json.dumps(result.to_json()))
    assert {"latent", "raw"} <= set(data)
    assert data["latent_ms"] >= 0 and data["raw_ms"] >= 0
    for column in ("latent", "raw"):
        assert len(data[column]) == 3
        for item in data[column]:
            assert {"path", "label", "distance", "rank", "id"} <= set(item)
            assert isinstance(item["distance"], float) and isinstance(item["path"], str)
        assert data[column][0]["label"] is None  # the root image itself
    assert [item["rank"] for item in data["raw"]] == [1, 2, 3]


# --- loading errors ------------------------------------------------------------------


def test_load_missing_or_empty_dir(tmp_path):
    with pytest.raises(IndexLoadError, match="not an index"):
        IndexBundle.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexLoadError, match="not an index"):
        IndexBundle.load(tmp_path / "empty")


@pytest.fixture
def index_copy(tmp_path, built_index_dir):
    out = tmp_path / "index"
    shutil.copytree(built_index_dir, out)
    return out, current_build(out)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "delete", "no-dataset"])
def test_damaged_metadata(index_copy, damage):
    out, folder = index_copy
    meta = folder / METADATA_FILE
    data = meta.read_bytes()
    if damage == "truncate":
        meta.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        meta.write_bytes(np.random.default_rng(1).bytes(len(data)))
    elif damage == "empty":
        meta.write_bytes(b"")
    elif damage == "delete":
        meta.unlink()
    else:
        with h5py.File(meta, "a") as handle:
            del handle["label"]
    with pytest.raises((MetadataError, IndexLoadError)):
        IndexBundle.load(out)


def test_damaged_faiss_file(index_copy):
    out, folder = index_copy
    (folder / LATENT_FILE).write_bytes(b"\x00" * 64)
    with pytest.raises((IndexFileError, IndexLoadError)):
        IndexBundle.load(out)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": 999}, "does not match its checksum"),
        ({"count": 999, "manifest_sha256": ""}, "has no checksums"),  # as old manifests are
        ({"count": 999, "manifest_sha256": "", "trusted": True}, "inconsistent"),
        ({"format_version": 99}, "index format"),
        (None, "cannot read"),
    ],
)
def test_bad_manifest(index_copy, change, message, monkeypatch):
    out, folder = index_copy
    change = None if change is None else dict(change)
    if change and change.pop("trusted", False):  # --trust-unverified: checked all the same
        monkeypatch.setenv(TRUST_ENV, "1")
    manifest = folder / MANIFEST_FILE
    if change is None:
        manifest.write_text("{ half")
    else:
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **change}))
    with pytest.raises(IndexLoadError, match=message):
        IndexBundle.load(out)


def test_pointer_to_missing_build(index_copy):
    out, folder = index_copy
    shutil.rmtree(folder)
    with pytest.raises(IndexLoadError, match="not an index"):
        IndexBundle.load(out)
    assert (out / POINTER).exists()


# --- evaluation ----------------------------------------------------------------------


def test_leave_one_out_precision(labelled_index):
    out, manifest = labelled_index
    report = leave_one_out_precision(IndexBundle.load(out), k=5, queries=20, seed=3)
    assert report.k == 5 and report.queries == 20
    assert 0.0 <= report.latent <= 1.0 and 0.0 <= report.raw <= 1.0
    assert report.raw >= 0.9  # one dominant colour per label: raw pixels separate them
    everything = leave_one_out_precision(IndexBundle.load(out), k=3, queries=10_000)
    assert everything.queries == manifest.count


def test_precision_needs_labels(bundle):
    with pytest.raises(NoLabelsError):
        leave_one_out_precision(bundle, k=3)
