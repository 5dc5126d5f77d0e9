"""Bench, index and search agree on the default metric, so the bench measures what is built."""

import faiss

from latentsearch.indexer.bench.config import BenchConfig
from latentsearch.indexer.store.bundle import IndexBundle


def test_bench_index_and_search_default_to_the_same_metric(built_index_dir):
    bundle = IndexBundle.load(built_index_dir)  # built with default settings (conftest)
    assert bundle.manifest.metric == BenchConfig(data="d", models=("m",)).metric == "cosine"
    # search prepares queries by the manifest's metric; the index ranks by inner product
    assert bundle.latent.metric_type == faiss.METRIC_INNER_PRODUCT
