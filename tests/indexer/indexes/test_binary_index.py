"""Binary codes (semantic hashing) go into a FAISS binary index searched by Hamming distance."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from latentsearch.encoder.config import ModelConfig, TrainConfig
from latentsearch.indexer.indexes.choice import IndexChoiceError
from latentsearch.indexer.indexes.faiss_helpers import HAMMING, new_index, prepare_vectors, search
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.pipeline.train import train_on_folder
from latentsearch.indexer.serve.search import Searcher
from latentsearch.indexer.store.bundle import IndexBundle


@pytest.fixture(scope="module")
def binary_model_dir(tmp_path_factory, image_folder):
    config = ModelConfig(image_size=16, channels=3, latent_dim=16, filters=(8, 16), binary_bits=16)
    out = tmp_path_factory.mktemp("binary") / "model"
    train_on_folder(image_folder, out, config, TrainConfig(epochs=1, batch_size=16))
    return out


def test_codes_are_thresholded_and_packed():
    codes = np.array([[0.9, 0.1, 0.6, 0.4, 1.0, 0.0, 0.7, 0.2]], np.float32)
    assert prepare_vectors(codes, HAMMING).tolist() == [[0b10101010]]
    assert prepare_vectors(codes - 0.5, HAMMING, threshold=0.0).tolist() == [[0b10101010]]


def test_hamming_search_counts_differing_bits():
    index = new_index("BFlat", 16, HAMMING)
    stored = np.array([[0b11110000, 0], [0b11110001, 0b11]], np.uint8)
    index.add_with_ids(stored, np.array([5, 9], np.int64))
    distances, ids = search(index, stored[:1], 2)
    assert ids.tolist() == [[5, 9]]
    assert distances.tolist() == [[0, 3]]


def test_binary_model_builds_a_hamming_index_and_finds_itself(
    binary_model_dir, image_folder, tmp_path
):
    manifest = build_index(image_folder, binary_model_dir, tmp_path / "index")
    assert (manifest.metric, manifest.index_type) == ("hamming", "BFlat")
    bundle = IndexBundle.load(tmp_path / "index")
    assert isinstance(bundle.latent, faiss.IndexBinary)
    assert bundle.latent.ntotal == manifest.count
    query = image_folder / "green" / "05.png"
    result = Searcher(bundle).search(query, k=5)
    assert result.latent[0].distance == 0
    # several tiny images may share a hash: the query is among those at distance 0
    assert str(query.resolve()) in {h.path for h in result.latent if h.distance == 0}
    assert all(float(h.distance).is_integer() for h in result.latent)


def test_binary_model_rejects_approximate_index_types(binary_model_dir, image_folder, tmp_path):
    with pytest.raises(IndexChoiceError, match="Hamming"):
        build_index(
            image_folder, binary_model_dir, tmp_path / "i", BuildSettings(index_type="hnsw")
        )
    assert not (tmp_path / "i").exists() or not any((tmp_path / "i").iterdir())
