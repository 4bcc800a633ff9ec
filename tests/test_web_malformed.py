"""Malformed input on the hub's web over real HTTP: a short 400, never a 500; at most one log line per
request, without a traceback and without the client's address (aiohttp's own server log included)."""

from __future__ import annotations

import logging
import socket

import pytest

from tests.staff_harness import Browser
from tests.web_harness import WebHub

MULTIPART = "multipart/form-data; boundary=XX"
FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"


def raw(port: int, data: bytes) -> bytes:
    """Bytes on a fresh connection, and everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def post(port: int, path: str, content_type: str, body: bytes, cookie: str = "", extra: str = "") -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{cookie}{extra}\r\n")
    return raw(port, head.encode() + body)


def test_malformed_requests_get_400_and_one_line_without_traceback_or_address(
        web_hub: WebHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port, office = web_hub.port, web_hub.office
    clerk = Browser(port)
    assert clerk.login("clara").status == 303
    cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in clerk.cookies.items()) + "\r\n"
    csrf = clerk.get("/api/internal/session").json()["csrf"]
    form_token = clerk.get("/login").form_value("token")
    login_cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in clerk.cookies.items()) + "\r\n"
    deep = b"[" * 30000 + b"]" * 30000
    before = len(caplog.records)
    cases = {
        "login form, invalid UTF-8": post(port, "/login", "application/x-www-form-urlencoded",
                                          f"token={form_token}&user=\xff".encode("latin-1") + b"&password=\xfe\xff",
                                          login_cookie),
        "login, truncated multipart": post(port, "/login", MULTIPART,
                                           b'--XX\r\nContent-Disposition: form-data; name="user"\r\n\r\nclara',
                                           login_cookie),
        "login, multipart without a boundary": post(port, "/login", "multipart/form-data", b"x=1", login_cookie),
        "login, unknown charset": post(port, "/login", "application/x-www-form-urlencoded; charset=bogus",
                                       b"user=clara", login_cookie),
        "command API, 30,000-deep JSON": post(port, "/api/internal/counter/command", "application/json", deep,
                                              cookie, f"X-CSRF-Token: {csrf}\r\n"),
        "command API, invalid UTF-8": post(port, "/api/internal/counter/command", "application/json",
                                           b'{"office": "\xff"}', cookie, f"X-CSRF-Token: {csrf}\r\n"),
        "command form, invalid UTF-8": post(port, "/counter/command", "application/x-www-form-urlencoded",
                                            f"csrf={csrf}&office={office}&op=next&text=\xff".encode("latin-1"),
                                            cookie),
        "a broken request line": raw(port, b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n"),
        "a broken header": raw(port, b"GET / HTTP/1.1\r\nHost x\r\n\r\n"),
        # bodies refused before they are read (web/bodies.py): 415, 411, 413
        "login, a gzip body": post(port, "/login", "application/x-www-form-urlencoded", b"abcde", login_cookie,
                                   "Content-Encoding: gzip\r\n"),
        "command API, a deflate body": post(port, "/api/internal/counter/command", "application/json", b"abcde",
                                            cookie, f"X-CSRF-Token: {csrf}\r\nContent-Encoding: deflate\r\n"),
        "no route, a gzip body": post(port, "/", "text/plain", b"abcde", "", "Content-Encoding: gzip\r\n"),
        "login, a chunked body": raw(port, b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                           + FORM + b"\r\n5\r\nuser=\r\n0\r\n\r\n"),
        "login, a body over 64 KiB": raw(port, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                                               + FORM + b"\r\n" + b"u" * 100000),
    }
    expected = {"login, a gzip body": 415, "command API, a deflate body": 415, "no route, a gzip body": 415,
                "login, a chunked body": 411, "login, a body over 64 KiB": 413}
    for case, answer in cases.items():
        status_line, _, rest = answer.partition(b"\r\n")
        status = str(expected.get(case, 400)).encode()
        assert status_line.startswith((b"HTTP/1.1 " + status, b"HTTP/1.0 " + status)), (case, answer[:300])
        body = rest.partition(b"\r\n\r\n")[2]
        assert len(body) < 300 and b"Traceback" not in body, (case, body)
    records = [r for r in caplog.records[before:] if r.name.startswith(("aiohttp", "wartemarke.web"))]
    assert web_hub.hub.runtimes[office].engine.calls_seq == 0
    assert clerk.get("/").status == 200  # and the server is fine
    assert 1 <= len(records) <= len(cases), [r.getMessage() for r in records]
    for record in records:
        assert record.exc_info is None and record.exc_text is None, record.getMessage()
        assert "127.0.0.1" not in record.getMessage() and "Traceback" not in record.getMessage()
    assert any("malformed requests" in r.getMessage() for r in records)
