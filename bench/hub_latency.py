"""Hub throughput and call latency through a real broker, beside bare MQTT measured in the same run.

The hub runs as in production, in its own process (`python -m hub run --config …`, INFO log to a
file as to journald, the production tick of 15 s), so its CPU and GIL are not shared with the load
generator in this process. Its state directory is on the same disk as the temp dir. Each variant
(below) gets its own private mosquitto (devtools/broker.py, logging at mosquitto's default levels
rather than the test broker's per-packet `log_type all`) and its own hub with fresh state.

1. **Commands per second with durable state.** Kiosk "kiosk-1" fills the queue to `waiting` tickets
   (`ticket.issued` events published back to back; done when the hub's ack reaches the last seq: the
   ingest rate is reported too). Then K clients (own MQTT connections, own counters) each send
   `next`, `done`, `next`, … as MQTT v5 requests, each after the reply to the previous one (closed
   loop). A round ends when half the queue has been called and the queue is refilled (untimed), so
   it stays between `waiting` and `waiting / 2` (the hub's work per command grows with it); rounds
   repeat until `duration` seconds were measured. Every command is one synced SQLite commit (WAL,
   synchronous=FULL) before its reply. Baseline, same clients, same run: an echo responder in another
   process (no SQLite, no engine; it decodes the request and replies on the response topic with the
   correlation data, QoS 1 like the hub).
2. **`next` → retained `calls` update.** One counter presses `next` one at a time (a short pause
   between presses; the queue refilled to `waiting` whenever 50 were called); a subscriber to the
   office's `calls` topic timestamps the message with the expected `seq`. Interleaved with every
   press: an echo round trip (client → broker → echo process → broker → client: the same two hops as
   a command and its calls update) and a bare publish → receive through the broker (one hop).

Variants: **TCP_NODELAY** — the broker with `set_tcp_nodelay true` (as the tests and deploy/ configure
it) and TCP_NODELAY on every client socket (MqttLink sets it since this benchmark found the cost of
leaving it off). **Nagle** (only with `--shipped-duration S` > 0) — mosquitto's default
`set_tcp_nodelay false` and plain client sockets: a small MQTT packet sent while the previous one is
unacknowledged waits for the peer's delayed ACK (~40 ms on Linux), so every request/response round
trip cost ~2 × 40 ms whatever the hub did (measured 2026-11-25: 88 ms per command, 46 ms next → calls).

Also measured once: a raw `write + fsync` on the state disk (the floor of any durable commit), the
hub's own commit (`HubStore.append`) alone, and, in this process with a stub link, how one command's
time splits into commit + engine, `forecast()` and the retained messages (`OfficePublisher.publish`
runs after every input and re-sends every retained message that changed; after a `next` that is
the tracking view of every waiting ticket, since each one's `ahead` dropped by one).

    .venv/bin/python -m bench.hub_latency [--waiting 200] [--duration 5] [--clients 1 4] [--presses 300]

`run()` returns the table rows (devtools.stats.Row) for `python -m bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench.machine import machine_lines
from devtools.broker import Broker, die_with_parent
from devtools.hub_harness import issued, payload, write_hub_config
from devtools.stats import Row, median, ms, percentile, print_report, ratio
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.fields import decode_object, encode_object
from protocol.link import BrokerSettings, MqttLink, command_expiry_s, request_properties

OFFICE = "bench-hub"
HUB_DEVICE = "hub-test"  # devtools/hub_harness.py's [hub] device
KIOSK = "kiosk-1"
COUNTERS = 8
PRODUCTION_TICK_S = 15.0  # hub/config.py default; the test harness ticks every 0.2 s
ECHO_ROOT = "bench/echo"
REPLY_TIMEOUT_S = 10.0
REFILL_EVERY = 50  # presses between refills of the queue in part 2
#: mosquitto's default log types (the test broker logs every packet, which is not what an office runs)
DEFAULT_BROKER_LOG = "log_type error\nlog_type warning\nlog_type notice\nlog_type information"
ROOT = Path(__file__).resolve().parent.parent


# -- results ---------------------------------------------------------------------------------------


@dataclass
class Throughput:
    """Closed-loop requests from `clients` connections, each waiting for its reply before the next."""

    target: str  # "hub" | "echo"
    clients: int
    seconds: float = 0.0
    latency: list[float] = field(default_factory=list)  # request → reply, seconds
    refused: int = 0  # replies with ok = false (nobody waiting, …): still committed commands
    rounds: int = 0
    waiting_max: int = 0
    waiting_min: int = 0

    @property
    def commands(self) -> int:
        return len(self.latency)

    @property
    def rate(self) -> float:
        return self.commands / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class Variant:
    """One broker/socket setup, one hub: parts 1 and 2."""

    name: str
    nodelay: bool
    waiting: int
    preload_events: int = 0
    preload_s: float = float("nan")
    throughput: list[Throughput] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)  # next published → calls message with its seq
    calls_reply: list[float] = field(default_factory=list)  # the same presses: next → reply
    echo: list[float] = field(default_factory=list)  # interleaved echo round trips
    pubsub: list[float] = field(default_factory=list)  # interleaved one-hop publish → receive
    hub_log_lines: int = 0


@dataclass
class Breakdown:
    """Per command, in this process with a stub link (no broker): where the hub's time goes."""

    waiting: int
    commands: int = 0
    commit_engine: list[float] = field(default_factory=list)  # OfficeRuntime.counter_command (commit + apply)
    forecast: list[float] = field(default_factory=list)  # hub.estimate.forecast inside publish
    publish: list[float] = field(default_factory=list)  # OfficePublisher.publish in total (incl. forecast)
    messages_after_next: list[int] = field(default_factory=list)  # retained messages sent per `next`
    messages_after_done: list[int] = field(default_factory=list)


