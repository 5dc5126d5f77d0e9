"""The one error base of the package, and its branch for requests that cannot be done.

The CLI, the HTTP API and the page catch ``USER_ERRORS`` and show the message alone; any
other exception is a bug and keeps its traceback.
"""


class LatentSearchError(Exception):
    """Base of every error latentsearch raises on purpose."""


class UserError(LatentSearchError):
    """A request that cannot be done as asked: bad input, a missing or damaged index, a full
    disk. Its message says what to change."""


# A path that does not exist, or is not a folder, raises these before our code can say more.
USER_ERRORS: tuple[type[Exception], ...] = (UserError, FileNotFoundError, NotADirectoryError)
