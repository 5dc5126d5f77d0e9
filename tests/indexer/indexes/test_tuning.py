"""An IVF index's probes are tuned to the recall asked for, measured on its own codes."""

import faiss
import numpy as np
import pytest

from latentsearch.indexer.indexes.factory import filled_index
from latentsearch.indexer.indexes.faiss_helpers import (
    is_ivf,
    prepare_vectors,
    read_index,
    search,
    write_index,
)
from latentsearch.indexer.indexes.tuning import probe_candidates, recall_at, tune_probes


def spread_codes(n=4000, dim=16, seed=0):
    """Codes with no tight clusters, so that few probes miss neighbours."""
    return prepare_vectors(np.random.default_rng(seed).normal(size=(n, dim)), "cosine")


def test_probe_candidates_double_up_to_every_list():
    assert probe_candidates(64, 1024) == [64, 128, 256, 512, 1024]
    assert probe_candidates(3, 4) == [3, 4]
    assert probe_candidates(8, 8) == [8]
    assert probe_candidates(0, 5) == [1, 2, 4, 5]


def test_recall_counts_shared_neighbours_and_skips_padding():
    found = np.array([[1, 2, 3], [4, 5, 6]])
    exact = np.array([[1, 2, 9], [4, -1, -1]])
    assert recall_at(found, exact) == pytest.approx(3 / 4)


@pytest.mark.parametrize("target", [0.5, 0.95, 1.0])
def test_tuned_probes_reach_the_target_with_the_fewest_doublings(target):
    codes = spread_codes()
    index = filled_index("IVF64,Flat", codes, "cosine")
    start = faiss.extract_index_ivf(index).nprobe

    choice = tune_probes(index, target)

    ivf = faiss.extract_index_ivf(index)
    assert ivf.nprobe == choice.nprobe and choice.lists == 64
    assert choice.recall_at_10 >= target
    # checked independently on the same queries; one doubling fewer falls short
    queries = codes[np.sort(np.random.default_rng(0).choice(len(codes), 300, replace=False))]
    ivf.nprobe = 64
    exact = search(index, queries, 11)[1][:, 1:]
    ivf.nprobe = choice.nprobe
    recall = recall_at(search(index, queries, 11)[1], exact)
    assert recall == pytest.approx(choice.recall_at_10, abs=1e-4)
    if choice.nprobe > start:
        ivf.nprobe = choice.nprobe // 2
        assert recall_at(search(index, queries, 11)[1], exact) < target


def test_a_lower_target_probes_fewer_lists():
    codes = spread_codes()
    low = tune_probes(filled_index("IVF64,Flat", codes, "cosine"), 0.5)
    high = tune_probes(filled_index("IVF64,Flat", codes, "cosine"), 1.0)
    assert low.nprobe < high.nprobe == 64  # random codes: only every list finds them all


def test_read_index_shares_one_query_among_threads(tmp_path):
    index = filled_index("IVF16,Flat", spread_codes(1000), "cosine")
    write_index(index, tmp_path / "i.faiss")
    loaded = read_index(tmp_path / "i.faiss")
    assert is_ivf(loaded) and faiss.extract_index_ivf(loaded).parallel_mode == 1
    assert not is_ivf(filled_index("Flat", spread_codes(100), "cosine"))
