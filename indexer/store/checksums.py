"""sha256 checksums of a build's files, kept in its manifest, so damage is caught at load.

A flipped byte in a FAISS or HDF5 file can still parse and give wrong answers; a checked
sum turns it into a clear error before anything is read. The manifest carries a sum of
its own fields too, so an edited or damaged manifest is caught the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from latentsearch.encoder.errors import LatentSearchError
from latentsearch.indexer.files.folders import file_sha256

MANIFEST_DIGEST = "manifest_sha256"
HASH_THREADS = min(8, os.cpu_count() or 1)


class ChecksumError(LatentSearchError, RuntimeError):
    """A file of a build does not match the checksum its manifest holds; ``.name`` says which."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


def tree_checksums(
    folder: Path, leave_out: frozenset[str] = frozenset(), known: dict[str, str] | None = None
) -> dict[str, str]:
    """sha256 of every file under ``folder`` by its relative POSIX path, but ``leave_out``;
    those in ``known`` (files taken unchanged from a verified build) are not read again."""
    known = known or {}
    files = [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_file()]
    names = [name for name in files if name not in leave_out]
    fresh = [name for name in names if not known.get(name)]
    sums = {name: known[name] for name in names if known.get(name)}
    for name, digest in zip(fresh, file_digests(folder, fresh), strict=True):
        if isinstance(digest, OSError):
            raise digest
        sums[name] = digest
    return {name: sums[name] for name in names}  # in the folder's sorted order


def verify_tree(folder: Path, sums: dict[str, str]) -> None:
    """Raise :class:`ChecksumError` naming the first file that is missing or differs."""
    names = sorted(sums)
    for name in names:
        # Names come from the manifest: never follow one out of the build folder.
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ChecksumError(f"the manifest names a file outside the build: {name!r}", name)
    for name, actual in zip(names, file_digests(folder, names), strict=True):
        expected = sums[name]
        if isinstance(actual, OSError):
            raise ChecksumError(f"{name} is missing or unreadable ({actual})", name) from actual
        if actual != expected:
            raise ChecksumError(
                f"{name} is damaged or was changed after the build "
                f"(sha256 {actual[:12]}…, the manifest says {expected[:12]}…)",
                name,
            )


def file_digests(folder: Path, names: list[str]) -> list[str | OSError]:
    """sha256 of each named file under ``folder``, or the ``OSError`` reading it raised,
    in order. Files are hashed on parallel threads (hashlib lets go of the GIL), biggest
    first, so the segments of a large build spread over the cores."""
    sizes = {name: _size(folder / name) for name in names}

    def digest(name: str) -> str | OSError:
        try:
            return file_sha256(folder / name)
        except OSError as err:
            return err

    with ThreadPoolExecutor(HASH_THREADS) as pool:
        by_size = sorted(names, key=lambda name: -sizes[name])
        found = dict(zip(by_size, pool.map(digest, by_size), strict=True))
    return [found[name] for name in names]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def manifest_digest(fields: dict) -> str:
    """sha256 of a manifest's fields (all but the digest itself), in a canonical form."""
    rest = {key: value for key, value in fields.items() if key != MANIFEST_DIGEST}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
