"""The SSE clients, all in one process of their own: `python -m bench.web.sse_clients SPEC` opens the
clients of SPEC ({"port", "paths": [[path, count], …]}) with raw non-blocking sockets and `recvmsg` (not
aiohttp's client, whose per-event parsing would compete with the replica for the two cores), each with
SO_TIMESTAMPNS, and reports on request when each client saw marker k; `SseClients` is the benchmark's
side of that conversation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import sys
import time
from collections import defaultdict
from typing import IO, Any

from bench.procfs import cpu_ns
from bench.runner import LineChild, python, stdin_commands
from bench.web.markers import MARK_BASE, MARKER, realtime_ns
from devtools.stats import median, percentile
from web.gate import raise_open_files_limit

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; also the cmsg type (SCM_TIMESTAMPNS)
RECV_BYTES = 65536
TAIL_BYTES = 48  # kept between reads, so a marker split across two reads is still found
CONNECT_CONCURRENCY = 64  # clients connecting at a time (the replica's listen backlog is 128)


class _Conn:
    __slots__ = ("last", "ready", "sock", "status", "tail")

    def __init__(self, sock: socket.socket, ready: asyncio.Future[None]) -> None:
        self.sock, self.ready = sock, ready
        self.tail = b""
        self.last = -1
        self.status = 0


def sse_client_main(spec_json: str) -> int:
    """Open the clients of `spec` ({"port", "paths": [[path, count], …]}), then answer `wait K TIMEOUT`
    lines on stdin with one JSON line: the K-th marker's first sighting per client, kernel and user times."""
    raise_open_files_limit()
    return asyncio.run(_sse_clients(json.loads(spec_json)))


async def _sse_clients(spec: dict[str, Any]) -> int:
    loop = asyncio.get_running_loop()
    host, port = "127.0.0.1", int(spec["port"])
    marks: dict[int, list[tuple[int, int]]] = defaultdict(list)  # k → (kernel ns, user ns) per client
    counts = {"ok": 0, "failed": 0, "closed": 0, "want": -1, "target": 0}
    done = asyncio.Event()
    conns: list[_Conn] = []

    def readable(conn: _Conn) -> None:
        sock = conn.sock
        while True:
            try:
                data, ancillary, _flags, _addr = sock.recvmsg(RECV_BYTES, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, ancillary = b"", []
            user = realtime_ns()
            if not data:
                loop.remove_reader(sock.fileno())
                counts["closed"] += 1
                if not conn.ready.done():
                    conn.ready.set_exception(ConnectionError("closed before the first event"))
                return
            kernel = user
            for level, kind, raw in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                    sec, nsec = struct.unpack_from("qq", raw)
                    kernel = sec * 1_000_000_000 + nsec
            buf = conn.tail + data
            if not conn.status and len(buf) >= 12:
                conn.status = int(buf[9:12]) if buf.startswith(b"HTTP/1.") and buf[9:12].isdigit() else -1
                if conn.status != 200 and not conn.ready.done():
                    conn.ready.set_exception(ConnectionError(f"HTTP status {conn.status}"))
            for m in MARKER.finditer(buf):
                k = int(m.group(1) or m.group(2)) - MARK_BASE
                if k > conn.last:
                    conn.last = k
                    got = marks[k]
                    got.append((kernel, user))
                    if not conn.ready.done():
                        conn.ready.set_result(None)
                    if k == counts["want"] and len(got) >= counts["target"]:
                        done.set()
            conn.tail = buf[-TAIL_BYTES:]
            if len(data) < RECV_BYTES:
                return

    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(path: str) -> None:
        async with semaphore:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                       "Accept-Language: de-DE,de;q=0.9\r\nCache-Control: no-cache\r\n\r\n").encode()
            try:
                await loop.sock_connect(sock, (host, port))
                await loop.sock_sendall(sock, request)
            except OSError:
                counts["failed"] += 1
                sock.close()
                return
            conn = _Conn(sock, loop.create_future())
            conns.append(conn)
            loop.add_reader(sock.fileno(), readable, conn)
            try:
                await asyncio.wait_for(conn.ready, 60.0)
                counts["ok"] += 1
            except (TimeoutError, ConnectionError):
                counts["failed"] += 1

    started = time.monotonic()
    await asyncio.gather(*(open_one(path) for path, n in spec["paths"] for _ in range(int(n))))
    print(json.dumps({"ready": counts["ok"], "failed": counts["failed"], "seconds": time.monotonic() - started}),
          flush=True)

    async for line in stdin_commands():
        k, timeout = int(line[1]), float(line[2])
        counts["want"], counts["target"] = k, counts["ok"] - counts["closed"]
        done.clear()
        if len(marks[k]) < counts["target"]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)
        got = marks.pop(k, [])
        for old in [key for key in marks if key < k]:
            del marks[old]
        kernel = sorted(g[0] for g in got)
        lag = sorted(g[1] - g[0] for g in got)
        print(json.dumps({"k": k, "n": len(got), "expected": counts["target"], "closed": counts["closed"],
                          "kernel": [kernel[0], int(median(kernel)), int(percentile(kernel, 99)), kernel[-1]]
                          if kernel else [],
                          "lag": [int(median(lag)), lag[-1]] if lag else []}), flush=True)
    for conn in conns:
        with contextlib.suppress(Exception):
            loop.remove_reader(conn.sock.fileno())
        conn.sock.close()
    return 0


class SseClients(LineChild):
    """The client process, seen from here: `ask(k)` after publishing update k, then `result`."""

    def __init__(self, port: int, paths: list[tuple[str, int]], log: IO[bytes]) -> None:
        super().__init__(python("bench.web.sse_clients", json.dumps({"port": port, "paths": paths})), log)

    def ask(self, k: int, timeout: float) -> None:  # type: ignore[override]  # the answer comes by result()
        self.send(f"wait {k} {timeout}")

    def cpu_ns(self) -> int:
        return cpu_ns(self.proc.pid)

    def close(self, timeout: float = 20.0) -> None:
        super().close(timeout)


if __name__ == "__main__":
    sys.exit(sse_client_main(sys.argv[1]))
