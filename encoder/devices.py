"""Index-time inference settings from the GPUs the Keras backend in use sees.

On a GPU the encoder runs large batches under Keras's ``mixed_float16`` policy (float16
maths, float32 weights; any Keras dtype policy, ``mixed_bfloat16`` say, through
``with_policy``); on the CPU, its twin, the saved float32 model runs unchanged.
Codes come back as float32 either way (``inference.encode_images``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import keras

from latentsearch.encoder.backend import visible_gpus
from latentsearch.encoder.training import TrainedModel

log = logging.getLogger(__name__)
CPU_BATCH = 256
GPU_BATCH = 1024  # a 32x32 encoder uses a GPU well only from about a thousand images a call
FLOAT32 = "float32"
MIXED = "mixed_float16"


@dataclass(frozen=True)
class InferencePlan:
    """How index-time inference runs: images per batch and the encoder's dtype policy."""

    batch_size: int
    policy: str
    device: str


def choose_inference(gpus: Sequence[str], batch_size: int | None = None) -> InferencePlan:
    """Large mixed-precision batches when there is a GPU, float32 on the CPU.

    ``batch_size`` (the ``--batch-size`` flag) overrides the device's default batch size.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    if gpus:
        return InferencePlan(batch_size or GPU_BATCH, MIXED, f"{len(gpus)} GPU(s)")
    return InferencePlan(batch_size or CPU_BATCH, FLOAT32, "CPU")


def with_policy(model: keras.Model, policy: str) -> keras.Model:
    """``model`` itself for float32; else a copy whose layers compute under ``policy``,
    with the same (float32) weights. The saved model is never changed."""
    if policy == FLOAT32:
        return model

    def recast(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": policy})

    clone = keras.models.clone_model(model, clone_function=recast, recursive=True)
    clone.set_weights(model.get_weights())
    return clone


def for_indexing(
    model: TrainedModel, batch_size: int | None = None, gpus: Sequence[str] | None = None
) -> tuple[TrainedModel, InferencePlan]:
    """``model`` with its encoder set up for the plan the visible devices call for."""
    plan = choose_inference(visible_gpus() if gpus is None else gpus, batch_size)
    log.info("encoding on %s: batches of %d, %s", plan.device, plan.batch_size, plan.policy)
    return replace(model, encoder=with_policy(model.encoder, plan.policy)), plan
