"""The web tier: server-sent-event fan-out to thousands of clients, `/api/v1/offices` under wrk, page bytes.

Everything runs against a **public replica in its own process**, as deployed: `python -m bench.web_replica
run --config X` is `python -m web run --config X` (web.cli.main) with the soft RLIMIT_NOFILE raised to
the hard limit first (one SSE client is one socket). Its config is a replica TOML ([replica] device,
[web] three offices, access log on as in deploy/examples/web.toml, [broker]) against a private mosquitto
(devtools/broker.py, mosquitto's default log levels). The benchmark publishes, retained and QoS 1 as the
hub does, `info`, `queue` and `history` (8 weeks × Mon–Fri × 11 hours, some days "ran out") for three
offices, and `ticket/{sha256(token)}` tracking views (hub/views.py ticket_view's fields). No product
code is changed. The load generators (SSE clients, wrk) run on the same 2 cores as the replica.

1. **SSE fan-out.** N clients (1, 1,000 and 5,000) open `/events/offices` — the Ampel stream, where
   everyone watches the same thing — from one client process (`--sse-client`: asyncio with raw
   non-blocking sockets and `recvmsg`, not aiohttp's client, whose per-event parsing would compete with
   the replica for the two cores). Then K retained `queue` updates of one office, each carrying a marker
   (the waiting count of service A, 900000 + k), each published when every client has seen the previous
   one. Every client socket has SO_TIMESTAMPNS set: the kernel stamps each received segment, and on
   loopback the receiver's segment is stamped inside the sender's `send()`, so the stamp of the segment
   that completes a client's event is the replica's write of that event to that client, measured from
   outside. Clocks: CLOCK_REALTIME in both processes (kernel stamps are realtime; one machine, one
   clock; monotonic would not compare with the stamps). Per update: publish → first, median and last
   client; reported: p50/p99 over updates of publish → last client, and the spread last − first.
   Baselines in the same run: the same with 1 client, and a bare MQTT publish → receive (a subscriber
   in this process, interleaved with every update). CPU per delivered event: the replica's CPU time
   (sum over its threads of /proc/PID/task/*/schedstat, ns) over the K updates / events delivered.
   Also: the time for N clients to connect and receive the initial state (every office), the replica's
   RSS per client, and what happens to the streams of clients that went away.
   Then a **tracking** burst: 200 waiting tickets, one client each on `/t/{token}/events`, and K
   bursts of 200 retained ticket updates back to back (what the hub publishes after a `next`: every
   waiting ticket's `ahead` changed); publish of the first → the last client's event, beside the bare
   subscriber's receipt of the last of the 200 messages.
   In-process (this process, no network): the per-client work of each stream's `make()` — for the
   Ampel, `office_summary` + `history_svg` + `office.html` + `json.dumps`, as `ampel_events` does for
   every client and every update — to say how much of the per-event CPU it is.
2. **`/api/v1/offices` requests per second** with `wrk -t2 -c64 -d10s --latency`, beside `/healthz`
   of the same process (the trivial endpoint), no SSE clients connected; the replica's CPU per request.
3. **Bytes for `/t/{token}`**: the whole HTTP response (status line, headers, body) for a waiting and a
   called ticket, requested with `Accept-Encoding: gzip, deflate, br` (the server does not compress: the
   gzip size of the body is shown for reference), plus the first event of the page's event stream,
   which the page opens at once; the same for `/` (three offices, their charts). The pages have no
   sub-resources (inline CSS and script, `data:` favicon). Without TLS.

    .venv/bin/python -m bench.web_bench [--clients 1000 5000] [--wrk-seconds 10] [--markdown]

`run()` returns the table rows (devtools.stats.Row) for `python -m bench web`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import json
import os
import queue
import re
import resource
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from bench.hub_latency import private_broker
from bench.machine import machine_lines
from devtools.broker import die_with_parent, free_port
from devtools.stats import Row, median, ms, percentile, print_report, ratio
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.fields import encode_object
from protocol.link import BrokerSettings, MqttLink
from web.gate import raise_open_files_limit

ROOT = Path(__file__).resolve().parent.parent
OFFICES = (("buergerbuero-mitte", "Bürgerbüro Mitte"), ("buergerbuero-nord", "Bürgerbüro Nord"),
           ("buergerbuero-sued", "Bürgerbüro Süd"))
MEASURED = OFFICES[0][0]  # the office whose queue updates are measured
MARK_BASE = 900000  # marker k is MARK_BASE + k: six digits, in the event's HTML or JSON
MARKER = re.compile(rb'"recall": (9\d{5})\b|\b(9\d{5}) (?:wartend|waiting)\b')
PAYLOAD_MARKER = re.compile(rb'"(?:waiting|recall)":(9\d{5})\b')
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; also the cmsg type (SCM_TIMESTAMPNS)
RECV_BYTES = 65536
TAIL_BYTES = 48  # kept between reads, so a marker split across two reads is still found
CONNECT_CONCURRENCY = 64  # clients connecting at a time (the replica's listen backlog is 128)
OFFICES_TARGET_RPS = 2000.0
PAGE_TARGET_BYTES = 30_000
TRACKED_TICKETS = 200
IDLE_S = 2.0  # the replica's idle CPU is measured over this long


def realtime_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


# -- the retained messages the hub would publish ---------------------------------------------------------


def info_payload(name: str, day: date) -> bytes:
    """Like hub/views.py office_info: two services, five counters, Mon–Fri hours."""
    counters = [{"id": f"platz-{i}", "name": f"Platz {i}", "services": ["A", "P"]} for i in range(1, 5)]
    return encode_object({
        "day": day.isoformat(), "name": name, "timezone": "Europe/Berlin",
        "hours": {d: ["07:30-12:30", "14:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "services": [{"id": "A", "name": {"de": "Allgemeine Anliegen", "en": "General concerns"}},
                     {"id": "P", "name": {"de": "Abholung Ausweis / Pass", "en": "ID card / passport pickup"}}],
        "counters": [*counters, {"id": "abholung", "name": "Abholung", "services": ["P"]}],
        "announcement": "", "ampel": {"green_max_min": 30, "yellow_max_min": 90},
    })


def queue_payload(day: date, waiting_a: int) -> bytes:
    return encode_object({"day": day.isoformat(), "at": datetime.now(UTC).isoformat(timespec="seconds"),
                          "services": [
                              {"service": "A", "waiting": waiting_a, "expected_wait_min": 38, "issuing": True,
                               "reason": None, "ampel": "yellow"},
                              {"service": "P", "waiting": 3, "expected_wait_min": 6, "issuing": True,
                               "reason": None, "ampel": "green"}]})


def history_payload(office: str, day: date, seed: int) -> bytes:
    """Like hub/history.py build_history: 8 weeks, Mon–Fri 7–17 h, tickets ran out on some days."""
    cells = [{"weekday": wd, "hour": hour, "typical_wait_min": 5 + (wd * 17 + hour * 29 + seed * 7) % 110,
              "tickets_per_day": round(4 + ((wd * 5 + hour * 3 + seed) % 23) / 1.7, 1)}
             for wd in range(5) for hour in range(7, 18)]
    ran_out = {"0": {"days": 5, "of_days": 8, "typical_time": "11:40"},
               "3": {"days": 2, "of_days": 8, "typical_time": "16:10"}}
    return encode_object({"office": office, "weeks": 8, "until": day.isoformat(), "cells": cells,
                          "ran_out": ran_out})


def ticket_payload(day: date, label: str, state: str, recall: int = 0, ahead: int = 7) -> bytes:
    """Like hub/views.py ticket_view; benchmark markers travel in `recall` (the stream's JSON has it)."""
    now = datetime.now(UTC)
    view: dict[str, Any] = {"day": day.isoformat(), "label": label, "service": label[0], "state": state,
                            "issued_at": (now - timedelta(minutes=25)).isoformat(), "recall": recall}
    if state == "waiting":
        view.update(ahead=ahead, expected_wait_min=3 * ahead)
    elif state == "called":
        view.update(counter="platz-3", counter_name="Platz 3", called_at=now.isoformat())
    return encode_object(view)


def new_token() -> str:
    """A tracking token as kiosks make them: 160 random bits in base32."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


# -- the SSE client process (--sse-client) ----------------------------------------------------------------


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

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().split()
        if not line or line[0] == "quit":
            break
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


class SseClients:
    """The client process, seen from here: `wait(k)` after publishing update k."""

    def __init__(self, port: int, paths: list[tuple[str, int]], log: IO[bytes]) -> None:
        spec = json.dumps({"port": port, "paths": paths})
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.web_bench", "--sse-client", spec],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=die_with_parent)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode())
        self.lines.put("")

    def result(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"SSE client process silent for {timeout:.0f} s") from None
        if not line:
            raise RuntimeError(f"SSE client process ended (exit code {self.proc.wait(5)})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, k: int, timeout: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"wait {k} {timeout}\n".encode())
        self.proc.stdin.flush()

    def cpu_ns(self) -> int:
        return cpu_ns(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# -- the replica process -----------------------------------------------------------------------------------


def cpu_ns(pid: int) -> int:
    """CPU time of a process so far, summed over its threads (schedstat: ns, not clock ticks)."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text(encoding="ascii").split()[0])
    return total


def rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def write_replica_config(directory: Path, web_port: int, broker_port: int) -> Path:
    offices = ", ".join(f'"{o}"' for o, _ in OFFICES)
    path = directory / "web.toml"
    path.write_text(textwrap.dedent(f"""\
        [replica]
        device = "web-bench"

        [web]
        offices = [{offices}]
        host = "127.0.0.1"
        port = {web_port}
        public_url = "http://127.0.0.1:{web_port}"
        operator = "Landeshauptstadt Musterstadt"
        access_log = true
        max_streams_per_client = 0  # the benchmark's thousands of clients share one address (no nginx here)

        [broker]
        host = "127.0.0.1"
        port = {broker_port}
        reconnect_max_s = 1
    """), encoding="utf-8")
    return path


@contextlib.contextmanager
def replica_process(directory: Path, broker_port: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    config = write_replica_config(directory, port, broker_port)
    with (directory / "replica.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bench.web_replica", "run", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "WARTEMARKE_LOG_LEVEL": "INFO"},
                                preexec_fn=die_with_parent)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


# -- plain HTTP ----------------------------------------------------------------------------------------------

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


# -- results ---------------------------------------------------------------------------------------------


@dataclass
class FanOut:
    """K updates to `clients` clients: per update, seconds from publish to the first/median/last client."""

    name: str
    clients: int
    connect_s: float = float("nan")
    connect_cpu_s: float = float("nan")
    failed: int = 0
    first: list[float] = field(default_factory=list)
    mid: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    client_p99: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)  # bare publish → receive (for a burst: the last message)
    lag: list[float] = field(default_factory=list)  # kernel stamp → the client process read it (max per update)
    delivered: int = 0
    missing: int = 0
    cpu_s: float = 0.0  # replica, over the measured updates
    client_cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_before_kib: int = 0
    rss_kib: int = 0
    streams_after_close: int = -1
    cleanup_s: float = float("nan")

    @property
    def spread(self) -> list[float]:
        return [b - a for a, b in zip(self.first, self.last, strict=True)]

    @property
    def cpu_per_event(self) -> float:
        return self.cpu_s / self.delivered if self.delivered else float("nan")


