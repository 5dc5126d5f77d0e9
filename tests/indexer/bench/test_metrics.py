"""Retrieval metrics against small cases worked out by hand."""

import numpy as np
import pytest

from latentsearch.indexer.bench.metrics import (
    average_precision_at_k,
    cutoff_grid,
    knn_correct,
    knn_predictions,
    precision_at_k,
    precision_recall_curve,
    recall_at_k,
)

# Three queries' results, best first (1 = relevant):
#   q0: R . R .    q1: . . . .    q2: . R R R
HITS = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=bool)
TOTALS = np.array([2, 3, 4])  # relevant images each query has in the whole database


def test_precision_at_k():
    assert precision_at_k(HITS, 1) == pytest.approx([1, 0, 0])
    assert precision_at_k(HITS, 2) == pytest.approx([0.5, 0, 0.5])
    assert precision_at_k(HITS, 4) == pytest.approx([0.5, 0, 0.75])


def test_recall_at_k_divides_by_all_relevant_in_the_database():
    assert recall_at_k(HITS, TOTALS, 1) == pytest.approx([0.5, 0, 0])
    assert recall_at_k(HITS, TOTALS, 4) == pytest.approx([1.0, 0, 0.75])


def test_average_precision_is_mean_precision_at_relevant_ranks():
    # q0: relevant at ranks 1 and 3 -> (1/1 + 2/3) / 2; q1: none -> 0;
    # q2: ranks 2, 3, 4 -> (1/2 + 2/3 + 3/4) / 3
    expected = [(1 + 2 / 3) / 2, 0.0, (1 / 2 + 2 / 3 + 3 / 4) / 3]
    assert average_precision_at_k(HITS, 4) == pytest.approx(expected)


def test_average_precision_normalises_by_the_hits_retrieved_not_all_relevant():
    # Only rank 1 counts at k = 2 for q0: AP@2 = 1 although the database holds 2 relevant;
    # q2's only hit in the top 2 is at rank 2: precision@2 = 1/2.
    assert average_precision_at_k(HITS, 2) == pytest.approx([1.0, 0.0, 0.5])
    assert average_precision_at_k(HITS, 2).mean() == pytest.approx(0.5)


def test_average_precision_of_a_perfect_ranking_is_one():
    perfect = np.array([[1, 1, 1, 0, 0]], dtype=bool)
    assert average_precision_at_k(perfect, 5) == pytest.approx([1.0])


def test_precision_recall_curve_at_cutoffs():
    precision, recall = precision_recall_curve(HITS, TOTALS, np.array([1, 2, 4]))
    assert precision.shape == recall.shape == (3, 3)
    assert precision[0] == pytest.approx([1, 0.5, 0.5])
    assert recall[2] == pytest.approx([0, 0.25, 0.75])
    # the curve's precision at a cut-off is precision@k at that k
    assert precision[:, 2] == pytest.approx(precision_at_k(HITS, 4))


@pytest.mark.parametrize("k", [0, 5])
def test_k_outside_the_ranks_is_refused(k):
    with pytest.raises(ValueError, match="k must be in"):
        precision_at_k(HITS, k)


def test_recall_needs_a_relevant_image_per_query():
    with pytest.raises(ValueError, match="at least one relevant"):
        recall_at_k(HITS, np.array([2, 0, 4]), 2)


def test_knn_vote_majority_and_ties_to_the_nearest():
    neighbours = np.array(
        [
            [1, 2, 2, 0],  # 2 has most votes
            [2, 1, 1, 2],  # 1 and 2 tie: 2 is nearest
            [0, 3, 3, 0],  # 0 and 3 tie: 0 is nearest
        ]
    )
    assert knn_predictions(neighbours).tolist() == [2, 2, 0]
    assert knn_correct(neighbours, np.array([2, 1, 0])).tolist() == [True, False, True]


def test_cutoff_grid_spans_one_to_all_and_holds_the_ks():
    grid = cutoff_grid(1000, extra=(10, 100, 5000))
    assert grid[0] == 1 and grid[-1] == 1000
    assert {10, 100} <= set(grid.tolist()) and 5000 not in grid
    assert np.all(np.diff(grid) > 0)
