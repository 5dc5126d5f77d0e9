"""Fixtures shared by the build and update tests."""

import shutil

import pytest


@pytest.fixture
def folder_and_index(tmp_path, image_folder, built_index_dir):
    """Copies of the fixture folder and its index, the index updated to list the copy."""
    from latentsearch.indexer.pipeline.settings import BuildSettings
    from latentsearch.indexer.pipeline.update import update_index
    from latentsearch.indexer.store.bundle import IndexBundle

    folder, out = tmp_path / "images", tmp_path / "index"
    shutil.copytree(image_folder, folder)
    shutil.copytree(built_index_dir, out)
    # the fixture index points at the original folder: rewrite nothing, just index the copy
    settings = BuildSettings(batch_size=16, workers=2)
    update_index(folder, IndexBundle.load(out).model.path, out, settings)
    return folder, out