@dataclass
class Wrk:
    path: str
    rps: float
    p50: float
    p99: float
    requests: int
    errors: str
    cpu_s: float  # replica
    wrk_cpu_s: float
    seconds: float

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_s / self.requests if self.requests else float("nan")


@dataclass
class Renders:
    """Seconds per call, in-process: the per-client work of one event."""

    ampel_event: float = float("nan")
    ampel_svg: float = float("nan")
    ampel_bytes: int = 0
    ticket_event: float = float("nan")
    ticket_bytes: int = 0
    ticket_apply: float = float("nan")  # Mirror.apply of one ticket message (decode, store, notify)
    encode_only: float = float("nan")


@dataclass
class WebBenchResult:
    fanouts: list[FanOut] = field(default_factory=list)
    burst: FanOut | None = None
    wrk: list[Wrk] = field(default_factory=list)
    wrk_missing: str = ""
    pages: dict[str, tuple[Fetched, Fetched]] = field(default_factory=dict)
    renders: Renders = field(default_factory=Renders)
    rlimit: int = 0
    replica_idle_rss_kib: int = 0
    replica_idle_cpu: float = float("nan")  # share of a core, nothing connected, no updates
    log_lines: int = 0
    log_problems: list[str] = field(default_factory=list)


# -- measuring ---------------------------------------------------------------------------------------------


