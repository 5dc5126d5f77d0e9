"""Damaged index files are caught by the manifest's checksums, with a clear error.

``LATENTSEARCH_STRESS=1`` runs the long form of the random byte-flip trials.
"""

import json
import logging
import os
import shutil

import numpy as np
import pytest

from latentsearch.indexer.cli import parser as cli
from latentsearch.indexer.cli.parser import build_parser
from latentsearch.indexer.files.folders import file_sha256
from latentsearch.indexer.indexes.pixel_segments import segment_name
from latentsearch.indexer.pipeline.build import BuildSettings
from latentsearch.indexer.pipeline.update import update_index
from latentsearch.indexer.serve.search import Searcher
from latentsearch.indexer.store.bundle import IndexBundle
from latentsearch.indexer.store.checksums import (
    ChecksumError,
    file_digests,
    tree_checksums,
    verify_tree,
)
from latentsearch.indexer.store.manifest import (
    LATENT_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    TRUST_ENV,
    IndexLoadError,
    Manifest,
    current_index_build,
)

RAW_FILE = segment_name(0)  # the one raw-pixel segment of a small build
STRESS = os.environ.get("LATENTSEARCH_STRESS") == "1"
FLIP_TRIALS = 300 if STRESS else 40


@pytest.fixture
def index_copy(tmp_path, built_index_dir):
    out = tmp_path / "index"
    shutil.copytree(built_index_dir, out)
    return out, current_index_build(out)


def flip(path, offset, mask):
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def answers(searcher, queries):
    return [searcher.search(q, k=5).to_json() for q in queries]


def strip_times(results):
    return [{k: v for k, v in r.items() if not k.endswith("_ms")} for r in results]


def test_a_build_keeps_a_checksum_of_every_file_and_of_its_manifest(index_copy):
    _, folder = index_copy
    manifest = Manifest.load(folder)
    assert {LATENT_FILE, RAW_FILE, METADATA_FILE} <= set(manifest.checksums)
    assert any(name.startswith("model/") for name in manifest.checksums)
    assert MANIFEST_FILE not in manifest.checksums
    assert manifest.checksums == tree_checksums(folder, frozenset({MANIFEST_FILE}))
    assert len(manifest.manifest_sha256) == 64


