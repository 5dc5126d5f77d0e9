"""Memory and behaviour of ``latentsearch api`` under hostile uploads (docs/reliability.md).

Builds a tiny index of generated images (a 16-px model, one epoch: the model's size does not
matter here), starts ``latentsearch api`` on it as its own process, then measures:

- peak RSS above idle while N clients each upload a 49-megapixel PNG at once (155 KB of
  compressed bytes that decode to ~147 MB of pixels);
- a client that sends a body one byte at a time: how long until the server answers;
- a chunked body that hides a second request: how many answers come back.

    python benchmarks/hostile_uploads.py --work /tmp/hostile [--clients 16]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 7000  # 49 megapixels, under the 50-megapixel cap, so each upload is decoded


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def latentsearch(*words: str) -> None:
    subprocess.run([sys.executable, "-m", "latentsearch.indexer.cli.parser", *words], check=True)


def tiny_index(work: Path) -> Path:
    photos, index = work / "photos", work / "index"
    if (index / "CURRENT").exists():
        return index
    rng = np.random.default_rng(0)
    for n in range(60):
        path = photos / f"c{n % 3}" / f"{n:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
    latentsearch("train", "--data", str(photos), "--out", str(work / "model"),
                 "--image-size", "16", "--filters", "8,16", "--latent-dim", "8",
                 "--epochs", "1", "--no-mirror")  # fmt: skip
    latentsearch("index", "--data", str(photos), "--model", str(work / "model"),
                 "--out", str(index))  # fmt: skip
    return index


def big_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (SIDE, SIDE), (120, 80, 200)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def start_api(index: Path, port: int, decode_slots: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "latentsearch.indexer.cli.parser", "api",
               "--index", str(index), "--port", str(port)]  # fmt: skip
    env = dict(os.environ, LATENTSEARCH_DECODE_SLOTS=str(decode_slots))
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    server.stdout.readline()  # "serving searches on ..." once bound
    return server


def upload(port: int, body: bytes, answers: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("POST", "/search?k=3", body=body)
    response = connection.getresponse()
    answers.append(response.status)
    response.read()
    connection.close()


def parallel_uploads(server: subprocess.Popen, port: int, clients: int) -> dict:
    body = big_png()
    time.sleep(1.0)
    idle = rss_mb(server.pid)
    answers: list[int] = []
    threads = [threading.Thread(target=upload, args=(port, body, answers)) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    peak = idle
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_mb(server.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    statuses = {str(s): answers.count(s) for s in sorted(set(answers))}
    return {"clients": clients, "upload_bytes": len(body), "idle_rss_mb": round(idle),
            "peak_rss_mb": round(peak), "peak_above_idle_mb": round(peak - idle),
            "seconds": round(seconds, 1), "statuses": statuses}  # fmt: skip


def slow_client(port: int) -> dict:
    """One byte every 0.5 s of a 1,000-byte body: when does the server give up?"""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        sock.settimeout(0.5)
        answer = b""
        for _ in range(1000):
            try:
                sock.sendall(b"x")
                answer = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                break
    return {"answer": answer.split(b"\r\n")[0].decode(errors="replace"),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def smuggled_request(port: int) -> dict:
    hidden = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = (b"POST /search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n")  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return {"answers": received.count(b"HTTP/1.1 "), "first": received.split(b"\r\n")[0].decode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=8677)
    parser.add_argument("--decode-slots", type=int, default=2, help="uploads decoded at once")
    args = parser.parse_args()
    server = start_api(tiny_index(args.work), args.port, args.decode_slots)
    try:
        report = {
            "decode_slots": args.decode_slots,
            "parallel_49mp_uploads": parallel_uploads(server, args.port, args.clients),
            "slow_client": slow_client(args.port),
            "chunked_smuggling": smuggled_request(args.port),
        }
    finally:
        server.terminate()
        server.wait()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
