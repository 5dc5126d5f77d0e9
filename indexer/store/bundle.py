"""An index directory: latent and raw-pixel FAISS indexes, metadata, manifest and model copy.

They are written together into one build folder and published atomically (see
``latentsearch.encoder.versioned_dir``), so a reader always sees a matching set.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import faiss

from latentsearch.encoder.model_files import ModelLoadError
from latentsearch.encoder.training import TrainedModel, load_model
from latentsearch.indexer.indexes.faiss_helpers import IndexFileError, read_index
from latentsearch.indexer.indexes.pixel_grid import PixelGrid
from latentsearch.indexer.indexes.pixel_segments import SegmentedIndex, read_segments
from latentsearch.indexer.store.manifest import (
    LATENT_FILE,
    METADATA_FILE,
    MODEL_DIR,
    IndexLoadError,
    Manifest,
    current_index_build,
    encoder_sha256,
    raw_segments,
    verify_build,
)
from latentsearch.indexer.store.metadata import Metadata, MetadataError


def copy_model(model: TrainedModel, folder: Path) -> None:
    """Keep the model beside the index, so the index directory is self-contained.

    Copied file by file, so a failed write surfaces as the ``OSError`` it is (``copytree``
    would gather it into a ``shutil.Error`` without its errno).
    """
    target = folder / MODEL_DIR
    target.mkdir()
    for source in sorted(model.path.rglob("*")):
        destination = target / source.relative_to(model.path)
        if source.is_dir():
            destination.mkdir()
        else:
            shutil.copy2(source, destination)


@dataclass
class IndexBundle:
    """Everything a search needs, loaded from one complete build."""

    path: Path
    manifest: Manifest
    latent: faiss.Index
    raw: SegmentedIndex
    metadata: Metadata
    model: TrainedModel

    @classmethod
    def load(cls, index_dir: str | Path) -> IndexBundle:
        """Load the current build of an index directory."""
        return cls.load_build(current_index_build(index_dir))

    @classmethod
    def load_build(cls, folder: Path) -> IndexBundle:
        """Load one build folder (``current_index_build`` names the current one).

        Every way a build can be damaged surfaces as :class:`IndexLoadError`.
        """
        manifest = Manifest.load(folder)
        verify_build(folder, manifest)
        try:
            latent = read_index(folder / LATENT_FILE)
            raw = read_segments(folder, raw_segments(folder, manifest))  # mapped: search only
            model = load_model(folder / MODEL_DIR)
            metadata = Metadata.open(folder / METADATA_FILE)
        except (IndexFileError, ModelLoadError, MetadataError) as err:
            raise IndexLoadError(f"{folder} is damaged: {err}") from err
        bundle = cls(folder, manifest, latent, raw, metadata, model)
        try:
            bundle.check_consistent()
        except IndexLoadError:
            metadata.close()
            raise
        return bundle

    def check_consistent(self) -> None:
        sizes = {
            "manifest": self.manifest.count,
            "latent index": self.latent.ntotal,
            "raw index": self.raw.ntotal,
            "metadata": len(self.metadata.live_rows()),
        }
        if len(set(sizes.values())) != 1:
            raise IndexLoadError(f"{self.path} is inconsistent: row counts differ {sizes}")
        try:  # read now, not at the first search: every search names its hits' labels
            labels = len(self.metadata.labels)
        except MetadataError as err:
            raise IndexLoadError(f"{self.path} is damaged: {err}") from err
        if labels != len(self.metadata.paths):
            raise IndexLoadError(
                f"{self.path} is inconsistent: {labels} labels for "
                f"{len(self.metadata.paths)} metadata rows"
            )
        model_hash = encoder_sha256(self.model.path)
        if model_hash != self.manifest.model_sha256:
            raise IndexLoadError(
                f"{self.path}: the model in it is not the one the index was built with "
                f"(encoder sha256 {model_hash[:12]}…, manifest {self.manifest.model_sha256[:12]}…);"
                " rebuild the index with `latentsearch index`"
            )
        if self.latent.d != self.model.config.latent_dim:
            raise IndexLoadError(
                f"{self.path}: latent index has dimension {self.latent.d}, "
                f"the model's code {self.model.config.latent_dim}"
            )
        if self.raw.d != self.pixel_grid.dim:
            raise IndexLoadError(
                f"{self.path}: raw-pixel index has dimension {self.raw.d}, the manifest's "
                f"grid {self.pixel_grid.describe()} {self.pixel_grid.dim}"
            )

    @property
    def pixel_grid(self) -> PixelGrid:
        return self.manifest.pixel_grid()

    def __len__(self) -> int:
        return self.manifest.count
