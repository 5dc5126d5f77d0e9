"""Vector quantisation for the VQ-VAE: a learned codebook, its losses and its upkeep.

``VectorQuantiser`` snaps each vector of the encoder's grid to its nearest codebook entry
and passes gradients straight through (van den Oord et al., 2017). ``CodebookMonitor``
restarts entries no vector picked lately (on a random recent encoder output, as in
Jukebox / SoundStream) and logs the codebook's usage (perplexity) each epoch.
"""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
from keras import layers, ops

PACKAGE = "latentsearch"
RECENT = 1024  # encoder outputs kept from the latest training batch, to restart dead entries
log = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package=PACKAGE)
class VectorQuantiser(layers.Layer):
    """(N, H, W, D) vectors -> (their nearest codebook entries, (N, H, W) int indices).

    Adds ``||sg[z] - e||^2 + commitment * ||z - sg[e]||^2`` (means over elements, to sit
    beside the per-pixel MSE). In training it counts how often each entry is picked and
    keeps a random sample of the batch's vectors for ``CodebookMonitor``.
    """

    def __init__(self, codebook_size: int, commitment: float = 0.25, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.codebook_size = codebook_size
        self.commitment = commitment
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.grid = tuple(input_shape[1:3])
        self.dim = int(input_shape[-1])
        size = self.codebook_size
        init = keras.initializers.RandomUniform(-1.0 / size, 1.0 / size, seed=self.seed)
        self.codebook = self.add_weight(name="codebook", shape=(size, self.dim), initializer=init)
        self.counts = self.add_weight(
            name="counts", shape=(size,), initializer="zeros", trainable=False
        )
        self.recent = self.add_weight(
            name="recent", shape=(RECENT, self.dim), initializer="zeros", trainable=False
        )

    def nearest(self, flat):
        """Index of the nearest codebook entry of each row of ``flat`` (M, D)."""
        distances = (
            ops.sum(ops.square(flat), axis=1, keepdims=True)
            - 2.0 * ops.matmul(flat, ops.transpose(self.codebook))
            + ops.sum(ops.square(self.codebook), axis=1)[None, :]
        )
        return ops.argmin(distances, axis=1)

    def call(self, vectors, training=None):
        flat = ops.reshape(vectors, (-1, self.dim))
        indices = self.nearest(flat)
        quantised = ops.reshape(ops.take(self.codebook, indices, axis=0), ops.shape(vectors))
        codebook_loss = ops.mean(ops.square(ops.stop_gradient(vectors) - quantised))
        commitment_loss = ops.mean(ops.square(vectors - ops.stop_gradient(quantised)))
        self.add_loss(codebook_loss + self.commitment * commitment_loss)
        if training:
            self._track(flat, indices)
        straight_through = vectors + ops.stop_gradient(quantised - vectors)
        return straight_through, ops.reshape(indices, (-1, *self.grid))

    def _track(self, flat, indices):
        picked = ops.sum(ops.one_hot(indices, self.codebook_size, dtype=self.counts.dtype), 0)
        self.counts.assign(self.counts + picked)
        rows = keras.random.randint((RECENT,), 0, ops.shape(flat)[0], seed=self.seed_generator)
        self.recent.assign(ops.stop_gradient(ops.take(flat, rows, axis=0)))

    def compute_output_shape(self, input_shape):
        return input_shape, input_shape[:-1]

    def get_config(self):
        return {
            **super().get_config(),
            "codebook_size": self.codebook_size,
            "commitment": self.commitment,
            "seed": self.seed,
        }


def perplexity(counts: np.ndarray) -> float:
    """``exp(entropy)`` of the share of picks per entry: K if all are used evenly, 1 if one."""
    total = float(np.sum(counts))
    if total == 0:
        return 0.0
    share = np.asarray(counts, np.float64) / total
    share = share[share > 0]
    return float(math.exp(-np.sum(share * np.log(share))))


class CodebookMonitor(keras.callbacks.Callback):
    """Every ``every`` batches, restart the entries no vector picked since the last check;
    at each epoch's end, add ``perplexity`` and ``codebook_used`` (entries picked at least
    once that epoch, out of K) to the logs, so they land in ``history.json``."""

    def __init__(self, quantiser: VectorQuantiser, every: int = 10, seed: int = 0):
        super().__init__()
        self.quantiser = quantiser
        self.every = every
        self.rng = np.random.default_rng(seed)
        self.epoch_counts = np.zeros(quantiser.codebook_size)
        self.restarted = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_counts[:] = 0
        self.restarted = 0

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self._check()

    def _check(self, restart: bool = True) -> None:
        # JAX keeps the training state off the variables within an epoch (they read as
        # None); asking for the model attaches it, and the next step reads it back with
        # our changes. A no-op on the other backends.
        _ = self.model
        counts = keras.ops.convert_to_numpy(self.quantiser.counts)
        self.epoch_counts += counts
        dead = np.flatnonzero(counts == 0)
        if restart and dead.size and counts.sum() > 0:
            codebook = keras.ops.convert_to_numpy(self.quantiser.codebook)
            recent = keras.ops.convert_to_numpy(self.quantiser.recent)
            codebook[dead] = recent[self.rng.integers(0, len(recent), dead.size)]
            self.quantiser.codebook.assign(codebook)
            self.restarted += int(dead.size)
        self.quantiser.counts.assign(np.zeros_like(counts))

    def on_epoch_end(self, epoch, logs=None):
        # no restart here: a moved entry could capture vectors the decoder never saw it take
        self._check(restart=False)
        if logs is not None:
            logs["perplexity"] = perplexity(self.epoch_counts)
            logs["codebook_used"] = int(np.count_nonzero(self.epoch_counts))
            logs["codebook_restarted"] = self.restarted
        log.info(
            "epoch %d: codebook perplexity %.1f, %d of %d entries used, %d restarted",
            epoch + 1,
            perplexity(self.epoch_counts),
            np.count_nonzero(self.epoch_counts),
            len(self.epoch_counts),
            self.restarted,
        )


def codebook_of(encoder: keras.Model) -> np.ndarray:
    """The (K, D) codebook of a vqvae encoder."""
    return keras.ops.convert_to_numpy(encoder.get_layer("quantiser").codebook)
