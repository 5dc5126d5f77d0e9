"""``latentsearch api`` against hostile clients: lengths it cannot trust, chunked bodies,
slow or vanishing senders, other methods, too many connections, decode floods."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from email.message import Message

import pytest

from latentsearch.indexer.serve import http_api as api
from latentsearch.indexer.serve import queries as query
from latentsearch.indexer.serve.http_api import HTTPStatus, Refusal, body_length, make_server


@pytest.fixture
def serve(built_index_dir):
    """Start a server on loopback (after any monkeypatching); yields a function returning
    its port."""
    servers = []

    def start(token: str | None = None) -> int:
        server = make_server(built_index_dir, token=token)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def exchange(port: int, raw: bytes, pause: float = 0.0, more: bytes = b"") -> bytes:
    """Send ``raw`` (then ``more`` after ``pause`` s); everything read until the server
    closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:  # the server may answer and close before all of it is sent
            sock.sendall(raw)
            if pause:
                time.sleep(pause)
            if more:
                sock.sendall(more)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def headers(**fields) -> Message:
    message = Message()
    for name, values in fields.items():
        for value in values if isinstance(values, list) else [values]:
            message[name.replace("_", "-")] = value
    return message


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, HTTPStatus.LENGTH_REQUIRED),
        ({"Content_Length": "-1"}, HTTPStatus.BAD_REQUEST),
        ({"Content_Length": "12abc"}, HTTPStatus.BAD_REQUEST),
        ({"Content_Length": ["5", "500"]}, HTTPStatus.BAD_REQUEST),
        ({"Content_Length": "5", "Transfer_Encoding": "chunked"}, HTTPStatus.NOT_IMPLEMENTED),
        ({"Content_Length": str(21 * 2**20)}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    ],
    ids=["missing", "negative", "not-a-number", "repeated", "chunked", "over-the-cap"],
)
def test_untrusted_lengths_are_refused_before_reading(fields, status):
    with pytest.raises(Refusal) as refused:
        body_length(headers(**fields))
    assert refused.value.status == status


def test_a_plain_length_is_accepted():
    assert body_length(headers(Content_Length="1234")) == 1234


def test_a_chunked_body_cannot_smuggle_a_second_request(serve):
    port = serve()
    hidden = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = (
        b"POST /search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(hidden)
        + hidden
        + b"\r\n0\r\n\r\n"
    )
    answer = exchange(port, raw)
    assert answer.startswith(b"HTTP/1.1 501") and answer.count(b"HTTP/1.1") == 1


def test_a_negative_length_is_answered_without_reading_on(serve):
    head = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
    answer = exchange(serve(), head + b"x" * 4096)
    assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1") == 1


def test_a_body_trickling_in_past_the_deadline_is_refused(serve, monkeypatch):
    monkeypatch.setattr(api, "BODY_SECONDS", 0.3)
    port = serve()
    head = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    answer = exchange(port, head + b"x" * 10, pause=0.6, more=b"y" * 10)
    assert answer.startswith(b"HTTP/1.1 408") and b"took over 0.3 s" in answer


def test_a_body_cut_short_is_not_decoded(serve):
    port = serve()
    answer = exchange(port, b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    assert answer.startswith(b"HTTP/1.1 400") and b"ended before Content-Length" in answer


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE"])
def test_other_methods_get_a_json_405(serve, method):
    connection = http.client.HTTPConnection("127.0.0.1", serve(), timeout=10)
    connection.request(method, "/search")
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 405 and response.getheader("Allow") == "GET, POST"
    assert method == "HEAD" or "POST /search" in json.loads(body)["error"]


def test_connections_past_the_cap_get_a_503(serve, monkeypatch):
    monkeypatch.setattr(api, "MAX_CONNECTIONS", 2)
    port = serve()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.2)  # both accepted and holding their threads
        answer = exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503") and b"too many open connections" in answer
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    assert exchange(
        port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ).startswith(b"HTTP/1.1 200")


def test_uploads_wait_for_a_decode_slot_and_then_get_a_503(serve, monkeypatch, image_folder):
    slots = threading.BoundedSemaphore(1)
    slots.acquire()  # another upload is being decoded
    monkeypatch.setattr(query, "_decode_slots", slots)
    monkeypatch.setattr(query, "DECODE_WAIT_SECONDS", 0.2)
    port = serve()
    data = (image_folder / "red" / "01.png").read_bytes()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/search?k=2", body=data)
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert response.status == 503 and "try again" in answer["error"]
    slots.release()
    connection.request("POST", "/search?k=2", body=data)
    assert connection.getresponse().status == 200
    connection.close()


def test_a_server_with_a_token_refuses_requests_without_it(serve, image_folder):
    port = serve(token="s3cret")
    data = (image_folder / "red" / "01.png").read_bytes()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        for method, path, body in (("GET", "/health", None), ("POST", "/search", data)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            assert response.status == 401 and "Bearer" in json.loads(response.read())["error"]
            connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/search?k=1", body=data, headers={"Authorization": "Bearer s3cret"})
    assert connection.getresponse().status == 200
    connection.close()


def test_headers_trickling_in_past_the_deadline_cut_the_connection(serve, monkeypatch):
    monkeypatch.setattr(api, "HEADER_SECONDS", 0.5)
    port = serve()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /search HTTP/1.1\r\n")
        cut = False
        for _ in range(40):  # one header byte every 0.1 s, for up to 4 s
            try:
                sock.sendall(b"X")
                if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                    cut = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                cut = True
                break
            time.sleep(0.1)
    assert cut and time.monotonic() - started < 3
