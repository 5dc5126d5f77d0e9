"""Frozen configuration dataclasses, saved as JSON beside the models they produced."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from latentsearch.encoder.errors import UserError

DECODERS = ("transpose", "bilinear")
VARIANTS = ("undercomplete", "denoising", "sparse", "contractive", "vae", "tied", "vqvae", "cvae")
GENERATIVE = ("vae", "cvae")  # variants with a prior to sample from
CORRUPTIONS = ("gaussian", "cutout", "both", "patches")
SPARSITY_PENALTIES = ("l1", "kl")
SEARCH_CODES = ("auto", "bottleneck", "features")
T = TypeVar("T")


class ConfigError(UserError, ValueError):
    """A configuration value that cannot produce a working model."""


class MissingLabelsError(ConfigError):
    """A conditional model needs labelled data: one sub-folder per label."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a convolutional autoencoder.

    Each entry of ``filters`` is one stride-2 convolution, so ``image_size`` must be
    divisible by ``2 ** len(filters)``.
    """

    image_size: int = 32
    channels: int = 3
    latent_dim: int = 128
    filters: tuple[int, ...] = (32, 64, 128)
    decoder: str = "bilinear"  # ranks better than transpose on CIFAR-10 (docs/family.md)
    variant: str = "undercomplete"
    binary_bits: int = 0  # > 0: a code of that many bits, for Hamming search
    codebook_size: int = 0  # vqvae: K entries; latent_dim = grid ** 2 * codebook_dim
    codebook_dim: int = 0  # vqvae: length of each codebook vector
    labels: tuple[str, ...] = ()  # cvae: the label vocabulary, in one-hot order

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.binary_bits and (self.binary_bits % 8 or self.binary_bits != self.latent_dim):
            raise ConfigError(
                f"binary_bits must be a multiple of 8 equal to latent_dim, got "
                f"{self.binary_bits} bits for a {self.latent_dim}-d code"
            )
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 (grey) or 3 (colour), got {self.channels}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.latent_dim < 1 or not self.filters or min(self.filters) < 1:
            raise ConfigError("latent_dim and every filter width must be positive")
        stride = 2 ** len(self.filters)
        if self.image_size < stride or self.image_size % stride:
            raise ConfigError(
                f"image_size {self.image_size} must be a multiple of {stride} "
                f"(2 ** number of filter stages {len(self.filters)})"
            )
        if self.variant == "vqvae":
            self._check_codebook()

    def _check_codebook(self) -> None:
        if self.codebook_size < 2 or self.codebook_dim < 1:
            raise ConfigError("vqvae needs codebook_size >= 2 and codebook_dim >= 1")
        if self.latent_dim != self.grid**2 * self.codebook_dim:
            raise ConfigError(
                f"vqvae: latent_dim must be grid^2 x codebook_dim = {self.grid}^2 x "
                f"{self.codebook_dim}, got {self.latent_dim}"
            )

    @property
    def grid(self) -> int:
        """Side of the encoder's last feature map (the vqvae's grid of codebook indices)."""
        return self.image_size // 2 ** len(self.filters)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    @property
    def code_activation(self) -> str | None:
        """Sigmoid where the code is read as probabilities (sparse); else linear.

        A binary code is linear here: ``build_encoder`` centres it before its sigmoid.
        """
        return "sigmoid" if self.variant == "sparse" else None

    @property
    def binary_threshold(self) -> float:
        """Where a code unit becomes bit 1: the VAE mean's sign, else a sigmoid at 0.5."""
        return 0.0 if self.variant == "vae" else 0.5

    @property
    def raw_dim(self) -> int:
        """Length of the flattened raw-pixel vector of one image."""
        return self.image_size * self.image_size * self.channels


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained; the seed makes a run repeatable.

    ``None`` means auto: chosen from the collection when training starts
    (``encoder.adaptive``, ``encoder.projection``), with the reason kept in ``reasons``.
    """

    epochs: int | None = None  # auto: about 800 optimiser steps (encoder.adaptive)
    batch_size: int | None = None  # auto: smaller for small collections (encoder.adaptive)
    learning_rate: float = 1e-3
    validation_split: float = 0.1
    seed: int = 0
    # what the saved encoder outputs for search: the bottleneck, or a PCA of the features
    # feeding it (encoder.projection); auto: chosen from the variant and the collection
    search_code: str = "auto"
    # projected search code: the same code for a photo and its mirror image (right for
    # photos; wrong for digits or text, where left and right differ in meaning); auto:
    # on when the collection looks the same mirrored (encoder.projection)
    mirror: bool | None = None
    reasons: dict[str, str] = field(default_factory=dict)  # why each auto setting was chosen

    def __post_init__(self) -> None:
        if (self.epochs is not None and self.epochs < 1) or (
            self.batch_size is not None and self.batch_size < 1
        ):
            raise ConfigError("epochs and batch_size must be at least 1")
        if not 0.0 <= self.validation_split < 0.5:
            raise ConfigError("validation_split must be in [0, 0.5)")
        if self.search_code not in SEARCH_CODES:
            raise ConfigError(f"search_code must be one of {SEARCH_CODES}")


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms that make each variant; unused terms are ignored."""

    noise_std: float = 0.1  # denoising: Gaussian noise on the input
    corruption: str = "gaussian"  # denoising: gaussian, cutout, both, or patches (masking)
    cutout_fraction: float = 0.25
    mask_ratio: float = 0.5  # patches: share of 4x4 squares zeroed
    sparsity: str = "l1"  # sparse: l1 on the code, or kl to a target mean activation
    l1_weight: float = 1e-3
    kl_weight: float = 1e-2
    sparsity_target: float = 0.05
    contractive_weight: float = 1e-4
    contractive_sigma: float = 0.05
    beta: float = 1.0  # vae: weight of the KL term (beta-VAE)
    binary_weight: float = 0.1  # binary codes: push sigmoid units towards 0 or 1
    commitment: float = 0.25  # vqvae: weight of the commitment term (beta of VQ-VAE)
    label_dropout: float = 0.2  # cvae: share of training images shown with no label

    def __post_init__(self) -> None:
        if self.corruption not in CORRUPTIONS:
            raise ConfigError(f"corruption must be one of {CORRUPTIONS}, got {self.corruption!r}")
        if self.sparsity not in SPARSITY_PENALTIES:
            raise ConfigError(f"sparsity must be one of {SPARSITY_PENALTIES}")
        if not 0 <= self.mask_ratio < 1:
            raise ConfigError("mask_ratio must be in [0, 1)")
        if not 0 <= self.label_dropout < 1 or self.commitment < 0:
            raise ConfigError("label_dropout must be in [0, 1) and commitment >= 0")
        if not 0 < self.sparsity_target < 1:
            raise ConfigError("sparsity_target (rho) must be in (0, 1)")
        if min(self.noise_std, self.beta) < 0 or self.contractive_sigma <= 0:
            raise ConfigError("noise_std and beta must be >= 0, contractive_sigma > 0")


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def save_json(config: Any, path: Path) -> None:
    Path(path).write_text(json.dumps(to_dict(config), indent=2) + "\n")


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from a dict, ignoring keys it does not know (newer files)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]  # T: a dataclass
    return cls(**{k: v for k, v in data.items() if k in names})


def load_json(cls: type[T], path: Path) -> T:
    return from_dict(cls, json.loads(Path(path).read_text()))
