"""VQ-VAE and conditional VAE models through train, index, search, bench and sample."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from PIL import Image

from latentsearch.encoder.config import MissingLabelsError, ModelConfig, TrainConfig
from latentsearch.encoder.training import load_model
from latentsearch.indexer.bench.methods import model_encoder
from latentsearch.indexer.cli.parser import main
from latentsearch.indexer.indexes.choice import IndexChoiceError
from latentsearch.indexer.indexes.codebook import code_bytes, codebook_key
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.pipeline.train import train_on_folder
from latentsearch.indexer.serve.search import Searcher
from latentsearch.indexer.store.bundle import IndexBundle

TINY = dict(image_size=16, channels=3, filters=(8, 16))
VQ = ModelConfig(**TINY, latent_dim=4 * 4 * 4, variant="vqvae", codebook_size=8, codebook_dim=4)
CVAE = ModelConfig(**TINY, latent_dim=8, variant="cvae")
SETTINGS = BuildSettings(batch_size=16, workers=2)


def trained_and_indexed(root, image_folder, config: ModelConfig):
    """``root/model`` trained for one epoch on ``image_folder``, indexed into ``root/index``."""
    train_on_folder(image_folder, root / "model", config, TrainConfig(epochs=1, batch_size=16))
    build_index(image_folder, root / "model", root / "index", SETTINGS)
    return root


@pytest.fixture(scope="module")
def vq_index(tmp_path_factory, image_folder):
    return trained_and_indexed(tmp_path_factory.mktemp("vq"), image_folder, VQ)


@pytest.fixture(scope="module")
def cvae_root(tmp_path_factory, image_folder):
    return trained_and_indexed(tmp_path_factory.mktemp("cvae"), image_folder, CVAE)


def test_vqvae_index_stores_codebook_indices_and_finds_each_image_first(vq_index, image_folder):
    bundle = IndexBundle.load(vq_index / "index")
    assert bundle.manifest.index_type == codebook_key(VQ) == "PQ16x3"
    assert bundle.manifest.metric == "l2"
    stored = faiss.downcast_index(bundle.latent.index)
    assert stored.code_size == code_bytes(VQ) == 6  # 16 indices of 3 bits
    query = image_folder / "blue" / "04.png"
    hits = Searcher(bundle).search(query, 5).latent
    # with 8 entries, noisy one-colour photos can share a grid: the query is among the ties
    at_zero = [hit.path for hit in hits if hit.distance == pytest.approx(0, abs=1e-5)]
    assert str(query.resolve()) in at_zero and hits[0].path in at_zero


def test_vqvae_index_refuses_other_metrics(vq_index, image_folder, tmp_path):
    with pytest.raises(IndexChoiceError, match="codebook indices"):
        build_index(
            image_folder, vq_index / "model", tmp_path / "i", BuildSettings(metric="cosine")
        )


def test_cvae_keeps_its_labels_and_leaves_out_unlabelled_images(cvae_root):
    model = load_model(cvae_root / "model")
    assert model.config.labels == ("blue", "green", "red")  # sorted folder names
    bundle = IndexBundle.load(cvae_root / "index")
    assert bundle.manifest.model_config["labels"] == ["blue", "green", "red"]
    assert bundle.manifest.count == 37  # indexing needs no label: the stray image is in


def test_cvae_index_finds_same_label_images(cvae_root, image_folder):
    query = image_folder / "green" / "07.png"
    hits = Searcher.open(cvae_root / "index").search(query, 4).latent
    assert hits[0].path == str(query.resolve())
    assert hits[0].distance == pytest.approx(0, abs=1e-5)


def test_bench_encoder_takes_both_new_models(vq_index, cvae_root):
    pixels = np.random.default_rng(0).random((3, 16 * 16 * 3), dtype=np.float32)
    for folder, dim in ((vq_index, 64), (cvae_root, 8)):
        codes = model_encoder(load_model(folder / "model"))(pixels)
        assert codes.shape == (3, dim) and np.isfinite(codes).all()


def test_cvae_on_a_folder_without_labels_is_a_clear_error(tmp_path, make_image, capsys):
    for n in range(3):
        make_image(tmp_path / "flat" / f"{n}.png", (10 * n, 50, 90), seed=n)
    with pytest.raises(MissingLabelsError, match="one sub-folder per label"):
        train_on_folder(tmp_path / "flat", tmp_path / "m", CVAE)
    args = ["train", "--data", str(tmp_path / "flat"), "--out", str(tmp_path / "m")]
    assert main([*args, "--variant", "cvae", "--image-size", "16"]) == 2
    assert "one sub-folder per label" in capsys.readouterr().err


def test_sample_cli_label_rows_one_label_and_variations(cvae_root, image_folder, tmp_path):
    model = str(cvae_root / "model")
    assert main(["sample", "--model", model, "-n", "4", "--out", str(tmp_path / "a.png")]) == 0
    assert Image.open(tmp_path / "a.png").size == (4 * 16, 3 * 16)  # a row per label
    one = [
        "sample",
        "--model",
        model,
        "--label",
        "red",
        "-n",
        "16",
        "--out",
        str(tmp_path / "r.png"),
    ]
    assert main(one) == 0
    assert Image.open(tmp_path / "r.png").size == (4 * 16, 4 * 16)
    like = ["sample", "--model", model, "--like", str(image_folder / "red" / "01.png"), "-n", "8"]
    assert main([*like, "--out", str(tmp_path / "v.png")]) == 0
    assert Image.open(tmp_path / "v.png").size == (3 * 16, 3 * 16)
    bad = ["sample", "--model", model, "--label", "cat", "--out", str(tmp_path / "x.png")]
    assert main(bad) == 2 and not (tmp_path / "x.png").exists()


def test_vqvae_cli_train_sets_the_grid_length(image_folder, tmp_path):
    args = ["train", "--data", str(image_folder), "--out", str(tmp_path / "vq"), "--epochs", "1"]
    args += ["--variant", "vqvae", "--image-size", "16", "--filters", "8,16"]
    assert main([*args, "--codebook-size", "16", "--codebook-dim", "2"]) == 0
    config = load_model(tmp_path / "vq").config
    assert (config.latent_dim, config.codebook_size, config.grid) == (4 * 4 * 2, 16, 4)


def test_ray_engine_uses_the_codebook_index_too(vq_index):
    from latentsearch.indexer.pipeline.ray.engine import _latent_index

    model = load_model(vq_index / "model")
    key, index, filled = _latent_index(None, [], [], 0, model, BuildSettings(metric="l2"))
    assert (key, index.is_trained, filled) == ("PQ16x3", True, False)


def test_vqvae_index_update_adds_new_images_as_codebook_indices(vq_index, image_folder, tmp_path):
    import shutil

    from latentsearch.indexer.pipeline.update import update_index

    folder = tmp_path / "photos"
    shutil.copytree(image_folder, folder)
    build_index(folder, vq_index / "model", tmp_path / "index", SETTINGS)
    added = folder / "red" / "new.png"
    shutil.copy(image_folder / "green" / "02.png", added)
    manifest = update_index(folder, vq_index / "model", tmp_path / "index", SETTINGS)
    assert manifest.count == 38 and manifest.index_type == "PQ16x3"
    hits = Searcher.open(tmp_path / "index").search(added, 2).latent
    assert [hit.distance for hit in hits] == pytest.approx([0, 0], abs=1e-5)  # it and its twin
