"""A build's manifest: what was built, from what, and the checks before it is read.

Imports no Keras, so an index update can check and plan against the current build while
the process that runs the model is still starting (Keras' import takes seconds).
"""

from __future__ import annotations

import json
import logging
import os
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import faiss

from latentsearch.encoder.errors import UserError
from latentsearch.encoder.model_files import ENCODER_FILE
from latentsearch.encoder.versioned_dir import NoBuildError, current_build
from latentsearch.indexer.files.folders import file_sha256
from latentsearch.indexer.indexes.pixel_grid import PixelGrid, grid_of_build
from latentsearch.indexer.indexes.pixel_segments import segment_names
from latentsearch.indexer.store.checksums import (
    MANIFEST_DIGEST,
    ChecksumError,
    manifest_digest,
    verify_tree,
)

FORMAT_VERSION = 1
LATENT_FILE = "latent.faiss"
METADATA_FILE = "metadata.h5"
MANIFEST_FILE = "manifest.json"
MODEL_DIR = "model"
log = logging.getLogger(__name__)
TRUST_ENV = "LATENTSEARCH_TRUST_UNVERIFIED"  # "1": load builds that have no checksums
# and the Keras backend's own libraries (encoder.backend): TensorFlow only when it computed
_LIBRARIES = ("latentsearch", "keras", "faiss-cpu", "numpy", "pillow", "h5py")


class IndexLoadError(UserError, RuntimeError):
    """An index directory is missing, incomplete, corrupt or inconsistent."""


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    versions["faiss"] = faiss.__version__
    # imported here: the backend's versions are asked only when a build is written, and
    # importing Keras (its backend) costs seconds
    from latentsearch.encoder.backend import backend_versions

    return versions | backend_versions()


@dataclass(frozen=True)
class Manifest:
    """What was built, from what, and with which libraries."""

    data_root: str
    model_source: str
    model_config: dict
    model_sha256: str
    latent_dim: int
    raw_dim: int
    count: int
    skipped: list[dict] = field(default_factory=list)
    metric: str = "l2"
    index_type: str = "Flat"
    build_seconds: float = 0.0
    created_at: str = ""
    # for `index --update`: the build it started from and how many files it kept/added/removed
    update: dict | None = None
    # an IVF index's probes and the recall@10 they reached when tuned (indexes.tuning)
    probes: dict | None = None
    versions: dict[str, str] = field(default_factory=library_versions)
    format_version: int = FORMAT_VERSION
    # sha256 of every other file of the build; empty in builds made before they were kept
    checksums: dict[str, str] = field(default_factory=dict)
    manifest_sha256: str = ""  # of the manifest's other fields, as saved

    def pixel_grid(self) -> PixelGrid:
        """The grid the raw-pixel baseline stores (``raw_dim`` of the model's input size)."""
        config = self.model_config
        try:
            return grid_of_build(config["image_size"], config["channels"], self.raw_dim)
        except (KeyError, TypeError, ValueError) as err:
            raise IndexLoadError(
                f"the manifest's raw-pixel size does not fit its model: {err}"
            ) from err

    def save(self, folder: Path) -> None:
        fields = asdict(self)
        fields[MANIFEST_DIGEST] = manifest_digest(fields)
        (folder / MANIFEST_FILE).write_text(json.dumps(fields, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_FILE
        if not path.is_file():
            raise IndexLoadError(not_an_index(folder))
        try:
            data = json.loads(path.read_text())
            version = data.get("format_version") if isinstance(data, dict) else None
            if version != FORMAT_VERSION:
                raise IndexLoadError(
                    f"{folder} has index format {version}, this latentsearch "
                    f"reads {FORMAT_VERSION}: rebuild it with `latentsearch index`"
                )
            saved_digest = data.get(MANIFEST_DIGEST)
            if saved_digest and saved_digest != manifest_digest(data):
                raise IndexLoadError(
                    f"{path} is damaged or was edited: it does not match its checksum; "
                    "rebuild the index with `latentsearch index`"
                )
            return cls(**data)
        except (OSError, ValueError, TypeError) as err:
            raise IndexLoadError(f"cannot read {path}: {err}") from err


def not_an_index(folder: Path, why: str = f"no {MANIFEST_FILE}") -> str:
    """Why ``folder`` (a build folder, or what was given for one) cannot be read as an index:
    the one message for it, wherever it is found out."""
    if (folder / ENCODER_FILE).is_file():
        return (
            f"{folder} holds a trained model, not an index: build an index with it first, "
            "`latentsearch index --data PHOTOS --model MODEL_DIR --out INDEX_DIR`"
        )
    return f"{folder} is not an index ({why}): build one with `latentsearch index`"


def current_index_build(index_dir: str | Path) -> Path:
    """The build folder an index directory currently points at."""
    try:
        return current_build(index_dir)
    except NoBuildError as err:
        raise IndexLoadError(not_an_index(Path(index_dir), str(err))) from err


def verify_build(folder: Path, manifest: Manifest) -> None:
    """Check every file of the build against the manifest's checksums, before reading any.

    A manifest without checksums (an old build, or one whose checksums were deleted) is
    refused: with them gone, a corrupted vector could lead every search. ``--trust-unverified``
    (``LATENTSEARCH_TRUST_UNVERIFIED=1``) loads it anyway, with a warning.
    """
    if not (manifest.checksums and manifest.manifest_sha256):
        if os.environ.get(TRUST_ENV) != "1":
            raise IndexLoadError(
                f"{folder} has no checksums (built before they were kept, or they were "
                "removed), so damage to its files cannot be detected; rebuild it with "
                "`latentsearch index`, or pass --trust-unverified to load it anyway"
            )
        log.warning(
            "%s has no checksums: damage to its files cannot be detected; rebuild it with "
            "`latentsearch index` to add them",
            folder,
        )
        return
    try:
        verify_tree(folder, manifest.checksums)
    except ChecksumError as err:
        if err.name.startswith(f"{MODEL_DIR}/"):
            raise IndexLoadError(
                f"{folder}: the model in it is not the one the index was built with ({err}); "
                "rebuild the index with `latentsearch index`"
            ) from err
        raise IndexLoadError(
            f"{folder} is damaged: {err}; rebuild it with `latentsearch index`"
        ) from err


def raw_segments(folder: Path, manifest: Manifest) -> list[str]:
    """The raw-pixel segment files of a build: those its manifest vouches for, or (a build
    without checksums) those in the folder."""
    names = manifest.checksums or [path.name for path in Path(folder).iterdir()]
    found = segment_names(names)
    if not found:
        raise IndexLoadError(f"{folder} is damaged: it has no raw-pixel index")
    return found


def encoder_sha256(model_dir: Path) -> str:
    """What identifies the model an index was built with: its saved encoder's sha256."""
    return file_sha256(Path(model_dir) / ENCODER_FILE)
