"""Page fixtures: an AppTest runner, damaged copies of the shared index, and an index
built with a denoising model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import pytest
from streamlit.testing.v1 import AppTest

import latentsearch.webapp.app as app_module
from latentsearch.indexer.store.manifest import (
    MANIFEST_FILE,
    METADATA_FILE,
    MODEL_DIR,
    current_index_build,
)
from latentsearch.indexer.store.metadata import ERRORS_DATASET
from latentsearch.webapp.app import INDEX_ENV

APP_FILE = str(Path(app_module.__file__))


@pytest.fixture
def open_page(monkeypatch):
    """``open_page(index)`` runs the page with ``index`` (a dir, ``"A,B"``, or None) set."""

    def run(index) -> AppTest:
        if index is None:
            monkeypatch.delenv(INDEX_ENV, raising=False)
        else:
            monkeypatch.setenv(INDEX_ENV, str(index))
        page = AppTest.from_file(APP_FILE, default_timeout=60)
        page.run()
        return page

    return run


@pytest.fixture(scope="session")
def denoising_index_dir(tmp_path_factory, image_folder, tiny_model_config, tiny_train_config):
    """The shared image folder indexed with a tiny ``--variant denoising`` model."""
    from dataclasses import replace

    from latentsearch.indexer.pipeline.build import BuildSettings, build_index
    from latentsearch.indexer.pipeline.train import train_on_folder

    root = tmp_path_factory.mktemp("denoising")
    config = replace(tiny_model_config, variant="denoising")
    model = train_on_folder(image_folder, root / "model", config, tiny_train_config)
    build_index(image_folder, model, root / "index", BuildSettings(batch_size=16, workers=2))
    return root / "index"


@pytest.fixture(scope="session")
def mismatched_index_dir(tmp_path_factory, built_index_dir, image_folder, tiny_train_config):
    """A copy of the index whose model copy was swapped for one with a 4-d code."""
    from latentsearch.encoder.config import ModelConfig
    from latentsearch.indexer.pipeline.train import train_on_folder

    other = tmp_path_factory.mktemp("other") / "model"
    config = ModelConfig(image_size=16, channels=3, latent_dim=4, filters=(8,))
    trained = train_on_folder(image_folder, other, config, tiny_train_config)
    copy = tmp_path_factory.mktemp("mismatch") / "index"
    shutil.copytree(built_index_dir, copy)
    model_copy = current_index_build(copy) / MODEL_DIR
    shutil.rmtree(model_copy)
    shutil.copytree(trained, model_copy)
    return copy


@pytest.fixture(scope="session")
def old_index_dir(tmp_path_factory, built_index_dir):
    """A copy of the index as builds before outlier scores wrote it: no stored errors (nor
    checksums, which came later still)."""
    copy = tmp_path_factory.mktemp("old") / "index"
    shutil.copytree(built_index_dir, copy)
    build = current_index_build(copy)
    with h5py.File(build / METADATA_FILE, "a") as handle:
        del handle[ERRORS_DATASET]
    manifest = json.loads((build / MANIFEST_FILE).read_text())
    del manifest["checksums"], manifest["manifest_sha256"]
    (build / MANIFEST_FILE).write_text(json.dumps(manifest))
    return copy
