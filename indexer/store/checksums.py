"""sha256 checksums of a build's files, kept in its manifest, so damage is caught at load.

A flipped byte in a FAISS or HDF5 file can still parse and give wrong answers; a checked
sum turns it into a clear error before anything is read. The manifest carries a sum of
its own fields too, so an edited or damaged manifest is caught the same way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from latentsearch.encoder.errors import LatentSearchError
from latentsearch.indexer.files.folders import file_sha256

MANIFEST_DIGEST = "manifest_sha256"


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
    sums = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in leave_out:
            sums[name] = known.get(name) or file_sha256(path)
    return sums


def verify_tree(folder: Path, sums: dict[str, str]) -> None:
    """Raise :class:`ChecksumError` naming the first file that is missing or differs."""
    for name, expected in sorted(sums.items()):
        path = folder / name
        # Names come from the manifest: never follow one out of the build folder.
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ChecksumError(f"the manifest names a file outside the build: {name!r}", name)
        try:
            actual = file_sha256(path)
        except OSError as err:
            raise ChecksumError(f"{name} is missing or unreadable ({err})", name) from err
        if actual != expected:
            raise ChecksumError(
                f"{name} is damaged or was changed after the build "
                f"(sha256 {actual[:12]}…, the manifest says {expected[:12]}…)",
                name,
            )


def manifest_digest(fields: dict) -> str:
    """sha256 of a manifest's fields (all but the digest itself), in a canonical form."""
    rest = {key: value for key, value in fields.items() if key != MANIFEST_DIGEST}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
