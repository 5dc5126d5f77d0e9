"""Encoder and decoder as separate named Keras models, shared by every variant.

The convolutional encoder is stride-2 convolutions down to a dense code; the ``tied``
variant is a dense encoder whose decoder reuses the transposed encoder weights. A VAE
encoder has two outputs, ``[mean, logvar]``: the first output of any encoder is the code
that search uses. A ``vqvae`` encoder ends in a codebook (``quantiser.VectorQuantiser``):
its outputs are ``[flattened quantised grid, grid of indices]``. A ``cvae`` encoder and
decoder take a second input, the one-hot ``label`` (all zeros: no label).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from latentsearch.encoder.config import GENERATIVE, ConfigError, ModelConfig

TIED_HIDDEN = 512  # width of the tied dense autoencoder's hidden layer
# Keras' default 0.99 leaves the running statistics half at their initial values after
# 75 steps: on 2,000 photos the saved model reconstructed 1.9x worse in inference than in
# training mode, 1.06x with 0.9 (docs/quality.md)
BN_MOMENTUM = 0.9
BIT_NOISE = 1.0  # std of the training noise on a binary code's centred pre-activation


def _conv_trunk(inputs, config: ModelConfig, flatten: bool = True):
    x = inputs
    for i, width in enumerate(config.filters):
        x = layers.Conv2D(width, 3, strides=2, padding="same", name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    return layers.Flatten(name="flatten")(x) if flatten else x


def _vq_encoder(config: ModelConfig) -> keras.Model:
    from latentsearch.encoder.quantiser import VectorQuantiser

    inputs = keras.Input(shape=config.input_shape, name="image")
    x = _conv_trunk(inputs, config, flatten=False)
    x = layers.Conv2D(config.codebook_dim, 1, name="pre_quantise")(x)
    quantised, indices = VectorQuantiser(config.codebook_size, name="quantiser")(x)
    code = layers.Flatten(name="code")(quantised)
    return keras.Model(inputs, [code, indices], name="encoder")


def label_input(config: ModelConfig):
    """The one-hot label input of a conditional (cvae) model."""
    if not config.labels:
        raise ConfigError("a cvae is conditioned on labels: config.labels is empty")
    return keras.Input(shape=(len(config.labels),), name="label")


def _binary_code(x, config: ModelConfig):
    """Sigmoid bits centred per unit, so each bit splits the training images about evenly.

    Without the centring, the push towards 0/1 drives most units to the same side for every
    image (dead bits). Batch normalisation without a learned offset keeps each unit's
    pre-activation at mean 0; its learned scale lets the sigmoid saturate. Training noise on
    the pre-activation (semantic hashing, Salakhutdinov & Hinton) rewards codes that survive
    thresholding.
    """
    code = layers.Dense(config.latent_dim, name="code")(x)
    code = layers.BatchNormalization(center=False, momentum=0.9, name="code_centre")(code)
    code = layers.GaussianNoise(BIT_NOISE, name="bit_noise")(code)
    return layers.Activation("sigmoid", name="bits")(code)


def build_encoder(config: ModelConfig) -> keras.Model:
    """Image (H, W, C) in [0, 1] -> code of ``latent_dim`` floats (VAE: [mean, logvar])."""
    if config.variant == "vqvae":
        return _vq_encoder(config)
    inputs = keras.Input(shape=config.input_shape, name="image")
    if config.variant == "tied":
        x = layers.Flatten(name="flatten")(inputs)
        x = layers.Dense(TIED_HIDDEN, activation="relu", name="hidden")(x)
    else:
        x = _conv_trunk(inputs, config)
    if config.variant == "cvae":
        label = label_input(config)
        x = layers.Concatenate(name="with_label")([x, label])
        inputs = [inputs, label]
    if config.binary_bits and config.variant != "vae":
        code = _binary_code(x, config)
    else:
        code = layers.Dense(config.latent_dim, activation=config.code_activation, name="code")(x)
    if config.variant in GENERATIVE:
        logvar = layers.Dense(config.latent_dim, name="logvar")(x)
        return keras.Model(inputs, [code, logvar], name="encoder")
    return keras.Model(inputs, code, name="encoder")


def _upsample(x, width: int, decoder: str, index: int):
    """One x2 upsampling stage; bilinear avoids the checkerboard of transposed convs."""
    if decoder == "transpose":
        return layers.Conv2DTranspose(width, 3, strides=2, padding="same", name=f"deconv{index}")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{index}")(x)
    return layers.Conv2D(width, 3, padding="same", name=f"upconv{index}")(x)


def _tied_decoder(config: ModelConfig, encoder: keras.Model) -> keras.Model:
    from latentsearch.encoder.layers import DenseTranspose

    code = keras.Input(shape=(config.latent_dim,), name="code")
    hidden = DenseTranspose(
        encoder.get_layer("code"), TIED_HIDDEN, activation="relu", name="untie_code"
    )(code)
    pixels = DenseTranspose(
        encoder.get_layer("hidden"), math.prod(config.input_shape), "sigmoid", name="untie_hidden"
    )(hidden)
    image = layers.Reshape(config.input_shape, name="reconstruction")(pixels)
    return keras.Model(code, image, name="decoder")


def build_decoder(config: ModelConfig, encoder: keras.Model | None = None) -> keras.Model:
    """Code -> reconstructed image in [0, 1]. The ``tied`` variant needs its ``encoder``."""
    if config.variant == "tied":
        if encoder is None:
            raise ValueError("the tied decoder reuses the encoder's weights: pass the encoder")
        return _tied_decoder(config, encoder)
    code = keras.Input(shape=(config.latent_dim,), name="code")
    inputs, x = code, code
    if config.variant == "cvae":
        label = label_input(config)
        inputs, x = [code, label], layers.Concatenate(name="with_label")([code, label])
    x = _decoder_grid(x, config)
    for i, width in enumerate(reversed(config.filters)):
        x = _upsample(x, width, config.decoder, i)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"dbn{i}")(x)
        x = layers.ReLU(name=f"drelu{i}")(x)
    image = layers.Conv2D(
        config.channels, 3, padding="same", activation="sigmoid", name="reconstruction"
    )(x)
    return keras.Model(inputs, image, name="decoder")


def _decoder_grid(code, config: ModelConfig):
    """The code as the smallest feature map: dense and reshaped, or (vqvae) its own grid."""
    side, width = config.grid, config.filters[-1]
    if config.variant == "vqvae":
        x = layers.Reshape((side, side, config.codebook_dim), name="grid")(code)
        return layers.Conv2D(width, 3, padding="same", activation="relu", name="grid_conv")(x)
    x = layers.Dense(side * side * width, name="expand")(code)
    x = layers.ReLU(name="expand_relu")(x)
    return layers.Reshape((side, side, width), name="grid")(x)