class Mqtt:
    """The hub's side: publishes retained messages; a second connection timestamps what the broker delivers."""

    def __init__(self, port: int) -> None:
        settings = BrokerSettings(host="127.0.0.1", port=port, reconnect_max_s=1)
        self.tx = MqttLink(settings, MEASURED, "bench-web-tx", "bench", VERSION, SystemClock(), availability=False)
        self.rx = MqttLink(settings, MEASURED, "bench-web-rx", "bench", VERSION, SystemClock(), availability=False)
        self._cond = threading.Condition()
        self.arrivals: dict[int, list[int]] = defaultdict(list)  # marker k → realtime ns of each delivery
        self.rx.subscribe(topics.office_root(MEASURED) + "/queue", self._on_message)
        self.rx.subscribe(topics.office_root(MEASURED) + "/ticket/+", self._on_message)

    def start(self) -> None:
        for link in (self.tx, self.rx):
            link.start()
            if not link.connected.wait(10):
                raise RuntimeError("benchmark MQTT client could not connect")

    def stop(self) -> None:
        self.tx.stop()
        self.rx.stop()

    def _on_message(self, topic: str, payload: bytes) -> None:
        at = realtime_ns()
        found = PAYLOAD_MARKER.search(payload)
        if found:
            with self._cond:
                self.arrivals[int(found.group(1)) - MARK_BASE].append(at)
                self._cond.notify_all()

    def publish(self, topic: str, payload: bytes) -> None:
        if not self.tx.publish(topic, payload, qos=1, retain=True):
            raise RuntimeError(f"publish to {topic} failed")

    def received(self, k: int, count: int, timeout: float = 10.0) -> list[int]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.arrivals.get(k, ())) >= count, timeout)
            return list(self.arrivals.pop(k, []))


