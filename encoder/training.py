"""Training an autoencoder and saving / loading it as ``.keras`` files with JSON config."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from latentsearch.encoder.adaptive import resolve_training, validates
from latentsearch.encoder.config import (
    LossConfig,
    MissingLabelsError,
    ModelConfig,
    TrainConfig,
    load_json,
    save_json,
)
from latentsearch.encoder.model_files import (
    AUTOENCODER_FILE,
    CURVES_FILE,
    DECODER_FILE,
    ENCODER_FILE,
    HISTORY_FILE,
    LOSS_CONFIG_FILE,
    MODEL_CONFIG_FILE,
    TRAIN_CONFIG_FILE,
    ModelLoadError,
    model_files,
)
from latentsearch.encoder.quantiser import CodebookMonitor
from latentsearch.encoder.search_code import PROJECTED_DECODER_START, search_parts
from latentsearch.encoder.variants import build_autoencoder
from latentsearch.encoder.versioned_dir import current_build, new_build

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainedModel:
    """What the indexer needs from a trained model."""

    encoder: keras.Model
    decoder: keras.Model | None
    config: ModelConfig
    path: Path
    # image -> reconstruction through the bottleneck, where the search code is a projection
    # (encoder.projection): its decoder can only estimate the bottleneck from that code
    redrawer: keras.Model | None = None


def check_images(images: np.ndarray, config: ModelConfig) -> None:
    if images.ndim != 4 or images.shape[1:] != config.input_shape:
        raise ValueError(f"expected images of shape (N, {config.input_shape}), got {images.shape}")
    if len(images) < 2:
        raise ValueError("need at least 2 images to train")


@dataclass(frozen=True)
class FitResult:
    """A trained autoencoder with the encoder and decoder to save for search."""

    autoencoder: keras.Model
    parts: tuple[keras.Model, keras.Model]  # bottleneck or projected search code
    train_config: TrainConfig  # every auto setting filled in, with its reason
    history: dict[str, list[float]]


def fit(
    images: np.ndarray,
    model_config: ModelConfig,
    train_config: TrainConfig,
    loss_config: LossConfig = LossConfig(),
    labels: np.ndarray | None = None,
) -> FitResult:
    """What ``latentsearch train`` does to the images: the schedule chosen from their
    number, the fit, then the search code chosen from the trained model
    (``search_code.search_parts``). Save it with ``save_fit``."""
    train_config = resolve_training(train_config, len(images))
    model, history = train_autoencoder(images, model_config, train_config, loss_config, labels)
    parts, train_config = search_parts(model, model_config, train_config, images)
    return FitResult(model, parts, train_config, history)


def save_fit(
    result: FitResult,
    model_config: ModelConfig,
    out_dir: str | Path,
    loss_config: LossConfig = LossConfig(),
) -> Path:
    """Save a ``fit`` as ``latentsearch train`` does: its search code, configs and history."""
    return save_model(
        result.autoencoder,
        model_config,
        result.train_config,
        result.history,
        out_dir,
        loss_config,
        result.parts,
    )


def train_autoencoder(
    images: np.ndarray,
    model_config: ModelConfig,
    train_config: TrainConfig,
    loss_config: LossConfig = LossConfig(),
    labels: np.ndarray | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Fit an autoencoder to reconstruct ``images`` (N, H, W, C floats in [0, 1]): the bare
    fit, saved with the bottleneck as its code; ``fit`` also chooses the search code.

    A ``cvae`` also needs ``labels``: (N,) indices into ``model_config.labels``. Auto
    (``None``) batch size and epochs are chosen from the number of images
    (``encoder.adaptive.resolve_training``).
    """
    check_images(images, model_config)
    train_config = resolve_training(train_config, len(images))
    keras.utils.set_random_seed(train_config.seed)
    model = build_autoencoder(model_config, loss_config, seed=train_config.seed)
    model.compile(optimizer=keras.optimizers.Adam(train_config.learning_rate), loss="mse")
    order = np.random.default_rng(train_config.seed).permutation(len(images))
    images = images[order]
    inputs = _model_inputs(images, model_config, None if labels is None else labels[order])
    has_validation = validates(len(images), train_config)
    history = model.fit(
        inputs,
        images,
        batch_size=train_config.batch_size,
        epochs=train_config.epochs,
        validation_split=train_config.validation_split if has_validation else 0.0,
        callbacks=_callbacks(model, model_config, "val_loss" if has_validation else "loss"),
        # one line per epoch in logs; the live bar only on a terminal
        verbose=1 if sys.stdout.isatty() else 2,
    )
    curves = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return model, curves


def _model_inputs(images: np.ndarray, config: ModelConfig, labels: np.ndarray | None):
    """The images, and for a cvae their one-hot labels beside them."""
    if config.variant != "cvae":
        return images
    if labels is None or len(labels) != len(images):
        raise MissingLabelsError("a cvae trains on labelled images: pass one label per image")
    one_hot = np.eye(len(config.labels), dtype=np.float32)[np.asarray(labels, dtype=np.int64)]
    return {"image": images, "label": one_hot}


