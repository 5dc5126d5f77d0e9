"""FAISS GPU paths fall back to the CPU: no GPU, or a GPU the cloner cannot use."""

import faiss
import numpy as np

from latentsearch.indexer.indexes import gpu
from latentsearch.indexer.indexes.faiss_helpers import new_index


def vectors(n=400, dim=8):
    return np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)


def test_gpu_count_without_gpu_support(monkeypatch):
    monkeypatch.delattr(faiss, "get_num_gpus", raising=False)
    assert gpu.gpu_count() == 0


def test_no_gpu_trains_on_the_cpu(monkeypatch):
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 0, raising=False)
    index = new_index("IVF8,Flat", 8)
    assert gpu.use_gpu_for_training(index) is False
    assert faiss.extract_index_ivf(index).clustering_index is None
    index.train(vectors())
    assert index.is_trained


def test_failing_gpu_clone_falls_back_to_cpu(monkeypatch, caplog):
    def broken(_index):
        raise RuntimeError("CUDA error: no kernel image is available")

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", broken, raising=False)
    index = new_index("IVF8,Flat", 8)
    assert gpu.use_gpu_for_training(index) is False
    assert "training on the CPU" in caplog.text
    index.train(vectors())
    assert index.is_trained


def test_gpu_clustering_index_is_used_when_offered(monkeypatch):
    # stands in for a GPU flat index: any faiss index works as the k-means assigner
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", lambda index: index, raising=False)
    index = new_index("IVF8,Flat", 8)
    assert gpu.use_gpu_for_training(index) is True
    index.train(vectors())
    assert index.is_trained and faiss.extract_index_ivf(index).clustering_index is not None


def test_flat_and_hnsw_need_no_training_and_no_gpu():
    assert gpu.use_gpu_for_training(new_index("Flat", 8)) is False
    assert gpu.use_gpu_for_training(new_index("HNSW32", 8)) is False