class Bench:
    def __init__(self, work: Path, say: Callable[[str], None]) -> None:
        self.work, self.say = work, say
        self.day = date.today()
        self.k = 0  # the latest marker published
        self.tracked = [new_token() for _ in range(TRACKED_TICKETS)]
        self.waiting_token, self.called_token = new_token(), new_token()
        self.pid = 0
        self.port = 0
        self.mqtt: Mqtt | None = None

    # -- the retained state -----------------------------------------------------------------------------

    def publish_office(self) -> None:
        assert self.mqtt is not None
        for n, (office, name) in enumerate(OFFICES):
            root = topics.office_root(office)
            self.mqtt.publish(f"{root}/info", info_payload(name, self.day))
            self.mqtt.publish(f"{root}/history", history_payload(office, self.day, n))
            self.mqtt.publish(f"{root}/queue", queue_payload(self.day, MARK_BASE + self.k if n == 0 else 14 + n))
        self.mqtt.publish(topics.ticket(MEASURED, topics.token_hash(self.waiting_token)),
                          ticket_payload(self.day, "A042", "waiting", ahead=7))
        self.mqtt.publish(topics.ticket(MEASURED, topics.token_hash(self.called_token)),
                          ticket_payload(self.day, "A038", "called"))
        self.publish_tickets()

    def publish_queue(self) -> None:
        assert self.mqtt is not None
        self.mqtt.publish(f"{topics.office_root(MEASURED)}/queue", queue_payload(self.day, MARK_BASE + self.k))

    def publish_tickets(self) -> None:
        assert self.mqtt is not None
        for n, token in enumerate(self.tracked):
            self.mqtt.publish(topics.ticket(MEASURED, topics.token_hash(token)),
                              ticket_payload(self.day, f"A{100 + n:03d}", "waiting", MARK_BASE + self.k, n + 1))

    def wait_mirrored(self) -> None:
        def mirrored() -> bool:
            offices = get_json(self.port, "/api/v1/offices")
            if not offices or any(not o["services"] for o in offices["offices"]):
                return False
            waiting = offices["offices"][0]["services"][0]["waiting"]
            ticket = get_json(self.port, f"/api/v1/tickets/{self.tracked[-1]}")
            return bool(waiting == MARK_BASE + self.k and ticket and ticket.get("recall") == MARK_BASE + self.k)

        wait_for(mirrored, 30, "the replica to mirror the offices and tickets")

    # -- 3. bytes -------------------------------------------------------------------------------------------

    def pages(self) -> dict[str, tuple[Fetched, Fetched]]:
        out = {}
        for what, token in (("waiting", self.waiting_token), ("called", self.called_token)):
            out[f"/t/{{token}}, {what} ticket"] = (fetch(self.port, f"/t/{token}"),
                                                   fetch_events(self.port, f"/t/{token}/events", 1))
        out["/ (Ampel, 3 offices)"] = (fetch(self.port, "/"), fetch_events(self.port, "/events/offices",
                                                                           len(OFFICES)))
        return out

    # -- 2. wrk ---------------------------------------------------------------------------------------------

    def wrk(self, path: str, seconds: float) -> Wrk:
        exe = shutil.which("wrk")
        assert exe is not None
        before_cpu, before_children = cpu_ns(self.pid), resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        out = subprocess.run([exe, "-t2", "-c64", f"-d{seconds:g}s", "--latency", f"http://127.0.0.1:{self.port}{path}"],
                             capture_output=True, text=True, timeout=seconds + 60, check=False)
        wall = time.monotonic() - started
        cpu = (cpu_ns(self.pid) - before_cpu) / 1e9
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk_cpu = (after_children.ru_utime + after_children.ru_stime - before_children.ru_utime
                   - before_children.ru_stime)
        (self.work / f"wrk{path.replace('/', '_')}.txt").write_text(out.stdout + out.stderr, encoding="utf-8")
        if out.returncode != 0:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()[:300]}")
        return parse_wrk(path, out.stdout, cpu, wrk_cpu, wall)

    # -- 1. fan-out -----------------------------------------------------------------------------------------

    def fan_out(self, name: str, paths: list[tuple[str, int]], updates: int, warmup: int,
                publish: Callable[[], None], messages: int = 1, gap_s: float = 0.03) -> FanOut:
        assert self.mqtt is not None
        clients = sum(n for _, n in paths)
        result = FanOut(name, clients)
        result.rss_before_kib = rss_kib(self.pid)
        with (self.work / f"sse-{name}.log").open("ab") as log:
            sse = SseClients(self.port, paths, log)
            try:
                before = cpu_ns(self.pid)
                ready = sse.result(timeout=180)
                result.connect_s, result.connect_cpu_s = ready["seconds"], (cpu_ns(self.pid) - before) / 1e9
                result.failed = ready["failed"]
                if ready["ready"] == 0:
                    raise RuntimeError(f"no SSE client connected ({name})")
                result.rss_kib = rss_kib(self.pid)
                timeout = 30.0
                for n in range(warmup + updates):
                    if n == warmup:
                        cpu0, client0, wall0 = cpu_ns(self.pid), sse.cpu_ns(), time.monotonic()
                    self.k += 1
                    sse.ask(self.k, timeout)
                    t0 = realtime_ns()
                    publish()
                    got = sse.result(timeout + 30)
                    bare = self.mqtt.received(self.k, messages)
                    if n >= warmup:
                        if got["kernel"]:
                            first, mid, p99, last = got["kernel"]
                            result.first.append((first - t0) / 1e9)
                            result.mid.append((mid - t0) / 1e9)
                            result.client_p99.append((p99 - t0) / 1e9)
                            result.last.append((last - t0) / 1e9)
                            result.lag.append(got["lag"][1] / 1e9)
                        if bare:
                            result.bare.append((max(bare) - t0) / 1e9)
                        result.delivered += got["n"]
                        result.missing += got["expected"] - got["n"]
                    time.sleep(gap_s)
                result.cpu_s = (cpu_ns(self.pid) - cpu0) / 1e9
                result.client_cpu_s = (sse.cpu_ns() - client0) / 1e9
                result.wall_s = time.monotonic() - wall0
            finally:
                sse.close()
        # Clients gone: do their streams end? (aiohttp does not cancel a handler when its client leaves.)
        time.sleep(1.0)
        result.streams_after_close = sse_streams(self.port)
        started = time.monotonic()
        self.k += 1
        publish()  # the next update makes each orphaned stream write, fail and end
        self.mqtt.received(self.k, messages)
        wait_for(lambda: sse_streams(self.port) == 0, 60, "the replica's event streams to end")
        result.cleanup_s = time.monotonic() - started
        return result

    def measure(self, clients: list[int], wrk_seconds: float) -> WebBenchResult:
        result = WebBenchResult()
        self.say("[web] in-process: the per-client work of one event …")
        result.renders = measure_renders(self.day)
        result.rlimit = raise_open_files_limit()
        broker = private_broker(self.work / "broker", nodelay=True)
        broker.start()
        self.mqtt = Mqtt(broker.port)
        try:
            self.mqtt.start()
            self.publish_office()
            with replica_process(self.work, broker.port) as (proc, port):
                self.pid, self.port = proc.pid, port
                wait_for(lambda: fetch(port, "/healthz").status == 200, 30, "the replica to connect")
                self.wait_mirrored()
                result.replica_idle_rss_kib = rss_kib(self.pid)
                before, started = cpu_ns(self.pid), time.monotonic()
                time.sleep(IDLE_S)
                result.replica_idle_cpu = (cpu_ns(self.pid) - before) / 1e9 / (time.monotonic() - started)
                self.say("[web] bytes of /t/{token} and / …")
                result.pages = self.pages()
                if shutil.which("wrk") is None:
                    result.wrk_missing = "wrk is not installed (apt-get install wrk)"
                else:
                    for path in ("/api/v1/offices", "/healthz"):
                        self.say(f"[web] wrk -t2 -c64 -d{wrk_seconds:g}s {path} …")
                        result.wrk.append(self.wrk(path, wrk_seconds))
                plan = [(1, 60, 5)] + [(n, 30 if n <= 1000 else 12, 3 if n <= 1000 else 2) for n in clients]
                for n, updates, warmup in plan:
                    self.say(f"[web] Ampel stream: {n} client(s), {updates} queue updates …")
                    result.fanouts.append(self.fan_out(f"ampel-{n}", [("/events/offices", n)], updates, warmup,
                                                       self.publish_queue))
                self.say(f"[web] tracking streams: {TRACKED_TICKETS} tickets × 1 client, bursts of "
                         f"{TRACKED_TICKETS} ticket updates …")
                result.burst = self.fan_out("tickets", [(f"/t/{t}/events", 1) for t in self.tracked], 12, 2,
                                            self.publish_tickets, messages=TRACKED_TICKETS, gap_s=0.1)
            log = (self.work / "replica.log").read_text(encoding="utf-8", errors="replace").splitlines()
            result.log_lines = len(log)
            result.log_problems = [line for line in log if " WARNING " in line or " ERROR " in line
                                   or "Traceback" in line]
        finally:
            self.mqtt.stop()
            broker.stop()
        return result


