"""The Keras backend in use and the accelerators it sees.

The one module that asks a backend library (TensorFlow, JAX or PyTorch) anything
directly; everything else goes through ``keras`` and ``keras.ops``, so the product runs
under ``KERAS_BACKEND=tensorflow|jax|torch``. The backend library is imported only when
asked about, and only the one Keras already runs on.
"""

from __future__ import annotations

import functools
import logging
from importlib import metadata as importlib_metadata

import keras

log = logging.getLogger(__name__)
# the distributions whose versions say what a backend computed with
BACKEND_PACKAGES = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "torch": ("torch",)}
BACKEND_KEY = "keras_backend"  # its name's key in a manifest's or report's versions


def backend_name() -> str:
    """``tensorflow``, ``jax``, ``torch`` (or another backend Keras was told to use)."""
    return keras.backend.backend()


def backend_versions() -> dict[str, str]:
    """The backend's name and the versions of its libraries, for manifests and reports."""
    name = backend_name()
    versions = {BACKEND_KEY: name}
    for package in BACKEND_PACKAGES.get(name, ()):
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def _tensorflow_gpus() -> tuple[str, ...]:
    import tensorflow as tf

    # physical devices: listing them does not claim the GPUs' memory, as logical ones do
    return tuple(device.name for device in tf.config.list_physical_devices("GPU"))


def _jax_gpus() -> tuple[str, ...]:
    import jax

    # the default backend's devices: JAX falls back to the CPU when its GPU plugin fails
    return tuple(str(device) for device in jax.devices() if device.platform in ("gpu", "cuda"))


def _torch_gpus() -> tuple[str, ...]:
    import torch

    if not torch.cuda.is_available():
        return ()
    return tuple(
        f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())
    )


_PROBES = {"tensorflow": _tensorflow_gpus, "jax": _jax_gpus, "torch": _torch_gpus}


@functools.cache
def visible_gpus() -> tuple[str, ...]:
    """The GPUs the Keras backend in use computes on (none on this build or machine:
    empty). Asked once: the answer cannot change within a process."""
    name = backend_name()
    probe = _PROBES.get(name)
    if probe is None:
        log.info("Keras backend %s: its GPUs are not probed, encoding as on a CPU", name)
        return ()
    return probe()
