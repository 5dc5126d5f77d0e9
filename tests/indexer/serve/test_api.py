"""``latentsearch api``: answers, typed refusals, and a load test on loopback.

The load test starts the real ``latentsearch api`` process and holds 1, 4 and 16
concurrent clients against it for a fixed time each; every answer must be a 200 whose
top hit is the query image itself. ``LATENTSEARCH_STRESS=1`` holds each level longer.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from latentsearch.indexer.cli.parser import build_parser
from latentsearch.indexer.serve.http_api import make_server

STRESS = os.environ.get("LATENTSEARCH_STRESS") == "1"
SECONDS_PER_LEVEL = 20.0 if STRESS else 2.0
CLIENTS = (1, 4, 16)


@pytest.fixture(scope="module")
def server(built_index_dir):
    server = make_server(built_index_dir)  # loopback, any free port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def call(port: int, method: str, path: str, body: bytes | None = None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_api_answers_like_search_json(server, image_folder):
    data = (image_folder / "green" / "04.png").read_bytes()
    status, answer = call(server, "POST", "/search?k=3", data)
    assert status == 200 and set(answer) == {"latent", "raw", "latent_ms", "raw_ms"}
    assert len(answer["latent"]) == 3 and answer["latent"][0]["path"].endswith("green/04.png")
    assert answer["raw"][0]["distance"] == pytest.approx(0.0, abs=1e-3)
    assert call(server, "GET", "/health") == (200, {"images": 37, "raw_pixels": "16x16"})


def test_api_searches_and_names_a_shrunken_raw_pixel_grid(shrunk_index_dir, image_folder):
    server = make_server(shrunk_index_dir)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        health = call(port, "GET", "/health")
        assert health == (200, {"images": 37, "raw_pixels": "8x8 (shrunk from 16x16)"})
        data = (image_folder / "green" / "04.png").read_bytes()
        status, answer = call(port, "POST", "/search?k=3", data)
        assert status == 200 and answer["raw"][0]["path"].endswith("green/04.png")
    finally:
        server.shutdown()
        server.server_close()


def test_api_answers_the_latent_search_alone_when_asked(server, image_folder):
    data = (image_folder / "green" / "04.png").read_bytes()
    status, both = call(server, "POST", "/search?k=3", data)
    status_alone, alone = call(server, "POST", "/search?k=3&raw=0", data)
    assert status == status_alone == 200
    assert alone["raw"] is None and alone["raw_ms"] is None
    assert [h["id"] for h in alone["latent"]] == [h["id"] for h in both["latent"]]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "says"),
    [
        ("/search", b"not an image", None, 400, "not an image"),
        ("/search", b"", None, 400, "empty"),
        ("/search?k=0", b"x", None, 400, "k must be"),
        ("/search?k=x", b"x", None, 400, "need ?k=N"),
        ("/search?raw=no", b"x", None, 400, "raw must be 0 or 1"),
        ("/search", b"x", {"Content-Length": str(21 * 2**20)}, 413, "limit is 20 MB"),
        ("/other", b"x", None, 404, "POST /search"),
    ],
    ids=["not-image", "empty", "k-zero", "k-text", "raw-word", "too-large", "wrong-path"],
)
def test_api_refusals_are_typed_json(server, path, body, headers, status, says):
    found, answer = call(server, "POST", path, body, headers)
    assert found == status and says in answer["error"]


def test_api_command_line():
    args = build_parser().parse_args(["api", "--index", "ix", "--port", "0"])
    assert (args.host, args.port, str(args.index)) == ("127.0.0.1", 0, "ix")


def start_api(index_dir) -> tuple[subprocess.Popen, int]:
    command = [sys.executable, "-m", "latentsearch.indexer.cli.parser", "api", "--index"]
    command += [str(index_dir), "--port", "0"]
    env = {**os.environ, "TF_NUM_INTEROP_THREADS": "2", "TF_NUM_INTRAOP_THREADS": "2"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()  # "serving searches on http://127.0.0.1:PORT/search ..."
    assert "serving searches on" in line, line
    return process, int(line.split(":")[2].split("/")[0])


def hold_load(port: int, queries: list[tuple[str, bytes]], clients: int, seconds: float):
    """``clients`` threads, each on one keep-alive connection, for ``seconds``."""
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = offset
        while time.perf_counter() < deadline:
            name, data = queries[n % len(queries)]
            n += 1
            started = time.perf_counter()
            try:
                connection.request("POST", "/search?k=5", body=data)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as err:  # counted, never lost
                failures.append(f"{name}: {err!r}")
                connection.close()
                continue
            latencies.append(time.perf_counter() - started)
            top = json.loads(answer)["latent"][0]["path"] if response.status == 200 else ""
            if response.status != 200 or not top.endswith(name):
                failures.append(f"{name}: {response.status} {answer[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return len(latencies) / wall, float(np.percentile(latencies, 95)) * 1e3, failures


@pytest.mark.stress
def test_load_at_1_4_and_16_clients_without_errors(built_index_dir, image_folder):
    names = [f"{label}/{n:02d}.png" for label in ("red", "green", "blue") for n in range(12)]
    queries = [(name, (image_folder / name).read_bytes()) for name in names]
    process, port = start_api(built_index_dir)
    try:
        for clients in CLIENTS:
            qps, p95_ms, failures = hold_load(port, queries, clients, SECONDS_PER_LEVEL)
            print(f"\n{clients:>2} clients: {qps:.1f} queries/s, p95 {p95_ms:.1f} ms")
            assert not failures, failures[:3]
            assert qps > 0
    finally:
        process.terminate()
        process.wait(timeout=30)
