"""``latentsearch app``: start the Streamlit page for an index directory."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from latentsearch.encoder.versioned_dir import current_build

INDEX_ENV = "LATENTSEARCH_INDEX"


def app_script() -> Path:
    # Located, not imported: the page depends on the indexer, never the other way round.
    spec = importlib.util.find_spec("latentsearch.webapp.app")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("latentsearch.webapp is not installed")
    return Path(spec.origin)


def streamlit_command(index_dir: str | Path, port: int = 8501) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(app_script()),
        "--server.headless", "true",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--", "--index", str(Path(index_dir).resolve()),
    ]  # fmt: skip


def serve(index_dir: str | Path, port: int = 8501) -> int:
    """Run the page in the foreground until interrupted; returns Streamlit's exit code."""
    current_build(index_dir)  # fail here, clearly, rather than on the page
    try:
        return subprocess.call(streamlit_command(index_dir, port))
    except KeyboardInterrupt:
        return 0