@dataclass
class HubBenchResult:
    variants: list[Variant] = field(default_factory=list)
    fsync: list[float] = field(default_factory=list)  # write 64 B + fsync on the state disk
    commit: list[float] = field(default_factory=list)  # HubStore.append alone
    breakdown: Breakdown | None = None


# -- helpers ---------------------------------------------------------------------------------------


def tcp_nodelay() -> None:
    """In this process, open every TCP connection with TCP_NODELAY (paho does not set it, so a small
    packet waits for the ACK of the previous one: Nagle against delayed ACKs, ~40 ms on Linux)."""
    original = socket.create_connection
    if getattr(original, "_bench_nodelay", False):
        return

    def create_connection(*args: Any, **kwargs: Any) -> socket.socket:
        sock = original(*args, **kwargs)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    create_connection._bench_nodelay = True  # type: ignore[attr-defined]
    socket.create_connection = create_connection  # type: ignore[assignment]


def _link(port: int, device: str, host: str = "127.0.0.1") -> MqttLink:
    return MqttLink(BrokerSettings(host=host, port=port, reconnect_max_s=1), OFFICE, device, "bench", VERSION,
                    SystemClock(), availability=False)


def _started(link: MqttLink) -> MqttLink:
    link.start()
    if not link.connected.wait(REPLY_TIMEOUT_S):
        link.stop()
        raise RuntimeError(f"benchmark client {link.device} could not connect to the broker")
    return link


