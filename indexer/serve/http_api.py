"""``latentsearch api``: a small HTTP endpoint that answers searches with JSON.

``POST /search?k=N`` with the image's bytes as the body answers what ``latentsearch search
--json`` prints (``&raw=0``: the latent results alone, with ``"raw": null``); ``GET
/health`` answers the number of indexed images and the raw-pixel grid (``"16x16 (shrunk
from 32x32)"`` where the baseline was shrunk to fit the memory budget). Uploads get the
page's checks (size and pixel caps, format from the bytes) and stay in memory. It binds
to loopback unless told otherwise; with a token it refuses requests without it. Put a
proxy with TLS in front of it before exposing it (README).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from latentsearch.indexer.files.images import ImageReadError
from latentsearch.indexer.serve.explorer import Explorer
from latentsearch.indexer.serve.queries import MAX_UPLOAD_MB, BusyError, UploadTooLargeError
from latentsearch.indexer.store.manifest import current_index_build

log = logging.getLogger(__name__)
MAX_K = 100
BODY_SECONDS = 60  # a whole upload must arrive within this, however slowly it trickles
HEADER_SECONDS = 20  # the request line and headers (and an idle keep-alive) get this long
READ_CHUNK = 2**16
LINGER_SECONDS, LINGER_READS = 1.0, 16  # after a refusal: at most 1 MB or 1 s per read
MAX_CONNECTIONS = 64  # open connections served at once; more are answered 503 and closed


class Refusal(Exception):
    """A request answered with an error status, and the connection closed after it."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def body_length(headers) -> int:
    """The upload's byte count from ``Content-Length``, refusing what cannot be trusted.

    A chunked body, a missing, negative, non-numeric or repeated length, or one over the
    cap, is refused before any of the body is read: reading on would let a client stream
    without limit or smuggle a second request inside the first.
    """
    if headers.get("Transfer-Encoding") is not None:
        raise Refusal(HTTPStatus.NOT_IMPLEMENTED, "send the body with Content-Length")
    lengths = headers.get_all("Content-Length") or []
    if not lengths:
        raise Refusal(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
    if len(lengths) > 1 or not lengths[0].strip().isdigit():
        raise Refusal(HTTPStatus.BAD_REQUEST, "need one Content-Length of 0 or more bytes")
    length = int(lengths[0])
    if length > MAX_UPLOAD_MB * 2**20:
        message = f"the body is {length} bytes; the limit is {MAX_UPLOAD_MB} MB"
        raise Refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message)
    return length


def search_options(query: str) -> tuple[int, bool]:
    """``k`` (1..MAX_K, default 10) and ``raw`` (1, the default: also search raw pixels;
    0: the latent search alone) from the query string."""
    options = parse_qs(query)
    try:
        k = int(options.get("k", ["10"])[0])
    except ValueError:
        raise Refusal(HTTPStatus.BAD_REQUEST, "need ?k=N") from None
    if not 1 <= k <= MAX_K:
        raise Refusal(HTTPStatus.BAD_REQUEST, f"k must be 1..{MAX_K}")
    raw = options.get("raw", ["1"])[0]
    if raw not in ("0", "1"):
        raise Refusal(HTTPStatus.BAD_REQUEST, "raw must be 0 or 1")
    return k, raw == "1"


def read_body(stream, length: int, seconds: float) -> bytes:
    """``length`` bytes from ``stream`` within ``seconds``; refused if the client stops short."""
    deadline, parts, left = time.monotonic() + seconds, [], length
    while left:
        chunk = stream.read1(min(left, READ_CHUNK))
        if not chunk:
            raise Refusal(HTTPStatus.BAD_REQUEST, "the body ended before Content-Length")
        parts.append(chunk)
        left -= len(chunk)
        if left and time.monotonic() > deadline:
            raise Refusal(HTTPStatus.REQUEST_TIMEOUT, f"the body took over {seconds:g} s")
    return b"".join(parts)


