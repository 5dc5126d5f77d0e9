"""ROC AUC by ranks, against hand-computed cases and a brute-force count of pairs."""

import numpy as np
import pytest

from latentsearch.encoder.evaluation import AUCError, midranks, roc_auc


def test_hand_computed_case():
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of the 4 pairs ordered right
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)


def test_ties_count_one_half():
    # pairs (positive, negative): (1, 1) tie -> 0.5, (2, 1) -> 1; mean 0.75
    assert midranks(np.array([1.0, 1.0, 2.0])).tolist() == [1.5, 1.5, 3.0]
    assert roc_auc([1.0, 1.0, 2.0], [False, True, True]) == pytest.approx(0.75)
    assert roc_auc([5.0] * 4, [0, 1, 0, 1]) == pytest.approx(0.5)


def test_perfect_and_inverted_separation():
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]) == 0.0


def test_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, 200).astype(float)  # many ties
    positives = rng.random(200) < 0.3
    pos, neg = scores[positives][:, None], scores[~positives][None, :]
    expected = ((pos > neg) + 0.5 * (pos == neg)).mean()
    assert roc_auc(scores, positives) == pytest.approx(expected)


@pytest.mark.parametrize(
    "scores, labels",
    [([0.1, 0.2], [1, 1]), ([0.1, 0.2], [0, 0]), ([0.1, np.nan], [0, 1]), ([0.1], [0, 1])],
)
def test_refuses_what_has_no_auc(scores, labels):
    with pytest.raises(AUCError):
        roc_auc(scores, labels)
