"""Citizens' event streams through nginx over TLS, all in one process of their own:
`python -m bench.city.clients SPEC_FILE` opens the streams of SPEC and answers `wait K TIMEOUT` on stdin.

One stream is a raw non-blocking socket with an `ssl.SSLObject` over memory BIOs (no asyncio transport
or stream objects: a few KiB per stream, so 20,000 fit), bound to its own loopback address (nginx and the
replicas allow 8 streams per client address), read with `recvmsg` and SO_TIMESTAMPNS: the kernel stamps
each received segment inside nginx's `send()` on loopback, so the stamp of the segment that completes an
event is nginx's write of it, measured from outside — the client process's own lag does not count.

SPEC_FILE (JSON): {"port", "cafile", "streams": [[path, watch, count], …], "office", "deadline_s", "first_index",
"resume"} (streams not opened within `deadline_s` are left out and counted as "late"; `first_index`: this
process's first stream number, for its source addresses when several client processes share the streams;
`resume`: TLS session resumption — once one stream has a session ticket from nginx, the next handshakes
offer it, as a phone reopening its stream does; nginx may still answer with a full handshake).
A stream with `watch` true is a
screen that shows the measured office's change: its value is, for a tracking page, the "Vor Ihnen: N"
of its ticket (or its state), for the Ampel the "N wartend" per service of `office`'s fragment. Each
change of a watched stream's value after its first is counted (on the Ampel: a service's count that
changed, not one that appeared or disappeared because the hub turned issuing on or off, which is no
call); `wait K` answers when every watched stream has seen
K changes, with the kernel stamps of the K-th change (first, median, last, and all of them, for a
coordinator that merges several client processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import resource
import socket
import ssl
import struct
import sys
import time
from collections import defaultdict
from typing import Any

from bench.runner import stdin_commands
from bench.web.markers import realtime_ns
from devtools.stats import median

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
RECV_BYTES = 65536
CONNECT_CONCURRENCY = 48
STREAMS_PER_ADDRESS = 4  # a household: nginx allows 8 Ampel streams per address (web_streams_per_client)
AHEAD = re.compile(rb"Vor Ihnen: (\d+)")
STATE = re.compile(rb'"state": "(\w+)"')
WAITING = re.compile(rb"(\d+) wartend")


def service_counts(event: bytes) -> dict[bytes, bytes]:
    """An Ampel fragment's "N wartend" per service (by the service's name); a service that does not issue
    tickets shows no count."""
    found = {}
    for item in event.split(b"<li><span>")[1:]:
        name, _, rest = item.partition(b"</span>")
        count = WAITING.search(rest.split(b"</li>")[0])
        if count:
            found[name] = count.group(1)
    return found


def counts_changed(before: bytes, now: dict[bytes, bytes]) -> bool:
    """Whether a service shown with a count before and now has another count (the Ampel value of a call;
    a count that appears or disappears as the hub turns issuing off or on is not a call)."""
    old = dict(pair.split(b"=", 1) for pair in before.split(b",") if pair)
    return any(name in old and old[name] != count for name, count in now.items())


def source_address(index: int) -> str:
    """The loopback address of stream `index`: 127.10.0.1, … (four streams per address)."""
    n = index // STREAMS_PER_ADDRESS + 1
    return f"127.{10 + n // 65025}.{n // 255 % 255}.{n % 255 + 1}"


class Stream:
    __slots__ = ("ampel", "buf", "changes", "chunk_left", "chunked", "events", "head", "incoming", "office_key",
                 "outgoing", "pending", "ready", "sock", "tls", "value", "watch")

    def __init__(self, sock: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                 watch: bool, ampel: bool, office_key: bytes, ready: asyncio.Future[None]) -> None:
        self.sock, self.tls, self.incoming, self.outgoing = sock, tls, incoming, outgoing
        self.watch, self.ampel, self.office_key, self.ready = watch, ampel, office_key, ready
        self.buf = b""  # de-chunked bytes not yet split into events
        self.head = True  # still reading the response head
        self.chunked = True
        self.chunk_left = 0  # bytes left in the current chunk
        self.pending = b""  # a chunk size line split across reads
        self.value: bytes | None = None
        self.changes = 0
        self.events = 0

    def dechunk(self, data: bytes) -> bytes:
        """The body of a chunked response, as its bytes arrive (nginx re-chunks what the replica writes)."""
        data, self.pending = self.pending + data, b""
        out = []
        pos = 0
        while pos < len(data):
            if self.chunk_left > 0:
                take = data[pos:pos + self.chunk_left]
                out.append(take)
                self.chunk_left -= len(take)
                pos += len(take)
                continue
            end = data.find(b"\r\n", pos)
            if end < 0:  # a size line split across reads: kept for the next one
                self.pending = data[pos:]
                break
            line = data[pos:end]
            pos = end + 2
            if line:
                self.chunk_left = int(line.split(b";")[0], 16)
        return b"".join(out)


def client_main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    need = 2 * sum(int(n) for _path, _watch, n in spec["streams"]) + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):  # as root the hard limit can be raised as well
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), max(hard, need)))
    return asyncio.run(_clients(spec))


async def _clients(spec: dict[str, Any]) -> int:
    loop = asyncio.get_running_loop()
    port = int(spec["port"])
    context = ssl.create_default_context(cafile=spec["cafile"])
    office_key = f'{{"id": "{spec["office"]}"'.encode()
    marks: dict[int, list[tuple[int, bool]]] = defaultdict(list)  # k → (kernel ns, on the Ampel) per screen
    counts = {"ok": 0, "failed": 0, "closed": 0, "events": 0, "bytes": 0, "want": -1, "watchers": 0, "late": 0,
              "resumed": 0}
    first_index, resume = int(spec.get("first_index", 0)), bool(spec.get("resume", False))
    session: list[ssl.SSLSession] = []  # the newest session with a ticket (TLS 1.3: it comes after the handshake)
    deadline = time.monotonic() + float(spec.get("deadline_s", 1e9))
    errors: dict[str, int] = defaultdict(int)
    done = asyncio.Event()
    streams: list[Stream] = []

    def on_event(s: Stream, event: bytes, kernel: int) -> None:
        s.events += 1
        counts["events"] += 1
        if not s.watch:
            if not s.ready.done():
                s.ready.set_result(None)
            return
        if s.ampel:
            if not event.startswith(b"event: office\ndata: " + office_key):
                return
            waiting = service_counts(event)
            if not waiting:  # "no tickets left today" instead of every count: not what is measured
                return
            value = b",".join(b"%s=%s" % item for item in sorted(waiting.items()))
            if s.value is not None and not counts_changed(s.value, waiting):
                s.value = value  # a service's count came or went (issuing turned on or off): no call
                return
        else:
            found = AHEAD.search(event) or STATE.search(event)
            value = found.group(1) if found else b""
        if s.value is None:
            s.value = value
            if not s.ready.done():
                s.ready.set_result(None)
            return
        if value != s.value:
            s.value = value
            s.changes += 1
            got = marks[s.changes]
            got.append((kernel, s.ampel))
            if s.changes == counts["want"] and len(got) >= counts["watchers"]:
                done.set()

    def readable(s: Stream) -> None:
        while True:
            try:
                data, ancillary, _flags, _addr = s.sock.recvmsg(RECV_BYTES, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, ancillary = b"", []
            if not data:
                loop.remove_reader(s.sock.fileno())
                counts["closed"] += 1
                if not s.ready.done():
                    s.ready.set_exception(ConnectionError("closed before the first event"))
                return
            kernel = realtime_ns()
            for level, kind, raw in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                    sec, nsec = struct.unpack_from("qq", raw)
                    kernel = sec * 1_000_000_000 + nsec
            counts["bytes"] += len(data)
            s.incoming.write(data)
            plain = []
            with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLZeroReturnError):  # zero return: close_notify
                while chunk := s.tls.read(RECV_BYTES):
                    plain.append(chunk)
            text = b"".join(plain)
            if s.head:
                s.buf += text
                head, sep, rest = s.buf.partition(b"\r\n\r\n")
                if not sep:
                    continue
                s.head = False
                status = int(head[9:12]) if head[9:12].isdigit() else -1
                if status != 200:
                    errors[f"HTTP {status}"] += 1
                    if not s.ready.done():
                        s.ready.set_exception(ConnectionError(f"HTTP {status}"))
                    loop.remove_reader(s.sock.fileno())
                    return
                s.buf = b""
                s.chunked = b"chunked" in head.lower()
                text = rest
            s.buf += s.dechunk(text) if s.chunked else text
            while (end := s.buf.find(b"\n\n")) >= 0:
                event, s.buf = s.buf[:end], s.buf[end + 2:]
                if event.startswith(b"event: "):  # not `retry:` (the stream's first block) or a heartbeat
                    on_event(s, event, kernel)
            if len(data) < RECV_BYTES:
                return

    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def handshake(sock: socket.socket, tls: ssl.SSLObject, outgoing: ssl.MemoryBIO,
                        incoming: ssl.MemoryBIO) -> None:
        while True:
            try:
                tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    await loop.sock_sendall(sock, outgoing.read())
                data = await loop.sock_recv(sock, RECV_BYTES)
                if not data:
                    raise ConnectionError("closed during the TLS handshake") from None
                incoming.write(data)

    async def open_one(index: int, path: str, watch: bool) -> None:
        async with semaphore:
            if time.monotonic() > deadline:  # the rest are not opened: measured with what is open
                counts["late"] += 1
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost",
                                   session=session[0] if session else None)
            request = (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                       "Accept-Language: de-DE,de;q=0.9\r\nCache-Control: no-cache\r\n\r\n").encode()
            try:
                sock.bind((source_address(first_index + index), 0))
                await loop.sock_connect(sock, ("127.0.0.1", port))
                await asyncio.wait_for(handshake(sock, tls, outgoing, incoming), 60)
                tls.write(request)
                await loop.sock_sendall(sock, outgoing.read())
            except (OSError, ssl.SSLError, ConnectionError, TimeoutError) as exc:
                errors[type(exc).__name__] += 1
                counts["failed"] += 1
                sock.close()
                return
            s = Stream(sock, tls, incoming, outgoing, watch, path == "/events/offices", office_key,
                       loop.create_future())
            streams.append(s)
            loop.add_reader(sock.fileno(), readable, s)
            if incoming.pending:
                readable(s)
            try:
                await asyncio.wait_for(asyncio.shield(s.ready), 120.0)
                counts["ok"] += 1
                counts["resumed"] += tls.session_reused
                if resume and tls.session is not None and tls.session.has_ticket:
                    session[:] = [tls.session]
            except (TimeoutError, ConnectionError) as exc:
                if not str(exc).startswith("HTTP"):  # an HTTP status is counted where it was read
                    errors[type(exc).__name__] += 1
                counts["failed"] += 1

    started = time.monotonic()
    jobs = [(path, bool(watch)) for path, watch, n in spec["streams"] for _ in range(int(n))]
    random.Random(13).shuffle(jobs)  # Ampel and every office's pages mixed: a deadline leaves a fair sample open
    await asyncio.gather(*(open_one(i, path, watch) for i, (path, watch) in enumerate(jobs)))
    counts["watchers"] = sum(1 for s in streams if s.watch and s.ready.done() and not s.ready.exception())
    _say({"ready": counts["ok"], "failed": counts["failed"], "late": counts["late"], "watchers": counts["watchers"],
          "seconds": time.monotonic() - started, "errors": dict(errors), "resumed": counts["resumed"]})

    async for line in stdin_commands():
        if line[0] == "count":
            _say({"events": counts["events"], "bytes": counts["bytes"], "closed": counts["closed"]})
            continue
        k, timeout = int(line[1]), float(line[2])
        counts["want"] = k
        done.clear()
        if len(marks[k]) < counts["watchers"]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)
        seen = marks.get(k, [])
        got = sorted(ns for ns, _ in seen)
        ampel = [ns for ns, on_ampel in seen if on_ampel]
        tracking = [ns for ns, on_ampel in seen if not on_ampel]
        behind = [s for s in streams if s.watch and s.value is not None and s.changes < k]
        _say({"k": k, "n": len(got), "expected": counts["watchers"], "closed": counts["closed"],
              "kernel": [got[0], int(median(got)), got[-1]] if got else [], "stamps": got,
              "last_ampel": max(ampel, default=0), "last_tracking": max(tracking, default=0),
              "behind": {"ampel": sum(s.ampel for s in behind), "tracking": sum(not s.ampel for s in behind)}})
    for s in streams:
        with contextlib.suppress(Exception):
            loop.remove_reader(s.sock.fileno())
        s.sock.close()
    return 0


def _say(data: dict[str, Any]) -> None:
    print(json.dumps(data), flush=True)


if __name__ == "__main__":
    sys.exit(client_main(sys.argv[1]))