class SearchHandler(BaseHTTPRequestHandler):
    """One request; ``server.explorer`` answers it (searches may run in parallel)."""

    server: SearchServer  # the server that made this handler (socketserver sets it)
    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connection
    timeout = 30  # seconds; a client that stops sending mid-request is dropped
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for
    # the client's delayed ACK, adding ~40 ms to every answer on a keep-alive connection.
    disable_nagle_algorithm = True

    def handle_one_request(self) -> None:
        # The socket timeout bounds each read, not the whole: a client sending a header
        # byte every 20 s would hold its thread for ever. The request line and headers
        # must arrive within HEADER_SECONDS, or the connection is cut.
        self._header_timer = threading.Timer(HEADER_SECONDS, self._cut)
        self._header_timer.start()
        try:
            super().handle_one_request()
        finally:
            self._header_timer.cancel()

    def parse_request(self) -> bool:
        try:
            return super().parse_request()
        finally:
            self._header_timer.cancel()

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _authorised(self) -> bool:
        """True when the server has no token or the request carries it; else answers 401."""
        token = self.server.token
        if token is None or hmac.compare_digest(
            self.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
        ):
            return True
        self.close_connection = True
        self._reply(HTTPStatus.UNAUTHORIZED, {"error": "send 'Authorization: Bearer TOKEN'"})
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return None
        if urlsplit(self.path).path != "/health":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "use POST /search"})
        explorer = self.server.explorer
        grid = explorer.bundle.pixel_grid.describe()  # what the "raw" results compared
        self._reply(HTTPStatus.OK, {"images": len(explorer), "raw_pixels": grid})

    def do_POST(self) -> None:
        if not self._authorised():
            return self._linger()
        url = urlsplit(self.path)
        try:
            if url.path != "/search":
                raise Refusal(HTTPStatus.NOT_FOUND, "use POST /search")
            k, raw = search_options(url.query)
            body = read_body(self.rfile, body_length(self.headers), BODY_SECONDS)
        except Refusal as refusal:  # the body was not read: the connection cannot be reused
            self.close_connection = True
            self._reply(refusal.status, {"error": str(refusal)})
            return self._linger()
        except OSError:  # the client went away or stalled past the socket timeout
            self.close_connection = True
            return None
        self._search(body, k, raw)

    def _linger(self) -> None:
        """Close after the answer, discarding a little of what the client still sends, so
        the close is not a reset that could destroy the answer before the client reads it."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            for _ in range(LINGER_READS):
                if not self.connection.recv(READ_CHUNK):
                    break
        except OSError:
            pass

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET /health or POST /search"})

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _search(self, body: bytes, k: int, raw: bool) -> None:
        explorer = self.server.explorer
        try:
            query = explorer.upload("upload", body)
        except UploadTooLargeError as err:
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": str(err)})
        except ImageReadError as err:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": err.reason})
        except BusyError as err:
            return self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(err)})
        self._reply(HTTPStatus.OK, explorer.search(query, k, raw).to_json())

    def _reply(self, status: HTTPStatus, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, POST")
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", "Bearer")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


_BUSY_BODY = json.dumps({"error": "too many open connections; try again"}).encode()
BUSY_REPLY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class SearchServer(ThreadingHTTPServer):
    """A thread per connection, all sharing one loaded index."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections under a burst of clients

    def __init__(self, explorer: Explorer, host: str, port: int, token: str | None = None):
        self.explorer, self.token = explorer, token or None
        self.connection_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((host, port), SearchHandler)

    def handle_error(self, request, client_address) -> None:
        """A client that went away (or was cut off) is logged quietly, not as a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended: %s", client_address, sys.exc_info()[1])
            return
        super().handle_error(request, client_address)

    def process_request(self, request, client_address) -> None:
        """A thread for the connection if one of ``MAX_CONNECTIONS`` is free, else a 503."""
        if not self.connection_slots.acquire(blocking=False):
            try:
                request.sendall(BUSY_REPLY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()


def make_server(
    index_dir: str | Path, host: str = "127.0.0.1", port: int = 0, token: str | None = None
) -> SearchServer:
    """Load the index's current build and bind (port 0: any free port); with a ``token``,
    every request must carry it as ``Authorization: Bearer TOKEN``."""
    explorer = Explorer.open_build(current_index_build(index_dir))
    return SearchServer(explorer, host, port, token)


def serve_until_interrupted(server: SearchServer) -> None:
    """Answer requests until Ctrl+C, then release the port."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()
