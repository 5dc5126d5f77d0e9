"""A loaded build checks that its metadata's labels are there, one per row."""

import dataclasses

import h5py
import pytest

from latentsearch.indexer.store.bundle import IndexBundle
from latentsearch.indexer.store.manifest import IndexLoadError


def with_labels(bundle: IndexBundle, path, labels: list[str] | None) -> IndexBundle:
    """``bundle`` with its metadata's paths in a new file whose label column is ``labels``
    (None: no label column at all)."""
    handle = h5py.File(path, "w")
    handle["path"] = bundle.metadata.paths
    if labels is not None:
        handle["label"] = labels
    metadata = dataclasses.replace(bundle.metadata, file=handle)
    return dataclasses.replace(bundle, metadata=metadata)


@pytest.fixture
def bundle(built_index_dir):
    loaded = IndexBundle.load(built_index_dir)
    yield loaded
    loaded.metadata.close()


def test_a_loaded_build_has_read_its_labels(bundle):
    assert "labels" in vars(bundle.metadata)  # read at load, not at the first search
    assert len(bundle.metadata.labels) == len(bundle.metadata.paths)


@pytest.mark.parametrize(
    ("labels", "words"),
    [(None, "is damaged"), (["x"], "labels for")],
    ids=["no-label-column", "too-few-labels"],
)
def test_labels_missing_or_short_refuse_the_build(bundle, tmp_path, labels, words):
    broken = with_labels(bundle, tmp_path / "metadata.h5", labels)
    try:
        with pytest.raises(IndexLoadError, match=words):
            broken.check_consistent()
    finally:
        broken.metadata.file.close()