class Requester:
    """MQTT v5 request/response over one connection, one request in flight (what `send_command` does,
    with the response topic subscribed once instead of per request)."""

    def __init__(self, port: int, name: str, host: str = "127.0.0.1") -> None:
        self.response_topic = f"{topics.office_root(OFFICE)}/bench/{name}/response/{uuid.uuid4().hex[:12]}"
        self.link = _link(port, name, host)
        self.link.subscribe_requests(self.response_topic, self._on_reply)
        self._ids = itertools.count(1)
        self._expect = b""
        self._done = threading.Event()
        self._answer: dict[str, Any] = {}
        self._at = 0.0

    def start(self) -> Requester:
        _started(self.link)
        return self

    def stop(self) -> None:
        self.link.stop()

    def _on_reply(self, topic: str, data: bytes, properties: Any) -> None:
        if getattr(properties, "CorrelationData", None) == self._expect:
            self._at = time.perf_counter()
            self._answer = decode_object(data)
            self._done.set()

    def request(self, topic: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """Publish one request and wait for its reply; returns (seconds, answer)."""
        correlation = f"{self.link.device}-{next(self._ids)}".encode()
        self._expect = correlation
        self._done.clear()
        props = request_properties(self.response_topic, correlation, command_expiry_s(REPLY_TIMEOUT_S))
        raw = encode_object(body)
        start = time.perf_counter()
        if not self.link.publish(topic, raw, properties=props):
            raise RuntimeError(f"{self.link.device}: not connected")
        if not self._done.wait(REPLY_TIMEOUT_S):
            raise RuntimeError(f"{self.link.device}: no reply on {topic} within {REPLY_TIMEOUT_S:.0f} s")
        return self._at - start, self._answer

    def command(self, topic: str, op: str) -> tuple[float, dict[str, Any]]:
        return self.request(topic, {"id": uuid.uuid4().hex, "op": op})


class Watch:
    """A subscriber keeping the latest JSON of a topic, with its arrival time, and waiting on it."""

    def __init__(self, port: int, topic: str, name: str, host: str = "127.0.0.1") -> None:
        self.topic = topic
        self._cond = threading.Condition()
        self.latest: dict[str, Any] | None = None
        self.arrivals: dict[int, float] = {}  # value of `key` → first arrival
        self.key = "seq"
        self.link = _link(port, name, host)
        self.link.subscribe(topic, self._on_message)

    def start(self) -> Watch:
        _started(self.link)
        return self

    def stop(self) -> None:
        self.link.stop()

    def _on_message(self, topic: str, data: bytes) -> None:
        at = time.perf_counter()
        if not data:
            return
        value = decode_object(data)
        with self._cond:
            self.latest = value
            k = value.get(self.key)
            if isinstance(k, int):
                self.arrivals.setdefault(k, at)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: self.latest is not None and predicate(self.latest), timeout):
                raise RuntimeError(f"timed out waiting on {self.topic} (latest: {self.latest})")
            assert self.latest is not None
            return self.latest

    def arrival(self, key: int, timeout: float = REPLY_TIMEOUT_S) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self.arrivals, timeout):
                raise RuntimeError(f"no message with {self.key} = {key} on {self.topic} within {timeout:.0f} s")
            return self.arrivals[key]


