"""The errors that mean "this request cannot be done": shown as a message, never a traceback."""

from latentsearch.encoder.config import ConfigError
from latentsearch.encoder.sampling import NotGenerativeError
from latentsearch.encoder.training import ModelLoadError
from latentsearch.encoder.versioned_dir import NoBuildError, NotOurDirectoryError
from latentsearch.indexer.bench_data import BenchmarkError
from latentsearch.indexer.build import NothingToIndexError
from latentsearch.indexer.bundle import IndexLoadError
from latentsearch.indexer.evaluation import NoLabelsError
from latentsearch.indexer.faiss_helpers import IndexFileError
from latentsearch.indexer.images import ImageReadError
from latentsearch.indexer.index_choice import IndexChoiceError
from latentsearch.indexer.metadata import MetadataError
from latentsearch.indexer.ray_engine import RayEngineError
from latentsearch.indexer.staging import DiskFullError

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
