"""Writing a new build when the disk may fill up: every failed write ends as one clear error.

A build is written into a staging folder (``encoder.versioned_dir.new_build``) that is
removed when anything fails, so the previous index stays current. What this module adds is
that a write refused for lack of space (``ENOSPC``, ``EDQUOT``) or size (``EFBIG``) surfaces
as :class:`DiskFullError`, whichever file it hit, and that HDF5 never sees a failed write:
HDF5 cannot close a file after one, and the process then crashes (SIGSEGV) when it exits.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentsearch.encoder.errors import UserError
from latentsearch.encoder.versioned_dir import new_build

log = logging.getLogger(__name__)
DISK_FULL = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "a file grew past the size allowed",
}


class DiskFullError(UserError, OSError):
    """A file of a new build could not be written for lack of space; nothing was replaced."""


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in DISK_FULL


def disk_full_error(err: OSError) -> DiskFullError:
    """The one-line error for a failed write of a new build (``err.errno`` in DISK_FULL)."""
    where = err.filename2 or err.filename  # a copy names its source first
    detail = f"{err.strerror}: {where}" if where else err.strerror
    error = DiskFullError(
        f"cannot write the new index: {DISK_FULL.get(err.errno or 0, 'no space left')} ({detail}); "
        "the previous index is untouched"
    )
    error.errno = err.errno  # the message stays one line, without "[Errno N]"
    return error


@contextmanager
def staged_build(out_dir: str | Path) -> Iterator[Path]:
    """``new_build(out_dir)``, with a write refused for space raised as :class:`DiskFullError`."""
    try:
        with new_build(out_dir) as staging:
            yield staging
    except DiskFullError:
        raise
    except OSError as err:
        if not is_disk_full(err):
            raise
        log.debug("build abandoned", exc_info=True)
        raise disk_full_error(err) from None


def strerror_errno(message: str) -> int | None:
    """The disk-full errno whose text ends ``message`` (faiss reports ``... (File too large)``)."""
    for code in DISK_FULL:
        if message.rstrip().endswith(f"({os.strerror(code)})"):
            return code
    return None


class GuardedFile:
    """A binary file for h5py's ``fileobj`` driver whose writes never fail inside HDF5.

    The first failed write (or growth) is kept in :attr:`error` and it and every later
    write are dropped, so HDF5 goes on and closes the file normally; the owner then
    raises :attr:`error` (see ``MetadataWriter``). Reads pass through.
    """

    def __init__(self, path: Path, mode: str) -> None:
        self.path = Path(path)
        self.error: OSError | None = None
        self._raw = open(self.path, mode, buffering=0)  # closed by close()

    def _failed(self, err: OSError) -> None:
        if self.error is None:
            self.error = OSError(err.errno, err.strerror, str(self.path))
            log.debug("write to %s failed: %s", self.path, err)

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        size = view.nbytes
        while self.error is None and view.nbytes:
            try:
                written = self._raw.write(view)
            except OSError as err:
                self._failed(err)
                break
            if not written:  # a regular file only writes nothing when it cannot grow
                self._failed(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
            view = view[written:]
        return size

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._raw.truncate(size)
            except OSError as err:
                self._failed(err)
        return self._raw.tell() if size is None else size

    def readinto(self, buffer: memoryview) -> int:
        return self._raw.readinto(buffer) or 0  # type: ignore[attr-defined]  # a raw file

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size) or b""

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def flush(self) -> None:
        """Nothing is buffered here (the file is opened unbuffered)."""

    def close(self) -> None:
        self._raw.close()
