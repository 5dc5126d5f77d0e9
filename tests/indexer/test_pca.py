"""Exact PCA against numpy's SVD of the centred rows."""

import numpy as np
import pytest

from latentsearch.indexer.pca import fit_pca


def test_pca_matches_svd_of_the_centred_rows(monkeypatch):
    monkeypatch.setattr("latentsearch.indexer.pca.CHUNK_ROWS", 7)  # several chunks
    rng = np.random.default_rng(0)
    rows = (rng.normal(size=(60, 5)) * [5, 3, 2, 1, 0.5]).astype(np.float32)
    pca = fit_pca(rows, 3)
    centred = rows - rows.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    assert pca.explained_variance == pytest.approx(singular[:3] ** 2 / 59, rel=1e-4)
    # the same axes up to sign
    assert np.abs(pca.components @ axes[:3].T) == pytest.approx(np.eye(3), abs=1e-4)
    assert pca.total_variance == pytest.approx((singular**2).sum() / 59, rel=1e-4)
    coords = pca.apply(rows)
    assert coords.shape == (60, 3) and coords.dtype == np.float32
    assert coords.mean(axis=0) == pytest.approx(0, abs=1e-4)
    assert coords.var(axis=0, ddof=1) == pytest.approx(pca.explained_variance, rel=1e-3)


def test_pca_dimension_must_fit_the_data():
    with pytest.raises(ValueError, match="needs more than"):
        fit_pca(np.zeros((4, 10), np.float32), 4)
