"""`latentsearch app`: one index directory or several, loopback by default, a token, and
stopping Streamlit with it."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentsearch.indexer.cli.parser import build_parser
from latentsearch.indexer.serve.launch import TOKEN_ENV, streamlit_command


def test_app_takes_index_repeated():
    args = build_parser().parse_args(["app", "--index", "a", "--index", "b", "--port", "9"])
    assert args.index == [Path("a"), Path("b")] and args.port == 9


def test_streamlit_command_passes_every_index_to_the_page(tmp_path):
    command = streamlit_command([tmp_path / "a", tmp_path / "b"], port=8600)
    page_args = command[command.index("--") + 1 :]
    assert page_args == ["--index", str(tmp_path / "a"), "--index", str(tmp_path / "b")]
    assert command[command.index("--server.port") + 1] == "8600"
    single = streamlit_command(tmp_path / "a")
    assert single[single.index("--") + 1 :] == ["--index", str(tmp_path / "a")]


def test_the_page_listens_on_loopback_unless_told_otherwise(tmp_path):
    command = streamlit_command(tmp_path / "a")
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    exposed = streamlit_command(tmp_path / "a", host="0.0.0.0")
    assert exposed[exposed.index("--server.address") + 1] == "0.0.0.0"


@pytest.mark.parametrize("command", ["app", "api"])
def test_host_and_token_options(command, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    args = build_parser().parse_args([command, "--index", "ix"])
    assert (args.host, args.token) == ("127.0.0.1", None)
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    args = build_parser().parse_args([command, "--index", "ix", "--host", "0.0.0.0"])
    assert (args.host, args.token) == ("0.0.0.0", "from-env")


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (Linux /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's /proc/net/tcp")
def test_app_serves_on_loopback_and_sigterm_stops_streamlit_too(built_index_dir, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "latentsearch.indexer.cli.parser", "app",
               "--index", str(built_index_dir), "--port", str(port)]  # fmt: skip
    with open(tmp_path / "app.log", "wb") as log:
        # its own session, so the SIGTERM below reaches `app` alone, as from a service manager
        app = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while not listening_addresses(port) and time.monotonic() < deadline:
                assert app.poll() is None, (tmp_path / "app.log").read_text()
                time.sleep(0.5)
            assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
            os.kill(app.pid, signal.SIGTERM)
            assert app.wait(timeout=30) == 0
            deadline = time.monotonic() + 15
            while not port_is_free(port) and time.monotonic() < deadline:
                time.sleep(0.3)
            assert port_is_free(port), "streamlit still holds the port after SIGTERM"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(app.pid, signal.SIGKILL)
