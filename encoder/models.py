"""Convolutional encoder and decoder, built as separate named Keras models."""

from __future__ import annotations

import keras
from keras import layers

from latentsearch.encoder.config import ModelConfig


def build_encoder(config: ModelConfig) -> keras.Model:
    """Image (H, W, C) in [0, 1] -> bottleneck code of ``latent_dim`` floats."""
    inputs = keras.Input(shape=config.input_shape, name="image")
    x = inputs
    for i, width in enumerate(config.filters):
        x = layers.Conv2D(width, 3, strides=2, padding="same", name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    code = layers.Dense(config.latent_dim, name="code")(x)
    return keras.Model(inputs, code, name="encoder")


def _upsample(x, width: int, decoder: str, index: int):
    """One x2 upsampling stage; bilinear avoids the checkerboard of transposed convs."""
    if decoder == "transpose":
        return layers.Conv2DTranspose(width, 3, strides=2, padding="same", name=f"deconv{index}")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{index}")(x)
    return layers.Conv2D(width, 3, padding="same", name=f"upconv{index}")(x)


def build_decoder(config: ModelConfig) -> keras.Model:
    """Bottleneck code -> reconstructed image in [0, 1]."""
    stages = len(config.filters)
    side = config.image_size // 2**stages
    code = keras.Input(shape=(config.latent_dim,), name="code")
    x = layers.Dense(side * side * config.filters[-1], name="expand")(code)
    x = layers.ReLU(name="expand_relu")(x)
    x = layers.Reshape((side, side, config.filters[-1]), name="grid")(x)
    widths = list(reversed(config.filters))
    for i, width in enumerate(widths):
        x = _upsample(x, width, config.decoder, i)
        x = layers.BatchNormalization(name=f"dbn{i}")(x)
        x = layers.ReLU(name=f"drelu{i}")(x)
    image = layers.Conv2D(
        config.channels, 3, padding="same", activation="sigmoid", name="reconstruction"
    )(x)
    return keras.Model(code, image, name="decoder")


def build_autoencoder(config: ModelConfig) -> keras.Model:
    """Encoder followed by decoder; the two stay reachable as its named sub-models."""
    encoder = build_encoder(config)
    decoder = build_decoder(config)
    inputs = keras.Input(shape=config.input_shape, name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
