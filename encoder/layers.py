"""Custom layers that turn the plain autoencoder into each variant of the family, and
the mirror that makes a projected search code left-right symmetric.

Each is registered for ``.keras`` saving. Penalties are added with ``add_loss`` so the
variants differ only by the layers inserted into the training graph, never by copied models.
"""

from __future__ import annotations

import keras
from keras import layers, ops

PACKAGE = "latentsearch"


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomCutout(layers.Layer):
    """Denoising corruption: zero one random square of side ``fraction * size`` per image."""

    def __init__(self, fraction: float = 0.25, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.fraction = fraction
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        size = ops.shape(images)[1]
        side = max(1, int(images.shape[1] * self.fraction))
        corner = keras.random.randint(
            (ops.shape(images)[0], 2), 0, size - side + 1, seed=self.seed_generator
        )
        rows = ops.arange(size)[None, :]
        in_rows = (rows >= corner[:, :1]) & (rows < corner[:, :1] + side)
        in_cols = (rows >= corner[:, 1:]) & (rows < corner[:, 1:] + side)
        hole = ops.logical_and(in_rows[:, :, None], in_cols[:, None, :])
        return images * ops.cast(ops.logical_not(hole), images.dtype)[..., None]

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomPatchMask(layers.Layer):
    """Denoising corruption: zero each ``patch`` x ``patch`` square with probability ``ratio``.

    Heavy random masking (as in masked autoencoders) makes the encoder infer what is hidden
    from what is left, rather than copy pixels through.
    """

    def __init__(self, ratio: float = 0.5, patch: int = 4, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.ratio = ratio
        self.patch = patch
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        grid = (ops.shape(images)[0], images.shape[1] // self.patch, images.shape[2] // self.patch)
        keep = keras.random.uniform(grid, seed=self.seed_generator) >= self.ratio
        keep = ops.repeat(ops.repeat(ops.cast(keep, images.dtype), self.patch, 1), self.patch, 2)
        return images * keep[..., None]

    def get_config(self):
        return {
            **super().get_config(),
            "ratio": self.ratio,
            "patch": self.patch,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class KLSparsity(layers.Layer):
    """Sparse penalty: KL(rho || mean activation) per unit of a sigmoid code, times ``weight``."""

    def __init__(self, rho: float = 0.05, weight: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.weight = weight

    def call(self, code):
        rho_hat = ops.clip(ops.mean(code, axis=0), 1e-6, 1 - 1e-6)
        rho = self.rho
        kl = rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat))
        self.add_loss(self.weight * ops.sum(kl))
        return code

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "weight": self.weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ContractivePenalty(layers.Layer):
    """Contractive penalty ``weight * ||J||_F^2`` of the code w.r.t. the input, estimated.

    For input noise ``e ~ N(0, sigma^2 I)``, ``E||J e||^2 = sigma^2 ||J||_F^2``, so
    ``||f(x + e) - f(x)||^2 / sigma^2`` is an unbiased estimate of ``||J||_F^2`` for the
    encoder linearised at ``x`` (one noise draw per image per step). The exact Jacobian of
    a convolutional encoder costs one backward pass per code unit, which is unaffordable.
    Inputs: ``[code, code_of_noisy_input]``; returns ``code`` unchanged.
    """

    def __init__(self, sigma: float = 0.05, weight: float = 1e-2, **kwargs):
        super().__init__(**kwargs)
        self.sigma = sigma
        self.weight = weight

    def call(self, inputs):
        code, noisy_code = inputs
        squared = ops.sum(ops.square(noisy_code - code), axis=-1) / self.sigma**2
        self.add_loss(self.weight * ops.mean(squared))
        return code

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "weight": self.weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAESampling(layers.Layer):
    """Reparameterisation ``z = mean + exp(logvar / 2) * eps`` plus ``beta * KL(q || N(0, I))``.

    At inference (``training`` false) it returns the mean, so reconstructions are
    deterministic.
    """

    def __init__(self, beta: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        mean, logvar = inputs
        kl = -0.5 * ops.sum(1 + logvar - ops.square(mean) - ops.exp(logvar), axis=-1)
        self.add_loss(self.beta * ops.mean(kl))
        if not training:
            return mean
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * logvar) * eps

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BinarisationPenalty(layers.Layer):
    """Pushes a sigmoid code towards 0/1: ``weight * mean(c * (1 - c))`` (zero at the corners)."""

    def __init__(self, weight: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.weight = weight

    def call(self, code):
        self.add_loss(self.weight * ops.mean(code * (1 - code)))
        return code

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DenseTranspose(layers.Layer):
    """A dense layer whose kernel is the transpose of another Dense layer's (tied weights).

    ``output_dim`` is the tied layer's input size. A decoder loaded on its own keeps a copy
    of the tied kernel: the tie matters during training only.
    """

    def __init__(self, tied: layers.Dense, output_dim: int, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.tied = tied
        self.output_dim = output_dim
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        if not self.tied.built:
            self.tied.build((None, self.output_dim))
        self.bias = self.add_weight(name="bias", shape=(self.output_dim,), initializer="zeros")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.tied.kernel)) + self.bias)

    def get_config(self):
        return {
            **super().get_config(),
            "tied": keras.saving.serialize_keras_object(self.tied),
            "output_dim": self.output_dim,
            "activation": keras.activations.serialize(self.activation),
        }

    @classmethod
    def from_config(cls, config):
        tied = keras.saving.deserialize_keras_object(config.pop("tied"))
        return cls(tied=tied, **config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LabelDropout(layers.Layer):
    """Conditional VAE: in training, replace a share ``rate`` of the one-hot labels by zeros
    ("no label"), so the encoder and decoder also work for images whose label is unknown
    (uploads, and the whole index, are encoded that way)."""

    def __init__(self, rate: float = 0.2, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, labels, training=None):
        if not training or self.rate == 0:
            return labels
        keep = keras.random.uniform((ops.shape(labels)[0], 1), seed=self.seed_generator)
        return labels * ops.cast(keep >= self.rate, labels.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class HorizontalFlip(layers.Layer):
    """Mirrors a batch of (N, H, W, C) images left to right."""

    def call(self, images):
        return ops.flip(images, axis=2)
