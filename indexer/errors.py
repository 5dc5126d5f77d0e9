"""The errors that mean "this request cannot be done": shown as a message, never a traceback."""

from latentsearch.encoder.config import ConfigError
from latentsearch.encoder.training import ModelLoadError
from latentsearch.encoder.versioned_dir import NoBuildError, NotOurDirectoryError
from latentsearch.indexer.build import NothingToIndexError
from latentsearch.indexer.bundle import IndexLoadError
from latentsearch.indexer.evaluation import NoLabelsError
from latentsearch.indexer.faiss_helpers import IndexFileError
from latentsearch.indexer.images import ImageReadError
from latentsearch.indexer.metadata import MetadataError

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    FileNotFoundError,
    NotADirectoryError,
    ImageReadError,
    IndexFileError,
    IndexLoadError,
    MetadataError,
    ModelLoadError,
    NoBuildError,
    NoLabelsError,
    NotOurDirectoryError,
    NothingToIndexError,
)
