"""``latentsearch app``: start the Streamlit page for an index directory."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

from latentsearch.indexer.store.manifest import Manifest, current_index_build

TOKEN_ENV = "LATENTSEARCH_TOKEN"  # when set, the page and the API ask for it
LOOPBACK = "127.0.0.1"
STOP_SECONDS = 10  # how long Streamlit gets to stop before it is killed
log = logging.getLogger(__name__)


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


def streamlit_command(index_dirs: IndexDirs, port: int = 8501, host: str = LOOPBACK) -> list[str]:
    index_args = [arg for d in index_list(index_dirs) for arg in ("--index", str(d.resolve()))]
    return [
        sys.executable, "-m", "streamlit", "run", str(app_script()),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        # serving, not developing: polling the source files for edits only costs CPU
        "--server.fileWatcherType", "none",
        "--", *index_args,
    ]  # fmt: skip


def check_indexes(index_dirs: IndexDirs) -> None:
    """Fail here, clearly, rather than on the page, for a folder that is not an index."""
    for index_dir in index_list(index_dirs):
        Manifest.load(current_index_build(index_dir))


def serve(
    index_dirs: IndexDirs,
    port: int = 8501,
    host: str = LOOPBACK,
    token: str | None = None,
    announce: Callable[[str], None] = log.info,
) -> int:
    """Run the page in the foreground until interrupted or terminated (SIGINT, SIGTERM);
    Streamlit stops with it. Returns Streamlit's exit code, 0 when stopped.

    It listens on loopback unless ``host`` says otherwise; with a ``token``, the page asks
    for it (``?token=...``) before showing anything. Once every index has been checked,
    ``announce`` is given the page's address.
    """
    check_indexes(index_dirs)
    query = f"/?token={quote(token)}" if token else ""
    announce(f"serving the search page on http://{host}:{port}{query}")
    if host != LOOPBACK and not token:
        log.warning("serving on %s with no --token: anyone who can reach it can search", host)
    env = dict(os.environ, **({TOKEN_ENV: token} if token else {}))
    child = subprocess.Popen(streamlit_command(index_dirs, port, host), env=env)
    try:
        with sigterm_as_interrupt():
            return child.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(child)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM (a service manager's stop) acts as Ctrl+C does."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop(child: subprocess.Popen) -> None:
    """Stop ``child`` if it still runs: terminate, then kill after ``STOP_SECONDS``."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
