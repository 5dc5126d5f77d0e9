"""The training graph of each variant: one encoder and decoder, plus the variant's loss terms.

- ``undercomplete``: reconstruction only, through a small code.
- ``denoising``: the encoder sees a corrupted image (Gaussian noise, cut-out, both, or
  random masking of 4x4 patches) and
  the loss compares the reconstruction with the clean one.
- ``sparse``: sigmoid code with an L1 penalty, or KL divergence to a target mean activation.
- ``contractive``: penalty on the encoder's Jacobian (see ``ContractivePenalty``).
- ``vae``: reparameterised sample from ``[mean, logvar]`` and a KL term weighted by beta.
- ``tied``: dense encoder, decoder with the transposed encoder weights.
- ``binary_bits``: a sigmoid code pushed towards 0/1, thresholded for Hamming search.
- ``vqvae``: a grid of vectors snapped to a learned codebook; its codebook and commitment
  losses come from the quantiser inside the encoder (``quantiser.VectorQuantiser``).
- ``cvae``: a VAE whose encoder and decoder both see the one-hot label; in training a
  share of labels is blanked to "no label" (``LabelDropout``) for images without one.

Every penalty is scaled to sit beside the per-pixel mean squared reconstruction error.
"""

from __future__ import annotations

import keras
from keras import layers

from latentsearch.encoder.config import LossConfig, ModelConfig
from latentsearch.encoder.layers import (
    BinarisationPenalty,
    ContractivePenalty,
    KLSparsity,
    LabelDropout,
    RandomCutout,
    RandomPatchMask,
    VAESampling,
)
from latentsearch.encoder.models import build_decoder, build_encoder


def _corrupt(image, config: ModelConfig, loss: LossConfig, seed: int | None):
    if config.variant != "denoising":
        return image
    if loss.corruption == "patches":
        image = RandomPatchMask(loss.mask_ratio, seed=seed, name="mask")(image)
    if loss.corruption in ("cutout", "both"):
        image = RandomCutout(loss.cutout_fraction, seed=seed, name="cutout")(image)
    if loss.corruption in ("gaussian", "both"):
        image = layers.GaussianNoise(loss.noise_std, seed=seed, name="noise")(image)
    return image


def _sparse(code, loss: LossConfig):
    if loss.sparsity == "l1":
        return layers.ActivityRegularization(l1=loss.l1_weight, name="l1_sparsity")(code)
    return KLSparsity(loss.sparsity_target, loss.kl_weight, name="kl_sparsity")(code)


def _penalised_code(outputs, image, encoder, config: ModelConfig, loss: LossConfig, seed):
    """The code the decoder sees, with the variant's penalties attached on the way."""
    if config.variant == "vqvae":
        return outputs[0]  # the quantised grid, flattened; outputs[1] holds its indices
    if config.variant in ("vae", "cvae"):
        # KL per image is a sum over units; dividing by the pixel count matches it to MSE.
        kl_weight = loss.beta / config.raw_dim
        return VAESampling(kl_weight, seed=seed, name="sampling")(outputs)
    code = outputs
    if config.variant == "sparse":
        code = _sparse(code, loss)
    if config.variant == "contractive":
        noisy = layers.GaussianNoise(loss.contractive_sigma, seed=seed, name="probe")(image)
        code = ContractivePenalty(
            loss.contractive_sigma, loss.contractive_weight, name="contractive"
        )([code, encoder(noisy)])
    if config.binary_bits:
        code = BinarisationPenalty(loss.binary_weight, name="binarise")(code)
    return code


def build_autoencoder(
    config: ModelConfig, loss: LossConfig = LossConfig(), seed: int | None = None
) -> keras.Model:
    """Encoder and decoder (reachable as sub-models ``encoder``/``decoder``) with loss terms."""
    encoder = build_encoder(config)
    decoder = build_decoder(config, encoder)
    image = keras.Input(shape=config.input_shape, name="image")
    if config.variant == "cvae":
        return _conditional(image, encoder, decoder, config, loss, seed)
    outputs = encoder(_corrupt(image, config, loss, seed))
    code = _penalised_code(outputs, image, encoder, config, loss, seed)
    return keras.Model(image, decoder(code), name="autoencoder")


def _conditional(image, encoder, decoder, config: ModelConfig, loss: LossConfig, seed):
    """Inputs ``{"image", "label"}``: the same (possibly blanked) label goes to both halves."""
    label = keras.Input(shape=(len(config.labels),), name="label")
    condition = LabelDropout(loss.label_dropout, seed=seed, name="label_dropout")(label)
    outputs = encoder([image, condition])
    code = _penalised_code(outputs, image, encoder, config, loss, seed)
    return keras.Model(
        {"image": image, "label": label}, decoder([code, condition]), name="autoencoder"
    )
