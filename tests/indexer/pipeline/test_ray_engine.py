"""``index --engine ray`` on a local Ray: the same build as the local engine, fault-tolerant."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from test_end_to_end import CIFAR_TAR, extract_subset

from latentsearch.indexer.indexes.faiss_helpers import search, stored_vectors
from latentsearch.indexer.pipeline.build import BuildSettings, NothingToIndexError, build_index
from latentsearch.indexer.pipeline.ray.engine import (
    RayNotInstalledError,
    RaySettings,
    build_index_ray,
    require_ray,
)
from latentsearch.indexer.pipeline.ray.stages import EncodeActor
from latentsearch.indexer.store.bundle import IndexBundle

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(
    not HAS_RAY, reason='Ray Data is not installed (pip install "latentsearch[ray]")'
)
CORRUPT = "zz-corrupt.jpg"


@pytest.fixture(scope="module")
def local_ray():
    if not HAS_RAY:
        pytest.skip('Ray Data is not installed (pip install "latentsearch[ray]")')
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory, image_folder) -> Path:
    """120 CIFAR-10 photos when the shared archive is there, else the fixture folder; plus
    one corrupt JPEG in a class folder."""
    root = tmp_path_factory.mktemp("ray-photos") / "photos"
    if CIFAR_TAR.is_file():
        extract_subset(root, per_class=40)
    else:
        shutil.copytree(image_folder, root)
    first_class = sorted(p for p in root.iterdir() if p.is_dir())[0]
    (first_class / CORRUPT).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def _rows_by_path(index_dir: Path) -> tuple[dict[str, np.ndarray], IndexBundle]:
    bundle = IndexBundle.load(index_dir)
    ids = np.arange(len(bundle.metadata), dtype=np.int64)
    vectors = stored_vectors(bundle.latent, ids)
    return dict(zip(bundle.metadata.paths, vectors, strict=True)), bundle


def _top10(bundle: IndexBundle, queries: np.ndarray) -> list[list[str]]:
    _, ids = search(bundle.latent, queries, 10)
    return [[bundle.metadata.paths[i] for i in row] for row in ids]


@needs_ray
def test_ray_build_equals_local_build(local_ray, photos, trained_model_dir, tmp_path):
    # IVF: the engine's index is trained on a sample before the rows stream in, the path a
    # flat index skips; every other step is the same for both (a flat build costs 100 s more)
    settings = BuildSettings(batch_size=32, workers=2, index_type="ivf")
    local = build_index(photos, trained_model_dir, tmp_path / "local", settings)
    ray_built = build_index_ray(
        photos, trained_model_dir, tmp_path / "ray", settings, RaySettings(actors=1)
    )

    assert ray_built.count == local.count > 0
    assert ray_built.index_type == local.index_type
    assert ray_built.skipped == local.skipped
    assert [Path(s["path"]).name for s in ray_built.skipped] == [CORRUPT]
    local_rows, local_bundle = _rows_by_path(tmp_path / "local")
    ray_rows, ray_bundle = _rows_by_path(tmp_path / "ray")
    assert ray_rows.keys() == local_rows.keys()
    for path, vector in local_rows.items():
        np.testing.assert_allclose(ray_rows[path], vector, rtol=1e-5, atol=1e-6)
    queries = np.stack([local_rows[p] for p in sorted(local_rows)[::7]])
    assert _top10(ray_bundle, queries) == _top10(local_bundle, queries)
    assert ray_bundle.metadata.labels == [
        local_bundle.metadata.labels[local_bundle.metadata.paths.index(p)]
        for p in ray_bundle.metadata.paths
    ]


@needs_ray
def test_ray_build_of_unreadable_files_says_so_like_the_local_one(
    local_ray, trained_model_dir, tmp_path, unreadable_folder
):
    with pytest.raises(NothingToIndexError, match="none of the 2 image files") as raised:
        build_index_ray(
            unreadable_folder, trained_model_dir, tmp_path / "ray", BuildSettings(), RaySettings()
        )
    assert "first failure:" in str(raised.value)
    assert not (tmp_path / "ray" / "CURRENT").exists()


def dies_once(marker: Path) -> type:
    """An encoder actor that kills its own process the first time it meets a flagged file
    (the marker file remembers, across the restart)."""

    class DiesOnce(EncodeActor):
        def __call__(self, batch):
            flagged = any(p.endswith("05.png") for p in batch["path"].to_pylist())
            if flagged and not marker.exists():
                marker.write_text("died")
                os._exit(1)
            return super().__call__(batch)

    return DiesOnce


@needs_ray
def test_dead_actor_is_retried_without_losing_or_repeating_rows(
    local_ray, image_folder, trained_model_dir, tmp_path
):
    import ray.cloudpickle

    marker = tmp_path / "died"
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    options = RaySettings(actors=1, actor_class=dies_once(marker))
    manifest = build_index_ray(
        image_folder, trained_model_dir, tmp_path / "ray", BuildSettings(batch_size=8), options
    )

    assert marker.read_text() == "died"
    paths = IndexBundle.load(tmp_path / "ray").metadata.paths
    expected = sorted(str(p) for p in image_folder.rglob("*.png"))
    assert sorted(paths) == expected  # every file once: none lost, none twice
    assert manifest.count == len(expected)


def test_ray_engine_without_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(RayNotInstalledError, match=r"latentsearch\[ray\]"):
        require_ray()


def test_cli_refuses_update_on_ray(tmp_path, capsys):
    from latentsearch.indexer.cli.parser import main

    argv = ["index", "--data", str(tmp_path), "--model", str(tmp_path), "--out", str(tmp_path)]
    assert main([*argv, "--engine", "ray", "--update"]) == 2
    assert "--update runs on the local engine only" in capsys.readouterr().err