class StopWhenLearningRateSpent(keras.callbacks.Callback):
    """Stop once the plateau schedule has cut the learning rate below ``floor``.

    Early stopping waits for an epoch with no improvement at all, and on a small collection
    the loss keeps creeping down by millionths while the rate is halved to nothing: the
    last half of a 40-epoch run then changes no weight that matters.
    """

    def __init__(self, floor: float) -> None:
        super().__init__()
        self.floor = floor

    def on_epoch_end(self, epoch, logs=None):
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if rate < self.floor:
            log.info("stopping after epoch %d: learning rate %.1e is spent", epoch + 1, rate)
            self.model.stop_training = True


def _callbacks(model: keras.Model, config: ModelConfig, monitor: str) -> list:
    initial_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=3, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=1),
        # ten halvings: the weights barely move any more (early stopping restores the best)
        StopWhenLearningRateSpent(initial_rate / 1000),
    ]
    if config.variant == "vqvae":
        quantiser = model.get_layer("encoder").get_layer("quantiser")
        callbacks.insert(0, CodebookMonitor(quantiser))
    return callbacks


def save_model(
    model: keras.Model,
    model_config: ModelConfig,
    train_config: TrainConfig,
    history: dict[str, list[float]],
    out_dir: str | Path,
    loss_config: LossConfig = LossConfig(),
    parts: tuple[keras.Model, keras.Model] | None = None,
) -> Path:
    """Write the autoencoder, its encoder and decoder, configs and history; swap in atomically.

    ``parts``: the (encoder, decoder) to save instead of the autoencoder's own, e.g. with a
    projected search code (``encoder.projection``).
    """
    encoder, decoder = parts or (model.get_layer("encoder"), model.get_layer("decoder"))
    with new_build(out_dir) as staging:
        model.save(staging / AUTOENCODER_FILE)
        encoder.save(staging / ENCODER_FILE)
        decoder.save(staging / DECODER_FILE)
        save_json(model_config, staging / MODEL_CONFIG_FILE)
        save_json(train_config, staging / TRAIN_CONFIG_FILE)
        save_json(loss_config, staging / LOSS_CONFIG_FILE)
        (staging / HISTORY_FILE).write_text(json.dumps(history, indent=2) + "\n")
        if any(history.values()):  # an untrained model (a throughput check) has no curves
            plot_loss_curves(history, staging / CURVES_FILE)
    final = current_build(out_dir)
    log.info("saved model to %s", final)
    return final


def plot_loss_curves(history: dict[str, list[float]], path: Path) -> None:
    """Training and validation loss per epoch, as a PNG beside the model.

    A bare ``Figure`` needs no display and leaves pyplot's backend alone (switching it to
    Agg would silence the inline plots of a notebook that saves a model).
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="tight")
    axes = figure.subplots()
    for name in ("loss", "val_loss"):
        if history.get(name):
            axes.plot(range(1, len(history[name]) + 1), history[name], marker="o", label=name)
    axes.set(xlabel="epoch", ylabel="loss", yscale="log", title="Autoencoder training")
    if axes.lines:
        axes.legend()
    figure.savefig(path, dpi=100)


def load_model(model_dir: str | Path, with_decoder: bool = True) -> TrainedModel:
    """Load the encoder (and decoder) a model directory holds."""
    folder = model_files(model_dir)
    try:
        config = load_json(ModelConfig, folder / MODEL_CONFIG_FILE)
        encoder = keras.saving.load_model(folder / ENCODER_FILE, compile=False)
        decoder, redrawer = None, None
        if with_decoder and (folder / DECODER_FILE).is_file():
            decoder = keras.saving.load_model(folder / DECODER_FILE, compile=False)
            if PROJECTED_DECODER_START in [layer.name for layer in decoder.layers]:
                redrawer = _bottleneck_redrawer(folder / AUTOENCODER_FILE)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(f"cannot load the model in {folder}: {err}") from err
    return TrainedModel(encoder, decoder, config, folder, redrawer)


def _bottleneck_redrawer(autoencoder_file: Path) -> keras.Model:
    """The trained encoder and decoder end to end, without the training-only layers."""
    autoencoder = keras.saving.load_model(autoencoder_file, compile=False)
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    return keras.Model(encoder.input, decoder(encoder.output), name="redrawer")


def load_train_config(model_dir: str | Path) -> TrainConfig:
    """How a saved model was trained, with the reasons for its auto choices."""
    folder = model_files(model_dir)
    try:
        return load_json(TrainConfig, folder / TRAIN_CONFIG_FILE)
    except (OSError, ValueError, TypeError) as err:
        raise ModelLoadError(f"cannot read the training config in {folder}: {err}") from err


def model_input_size(model_dir: str | Path) -> tuple[int, int]:
    """``(image_size, channels)`` of the images a saved model takes, from its config."""
    folder = model_files(model_dir)
    try:
        config = load_json(ModelConfig, folder / MODEL_CONFIG_FILE)
    except (OSError, ValueError, TypeError) as err:
        raise ModelLoadError(f"cannot read the model config in {folder}: {err}") from err
    return config.image_size, config.channels
