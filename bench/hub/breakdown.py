"""Where a command's time goes, measured in the benchmark's own process: a raw write + fsync on the state
disk, the hub's commit alone, and one command split into commit + engine, `forecast()` and the retained
messages (with a stub link, no broker)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.hub.office import COUNTERS, KIOSK, OFFICE, PRODUCTION_TICK_S
from devtools.hub_harness import issued, write_hub_config


@dataclass
class Breakdown:
    """Per command, in this process with a stub link (no broker): where the hub's time goes."""

    waiting: int
    commands: int = 0
    commit_engine: list[float] = field(default_factory=list)  # OfficeRuntime.counter_command (commit + apply)
    forecast: list[float] = field(default_factory=list)  # hub.estimate.forecast inside publish
    direct: list[float] = field(default_factory=list)  # OfficePublisher.publish_direct (on the command's thread)
    publish: list[float] = field(default_factory=list)  # OfficePublisher.publish_forecast (the forecast thread)
    messages_after_next: list[int] = field(default_factory=list)  # retained messages sent per `next`
    messages_after_done: list[int] = field(default_factory=list)


def fsync_probes(directory: Path, count: int) -> list[float]:
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


def commit_probes(directory: Path, count: int) -> list[float]:
    """`HubStore.append` of a command-sized input into a scratch database beside the hub's."""
    from hub.inputs import CounterInput
    from hub.store import HubStore

    store = HubStore(directory / "commit-probe.sqlite3")
    out = []
    try:
        for n in range(count):
            item = CounterInput(datetime.now(UTC), "platz-1", "next", {}, uuid.uuid4().hex)
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
        device = "hub-test"  # devtools/hub_harness.py's [hub] device
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
            pub.publish_direct(now)
            t2 = time.perf_counter()
            pub.publish_forecast(now)
            t3 = time.perf_counter()
            timing[0] = False
            result.commit_engine.append(t1 - t0)
            result.direct.append(t2 - t1)
            result.publish.append(t3 - t2)
            (result.messages_after_next if op == "next" else result.messages_after_done).append(link.sent - sent)
            if op == "next":
                add_ticket()  # keep the queue at `waiting` (untimed)
        result.forecast = spans
    finally:
        setattr(publisher_module, "forecast", original)  # noqa: B010
        store.close()
    return result
