"""``latentsearch app``: start the Streamlit page for an index directory."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from latentsearch.encoder.versioned_dir import current_build

INDEX_ENV = "LATENTSEARCH_INDEX"


def app_script() -> Path:
    # Located, not imported: the page depends on the indexer, never the other way round.
    spec = importlib.util.find_spec("latentsearch.webapp.app")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("latentsearch.webapp is not installed")
    return Path(spec.origin)


IndexDirs = str | Path | Sequence[str | Path]


def index_list(index_dirs: IndexDirs) -> list[Path]:
    """One index directory or several (the page then offers a choice)."""
    if isinstance(index_dirs, (str, Path)):
        return [Path(index_dirs)]
    return [Path(d) for d in index_dirs]


def streamlit_command(index_dirs: IndexDirs, port: int = 8501) -> list[str]:
    index_args = [arg for d in index_list(index_dirs) for arg in ("--index", str(d.resolve()))]
    return [
        sys.executable, "-m", "streamlit", "run", str(app_script()),
        "--server.headless", "true",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        # serving, not developing: polling the source files for edits only costs CPU
        "--server.fileWatcherType", "none",
        "--", *index_args,
    ]  # fmt: skip


def serve(index_dirs: IndexDirs, port: int = 8501) -> int:
    """Run the page in the foreground until interrupted; returns Streamlit's exit code."""
    for index_dir in index_list(index_dirs):
        current_build(index_dir)  # fail here, clearly, rather than on the page
    try:
        return subprocess.call(streamlit_command(index_dirs, port))
    except KeyboardInterrupt:
        return 0