class Ping:
    """One-hop baseline: publish (QoS 1) from one connection, timestamp the delivery on another."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.topic = f"bench/ping/{uuid.uuid4().hex[:8]}"
        self.sender = _link(port, "ping-tx", host)
        self.watch = Watch(port, self.topic, "ping-rx", host)
        self._n = 0

    def start(self) -> Ping:
        _started(self.sender)
        self.watch.start()
        return self

    def stop(self) -> None:
        self.sender.stop()
        self.watch.stop()

    def once(self) -> float:
        self._n += 1
        body = encode_object({"seq": self._n, "pad": "x" * 200})
        start = time.perf_counter()
        self.sender.publish(self.topic, body)
        return self.watch.arrival(self._n) - start


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                preexec_fn=die_with_parent)


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def _process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = _spawn(argv, log)
    try:
        yield proc
    finally:
        _end(proc)


def _wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
            raise RuntimeError(f"{what} did not get ready (exit code {proc.poll()})\n{tail}")
        time.sleep(0.02)


# -- the echo responder (its own process) ------------------------------------------------------------


def echo_main(host: str, port: int, ready_file: Path) -> int:
    """Reply to every request on `bench/echo/+/command` with `{"v": 1, "id": …, "ok": true}`, the
    request's correlation data, QoS 1: what the hub does minus SQLite, the engine and its state."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from protocol.link import response_properties

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"bench-echo-{os.getpid()}", protocol=mqtt.MQTTv5)
    stop = threading.Event()

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        c.subscribe(f"{ECHO_ROOT}/+/command", qos=1)

    def on_subscribe(c: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        ready_file.write_text("ready\n", encoding="utf-8")

    def on_message(c: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        props = message.properties
        request = decode_object(bytes(message.payload))
        response_topic = getattr(props, "ResponseTopic", None)
        if response_topic:
            answer = encode_object({"v": 1, "id": request.get("id"), "ok": True})
            c.publish(response_topic, answer, qos=1,
                      properties=response_properties(getattr(props, "CorrelationData", None)))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.connect(host, port, keepalive=30)
    client.loop_start()
    while not stop.wait(0.5):
        pass
    client.disconnect()
    client.loop_stop()
    return 0


# -- measuring -------------------------------------------------------------------------------------


class Office:
    """The benchmark's view of the hub's office: fills the queue as kiosk-1, knows the waiting count."""

    def __init__(self, port: int, day: date, host: str = "127.0.0.1") -> None:
        self.day = day
        self.kiosk = _link(port, "bench-kiosk", host)
        self.ack = Watch(port, topics.kiosk_ack(OFFICE, KIOSK), "bench-ack", host)
        self.queue = Watch(port, topics.queue(OFFICE), "bench-queue", host)
        self.seq = 0

    def start(self) -> Office:
        _started(self.kiosk)
        self.ack.start()
        self.queue.start()
        return self

    def stop(self) -> None:
        for link in (self.kiosk, self.ack.link, self.queue.link):
            link.stop()

    def issue(self, count: int, wait: bool = True) -> None:
        for _ in range(count):
            self.seq += 1
            event = issued(self.day, f"A{self.seq:03d}", self.seq, device=KIOSK, at=datetime.now(UTC))
            self.kiosk.publish(topics.kiosk_ticket(OFFICE, KIOSK), payload(event))
        if wait:
            last = self.seq
            self.ack.wait(lambda a: a.get("seq", 0) >= last, timeout=60)

    def waiting(self) -> int:
        # `queue` is published before the reply and the ack, so after either it is current
        q = self.queue.wait(lambda q: True)
        return sum(int(s["waiting"]) for s in q["services"])

    def fill(self, target: int) -> None:
        missing = target - self.waiting()
        if missing > 0:
            self.issue(missing)
        self.queue.wait(lambda q: sum(int(s["waiting"]) for s in q["services"]) >= target)


def _closed_loop(requesters: list[Requester], topic_of: Callable[[int], str], ops: tuple[str, ...],
                 duration: float, budget: int | None, result: Throughput) -> None:
    """Every requester sends its ops round robin, each after the previous reply, until `duration`
    has passed or `budget` `next` commands were sent in all (the queue must not run dry)."""
    lock = threading.Lock()
    left = [budget if budget is not None else -1]
    latencies: list[list[float]] = [[] for _ in requesters]
    refused = [0] * len(requesters)
    ends = [0.0] * len(requesters)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(requesters) + 1)

    def worker(i: int) -> None:
        requester, topic = requesters[i], topic_of(i)
        try:
            barrier.wait()
            deadline = time.perf_counter() + duration
            for n in itertools.count():
                op = ops[n % len(ops)]
                if op == "next" and budget is not None:
                    with lock:
                        if left[0] <= 0:
                            break
                        left[0] -= 1
                seconds, answer = requester.command(topic, op)
                latencies[i].append(seconds)
                refused[i] += not answer.get("ok")
                if time.perf_counter() >= deadline and n % len(ops) == len(ops) - 1:
                    break
            ends[i] = time.perf_counter()
        except BaseException as exc:
            errors.append(exc)
            ends[i] = time.perf_counter()

    threads = [threading.Thread(target=worker, args=(i,), name=f"bench-client-{i}") for i in range(len(requesters))]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"closed-loop client failed: {errors[0]}") from errors[0]
    result.seconds = max(ends) - start
    result.latency = [x for per in latencies for x in per]
    result.refused = sum(refused)


