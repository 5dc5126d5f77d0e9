"""``latentsearch api``: a small HTTP endpoint that answers searches with JSON.

``POST /search?k=N`` with the image's bytes as the body answers what ``latentsearch search
--json`` prints; ``GET /health`` answers the number of indexed images. Uploads get the
page's checks (size and pixel caps, format from the bytes) and stay in memory. It binds
to loopback unless told otherwise, and has no authentication: put a proxy in front of it
before exposing it.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from latentsearch.indexer.bundle import current_index_build
from latentsearch.indexer.explore import Explorer
from latentsearch.indexer.images import ImageReadError
from latentsearch.indexer.query import MAX_UPLOAD_MB, UploadTooLargeError

log = logging.getLogger(__name__)
MAX_K = 100


class SearchHandler(BaseHTTPRequestHandler):
    """One request; ``server.explorer`` answers it (searches may run in parallel)."""

    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connection
    timeout = 30  # seconds; a client that stops sending mid-request is dropped
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for
    # the client's delayed ACK, adding ~40 ms to every answer on a keep-alive connection.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/health":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "use POST /search"})
        self._reply(HTTPStatus.OK, {"images": len(self.server.explorer)})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/search":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "use POST /search"})
        try:
            k = int(parse_qs(url.query).get("k", ["10"])[0])
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": "need ?k=N and Content-Length"})
        if not 1 <= k <= MAX_K:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": f"k must be 1..{MAX_K}"})
        if length > MAX_UPLOAD_MB * 2**20:  # refused before a byte of it is read
            self.close_connection = True
            message = f"the body is {length} bytes; the limit is {MAX_UPLOAD_MB} MB"
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": message})
        self._search(self.rfile.read(length), k)

    def _search(self, body: bytes, k: int) -> None:
        explorer = self.server.explorer
        try:
            query = explorer.upload("upload", body)
        except UploadTooLargeError as err:
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": str(err)})
        except ImageReadError as err:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": err.reason})
        self._reply(HTTPStatus.OK, explorer.search(query, k).to_json())

    def _reply(self, status: HTTPStatus, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class SearchServer(ThreadingHTTPServer):
    """A thread per connection, all sharing one loaded index."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections under a burst of clients

    def __init__(self, explorer: Explorer, host: str, port: int) -> None:
        self.explorer = explorer
        super().__init__((host, port), SearchHandler)


def make_server(index_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> SearchServer:
    """Load the index's current build and bind (port 0: any free port)."""
    return SearchServer(Explorer.open_build(current_index_build(index_dir)), host, port)


def serve_until_interrupted(server: SearchServer) -> None:
    """Answer requests until Ctrl+C, then release the port."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()
