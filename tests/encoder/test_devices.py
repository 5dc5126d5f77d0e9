"""Index-time inference plan: mixed precision and large batches on a GPU, float32 on the CPU.

No GPU here: the decision is a pure function of the device list, and the mixed-precision
encoder it picks for a GPU runs (slowly) on the CPU too, so both paths are exercised.
"""

import numpy as np
import pytest

from latentsearch.encoder import devices as precision
from latentsearch.encoder.devices import (
    CPU_BATCH,
    FLOAT32,
    GPU_BATCH,
    MIXED,
    choose_inference,
    for_indexing,
    with_policy,
)
from latentsearch.encoder.inference import encode_images
from latentsearch.encoder.training import load_model
from latentsearch.indexer.pipeline.build import BuildSettings, build_index
from latentsearch.indexer.serve.search import Searcher

GPUS = ["/physical_device:GPU:0"]


def leaf_layers(model):
    """Every layer of ``model``, looking inside nested models."""
    for layer in model.layers:
        yield from leaf_layers(layer) if hasattr(layer, "layers") else [layer]


def test_cpu_keeps_float32_and_the_default_batch():
    plan = choose_inference([])
    assert (plan.batch_size, plan.policy, plan.device) == (CPU_BATCH, FLOAT32, "CPU")


def test_a_gpu_gets_large_mixed_precision_batches():
    plan = choose_inference(GPUS * 2)
    assert (plan.batch_size, plan.policy, plan.device) == (GPU_BATCH, MIXED, "2 GPU(s)")
    assert GPU_BATCH > CPU_BATCH


@pytest.mark.parametrize("gpus", [[], GPUS])
def test_an_explicit_batch_size_wins_on_every_device(gpus):
    assert choose_inference(gpus, 32).batch_size == 32


def test_a_bad_batch_size_is_refused():
    with pytest.raises(ValueError, match="batch size must be positive"):
        choose_inference([], 0)


def test_float32_policy_keeps_the_loaded_encoder(trained_model_dir):
    model = load_model(trained_model_dir, with_decoder=False)
    assert with_policy(model.encoder, FLOAT32) is model.encoder
    same, plan = for_indexing(model, gpus=[])
    assert same.encoder is model.encoder and plan.policy == FLOAT32


def test_mixed_encoder_computes_in_float16_and_returns_float32_codes(
    trained_model_dir, image_folder
):
    model = load_model(trained_model_dir, with_decoder=False)
    mixed, plan = for_indexing(model, gpus=GPUS)
    assert plan == precision.InferencePlan(GPU_BATCH, MIXED, "1 GPU(s)")
    computing = [layer for layer in leaf_layers(mixed.encoder) if layer.weights]
    assert len(computing) >= 3  # the trunk inside the mirror-max search code included
    assert all(layer.compute_dtype == "float16" for layer in computing)
    assert all(w.dtype == "float32" for w in mixed.encoder.weights)  # weights stay float32
    assert all(layer.compute_dtype == "float32" for layer in leaf_layers(model.encoder))
    images = np.random.default_rng(0).random((6, 16, 16, 3)).astype(np.float32)
    codes, exact = encode_images(mixed.encoder, images), encode_images(model.encoder, images)
    assert codes.dtype == np.float32 and codes.shape == exact.shape
    np.testing.assert_allclose(codes, exact, atol=2e-2 * max(1.0, np.abs(exact).max()))
    assert not np.array_equal(codes, exact)  # really computed in float16


def test_a_build_on_the_gpu_path_finds_each_image_first(
    tmp_path, image_folder, trained_model_dir, monkeypatch
):
    monkeypatch.setattr(precision, "visible_gpus", lambda: GPUS)
    out = tmp_path / "index"
    manifest = build_index(image_folder, trained_model_dir, out, BuildSettings(workers=1))
    assert manifest.count == 37
    query = image_folder / "blue" / "04.png"
    hits = Searcher.open(out).search(query, k=3)
    # indexed in float16 maths, queried in float32: still its own nearest neighbour
    assert hits.latent[0].path == hits.raw[0].path == str(query.resolve())


def test_any_keras_policy_applies_bfloat16_included(trained_model_dir):
    # the GPU check (benchmarks/gpu_check.py) measures bfloat16 through the same call
    model = load_model(trained_model_dir, with_decoder=False)
    bf16 = with_policy(model.encoder, "mixed_bfloat16")
    assert {layer.compute_dtype for layer in leaf_layers(bf16) if layer.weights} == {"bfloat16"}
    images = np.random.default_rng(1).random((4, 16, 16, 3)).astype(np.float32)
    codes, exact = encode_images(bf16, images), encode_images(model.encoder, images)
    assert codes.dtype == np.float32
    np.testing.assert_allclose(codes, exact, atol=5e-2 * max(1.0, np.abs(exact).max()))
    assert not np.array_equal(codes, exact)  # really computed in bfloat16
