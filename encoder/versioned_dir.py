"""A directory whose contents are replaced atomically, build by build.

Layout: ``ROOT/CURRENT`` names the complete build ``ROOT/v-...`` that readers use. A new
build is written to ``ROOT/v-....partial``, renamed when complete, and only then does
``CURRENT`` switch to it (``os.replace`` of a small file is atomic on POSIX). A build that
is killed half-way leaves a ``.partial`` folder that the next build removes, and the
previous build stays current; the build before that is kept too, so a reader that opened
it just before the switch can finish.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentsearch.encoder.errors import UserError

POINTER = "CURRENT"
_VERSION = re.compile(r"^v-\d{8}T\d{6}-(\d+)-[0-9a-f]{6}$")
log = logging.getLogger(__name__)


class NoBuildError(UserError, FileNotFoundError):
    """The directory does not hold a complete build."""


class NotOurDirectoryError(UserError, FileExistsError):
    """The target directory holds files that latentsearch did not write."""


def current_build(root: str | Path) -> Path:
    """Path of the complete build that ``root/CURRENT`` names."""
    root = Path(root)
    pointer = root / POINTER
    if not root.is_dir():
        raise NoBuildError(f"{root} does not exist or is not a directory")
    if not pointer.is_file():
        raise NoBuildError(f"{root} holds no complete build (no {POINTER} file)")
    name = pointer.read_text().strip()
    if not _VERSION.match(name) or not (root / name).is_dir():
        raise NoBuildError(f"{pointer} names {name!r}, which is not a complete build")
    return root / name


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_ours(root: Path) -> None:
    strangers = [
        p.name
        for p in root.iterdir()
        if p.name != POINTER and not _VERSION.match(p.name.removesuffix(".partial"))
    ]
    if strangers and not (root / POINTER).exists():
        raise NotOurDirectoryError(
            f"{root} already holds files latentsearch did not write "
            f"(e.g. {sorted(strangers)[0]!r}); choose an empty or new directory"
        )


def remove_abandoned(root: Path) -> list[Path]:
    """Delete ``.partial`` builds whose writing process is gone (killed mid-build)."""
    removed = []
    for partial in root.glob("v-*.partial"):
        match = _VERSION.match(partial.name.removesuffix(".partial"))
        if match and not _pid_alive(int(match.group(1))):
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
            log.info("removed abandoned build %s", partial)
    return removed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(root: Path, name: str) -> None:
    tmp = root / f".{POINTER}.{os.getpid()}.tmp"
    tmp.write_text(name + "\n")
    _fsync(tmp)
    os.replace(tmp, root / POINTER)
    _fsync(root)


def _pointed(root: Path) -> str | None:
    """The build name ``root/CURRENT`` holds now, if any."""
    try:
        return (root / POINTER).read_text().strip()
    except FileNotFoundError:
        return None


def _prune(root: Path, keep: set[str | None]) -> None:
    """Delete complete builds not in ``keep`` (the new build and the one it replaced).

    Names only sort by time to the second, so the builds to keep are named, not guessed
    from the sort order.
    """
    for old in root.iterdir():
        if old.is_dir() and _VERSION.match(old.name) and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
            log.debug("pruned old build %s", old)


@contextmanager
def new_build(root: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it becomes ``root``'s current build."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    _check_ours(root)
    remove_abandoned(root)
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    staging = root / f"{name}.partial"
    staging.mkdir()
    try:
        yield staging
        for path in staging.rglob("*"):
            if path.is_file():
                _fsync(path)
        previous = _pointed(root)
        os.rename(staging, root / name)
        _publish(root, name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(root, keep={name, previous})
    log.info("published %s", root / name)