def _fsync_probes(directory: Path, count: int) -> list[float]:
    fd = os.open(directory / "fsync-probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    out = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            os.write(fd, b"x" * 63 + b"\n")
            os.fsync(fd)
            out.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    return out


def _commit_probes(directory: Path, count: int) -> list[float]:
    """`HubStore.append` of a command-sized input into a scratch database beside the hub's."""
    from hub.store import HubStore, Input

    store = HubStore(directory / "commit-probe.sqlite3")
    out = []
    try:
        for n in range(count):
            item = Input("counter", datetime.now(UTC), {"counter": "platz-1", "op": "next", "args": {},
                                                        "id": uuid.uuid4().hex})
            start = time.perf_counter()
            store.append(OFFICE, date.today(), item)
            out.append(time.perf_counter() - start)
            if n == 0:
                out.clear()  # the first commit creates the WAL
    finally:
        store.close()
    return out


def breakdown(directory: Path, waiting: int, commands: int = 200) -> Breakdown:
    """Where one command's time goes inside the hub, measured in this process with a stub link:
    the commit and engine (`OfficeRuntime.counter_command`), then `OfficePublisher.publish` with the
    `forecast()` it starts with. The queue is kept at `waiting` (a ticket is added after each `next`,
    untimed)."""
    import hub.publisher as publisher_module
    from hub.config import load_hub_config
    from hub.publisher import OfficePublisher
    from hub.runtime import OfficeRuntime
    from hub.store import HubStore
    from protocol.messages import CommandRequest

    class StubLink:
        sent = 0

        def publish(self, topic: str, data: bytes, qos: int = 1, retain: bool = False,
                    properties: Any = None) -> bool:
            self.sent += 1
            return True

    config = load_hub_config(write_hub_config(directory, 1883, OFFICE, counters=COUNTERS, tick_s=PRODUCTION_TICK_S))
    store = HubStore(config.state_dir / "hub.sqlite3")
    runtime = OfficeRuntime(config.offices[0], store)
    runtime.start(datetime.now(UTC))
    link = StubLink()
    pub = OfficePublisher(link, runtime)  # type: ignore[arg-type]
    result = Breakdown(waiting=waiting, commands=commands)
    spans: list[float] = []
    timing = [False]
    original: Callable[..., Any] = getattr(publisher_module, "forecast")  # noqa: B009

    def timed_forecast(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        value = original(*args, **kwargs)
        if timing[0]:
            spans.append(time.perf_counter() - start)
        return value

    seq = 0

    def add_ticket() -> None:
        nonlocal seq
        seq += 1
        now = datetime.now(UTC)
        runtime.ticket(issued(runtime.engine.day, f"A{seq:03d}", seq, device=KIOSK, at=now), now)
        pub.publish(now)

    setattr(publisher_module, "forecast", timed_forecast)  # noqa: B010  (bench-only instrumentation)
    try:
        for _ in range(waiting):
            add_ticket()
        for n in range(commands):
            op = "next" if n % 2 == 0 else "done"
            now = datetime.now(UTC)
            timing[0] = True
            t0 = time.perf_counter()
            runtime.counter_command("platz-1", CommandRequest(uuid.uuid4().hex, op), now)
            t1 = time.perf_counter()
            sent = link.sent
            pub.publish(now)
            t2 = time.perf_counter()
            timing[0] = False
            result.commit_engine.append(t1 - t0)
            result.publish.append(t2 - t1)
            (result.messages_after_next if op == "next" else result.messages_after_done).append(link.sent - sent)
            if op == "next":
                add_ticket()  # keep the queue at `waiting` (untimed)
        result.forecast = spans
    finally:
        setattr(publisher_module, "forecast", original)  # noqa: B010
        store.close()
    return result


def _echo_topic(requesters: list[Requester], i: int) -> str:
    return f"{ECHO_ROOT}/{requesters[i].link.device}/command"


def _throughput(office: Office, requesters: list[Requester], waiting: int, duration: float) -> Throughput:
    """Closed-loop next/done against the hub in rounds of `waiting / 2` calls, until `duration` measured."""
    result = Throughput("hub", len(requesters), waiting_max=0, waiting_min=waiting)
    while result.seconds < duration:
        office.fill(waiting)
        result.waiting_max = max(result.waiting_max, office.waiting())
        part = Throughput("hub", len(requesters))
        _closed_loop(requesters, lambda i: topics.counter_command(OFFICE, f"platz-{i + 1}"), ("next", "done"),
                     duration - result.seconds, max(waiting // 2, 1), part)
        result.seconds += part.seconds
        result.latency += part.latency
        result.refused += part.refused
        result.rounds += 1
        result.waiting_min = min(result.waiting_min, office.waiting())
    return result


def measure_variant(directory: Path, broker: Broker, nodelay: bool, waiting: int = 200, duration: float = 5.0,
                    echo_duration: float = 2.0, clients: tuple[int, ...] = (1, 4), presses: int = 300,
                    pause: float = 0.005, progress: Callable[[str], None] | None = None) -> Variant:
    """Parts 1 and 2 against a fresh hub (subprocess) and echo responder on `broker`."""
    name = "TCP_NODELAY" if nodelay else "as shipped"
    say = progress or (lambda _msg: None)
    directory.mkdir(parents=True, exist_ok=True)
    host, port = broker.host, broker.port
    config = write_hub_config(directory / "hub", port, OFFICE, counters=COUNTERS, tick_s=PRODUCTION_TICK_S)
    result = Variant(name, nodelay, waiting)
    hub_log = directory / "hub.log"
    ready_file = directory / "echo.ready"
    echo_argv = [sys.executable, "-m", "bench.hub_latency", "--echo", host, str(port), str(ready_file)]
    hub_argv = [sys.executable, "-m", "hub", "run", "--config", str(config)]
    if nodelay:
        tcp_nodelay()
        echo_argv.append("--nodelay")
        hub_argv = [sys.executable, "-m", "bench.hub_latency", "--hub-nodelay", str(config)]
    links: list[Any] = []
    with _process(hub_argv, hub_log) as hub, _process(echo_argv, directory / "echo.log") as echo:
        try:
            calls = Watch(port, topics.calls(OFFICE), "bench-calls", host)
            links.append(calls.start())
            status = Watch(port, topics.device_status(OFFICE, HUB_DEVICE), "bench-status", host)
            links.append(status.start())
            _wait_ready(hub, lambda: status.latest is not None and bool(status.latest.get("online"))
                        and calls.latest is not None, "the hub", hub_log)
            _wait_ready(echo, ready_file.exists, "the echo responder", directory / "echo.log")
            assert calls.latest is not None
            office = Office(port, date.fromisoformat(calls.latest["day"]), host)
            links.append(office.start())

            say(f"[{name}] filling the queue with {waiting} tickets (kiosk events, waiting for the ack) …")
            start = time.perf_counter()
            office.issue(waiting)
            result.preload_s = time.perf_counter() - start
            result.preload_events = waiting

            for k in clients:
                requesters = [Requester(port, f"bench-c{k}-{i}", host).start() for i in range(k)]
                links.extend(requesters)
                for r in requesters:  # warm up the connections (and the echo responder) before timing
                    r.request(f"{ECHO_ROOT}/{r.link.device}/command", {"id": "warm-up"})
                say(f"[{name}] {k} client(s): next/done against the hub, {duration:.0f} s …")
                result.throughput.append(_throughput(office, requesters, waiting, duration))
                say(f"[{name}] {k} client(s): the same against the echo responder, {echo_duration:.0f} s …")
                base = Throughput("echo", k)
                _closed_loop(requesters, partial(_echo_topic, requesters), ("next", "done"), echo_duration, None,
                             base)
                result.throughput.append(base)
                for r in requesters:
                    r.stop()
                    links.remove(r)

            say(f"[{name}] next → calls: {presses} presses, each beside an echo round trip and a publish → "
                "receive …")
            presser = Requester(port, "bench-presser", host)
            links.append(presser.start())
            ping = Ping(port, host)
            links.append(ping.start())
            counter_topic = topics.counter_command(OFFICE, f"platz-{COUNTERS}")
            echo_topic = f"{ECHO_ROOT}/bench-presser/command"
            warmup = 5
            for n in range(presses + warmup):
                if n % REFILL_EVERY == 0:
                    office.fill(waiting)  # untimed
                seq = int(calls.wait(lambda c: True)["seq"]) + 1
                start = time.perf_counter()
                reply_s, answer = presser.command(counter_topic, "next")
                if not answer.get("ok"):
                    raise RuntimeError(f"next was refused: {answer}")
                calls_s = calls.arrival(seq) - start
                echo_s, _ = presser.request(echo_topic, {"id": uuid.uuid4().hex, "op": "next"})
                ping_s = ping.once()
                if n >= warmup:
                    result.calls.append(calls_s)
                    result.calls_reply.append(reply_s)
                    result.echo.append(echo_s)
                    result.pubsub.append(ping_s)
                time.sleep(pause)
        finally:
            for item in reversed(links):
                with contextlib.suppress(Exception):
                    item.stop()
    with hub_log.open(encoding="utf-8", errors="replace") as fh:
        result.hub_log_lines = sum(1 for _ in fh)
    return result


def private_broker(directory: Path, nodelay: bool) -> Broker:
    """A private mosquitto logging at its default levels; with `nodelay`, `set_tcp_nodelay true`."""
    broker = Broker(directory, persistence=False, extra_config="set_tcp_nodelay true" if nodelay else "")
    text = broker.config_path.read_text(encoding="utf-8").replace("log_type all", DEFAULT_BROKER_LOG)
    broker.config_path.write_text(text, encoding="utf-8")
    return broker


def measure(directory: Path, waiting: int = 200, duration: float = 5.0, echo_duration: float = 2.0,
            clients: tuple[int, ...] = (1, 4), presses: int = 300, shipped_duration: float = 0.0,
            shipped_presses: int = 60, progress: Callable[[str], None] | None = None) -> HubBenchResult:
    """Both variants (the as-shipped one shorter: its round trips are ~90 ms), the probes, the breakdown."""
    say = progress or (lambda _msg: None)
    directory.mkdir(parents=True, exist_ok=True)
    result = HubBenchResult()
    say("fsync and commit probes on the state disk …")
    result.fsync = _fsync_probes(directory, 200)
    result.commit = _commit_probes(directory, 200)
    for nodelay, phase_s, count in ((False, shipped_duration, shipped_presses), (True, duration, presses)):
        if phase_s <= 0:
            continue
        sub = directory / ("nodelay" if nodelay else "shipped")
        broker = private_broker(sub / "broker", nodelay)
        broker.start()
        try:
            result.variants.append(measure_variant(sub, broker, nodelay, waiting, phase_s,
                                                   min(echo_duration, phase_s), clients, count, progress=say))
        finally:
            broker.stop()
    say(f"in-process breakdown of one command at {waiting} waiting …")
    result.breakdown = breakdown(directory / "breakdown", waiting)
    return result


# -- reporting -------------------------------------------------------------------------------------


def _share(value: float, baseline: float) -> str:
    """Like devtools.stats.ratio, with two significant digits below 1 (110/s beside 2400/s is 0.046×, not 0.0×)."""
    if not baseline or value != value or baseline != baseline:
        return "-"
    q = value / baseline
    return f"{q:.2g}×" if q < 0.95 else f"{q:.1f}×"


def _p(values: list[float]) -> str:
    return f"{ms(median(values))} / {ms(percentile(values, 99))}"


def _variant_rows(v: Variant) -> list[Row]:
    out: list[Row] = []
    hub = {t.clients: t for t in v.throughput if t.target == "hub"}
    echo = {t.clients: t for t in v.throughput if t.target == "echo"}
    for k, t in sorted(hub.items()):
        b = echo.get(k)
        out.append(Row(f"[{v.name}] hub commands/s, {k} client(s), closed-loop next/done "
                       f"({t.waiting_max}→{t.waiting_min} waiting)",
                       f"{t.rate:.0f}/s ({t.commands} in {t.seconds:.1f} s)",
                       f"echo {b.rate:.0f}/s" if b else "", _share(t.rate, b.rate) if b else ""))
        out.append(Row(f"  reply latency p50 / p99, {k} client(s)", _p(t.latency),
                       f"echo {_p(b.latency)}" if b else "", ratio(median(t.latency), median(b.latency)) if b else ""))
        if t.refused:
            out.append(Row(f"  refused replies, {k} client(s)", str(t.refused)))
    if v.preload_events:
        out.append(Row(f"[{v.name}] kiosk events ingested/s (0→{v.preload_events} waiting, pipelined, acked)",
                       f"{v.preload_events / v.preload_s:.0f}/s"))
    out.append(Row(f"[{v.name}] next → retained calls update, p50 / p99 ({len(v.calls)} presses, "
                   f"≤ {v.waiting} waiting)", _p(v.calls), f"echo round trip {_p(v.echo)}",
                   ratio(median(v.calls), median(v.echo))))
    out.append(Row("  the same presses: next → reply, p50 / p99", _p(v.calls_reply), f"echo {_p(v.echo)}",
                   ratio(median(v.calls_reply), median(v.echo))))
    out.append(Row("  bare publish → receive (one hop), p50 / p99", _p(v.pubsub)))
    return out


def rows(r: HubBenchResult, notes: list[str] | None = None) -> list[Row]:
    out: list[Row] = []
    for v in r.variants:
        out += _variant_rows(v)
    f50 = median(r.fsync)
    out.append(Row("hub commit alone (HubStore.append, synced), p50 / p99", _p(r.commit),
                   f"write+fsync {_p(r.fsync)}", ratio(median(r.commit), f50)))
    b = r.breakdown
    if b is not None:
        per = median(b.commit_engine) + median(b.publish)
        out.append(Row(f"in-process, one command at {b.waiting} waiting: commit + engine, p50",
                       ms(median(b.commit_engine)), "", f"{median(b.commit_engine) / per:.0%}"))
        out.append(Row("  then publish (forecast + retained messages), p50", ms(median(b.publish)), "",
                       f"{median(b.publish) / per:.0%}"))
        out.append(Row("    of which forecast(), p50", ms(median(b.forecast)), "", f"{median(b.forecast) / per:.0%}"))
        out.append(Row("  retained messages sent per next / per done (median)",
                       f"{median(b.messages_after_next):.0f} / {median(b.messages_after_done):.0f}"))
    if notes is not None:
        notes.append("hub: every accepted command is one synced SQLite commit (WAL, synchronous=FULL) before its "
                     f"reply; a raw write+fsync on the state disk took {ms(f50)} (p50) here and the hub's "
                     f"commit {ms(median(r.commit))}: durability alone would allow ≈ {1 / median(r.commit):.0f} "
                     "commands/s, so the commit is not what limits the hub.")
        notes.append("hub: a separate process (`python -m hub run`, INFO log to a file); the echo responder another; "
                     "the load clients share the benchmark process. `next` also finishes the counter's current "
                     "ticket. Percentages in the breakdown are shares of one command's hub time (p50s).")
        notes.append("TCP_NODELAY = broker set_tcp_nodelay true and TCP_NODELAY on every client socket (MqttLink "
                     "sets it); the Nagle comparison (--shipped-duration) uses mosquitto's default and plain "
                     "sockets: ~40 ms per hop where a small packet follows an unacknowledged one.")
        for v in r.variants:
            notes.append(f"[{v.name}] hub log: {v.hub_log_lines} lines.")
    return out


def run(directory: Path | None = None, notes: list[str] | None = None,
        progress: Callable[[str], None] | None = None, **kwargs: Any) -> list[Row]:
    """Measure everything in a temporary directory under `directory` and return the table rows
    (keyword arguments go to `measure`)."""
    work = Path(tempfile.mkdtemp(prefix="wartemarke-bench-hub-", dir=directory or tempfile.gettempdir()))
    try:
        return rows(measure(work, progress=progress, **kwargs), notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--echo"]:  # the echo responder process
        if "--nodelay" in args_in:
            tcp_nodelay()
        return echo_main(args_in[1], int(args_in[2]), Path(args_in[3]))
    if args_in[:1] == ["--hub-nodelay"]:  # the hub, as `python -m hub run`, its sockets with TCP_NODELAY
        tcp_nodelay()
        from hub.cli import main as hub_main

        return hub_main(["run", "--config", args_in[1]])
    parser = argparse.ArgumentParser(prog="python -m bench.hub_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiting", type=int, default=200, help="queue length (refilled, see above)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per hub phase (TCP_NODELAY)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="client counts")
    parser.add_argument("--presses", type=int, default=300, help="measured presses for next → calls (TCP_NODELAY)")
    parser.add_argument("--shipped-duration", type=float, default=0.0,
                        help="seconds per phase of the Nagle comparison (0: skip it)")
    parser.add_argument("--shipped-presses", type=int, default=60, help="presses, as shipped")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(args_in)
    parent = Path(os.environ.get("BENCH_TMPDIR") or tempfile.gettempdir())
    started = time.monotonic()
    print("wartemarke hub benchmark")
    print("\n".join(machine_lines(parent)), flush=True)
    print(flush=True)
    notes: list[str] = []
    table = run(parent, notes=notes, progress=lambda m: print(m, flush=True), waiting=args.waiting,
                duration=args.duration, clients=tuple(args.clients), presses=args.presses,
                shipped_duration=args.shipped_duration, shipped_presses=args.shipped_presses)
    print_report(table, notes, args.markdown, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
