"""Probes of a built index for benchmarks/million.py: exact recall, the API, the page.

    python million_probes.py page INDEX_DIR QUERY_IMAGE   # prints one JSON line

``page`` runs in its own process so that its start-up and peak memory are the page's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

MiB = 1 << 20


def stored_codes(index) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of every code an IDMap2-Flat or IVF-Flat index holds, exactly."""
    import faiss

    if hasattr(index, "id_map"):
        inner = faiss.downcast_index(faiss.downcast_index(index).index)
        ids = faiss.vector_to_array(faiss.downcast_index(index).id_map)
        return ids, faiss.vector_to_array(inner.codes).view(np.float32).reshape(-1, index.d)
    ivf = faiss.extract_index_ivf(index)
    if ivf.code_size != 4 * index.d:
        raise SystemExit(f"{type(ivf).__name__} stores no exact codes: no exact truth from it")
    lists = ivf.invlists
    ids, rows = [], []
    for i in range(lists.nlist):
        size = lists.list_size(i)
        if size:
            ids.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
            codes = faiss.rev_swig_ptr(lists.get_codes(i), size * ivf.code_size).copy()
            rows.append(codes.view(np.float32).reshape(size, index.d))
    return np.concatenate(ids), np.concatenate(rows)


def query_codes(build: Path, queries: list[Path]) -> np.ndarray:
    """The queries' codes as the search path makes them (unit length for cosine)."""
    from latentsearch.encoder.inference import encode_images
    from latentsearch.encoder.training import load_model
    from latentsearch.indexer.files.images import load_image
    from latentsearch.indexer.indexes.faiss_helpers import prepare_vectors
    from latentsearch.indexer.store.manifest import MODEL_DIR, Manifest

    model = load_model(build / MODEL_DIR, with_decoder=False)
    config = model.config
    pixels = np.stack([load_image(q, config.image_size, config.channels) for q in queries])
    codes = encode_images(model.encoder, pixels)
    return prepare_vectors(codes, Manifest.load(build).metric, config.binary_threshold)


def exact_recall(index_dir: Path, queries: list[Path], export: Path) -> dict:
    """Recall@10 of the chosen latent index against exact search over its own codes; the
    codes, queries and exact answers are written to ``export`` for autofaiss."""
    import faiss

    from latentsearch.indexer.indexes.faiss_helpers import read_index, search
    from latentsearch.indexer.store.manifest import LATENT_FILE, current_index_build

    build = current_index_build(index_dir)
    index = read_index(build / LATENT_FILE)
    ids, vectors = stored_codes(index)
    codes = query_codes(build, queries).astype(np.float32)
    exact = faiss.IndexFlatIP(index.d)
    exact.add(vectors)
    _, truth_rows = exact.search(codes, 10)
    _, found = search(index, codes, 10)
    truth = ids[truth_rows]
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    latencies = []
    for row in codes[:200]:
        begun = time.perf_counter()
        search(index, row[np.newaxis], 10)
        latencies.append((time.perf_counter() - begun) * 1e3)
    (export / "codes").mkdir(parents=True, exist_ok=True)
    np.save(export / "codes" / "codes.npy", vectors)
    np.save(export / "queries.npy", codes)
    np.save(export / "truth.npy", truth_rows)
    return {
        "index": type(faiss.downcast_index(index)).__name__,
        "queries": len(codes),
        "recall_at_10": round(float(recall), 4),
        **percentiles("latent_search", latencies),
    }


def percentiles(name: str, milliseconds: list[float]) -> dict:
    return {
        f"{name}_p50_ms": round(float(np.percentile(milliseconds, 50)), 2),
        f"{name}_p95_ms": round(float(np.percentile(milliseconds, 95)), 2),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_mib(pid: int, field: str) -> float:
    """One memory figure of a live process from /proc/PID/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024)
    return float("nan")


def peak_rss_mib(pid: int) -> float:
    """The high-water mark of a live process's resident memory (Linux VmHWM)."""
    return status_mib(pid, "VmHWM")


def api_probe(index_dir: Path, queries: list[Path]) -> dict:
    """Start ``latentsearch api``; its start-up, search latency percentiles (both searches,
    then the latent one alone with ``raw=0``) and peak RSS."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "latentsearch.indexer.cli",
        "api",
        "--index",
        str(index_dir),
        "--port",
        str(port),
    ]
    started = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit("latentsearch api exited during start-up")
            try:
                urllib.request.urlopen(f"{base}/health", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        ready = time.perf_counter() - started
        latencies, inside = api_requests(f"{base}/search?k=10", queries)
        latent_alone, _ = api_requests(f"{base}/search?k=10&raw=0", queries)
        return {
            "ready_s": round(ready, 2),
            "searches": len(latencies),
            **percentiles("request", latencies),
            **percentiles("latent_part", inside["latent_ms"]),
            **percentiles("raw_part", inside["raw_ms"]),
            **percentiles("latent_only_request", latent_alone),
            "peak_rss_mib": peak_rss_mib(server.pid),
            # now, after the searches: its own memory, and pages of mapped files (the
            # raw-pixel segments) that the OS can drop and other processes share
            "rss_anon_mib": status_mib(server.pid, "RssAnon"),
            "rss_file_mib": status_mib(server.pid, "RssFile"),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def api_requests(url: str, queries: list[Path]) -> tuple[list[float], dict[str, list]]:
    """Each query posted to ``url`` in turn: milliseconds per request, and the answers'
    own ``latent_ms`` / ``raw_ms`` (None where the raw search was not asked for)."""
    latencies: list[float] = []
    inside: dict[str, list] = {"latent_ms": [], "raw_ms": []}
    for query in queries:
        request = urllib.request.Request(url, data=query.read_bytes())
        begun = time.perf_counter()
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
        latencies.append((time.perf_counter() - begun) * 1e3)
        for key, values in inside.items():
            values.append(answer[key])
    return latencies, inside


def page_probe(index_dir: str, query: str) -> dict:
    """Seconds to the page's first render, then to its first result for one upload."""
    from streamlit.testing.v1 import AppTest

    import latentsearch.webapp.app as app_module
    from latentsearch.webapp.app import INDEX_ENV

    os.environ[INDEX_ENV] = index_dir
    started = time.perf_counter()
    page = AppTest.from_file(app_module.__file__, default_timeout=600)
    page.run()
    shown = time.perf_counter()
    page.file_uploader[0].set_value((Path(query).name, Path(query).read_bytes(), "image/jpeg"))
    page.run()
    answered = time.perf_counter()
    if page.exception or page.error:
        raise SystemExit(f"the page failed: {page.exception or page.error[0].value}")
    return {"start_s": round(shown - started, 2), "first_result_s": round(answered - shown, 2)}


if __name__ == "__main__" and sys.argv[1:2] == ["page"]:
    print(json.dumps(page_probe(sys.argv[2], sys.argv[3])), flush=True)
