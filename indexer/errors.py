"""The errors that mean "this request cannot be done": shown as a message, never a traceback."""

from latentsearch.encoder.config import ConfigError
from latentsearch.encoder.sampling import NotGenerativeError
from latentsearch.encoder.training import ModelLoadError
from latentsearch.encoder.versioned_dir import NoBuildError, NotOurDirectoryError
from latentsearch.indexer.bench.data import BenchmarkError
from latentsearch.indexer.bench.leave_one_out import NoLabelsError
from latentsearch.indexer.files.images import ImageReadError
from latentsearch.indexer.indexes.choice import IndexChoiceError
from latentsearch.indexer.indexes.faiss_helpers import IndexFileError
from latentsearch.indexer.pipeline.build import NothingToIndexError
from latentsearch.indexer.pipeline.ray.engine import RayEngineError
from latentsearch.indexer.store.bundle import IndexLoadError
from latentsearch.indexer.store.disk import DiskFullError
from latentsearch.indexer.store.metadata import MetadataError

USER_ERRORS: tuple[type[Exception], ...] = (
    BenchmarkError,
    ConfigError,
    DiskFullError,
    FileNotFoundError,
    NotADirectoryError,
    IndexChoiceError,
    ImageReadError,
    IndexFileError,
    IndexLoadError,
    MetadataError,
    ModelLoadError,
    NoBuildError,
    NoLabelsError,
    NotGenerativeError,
    NotOurDirectoryError,
    NothingToIndexError,
    RayEngineError,
)
