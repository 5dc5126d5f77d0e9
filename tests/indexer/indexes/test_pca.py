"""PCA against numpy's SVD of the centred rows: exact for narrow rows, randomised for wide."""

import numpy as np
import pytest

from latentsearch.indexer.indexes.pca import fit_kind, fit_pca


def test_pca_matches_svd_of_the_centred_rows(monkeypatch):
    monkeypatch.setattr("latentsearch.indexer.indexes.pca.CHUNK_ROWS", 7)  # several chunks
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


def _low_rank_plus_noise(n: int, d: int, rank: int, seed: int = 0, noise: float = 0.2):
    """Rows near a ``rank``-d subspace with distinct variances, off-centre, plus noise; and
    that subspace's (rank, d) orthonormal axes."""
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.normal(size=(d, rank)))[0]
    signal = rng.normal(size=(n, rank)) * np.geomspace(30, 3, rank)
    rows = signal @ axes.T + noise * rng.normal(size=(n, d)) + 0.5
    return rows.astype(np.float32), axes.T


def _exact_axes(rows: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top axes and every variance, from the full eigendecomposition of the (n, n)
    Gram matrix in float64 (an SVD of the wide rows gives the same, many times slower)."""
    centred = rows.astype(np.float64) - rows.mean(axis=0, dtype=np.float64)
    values, vectors = np.linalg.eigh(centred @ centred.T)
    values, vectors = values[::-1], vectors[:, ::-1]
    axes = (vectors[:, :dim].T @ centred) / np.sqrt(values[:dim])[:, np.newaxis]
    return axes, values / (len(rows) - 1)


def test_wide_rows_get_the_exact_subspace_from_the_randomised_fit(monkeypatch):
    def no_covariance(*_):
        raise AssertionError("a (d, d) covariance is what wide rows must avoid")

    monkeypatch.setattr("latentsearch.indexer.indexes.pca.covariance", no_covariance)
    rows, _ = _low_rank_plus_noise(400, 4100, rank=12)  # d > EXACT_MAX_DIM
    pca = fit_pca(rows, 10)
    axes, variances = _exact_axes(rows, 10)
    # cosines of the principal angles between the fitted and the exact 10-d subspaces
    cosines = np.linalg.svd(pca.components.astype(np.float64) @ axes.T, compute_uv=False)
    assert cosines.min() > 1 - 1e-6
    assert np.abs((pca.components * axes).sum(axis=1)) == pytest.approx(np.ones(10), abs=1e-4)
    assert pca.explained_variance == pytest.approx(variances[:10], rel=1e-4)
    assert pca.total_variance == pytest.approx(variances.sum(), rel=1e-5)
    assert 0.5 < pca.explained_share < 1
    again = fit_pca(rows, 10)
    assert np.array_equal(again.components, pca.components)
    assert np.array_equal(again.explained_variance, pca.explained_variance)


def test_the_randomised_fit_samples_many_rows(monkeypatch):
    monkeypatch.setattr("latentsearch.indexer.indexes.pca.SAMPLE_ROWS", 200)
    rows, planted = _low_rank_plus_noise(600, 4100, rank=8, seed=1, noise=0.01)
    pca = fit_pca(rows, 8, seed=3)  # the whole signal: the sample cannot rotate within it
    cosines = np.linalg.svd(pca.components.astype(np.float64) @ planted.T, compute_uv=False)
    # a third of the rows pin the subspace down up to their noise: ~1e-4 off here
    assert cosines.min() > 1 - 1e-3
    assert not np.allclose(pca.mean, rows.mean(axis=0), atol=1e-6)  # the sample's mean
    assert np.array_equal(fit_pca(rows, 8, seed=3).mean, pca.mean)


def test_exact_up_to_the_threshold_randomised_above(monkeypatch):
    # 32x32x3 (CIFAR) stays exact, so its published figures reproduce; 64x64x3 does not
    assert fit_kind(32 * 32 * 3).startswith("exact")
    assert fit_kind(4096).startswith("exact") and fit_kind(64 * 64 * 3).startswith("randomised")
    calls = []
    monkeypatch.setattr("latentsearch.indexer.indexes.pca.EXACT_MAX_DIM", 5)
    monkeypatch.setattr(
        "latentsearch.indexer.indexes.pca.fit_pca_randomised", lambda *args: calls.append(args)
    )
    rng = np.random.default_rng(0)
    fit_pca(rng.normal(size=(20, 5)).astype(np.float32), 2)
    assert calls == []
    fit_pca(rng.normal(size=(20, 6)).astype(np.float32), 2)
    assert len(calls) == 1


def test_the_randomised_fit_of_rank_deficient_rows_still_gives_dim_axes():
    # rank 3 with no noise: the Gram route would lose the null directions, QR keeps them
    rows, planted = _low_rank_plus_noise(60, 4100, rank=3, seed=2, noise=0.0)
    pca = fit_pca(rows, 5)
    assert pca.components.shape == (5, 4100)
    gram = pca.components.astype(np.float64) @ pca.components.T
    assert gram == pytest.approx(np.eye(5), abs=1e-5)  # orthonormal, nulls included
    cosines = np.linalg.svd(pca.components[:3].astype(np.float64) @ planted.T, compute_uv=False)
    assert cosines.min() > 1 - 1e-6
    assert pca.explained_variance[3:] == pytest.approx([0, 0], abs=1e-6 * pca.total_variance)
    assert pca.explained_share == pytest.approx(1.0, rel=1e-5)
