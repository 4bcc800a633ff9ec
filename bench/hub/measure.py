"""The hub benchmark's measurements: per variant (TCP_NODELAY, or Nagle as mosquitto ships) a private broker,
the hub and the echo responder in their own processes, commands per second and next → calls; then the
probes and the in-process breakdown (bench/hub/__init__.py says what each step measures)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from bench.hub.breakdown import breakdown, commit_probes, fsync_probes
from bench.hub.echo import ECHO_ROOT
from bench.hub.office import (
    COUNTERS,
    OFFICE,
    PRODUCTION_TICK_S,
    Office,
    Throughput,
    closed_loop,
    echo_topic_of,
    throughput,
)
from bench.hub.report import rows
from bench.hub.results import HubBenchResult, Variant
from bench.mqtt_clients import Ping, Requester, Watch, private_broker, tcp_nodelay
from bench.runner import child, python, wait_ready, work_dir
from devtools.broker import Broker
from devtools.hub_harness import write_hub_config
from devtools.stats import Row
from protocol import topics

HUB_DEVICE = "hub-test"  # devtools/hub_harness.py's [hub] device
REFILL_EVERY = 50  # presses between refills of the queue in part 2


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
    echo_argv = python("bench.hub.echo", host, str(port), str(ready_file))
    hub_argv = python("hubprocess", "run", "--config", str(config))
    if nodelay:
        tcp_nodelay()
        echo_argv.append("--nodelay")
        hub_argv = python("bench.hub.nodelay", str(config))
    links: list[Any] = []
    with child(hub_argv, hub_log) as hub, child(echo_argv, directory / "echo.log") as echo:
        try:
            calls = Watch(port, OFFICE, topics.calls(OFFICE), "bench-calls", host)
            links.append(calls.start())
            status = Watch(port, OFFICE, topics.device_status(OFFICE, HUB_DEVICE), "bench-status", host)
            links.append(status.start())
            wait_ready(hub, lambda: status.latest is not None and bool(status.latest.get("online"))
                        and calls.latest is not None, "the hub", hub_log)
            wait_ready(echo, ready_file.exists, "the echo responder", directory / "echo.log")
            assert calls.latest is not None
            office = Office(port, date.fromisoformat(calls.latest["day"]), host)
            links.append(office.start())

            say(f"[{name}] filling the queue with {waiting} tickets (kiosk events, waiting for the ack) …")
            start = time.perf_counter()
            office.issue(waiting)
            result.preload_s = time.perf_counter() - start
            result.preload_events = waiting

            for k in clients:
                requesters = [Requester(port, OFFICE, f"platz-{i + 1}", f"bench-c{k}-{i}", host).start()
                              for i in range(k)]
                links.extend(requesters)
                for r in requesters:  # warm up the connections (and the echo responder) before timing
                    r.request(f"{ECHO_ROOT}/{r.link.device}/command", {"id": "warm-up"})
                say(f"[{name}] {k} client(s): next/done against the hub, {duration:.0f} s …")
                result.throughput.append(throughput(office, requesters, waiting, duration))
                say(f"[{name}] {k} client(s): the same against the echo responder, {echo_duration:.0f} s …")
                base = Throughput("echo", k)
                closed_loop(requesters, partial(echo_topic_of, requesters), ("next", "done"), echo_duration, None,
                            base)
                result.throughput.append(base)
                for r in requesters:
                    r.stop()
                    links.remove(r)

            say(f"[{name}] next → calls: {presses} presses, each beside an echo round trip and a publish → "
                "receive …")
            presser = Requester(port, OFFICE, f"platz-{COUNTERS}", "bench-presser", host)
            links.append(presser.start())
            ping = Ping(port, OFFICE, host)
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


def measure(directory: Path, waiting: int = 200, duration: float = 5.0, echo_duration: float = 2.0,
            clients: tuple[int, ...] = (1, 4), presses: int = 300, shipped_duration: float = 0.0,
            shipped_presses: int = 60, progress: Callable[[str], None] | None = None) -> HubBenchResult:
    """Both variants (the as-shipped one shorter: its round trips are ~90 ms), the probes, the breakdown."""
    say = progress or (lambda _msg: None)
    directory.mkdir(parents=True, exist_ok=True)
    result = HubBenchResult()
    say("fsync and commit probes on the state disk …")
    result.fsync = fsync_probes(directory, 200)
    result.commit = commit_probes(directory, 200)
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


def run(directory: Path | None = None, notes: list[str] | None = None,
        progress: Callable[[str], None] | None = None, **kwargs: Any) -> list[Row]:
    """Measure everything in a temporary directory under `directory` and return the table rows
    (keyword arguments go to `measure`)."""
    with work_dir("hub", directory) as work:
        return rows(measure(work, progress=progress, **kwargs), notes)