def parse_wrk(path: str, text: str, cpu_s: float, wrk_cpu_s: float, seconds: float) -> Wrk:
    def duration(value: str) -> float:
        found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
        if not found:
            return float("nan")
        return float(found.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[found.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.MULTILINE)
    errors = [m.group(0).strip() for m in re.finditer(r"^\s*(Socket errors:.*|Non-2xx or 3xx responses:.*)$", text,
                                                       re.MULTILINE)]
    return Wrk(path, float(rps.group(1)) if rps else float("nan"), duration(p50.group(1)) if p50 else float("nan"),
               duration(p99.group(1)) if p99 else float("nan"), int(total.group(1)) if total else 0,
               "; ".join(errors), cpu_s, wrk_cpu_s, seconds)


def measure_renders(day: date, runs: int = 400) -> Renders:
    """The per-client work of one Ampel event and one tracking event, as the stream handlers do it."""
    from aiohttp.test_utils import make_mocked_request

    from web.app import create_app
    from web.config import load_replica_config
    from web.i18n import translator
    from web.mirror import Mirror
    from web.public import _ticket_context, office_summary
    from web.svg import history_svg
    from web.templates_env import render

    mirror = Mirror()
    for n, (office, name) in enumerate(OFFICES):
        root = topics.office_root(office)
        mirror.apply(f"{root}/info", info_payload(name, day))
        mirror.apply(f"{root}/history", history_payload(office, day, n))
        mirror.apply(f"{root}/queue", queue_payload(day, 14 + n))
    token = new_token()
    mirror.apply(topics.ticket(MEASURED, topics.token_hash(token)), ticket_payload(day, "A042", "waiting"))
    with tempfile.TemporaryDirectory() as directory:  # the replica's own settings, as its config makes them
        settings = load_replica_config(write_replica_config(Path(directory), free_port(), 1883)).web
    app = create_app(settings, mirror)
    request = make_mocked_request("GET", "/events/offices", headers={"Accept-Language": "de"}, app=app)
    ticket_request = make_mocked_request("GET", f"/t/{token}/events", headers={"Accept-Language": "de"},
                                         match_info={"prefix": "t", "token": token}, app=app)
    lang, t = "de", translator("de")

    def ampel() -> str:  # web/public.py ampel_events → event(office_id)
        summary = office_summary(request, MEASURED, lang)
        summary["chart"] = history_svg(mirror.office(MEASURED).history, lang)
        html = render("office.html", lang=lang, t=t, office=summary)
        return json.dumps({"id": MEASURED, "html": html})

    def svg() -> str:
        return history_svg(mirror.office(MEASURED).history, lang)

    def ticket() -> str:  # web/public.py tracking_events → event()
        office, view = mirror.tickets[topics.token_hash(token)]
        html = render("ticket_status.html", lang=lang, t=t, **_ticket_context(ticket_request, office, view))
        return json.dumps({"state": view.get("state"), "recall": view.get("recall", 0), "html": html})

    prepared = ampel()
    ticket_topic = topics.ticket(MEASURED, topics.token_hash(token))
    ticket_message = ticket_payload(day, "A042", "waiting")

    def apply() -> None:  # what the loop does with each ticket message before any client sees it
        mirror.apply(ticket_topic, ticket_message)

    def encode() -> bytes:  # the floor: an event rendered once, only framed and encoded per client
        return f"event: office\ndata: {prepared}\n\n".encode()

    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(20):
        ampel(), svg(), ticket()
    for _ in range(runs):  # interleaved, so that noise hits all alike
        for name, fn in (("ampel", ampel), ("svg", svg), ("ticket", ticket), ("encode", encode), ("apply", apply)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return Renders(median(times["ampel"]), median(times["svg"]), len(encode()), median(times["ticket"]),
                   len(f"event: status\ndata: {ticket()}\n\n".encode()), median(times["apply"]),
                   median(times["encode"]))


# -- the table -------------------------------------------------------------------------------------------


def _us(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1e6:.0f} µs"


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} kB"


def _p(values: list[float]) -> str:
    return f"{ms(median(values))} / {ms(percentile(values, 99))}"


def rows(r: WebBenchResult, notes: list[str] | None = None) -> list[Row]:
    notes = notes if notes is not None else []
    out: list[Row] = []
    one = next((f for f in r.fanouts if f.clients == 1), None)
    for f in r.fanouts:
        k = len(f.last)
        if f.clients == 1:
            out.append(Row(f"Ampel SSE, 1 client: publish → client's event, p50 / p99 ({k} updates)", _p(f.last),
                           f"bare MQTT publish → receive {_p(f.bare)}", ratio(median(f.last), median(f.bare))))
            out.append(Row("  replica CPU per update (MQTT in, 1 render, 1 write)", _us(f.cpu_per_event)))
            continue
        base = f"1 client {_p(one.last)}" if one else ""
        out.append(Row(f"Ampel SSE, {f.clients} clients: publish → last client's event, p50 / p99 ({k} updates)",
                       _p(f.last), base, ratio(median(f.last), median(one.last)) if one else ""))
        out.append(Row("  publish → first / median client (p50 over updates); spread last − first p50",
                       f"{ms(median(f.first))} / {ms(median(f.mid))}; {ms(median(f.spread))}",
                       f"bare MQTT publish → receive {_p(f.bare)}"))
        per_client = median(f.spread) / (f.clients - 1) if f.clients > 1 else float("nan")
        out.append(Row("  replica CPU per delivered event", _us(f.cpu_per_event),
                       f"1 client: {_us(one.cpu_per_event)} per update" if one else "",
                       ratio(f.cpu_per_event, one.cpu_per_event) if one else ""))
        out.append(Row("  of which the per-client render (in-process: office.html + SVG + JSON)",
                       f"{_us(r.renders.ampel_event)} ({r.renders.ampel_event / f.cpu_per_event:.0%})"
                       if f.delivered else "n/a",
                       f"event rendered once, framed per client {_us(r.renders.encode_only)}",
                       ratio(r.renders.ampel_event, r.renders.encode_only)))
        out.append(Row("  replica busy per update / wall per client in the spread",
                       f"{ms(f.cpu_s / k if k else float('nan'))} / {_us(per_client)}",
                       f"replica {f.cpu_s / f.wall_s:.0%} of a core, client process {f.client_cpu_s / f.wall_s:.0%}"
                       if f.wall_s else ""))
        out.append(Row(f"  {f.clients} clients connect and get the initial state ({len(OFFICES)} offices each)",
                       f"{f.connect_s:.2f} s", f"replica CPU {f.connect_cpu_s:.2f} s "
                       f"({f.connect_cpu_s / f.clients / len(OFFICES) * 1e6:.0f} µs per office event)"))
        out.append(Row("  replica RSS with the clients connected (per client)",
                       f"{f.rss_kib / 1024:.1f} MiB ({(f.rss_kib - f.rss_before_kib) / f.clients:.1f} KiB)",
                       f"before {f.rss_before_kib / 1024:.1f} MiB"))
        if f.missing or f.failed:
            notes.append(f"Ampel {f.clients} clients: {f.failed} failed to connect, {f.missing} events missing "
                         "within the timeout.")
        if f.streams_after_close:
            notes.append(f"Ampel {f.clients} clients: 1 s after they disconnected, /metrics still counted "
                         f"{f.streams_after_close} open streams; they ended only after the next update "
                         f"({f.cleanup_s:.2f} s).")
        else:
            notes.append(f"Ampel {f.clients} clients: all {f.clients} streams had ended 1 s after the clients "
                         "disconnected (/metrics).")
    b = r.burst
    if b is not None and b.last:
        out.append(Row(f"tracking SSE, {b.clients} tickets × 1 client: burst of {b.clients} ticket updates → "
                       f"last client, p50 / p99 ({len(b.last)} bursts)", _p(b.last),
                       f"bare MQTT: last of the {b.clients} received {_p(b.bare)}",
                       ratio(median(b.last), median(b.bare))))
        out.append(Row("  replica CPU per delivered event (1 MQTT message → 1 render → 1 write)",
                       _us(b.cpu_per_event), f"in-process: render {_us(r.renders.ticket_event)}, Mirror.apply "
                       f"{_us(r.renders.ticket_apply)}",
                       ratio(b.cpu_per_event, r.renders.ticket_event + r.renders.ticket_apply)))
    if r.wrk_missing:
        out.append(Row("/api/v1/offices requests/s (wrk)", f"not measured: {r.wrk_missing}", "", "", "≥ 2,000/s",
                       False))
    by = {w.path: w for w in r.wrk}
    api, health = by.get("/api/v1/offices"), by.get("/healthz")
    if api is not None:
        base = f"/healthz {health.rps:,.0f}/s" if health else ""
        out.append(Row(f"/api/v1/offices requests/s (wrk -t2 -c64, {api.seconds:.0f} s)", f"{api.rps:,.0f}/s", base,
                       ratio(api.rps, health.rps) if health else "", "≥ 2,000/s", api.rps >= OFFICES_TARGET_RPS))
        for w in (api, health):
            if w is None:
                continue
            out.append(Row(f"  {w.path}: latency p50 / p99; replica CPU per request",
                           f"{ms(w.p50)} / {ms(w.p99)}; {_us(w.cpu_per_request)}",
                           f"replica {w.cpu_s / w.seconds:.0%} of a core, wrk {w.wrk_cpu_s / w.seconds:.0%}"))
            if w.errors:
                notes.append(f"wrk {w.path}: {w.errors}")
    for what, (page, events) in r.pages.items():
        body = page.body
        zipped = len(gzip.compress(body, 6))
        encoding = page.header("Content-Encoding") or "none"
        total = page.total + events.total
        tracking = what.startswith("/t/")
        out.append(Row(f"{what}: bytes transferred (page + its event stream's initial event{'s' * (not tracking)})",
                       f"{total:,} B" if page.status == 200 and events.status == 200 else f"HTTP {page.status}",
                       f"{PAGE_TARGET_BYTES:,} B (the target)" if tracking else "",
                       f"{total / PAGE_TARGET_BYTES:.0%}" if tracking else "",
                       "< 30 kB" if tracking else "",
                       (total < PAGE_TARGET_BYTES and page.status == 200) if tracking else None))
        out.append(Row("  page: headers + body; the stream: headers + first event(s)",
                       f"{len(page.head):,} + {len(body):,} B; {len(events.head):,} + {len(events.body):,} B",
                       f"Content-Encoding: {encoding}; body gzip -6 {zipped:,} B", ratio(zipped, len(body))))
        subresources = re.findall(rb"<(?:script|img|link|iframe)[^>]*(?:src|href)=\"(?!data:)[^\"]*\"", body)
        if subresources:
            notes.append(f"{what}: sub-resources {[s.decode(errors='replace')[:80] for s in subresources]}")
    notes.append(f"SSE event sizes: Ampel office event {r.renders.ampel_bytes:,} B (of which the SVG chart "
                 f"is most), tracking event {r.renders.ticket_bytes:,} B; the history chart alone "
                 f"{_us(r.renders.ampel_svg)} per render.")
    notes.append(f"replica: RLIMIT_NOFILE raised to {r.rlimit}; idle RSS {r.replica_idle_rss_kib / 1024:.1f} MiB, "
                 f"idle CPU {r.replica_idle_cpu:.1%} of a core ({IDLE_S:.0f} s); "
                 f"log {r.log_lines} lines (access log on), {len(r.log_problems)} warnings/errors"
                 + (f" (first: {r.log_problems[0].strip()[:200]})" if r.log_problems else "") + ".")
    for f in [*r.fanouts, *([b] if b else [])]:
        if f.lag:
            notes.append(f"{f.name}: kernel stamp → the client process read it, worst client per update p50 "
                         f"{ms(median(f.lag))} (max {ms(max(f.lag))}) — client-side lag, excluded above.")
    return out


def run(directory: Path | None = None, notes: list[str] | None = None,
        progress: Callable[[str], None] | None = print, clients: list[int] | None = None,
        wrk_seconds: float = 10.0) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="wartemarke-bench-web-", dir=directory or tempfile.gettempdir()))
    try:
        bench = Bench(work, lambda m: progress(m) if progress else None)
        result = bench.measure(clients if clients is not None else [1000, 5000], wrk_seconds)
        return rows(result, notes)
    finally:
        if os.environ.get("BENCH_KEEP_WEB"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--sse-client"]:
        return sse_client_main(args_in[1])
    parser = argparse.ArgumentParser(prog="python -m bench.web_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="*", default=[1000, 5000], help="Ampel SSE client counts")
    parser.add_argument("--wrk-seconds", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(args_in)
    parent = Path(os.environ.get("BENCH_TMPDIR") or tempfile.gettempdir())
    started = time.monotonic()
    print("wartemarke web benchmark")
    print("\n".join(machine_lines(parent)), flush=True)
    print(flush=True)
    notes: list[str] = []
    table = run(parent, notes=notes, progress=lambda m: print(m, flush=True), clients=args.clients,
                wrk_seconds=args.wrk_seconds)
    print_report(table, notes, args.markdown, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
