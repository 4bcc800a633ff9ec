"""The display benchmark's measurements (bench/display/__init__.py says what each step measures)."""

from __future__ import annotations

import contextlib
import random
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import runner
from bench.display.child import SDL_ENV, DisplayChild
from bench.display.chromium import CHROMIUM_CPU_S, CHROMIUM_SETTLE_S, measure_chromium
from bench.display.data import OFFICE, CallSeries, info_payload, queue_payload, today
from bench.display.render import measure_render
from bench.display.report import BURST_RATE, BURST_S, rows
from bench.display.results import DisplayBenchResult, Phase
from bench.mqtt_clients import Ping, bench_link, private_broker, started
from bench.procfs import Sample, Window, pss_kib, status_kib
from bench.runner import python, sleep_until, work_dir
from devtools.stats import Row
from protocol import topics
from protocol.fields import encode_object
from protocol.messages import CallsState

IDLE_S = 10.0


def write_config(directory: Path, port: int) -> Path:
    """The example config's defaults (deploy/examples/display.toml), dummy drivers, the private broker."""
    path = directory / "display.toml"
    path.write_text(textwrap.dedent(f"""
        [display]
        office = "{OFFICE}"
        device = "display-1"

        [screen]
        video_driver = "dummy"
        width = 1920
        height = 1080

        [sound]
        chime = true
        speech = false

        [broker]
        host = "127.0.0.1"
        port = {port}
    """), encoding="utf-8")
    return path


def measure(work: Path, calls: int = 200, full: int = 200, dirty: int = 200,
            progress: Callable[[str], None] | None = None) -> DisplayBenchResult:
    say = progress or (lambda _msg: None)
    work.mkdir(parents=True, exist_ok=True)
    result = DisplayBenchResult()
    say(f"[display 1/4] frame render time at 1080p and 4K: {full} full redraws, {dirty} dirty updates each …")
    result.render = measure_render(work, full, dirty)

    broker = private_broker(work / "broker", nodelay=True)
    broker.start()
    publisher = ping = None
    child: DisplayChild | None = None
    try:
        day = today()
        series = CallSeries(day)
        publisher = started(bench_link(broker.port, OFFICE, "display-bench-pub"))
        ping = Ping(broker.port, OFFICE).start()
        calls_topic = topics.calls(OFFICE)

        def publish(state: CallsState) -> None:
            if not publisher.publish(calls_topic, encode_object(state.to_dict()), qos=1, retain=True):
                raise RuntimeError("benchmark publisher lost the broker")

        publisher.publish(topics.info(OFFICE), info_payload(day), qos=1, retain=True)
        publisher.publish(topics.queue(OFFICE), queue_payload(day), qos=1, retain=True)
        publish(series.state())
        time.sleep(0.2)  # let the broker take the retained state before the display subscribes

        say("[display 2/4] the display process (1920×1080, chime on, dummy drivers): idle 10 s beside a bare "
            f"pygame-ce loop, then a burst of {BURST_RATE} calls/s for {BURST_S:.0f} s …")
        with runner.child(python("bench.display.floor"), work / "floor.log", stdout_to_log=False, env=SDL_ENV) as floor:
            child = DisplayChild(write_config(work, broker.port), work / "display.log")
            shown = child.flip_for(series.seq, timeout=20)
            result.start_to_board_s = (shown - child.started_ns) / 1e9
            assert floor.stdout is not None
            floor.stdout.readline()  # "ready"
            time.sleep(2.0)  # start-up work (the chime's samples, first frames) done
            result.rss_idle_kib = status_kib(child.pid, "VmRSS")
            result.pss_idle_kib = pss_kib(child.pid)
            a, fa, ca = Sample.of(child.pid), Sample.of(floor.pid), child.counts()
            time.sleep(IDLE_S)
            b, fb, cb = Sample.of(child.pid), Sample.of(floor.pid), child.counts()
            result.idle = Phase.of("idle", Window.between(child.pid, a, b), ca, cb)
            result.cache_idle = (cb.cached_surfaces, cb.cached_bytes)
            result.floor_idle = Window.between(floor.pid, fa, fb)

        sent: list[tuple[int, int]] = []
        a, ca = Sample.of(child.pid), child.counts()
        start = time.monotonic()
        for i in range(int(BURST_RATE * BURST_S)):
            sleep_until(start + i / BURST_RATE)
            seq, _, state = series.next()
            sent.append((seq, time.monotonic_ns()))
            publish(state)
        sleep_until(start + BURST_S)
        b, cb = Sample.of(child.pid), child.counts()
        result.burst = Phase.of("burst", Window.between(child.pid, a, b), ca, cb)
        result.burst_latency = [(child.flip_for(seq) - t0) / 1e9 for seq, t0 in sent]

        say(f"[display 3/4] call → flipped frame: {calls} calls 100–180 ms apart, each followed by a bare "
            "publish → receive …")
        rng = random.Random(4)
        time.sleep(1.0)
        for _ in range(calls):
            next_at = time.monotonic() + rng.uniform(0.10, 0.18)
            seq, _, state = series.next()
            t0 = time.monotonic_ns()
            publish(state)
            result.latency.append((child.flip_for(seq) - t0) / 1e9)
            result.probe.append(ping.once())
            sleep_until(next_at)
        result.calls = calls
        result.rss_after_kib = status_kib(child.pid, "VmRSS")
        result.hwm_kib = status_kib(child.pid, "VmHWM")
        end = child.counts()
        result.cache_after = (end.cached_surfaces, end.cached_bytes)
    finally:
        if child is not None:
            child.stop()
        for client in (publisher, ping):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.stop()
        broker.stop()
    if child is not None:
        lines = child.log.read_text(encoding="utf-8", errors="replace").splitlines()
        result.log_lines = len(lines)
        result.log_warnings = [line for line in lines if " WARNING " in line or " ERROR " in line]

    say(f"[display 4/4] headless Chromium showing the same board: RSS after {CHROMIUM_SETTLE_S:.0f} s, "
        f"CPU over {CHROMIUM_CPU_S:.0f} s …")
    result.chromium, result.chromium_reason = measure_chromium(work)
    return result


def run(directory: Path | None = None, notes: list[str] | None = None,
        progress: Callable[[str], None] | None = print, **kwargs: Any) -> list[Row]:
    with work_dir("display", directory) as work:
        return rows(measure(work, progress=lambda m: progress(m) if progress else None, **kwargs), notes)
