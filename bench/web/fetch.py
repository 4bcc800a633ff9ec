"""Plain HTTP/1.1 over a socket, as a browser sends it: whole responses with their bytes counted, the first
events of a stream, and the replica's /metrics."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RECV_BYTES = 65536

BROWSER_HEADERS = ("User-Agent: Mozilla/5.0 (X11; Linux x86_64) wartemarke-bench\r\n"
                   "Accept-Language: de-DE,de;q=0.9,en;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n")
HTML_ACCEPT = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"


@dataclass
class Fetched:
    status: int
    head: bytes  # status line and headers, with the blank line
    body: bytes  # as transferred (for a stream: the chunks read, with their framing)

    @property
    def total(self) -> int:
        return len(self.head) + len(self.body)

    def header(self, name: str) -> str:
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return ""


def fetch(port: int, path: str, timeout: float = 10.0) -> Fetched:
    """GET with Connection: close; everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{BROWSER_HEADERS}{HTML_ACCEPT}"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(RECV_BYTES):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return Fetched(int(head[9:12]), head + b"\r\n\r\n", body)


def fetch_events(port: int, path: str, events: int, timeout: float = 10.0) -> Fetched:
    """The response head and the first `events` server-sent events (chunked: counted with their framing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{BROWSER_HEADERS}"
                     "Accept: text/event-stream\r\n\r\n".encode())
        data = b""
        while data.count(b"\n\n\r\n") < events or b"\r\n\r\n" not in data:
            chunk = sock.recv(RECV_BYTES)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    end = 0
    for _ in range(events):
        found = body.find(b"\n\n\r\n", end)
        if found < 0:
            break
        end = found + 4
    return Fetched(int(head[9:12]), head + b"\r\n\r\n", body[:end])


def get_json(port: int, path: str) -> Any:
    reply = fetch(port, path)
    return json.loads(reply.body) if reply.status == 200 else None


def sse_streams(port: int) -> int:
    """The replica's open event streams, from /metrics."""
    text = fetch(port, "/metrics").body.decode()
    found = re.search(r"^wartemarke_web_sse_clients (\d+)$", text, re.MULTILINE)
    return int(found.group(1)) if found else -1


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError):
            value = predicate()
            if value:
                return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)