@pytest.mark.parametrize("name", [LATENT_FILE, RAW_FILE, METADATA_FILE])
def test_one_flipped_byte_in_an_index_file_is_a_clear_error(index_copy, name):
    out, folder = index_copy
    path = folder / name
    flip(path, path.stat().st_size // 2, 0x01)
    with pytest.raises(IndexLoadError, match=f"{name} is damaged or was changed"):
        IndexBundle.load(out)


def test_a_changed_model_file_says_the_model_is_not_the_one_built_with(index_copy):
    out, folder = index_copy
    model_file = next(p for p in sorted((folder / "model").rglob("*")) if p.is_file())
    flip(model_file, 0, 0x20)
    with pytest.raises(IndexLoadError, match="model in it is not the one"):
        IndexBundle.load(out)


def test_an_edited_manifest_is_caught(index_copy):
    out, folder = index_copy
    fields = json.loads((folder / MANIFEST_FILE).read_text())
    fields["data_root"] = "/somewhere/else"
    (folder / MANIFEST_FILE).write_text(json.dumps(fields))
    with pytest.raises(IndexLoadError, match="does not match its checksum"):
        IndexBundle.load(out)


def test_checksums_never_follow_a_name_out_of_the_build(tmp_path):
    (tmp_path / "secret").write_text("x")
    build = tmp_path / "build"
    build.mkdir()
    with pytest.raises(ChecksumError, match="outside the build"):
        verify_tree(build, {"../secret": "0" * 64})
    with pytest.raises(ChecksumError, match="missing"):
        verify_tree(build, {"gone.faiss": "0" * 64})


def test_files_hashed_in_parallel_come_back_in_the_order_named(tmp_path):
    sizes = {"a": 3_000_000, "b": 10, "c": 1_000_000, "d": 0}  # biggest hashed first
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(os.urandom(size))
    names = ["c", "missing", "a", "d", "b"]
    digests = file_digests(tmp_path, names)
    assert isinstance(digests[1], OSError)
    for name, digest in zip(names, digests, strict=True):
        if name != "missing":
            assert digest == file_sha256(tmp_path / name)
    sums = tree_checksums(tmp_path, frozenset({"d"}), known={"b": "kept"})
    assert sums == {"a": digests[2], "b": "kept", "c": digests[0]}
    assert tree_checksums(tmp_path, frozenset({"d"}), known={"c": ""})["c"] == digests[0]
    verify_tree(tmp_path, {name: sums[name] for name in ("a", "c")})
    with pytest.raises(ChecksumError, match="^c is damaged"):
        verify_tree(tmp_path, {"a": sums["a"], "c": sums["a"]})


@pytest.mark.stress
def test_random_byte_flips_give_an_error_or_the_same_answers(index_copy, image_folder):
    """Any one byte of any file flipped: a clear error, never different answers."""
    out, folder = index_copy
    queries = [image_folder / "red" / "00.png", image_folder / "stray.png"]
    expected = strip_times(answers(Searcher.open(out), queries))
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    rng = np.random.default_rng(8)
    outcomes = {"error": 0, "same": 0}
    for _ in range(FLIP_TRIALS):
        path = files[rng.integers(len(files))]
        offset, mask = int(rng.integers(path.stat().st_size)), int(rng.integers(1, 256))
        flip(path, offset, mask)
        try:
            found = strip_times(answers(Searcher.open(out), queries))
        except IndexLoadError:
            outcomes["error"] += 1
        else:  # only a flip JSON ignores (whitespace in the manifest) may load at all
            assert path.name == MANIFEST_FILE, (path, offset, mask)
            assert found == expected
            outcomes["same"] += 1
        flip(path, offset, mask)  # undo: the next trial starts from a sound build
    assert outcomes["error"] >= FLIP_TRIALS * 0.9, outcomes
    assert strip_times(answers(Searcher.open(out), queries)) == expected


def test_a_manifest_without_checksums_is_refused_unless_trusted(index_copy, caplog, monkeypatch):
    out, folder = index_copy
    fields = json.loads((folder / MANIFEST_FILE).read_text())
    del fields["checksums"], fields["manifest_sha256"]
    (folder / MANIFEST_FILE).write_text(json.dumps(fields))
    flip(folder / LATENT_FILE, (folder / LATENT_FILE).stat().st_size // 2, 0x10)
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with pytest.raises(IndexLoadError, match="has no checksums.*--trust-unverified"):
        IndexBundle.load(out)
    monkeypatch.setenv(TRUST_ENV, "1")
    with caplog.at_level(logging.WARNING, logger="latentsearch.indexer.store.bundle"):
        bundle = IndexBundle.load(out)
    assert len(bundle) == fields["count"]
    assert "has no checksums" in caplog.text


def test_trust_unverified_is_a_flag_of_every_command_that_loads_an_index(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    for words in (["search", "x.png"], ["app"], ["api"]):
        args = build_parser().parse_args([*words, "--index", "ix", "--trust-unverified"])
        assert args.trust_unverified
    assert TRUST_ENV == cli.TRUST_ENV


def test_an_update_of_a_damaged_build_rebuilds_it_in_full(index_copy, image_folder, caplog):
    out, folder = index_copy
    flip(folder / RAW_FILE, (folder / RAW_FILE).stat().st_size // 2, 0x04)
    model = folder / "model"
    with caplog.at_level(logging.WARNING):
        manifest = update_index(image_folder, model, out, BuildSettings(batch_size=16, workers=1))
    assert "full rebuild" in caplog.text and "is damaged" in caplog.text
    assert manifest.update is None  # a full build, not an incremental one
    assert len(IndexBundle.load(out)) == manifest.count
