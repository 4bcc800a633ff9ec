"""The waiting-room display: call → flipped frame, CPU, memory, frame render time, and what it wakes for.

Everything runs with SDL's dummy video and audio drivers (SDL_VIDEODRIVER=dummy, SDL_AUDIODRIVER=dummy),
at 1920×1080 unless said otherwise, and beside a baseline measured in the same run.

1. **Call → frame.** The display runs as in production, in its own process: `display.cli.main(["run",
   "--config", X])` (chime on through the dummy audio device, speech off, the example config's
   defaults otherwise) against a private mosquitto. No product code is changed: the child
   (`python -m bench.display_bench --child CONFIG`) wraps `pygame.display.update` before starting the
   CLI, and after each flip that shows a new `calls` seq it writes `F <monotonic_ns> <seq> <label>` to
   stdout (CLOCK_MONOTONIC is system-wide on Linux, so the parent's and the child's clocks agree).
   The benchmark publishes retained `calls` states (QoS 1, seq + 1 and a new label each, the hub's 10
   most recent calls) 100–180 ms apart and pairs the time just before each publish with the first flip
   whose seq is at least the call's (a frame showing a later seq also shows the call, among the recent
   ones). Interleaved with every call, the baseline: a bare publish → receive through the same broker
   (two connections of the benchmark process).
2. **CPU and memory.** CPU share of the display process (utime + stime of /proc/PID/stat) over 10 s idle,
   the clock ticking, and over a burst of 10 calls/s for 5 s. Baseline for idle: a bare pygame-ce
   process running at the same time (`--floor`: the same dummy screen and mixer, a 1 s timer, a loop of
   `pygame.event.wait(1000)` and nothing else). RSS (VmRSS) and PSS of the display process beside the
   summed RSS and PSS of the whole process tree of headless Chromium showing an equivalent static page
   (same texts, same font, 1920×1080), 5 s after its start, and Chromium's CPU share over 3 s after that.
3. **Frame render time**, in-process without a broker (`--render`, its own process): `Renderer.render`
   + `pygame.display.update(rects)` at 1920×1080 and 3840×2160, for a full redraw (`invalidate()` first)
   and for a dirty update (a new call: the newest and recent regions), each call with a new label
   (A101, A102, …) so the text caches miss as they do for real calls. Baseline, interleaved: filling the
   same rectangles with a colour and `update(rects)` (the pixel-pushing floor, no text).
   With the dummy driver `update()` copies nothing; on a Pi (kmsdrm) it uploads the rectangles.
   Then 150 more calls, each drawn through its whole highlight cycle (flash on, flash off, steady,
   normal: every colour variant of its label), and the size of the FontBook's text-surface cache and the
   process's RSS after them — the display process of part 2 never gets there, its calls come too fast.
4. **Machine-independent counts** from the child (stdin line `S` → `S <ns> <wakeups> <frames>
   <pixels_drawn> <text renders> <cached surfaces> <their bytes>`): event-loop wake-ups per second,
   frames and pixels redrawn per second while idle and during the burst; and, from
   /proc/PID/task/*/status, the context switches per second of each thread: what the process really
   wakes for, under the Python loop.

    .venv/bin/python -m bench.display_bench [--calls 200] [--markdown]

`run()` returns the table rows (devtools.stats.Row) for `python -m bench display`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.hub_latency import Ping, _link, _started, private_broker
from bench.machine import machine_lines
from devtools.broker import die_with_parent
from devtools.stats import Row, median, mib, ms, percentile, print_report, ratio
from protocol import topics
from protocol.fields import encode_object
from protocol.messages import Call, CallsState

OFFICE = "bench-display"
ROOT = Path(__file__).resolve().parent.parent
SIZES = ((1920, 1080), (3840, 2160))
KEEP_CALLS = 10  # the hub's calls state holds its 10 most recent calls (hub/engine.py RECENT_CALLS)
IDLE_S = 10.0
BURST_RATE = 10  # calls per second …
BURST_S = 5.0  # … for this long
LATENCY_P99_TARGET_S = 0.100
IDLE_CPU_TARGET = 0.02  # of one core
RSS_TARGET_BYTES = 120_000_000
FLIP_TIMEOUT_S = 5.0
CHROMIUM_SETTLE_S = 5.0
CHROMIUM_CPU_S = 3.0
SDL_ENV = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
BERLIN = ZoneInfo("Europe/Berlin")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1920,1080")


# -- /proc ------------------------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="utf-8").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def thread_switches(pid: int) -> dict[int, tuple[str, int]]:
    """Per thread: (name, voluntary + involuntary context switches so far)."""
    result: dict[int, tuple[str, int]] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                name = Path(f"/proc/{pid}/task/{tid}/comm").read_text(encoding="utf-8").strip()
                switches = 0
                for line in Path(f"/proc/{pid}/task/{tid}/status").read_text(encoding="utf-8").splitlines():
                    if "ctxt_switches:" in line:
                        switches += int(line.split()[1])
            except OSError:
                continue
            result[int(tid)] = (name, switches)
    return result


@dataclass
class Sample:
    """A process at one moment: CPU ticks and each thread's context switches."""

    at: float
    ticks: int
    switches: dict[int, tuple[str, int]]

    @classmethod
    def of(cls, pid: int) -> Sample:
        return cls(time.monotonic(), cpu_ticks(pid), thread_switches(pid))


@dataclass
class Window:
    """What a process did between two samples."""

    seconds: float
    cpu_share: float  # of one core
    switches_per_s: float  # all threads
    main_switches_per_s: float  # the thread that runs the pygame loop (tid == pid)
    by_thread: list[tuple[str, float]]  # (name, switches/s), busiest first

    @classmethod
    def between(cls, pid: int, a: Sample, b: Sample) -> Window:
        seconds = b.at - a.at
        hz = os.sysconf("SC_CLK_TCK")
        per: list[tuple[str, float]] = []
        main = 0.0
        for tid, (name, after) in b.switches.items():
            rate = (after - a.switches.get(tid, (name, 0))[1]) / seconds
            per.append((name, rate))
            if tid == pid:
                main = rate
        per.sort(key=lambda item: -item[1])
        return cls(seconds, (b.ticks - a.ticks) / hz / seconds, sum(r for _, r in per), main, per)

    def describe(self, top: int = 4) -> str:
        return ", ".join(f"{name} {rate:.0f}/s" for name, rate in self.by_thread[:top])


# -- the child: the real display, its flips reported on stdout ----------------------------------------


class _Out:
    """Lines to the parent from two threads (render loop and stdin reader)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app: Any = None

    def line(self, text: str) -> None:
        with self.lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def stats(self) -> None:
        app = self.app
        if app is None:
            self.line("S 0 -1 -1 -1 -1 0 0")
            return
        count, size = cache_bytes(app.fonts)
        self.line(f"S {time.monotonic_ns()} {app.counters.wakeups} {app.counters.frames} "
                  f"{app.renderer.pixels_drawn} {app.fonts.renders} {count} {size}")


def cache_bytes(fonts: Any) -> tuple[int, int]:
    """How many text surfaces the FontBook's LRU holds, and their pixel bytes (read from outside)."""
    surfaces = list(fonts._surfaces.values())
    return len(surfaces), sum(s.get_width() * s.get_height() * s.get_bytesize() for s in surfaces)


def child_main(config: str) -> int:
    """`python -m display run --config CONFIG`, with `pygame.display.update` wrapped to report flips."""
    import pygame

    from display import app as app_module
    from display.cli import main as display_main

    out = _Out()
    original_run = app_module.DisplayApp.run
    original_update = pygame.display.update
    last_seq = [-2]

    def run(self: app_module.DisplayApp) -> None:
        out.app = self
        original_run(self)

    def update(*args: Any, **kwargs: Any) -> None:
        original_update(*args, **kwargs)
        at = time.monotonic_ns()
        app = out.app
        if app is not None and app.board.calls_seq != last_seq[0]:
            last_seq[0] = app.board.calls_seq
            label = app.board.calls[0].label if app.board.calls else "-"
            out.line(f"F {at} {app.board.calls_seq} {label}")

    app_module.DisplayApp.run = run  # type: ignore[method-assign]
    pygame.display.update = update

    def serve_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "S":
                out.stats()
        os.kill(os.getpid(), signal.SIGTERM)  # parent closed stdin (or died): stop like systemd would

    threading.Thread(target=serve_stdin, name="bench-stdin", daemon=True).start()
    return display_main(["run", "--config", config])


def floor_main() -> int:
    """The baseline for idle costs: pygame-ce with the same screen and mixer, waiting for events."""
    import pygame

    from display.sound import MIXER_BUFFER, MIXER_CHANNELS, MIXER_FREQUENCY, MIXER_SIZE

    pygame.display.init()
    pygame.font.init()
    pygame.display.set_mode((1920, 1080))
    pygame.mixer.init(MIXER_FREQUENCY, MIXER_SIZE, MIXER_CHANNELS, MIXER_BUFFER, allowedchanges=0)
    tick = pygame.event.custom_type()
    pygame.time.set_timer(tick, 1000)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.is_set():
        pygame.event.wait(1000)
    pygame.quit()
    return 0


# -- the board's data, as the hub would publish it ------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).astimezone(BERLIN).date()


class CallSeries:
    """Retained `calls` states: newest first, the 10 most recent, seq growing by one per call."""

    def __init__(self, day: date, first_number: int = 100) -> None:
        from display.sample import sample_calls

        self.day = day
        initial = sample_calls(day, datetime.now(UTC))
        self.seq = initial.seq
        self.calls: tuple[Call, ...] = initial.calls
        self.number = first_number

    def state(self) -> CallsState:
        return CallsState(day=self.day, seq=self.seq, calls=self.calls)

    def next(self) -> tuple[int, str, CallsState]:
        self.number += 1
        counter = self.number % 6 + 1
        label = f"A{self.number:03d}"
        call = Call(label, "A", f"platz-{counter}", f"Platz {counter}", datetime.now(UTC), 0)
        self.calls = (call, *self.calls)[:KEEP_CALLS]
        self.seq += 1
        return self.seq, label, self.state()


def info_payload(day: date) -> bytes:
    from display.sample import sample_info

    info = sample_info(day)
    return json.dumps({
        "v": 1, "day": day.isoformat(), "name": info.name, "timezone": info.timezone,
        "hours": {k: list(v) for k, v in info.hours.items()},
        "services": [{"id": s.id, "name": {"de": s.name_de, "en": s.name_en}} for s in info.services],
        "counters": [{"id": c.id, "name": c.name} for c in info.counters], "announcement": info.announcement,
    }).encode()


def queue_payload(day: date) -> bytes:
    from display.sample import sample_queue

    return encode_object(sample_queue(day, datetime.now(UTC)).to_dict())


# -- 3. frame render time, in its own process --------------------------------------------------------


def render_main(full: int, dirty: int, warmup: int = 5, cycle_calls: int = 150) -> int:
    """Print one JSON object: per size, render+update times of full redraws and dirty updates, with
    interleaved fill+update baselines of the same rectangles."""
    import pygame

    from display.board import Board
    from display.fonts import FontBook
    from display.layout import board_layout
    from display.render import Renderer, View
    from display.sample import sample_info, sample_queue

    pygame.display.init()
    pygame.font.init()
    results: dict[str, Any] = {}
    now = datetime.now(UTC)
    for width, height in SIZES:
        screen = pygame.display.set_mode((width, height))
        renderer = Renderer(screen, board_layout(width, height), FontBook(), View())
        day = today()
        board = Board(OFFICE, BERLIN)
        board.broker_connected = True
        series = CallSeries(day)
        mono = 100.0  # inside the first language window ("de") for the whole run: no language switch
        board.set_info(sample_info(day), mono)
        board.set_queue(sample_queue(day, now), now, mono)
        board.set_calls(series.state(), now, mono, 10.0)
        start = time.perf_counter()
        rects = renderer.render(board, now, mono, None)
        pygame.display.update(rects)
        first = time.perf_counter() - start
        size: dict[str, Any] = {"first_frame_s": first, "screen_px": width * height}
        for kind, count in (("full", full), ("dirty", dirty)):
            times: list[float] = []
            floor: list[float] = []
            pixels: list[int] = []
            regions: list[int] = []
            renders_before = renderer.fonts.renders
            for i in range(warmup + count):
                mono += 1e-4
                _, _, state = series.next()
                board.set_calls(state, now, mono, 10.0)
                board.take_pending()
                if kind == "full":
                    renderer.invalidate()
                drawn_before = renderer.pixels_drawn
                start = time.perf_counter()
                rects = renderer.render(board, now, mono, None)
                pygame.display.update(rects)
                took = time.perf_counter() - start
                start = time.perf_counter()
                for n, rect in enumerate(rects):
                    screen.fill((i % 200, n * 40 % 256, 90), rect)
                pygame.display.update(rects)
                filled = time.perf_counter() - start
                if i >= warmup:
                    times.append(took)
                    floor.append(filled)
                    pixels.append(renderer.pixels_drawn - drawn_before)
                    regions.append(len(rects))
            size[kind] = {"render_s": times, "fill_s": floor, "pixels": median(pixels), "regions": median(regions),
                          "text_renders": (renderer.fonts.renders - renders_before) / (warmup + count)}
        # Then calls as an office sees them: each one through its highlight cycle (flashing in both
        # phases, steady, normal), so every colour variant of its texts is drawn and cached.
        for _ in range(cycle_calls):
            mono += 20.0
            _, _, state = series.next()
            board.set_calls(state, now, mono, 10.0)
            board.take_pending()
            for after in (0.0, 0.6, 3.5, 11.0):
                pygame.display.update(renderer.render(board, now, mono + after, None))
        size["cache"] = cache_bytes(renderer.fonts)
        size["calls"] = series.number - 100
        size["rss_kib"] = status_kib(os.getpid(), "VmRSS")
        results[f"{width}x{height}"] = size
    pygame.quit()
    print(json.dumps(results))
    return 0


# -- the parent ------------------------------------------------------------------------------------------


@dataclass
class Counts:
    at_ns: int
    wakeups: int
    frames: int
    pixels: int
    renders: int
    cached_surfaces: int
    cached_bytes: int


@dataclass
class Phase:
    """One window of the display child: its /proc window and its own counters."""

    name: str
    window: Window
    wakeups_per_s: float
    frames_per_s: float
    pixels_per_s: float
    renders_per_s: float

    @classmethod
    def of(cls, name: str, window: Window, a: Counts, b: Counts) -> Phase:
        s = (b.at_ns - a.at_ns) / 1e9
        return cls(name, window, (b.wakeups - a.wakeups) / s, (b.frames - a.frames) / s, (b.pixels - a.pixels) / s,
                   (b.renders - a.renders) / s)


@dataclass
class ChromiumResult:
    processes: int
    rss_kib: int
    pss_kib: int
    cpu_share: float
    cpu_s: float
    version: str


@dataclass
class DisplayBenchResult:
    latency: list[float] = field(default_factory=list)  # publish → flip, seconds
    probe: list[float] = field(default_factory=list)  # bare publish → receive, interleaved
    burst_latency: list[float] = field(default_factory=list)
    calls: int = 0
    start_to_board_s: float = float("nan")  # process start → first flip showing the retained calls
    idle: Phase | None = None
    burst: Phase | None = None
    floor_idle: Window | None = None
    rss_idle_kib: int = 0
    pss_idle_kib: int = 0
    rss_after_kib: int = 0
    hwm_kib: int = 0
    cache_idle: tuple[int, int] = (0, 0)  # FontBook LRU: surfaces, pixel bytes
    cache_after: tuple[int, int] = (0, 0)
    chromium: ChromiumResult | None = None
    chromium_reason: str = ""
    render: dict[str, Any] = field(default_factory=dict)
    screen_px: int = 1920 * 1080
    log_lines: int = 0
    log_warnings: list[str] = field(default_factory=list)


class DisplayChild:
    """The display process: its flips, its counters on request."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._cond = threading.Condition()
        self.flips: list[tuple[int, int]] = []  # (seq, monotonic ns), in flip order
        self._counts: queue.Queue[Counts] = queue.Queue()
        self.started_ns = time.monotonic_ns()
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.display_bench", "--child", str(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=ROOT,
                env={**os.environ, **SDL_ENV, "PYTHONPATH": str(ROOT)}, preexec_fn=die_with_parent)
        self._reader = threading.Thread(target=self._read, name="display-child-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            parts = raw.decode(errors="replace").split()
            if len(parts) >= 3 and parts[0] == "F":
                with self._cond:
                    self.flips.append((int(parts[2]), int(parts[1])))
                    self._cond.notify_all()
            elif len(parts) == 8 and parts[0] == "S":
                self._counts.put(Counts(*(int(p) for p in parts[1:])))
        with self._cond:
            self._cond.notify_all()

    def flip_for(self, seq: int, timeout: float = FLIP_TIMEOUT_S) -> int:
        """Monotonic ns of the first flip showing `seq` or a later one."""

        def found() -> int | None:
            return next((ns for s, ns in self.flips if s >= seq), None)

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None or self.proc.poll() is not None, timeout):
                raise RuntimeError(f"the display showed no frame with calls seq {seq} within {timeout:.0f} s "
                                   f"(log: {self.log})")
            at = found()
        if at is None:
            raise RuntimeError(f"the display exited with code {self.proc.poll()}:\n{self.tail()}")
        return at

    def counts(self) -> Counts:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"S\n")
        self.proc.stdin.flush()
        return self._counts.get(timeout=10)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(5)


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


@contextlib.contextmanager
def _spawned(argv: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=out, cwd=ROOT,
                                env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, preexec_fn=die_with_parent)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def measure_render(work: Path, full: int, dirty: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.display_bench", "--render", str(full), str(dirty)],
                         capture_output=True, cwd=ROOT, env={**os.environ, **SDL_ENV, "PYTHONPATH": str(ROOT)},
                         timeout=300, check=False)
    (work / "render.log").write_bytes(out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f"render benchmark failed ({out.returncode}):\n{out.stderr.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


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
        publisher = _started(_link(broker.port, "display-bench-pub"))
        ping = Ping(broker.port).start()
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
        with _spawned([sys.executable, "-m", "bench.display_bench", "--floor"], work / "floor.log", SDL_ENV) as floor:
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
            _sleep_until(start + i / BURST_RATE)
            seq, _, state = series.next()
            sent.append((seq, time.monotonic_ns()))
            publish(state)
        _sleep_until(start + BURST_S)
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
            _sleep_until(next_at)
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


# -- Chromium ------------------------------------------------------------------------------------------


BOARD_HTML = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Bürgerbüro Mitte</title>
<style>
  html, body {{ margin: 0; width: 1920px; height: 1080px; overflow: hidden; background: #000; color: #fff;
               font-family: "DejaVu Sans", sans-serif; }}
  header {{ display: flex; justify-content: space-between; align-items: center; height: 108px; padding: 0 22px; }}
  header h1 {{ font-size: 59px; margin: 0; }}
  header .day {{ color: #cdcdcd; font-size: 43px; }} header .time {{ font-size: 67px; font-weight: bold; }}
  main {{ display: grid; grid-template-columns: 1092px 1fr; gap: 22px; padding: 0 22px; height: 820px; }}
  .caption {{ color: #cdcdcd; font-size: 60px; }}
  .label {{ color: #ffd400; font-size: 240px; font-weight: bold; text-align: center; line-height: 1.1; }}
  .counter {{ color: #ffd400; font-size: 120px; font-weight: bold; text-align: center; }}
  .recent div {{ font-size: 66px; line-height: 118px; }} .recent b {{ display: inline-block; width: 330px; }}
  .services div {{ font-size: 48px; }} .dot {{ display: inline-block; width: 28px; height: 28px;
                                             border-radius: 50%; margin-right: 20px; }}
  footer {{ text-align: center; font-size: 48px; height: 86px; line-height: 86px; }}
</style></head>
<body>
<header><h1>Bürgerbüro Mitte</h1><div><span class="day">Mi 25.11.2026</span>
  <span class="time">15:42</span></div></header>
<main>
  <section>
    <div class="caption">Aufruf</div>
    <div class="label">A042</div>
    <div class="counter">→ Platz 3</div>
    <div class="services"><div class="caption">Wartende</div>
      <div><span class="dot" style="background:#ffd400"></span>Allgemeine Anliegen — 14 wartend</div>
      <div><span class="dot" style="background:#28c85a"></span>Abholung Ausweis / Pass — 3 wartend</div>
    </div>
  </section>
  <section class="recent"><div class="caption">Zuletzt aufgerufen</div>
{recent}
  </section>
</main>
<footer>Heute bis 18 Uhr geöffnet · Open until 6 pm today</footer>
</body></html>
"""
RECENT_ROWS = (("P017", "Platz 6"), ("A041", "Platz 1"), ("A040", "Platz 2"), ("P016", "Platz 6"),
               ("A039", "Platz 4"), ("A038", "Platz 5"))


def _process_table() -> dict[int, tuple[int, int]]:
    """pid → (ppid, pgid) of every process."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text(encoding="utf-8")
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def process_tree(root: int) -> list[int]:
    """`root`, its descendants, and whatever else is in its process group (it leads its own session)."""
    table = _process_table()
    tree = {root} | {pid for pid, (_, pgid) in table.items() if pgid == root}
    grew = True
    while grew:
        more = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(pid for pid in tree if pid in table)


def measure_chromium(work: Path) -> tuple[ChromiumResult | None, str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return None, "chromium not installed (apt-get install chromium)"
    page = work / "board.html"
    recent = "\n".join(f"    <div><b>{label}</b>→ {counter}</div>" for label, counter in RECENT_ROWS)
    page.write_text(BOARD_HTML.format(recent=recent), encoding="utf-8")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False,
                             timeout=30).stdout.strip()
    profile = work / "chromium-profile"
    with (work / "chromium.log").open("ab") as log:
        proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.as_uri()],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                preexec_fn=die_with_parent)
    try:
        time.sleep(CHROMIUM_SETTLE_S)
        if proc.poll() is not None:
            return None, f"chromium exited with code {proc.returncode} (see chromium.log)"
        tree = process_tree(proc.pid)
        rss = sum(status_kib(pid, "VmRSS") for pid in tree)
        pss = sum(pss_kib(pid) for pid in tree)
        before = {pid: cpu_ticks(pid) for pid in tree}
        started = time.monotonic()
        time.sleep(CHROMIUM_CPU_S)
        ticks = 0
        for pid in process_tree(proc.pid):
            with contextlib.suppress(OSError):
                ticks += cpu_ticks(pid) - before.get(pid, 0)
        seconds = time.monotonic() - started
        share = ticks / os.sysconf("SC_CLK_TCK") / seconds
        return ChromiumResult(len(tree), rss, pss, share, seconds, version), ""
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while process_tree(proc.pid) and time.monotonic() < deadline:  # children exit after the browser
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(profile, ignore_errors=True)


# -- the table -------------------------------------------------------------------------------------------


def _pct(share: float) -> str:
    return f"{share * 100:.1f} % of a core"


def _p(values: list[float]) -> str:
    return f"{ms(median(values))} / {ms(percentile(values, 99))}"


def _mpx(pixels: float) -> str:
    return f"{pixels / 1e6:.2f} Mpx"


def rows(r: DisplayBenchResult, notes: list[str] | None = None) -> list[Row]:
    notes = notes if notes is not None else []
    out: list[Row] = []
    if r.latency:
        p50, p99 = median(r.latency), percentile(r.latency, 99)
        b50, b99 = median(r.probe), percentile(r.probe, 99)
        out += [
            Row(f"call → frame flipped, p50 ({r.calls} calls, display process)", ms(p50),
                f"bare publish → receive p50 {ms(b50)}", ratio(p50, b50)),
            Row(f"call → frame flipped, p99 ({r.calls} calls, display process)",
                f"{ms(p99)} (max {ms(max(r.latency))})", f"bare publish → receive p99 {ms(b99)}", ratio(p99, b99),
                "< 100 ms", p99 < LATENCY_P99_TARGET_S),
        ]
    if r.burst_latency:
        out.append(Row(f"  during the burst ({BURST_RATE} calls/s): call → frame p50 / p99", _p(r.burst_latency),
                       f"bare {_p(r.probe)}", ratio(median(r.burst_latency), median(r.probe))))
    out.append(Row("display start → first frame with the retained calls", f"{r.start_to_board_s:.2f} s"))
    if r.idle is not None and r.floor_idle is not None:
        idle, floor = r.idle, r.floor_idle
        out.append(Row(f"display CPU, idle, clock ticking ({idle.window.seconds:.0f} s)", _pct(idle.window.cpu_share),
                       f"bare pygame-ce wait loop {_pct(floor.cpu_share)}", ratio(idle.window.cpu_share,
                                                                                  floor.cpu_share),
                       "< 2 %", idle.window.cpu_share < IDLE_CPU_TARGET))
        if r.burst is not None:
            out.append(Row(f"display CPU, burst of {BURST_RATE} calls/s ({r.burst.window.seconds:.0f} s)",
                           _pct(r.burst.window.cpu_share), f"idle {_pct(idle.window.cpu_share)}",
                           ratio(r.burst.window.cpu_share, idle.window.cpu_share)))
    if r.rss_idle_kib:
        hint = "-"
        if r.chromium is not None:
            hint = f"headless Chromium {mib(r.chromium.rss_kib)} ({r.chromium.processes} processes, summed)"
        out.append(Row("display RSS, idle", mib(r.rss_idle_kib), hint,
                       ratio(r.rss_idle_kib, r.chromium.rss_kib) if r.chromium else "",
                       "< 120 MB", r.rss_idle_kib * 1024 < RSS_TARGET_BYTES))
        out.append(Row(f"  display RSS after {r.calls + int(BURST_RATE * BURST_S)} calls (peak VmHWM)",
                       f"{mib(r.rss_after_kib)} ({mib(r.hwm_kib)})", "", "", "< 120 MB",
                       r.hwm_kib * 1024 < RSS_TARGET_BYTES))
        out.append(Row(f"  of which text-surface cache (FontBook LRU) after {r.calls + int(BURST_RATE * BURST_S)} "
                       "calls", f"{r.cache_after[0]} surfaces, {mib(r.cache_after[1] / 1024)}",
                       f"idle {r.cache_idle[0]} surfaces, {mib(r.cache_idle[1] / 1024)}"))
        if r.chromium is not None:
            out.append(Row("  PSS (shared pages split between processes), idle", mib(r.pss_idle_kib),
                           f"Chromium {mib(r.chromium.pss_kib)}", ratio(r.pss_idle_kib, r.chromium.pss_kib)))
            out.append(Row(f"  headless Chromium CPU, static page ({r.chromium.cpu_s:.0f} s after load)",
                           _pct(r.chromium.cpu_share), f"display idle {_pct(r.idle.window.cpu_share)}"
                           if r.idle else ""))
    if r.chromium is None:
        out.append(Row("headless Chromium, same board", f"not measured: {r.chromium_reason}"))
    full_px = r.screen_px
    for name, phase in (("idle", r.idle), ("burst", r.burst)):
        if phase is None:
            continue
        label = "idle" if name == "idle" else f"burst ({BURST_RATE} calls/s)"
        out += [
            Row(f"loop wake-ups/s, {label}", f"{phase.wakeups_per_s:.1f}/s",
                f"frames {phase.frames_per_s:.1f}/s, text renders {phase.renders_per_s:.1f}/s"),
            Row(f"  pixels redrawn/s, {label}", f"{_mpx(phase.pixels_per_s)}/s",
                f"one full frame {_mpx(full_px)}", f"{phase.pixels_per_s / full_px:.2f} frames"),
            Row(f"  context switches/s (all threads), {label}", f"{phase.window.switches_per_s:.0f}/s",
                f"bare pygame-ce wait loop {r.floor_idle.switches_per_s:.0f}/s" if r.floor_idle else "",
                ratio(phase.window.switches_per_s, r.floor_idle.switches_per_s) if r.floor_idle else ""),
        ]
    for size, data in r.render.items():
        screen_px = data["screen_px"]
        for kind in ("full", "dirty"):
            d = data[kind]
            what = "full redraw" if kind == "full" else "dirty update (new call)"
            out.append(Row(f"frame {size.replace('x', '×')}, {what}: render + update p50 / p99 "
                           f"({len(d['render_s'])})", _p(d["render_s"]), f"fill + update same rects {_p(d['fill_s'])}",
                           ratio(median(d["render_s"]), median(d["fill_s"]))))
        out.append(Row(f"  {size.replace('x', '×')}: pixels per full redraw / dirty update",
                       f"{_mpx(data['full']['pixels'])} / {_mpx(data['dirty']['pixels'])}",
                       f"screen {_mpx(screen_px)}", f"{data['dirty']['pixels'] / screen_px:.0%} dirty"))
        count, size_b = data["cache"]
        out.append(Row(f"  {size.replace('x', '×')}: text-surface cache after {data['calls']} calls, the last "
                       "150 through their highlight cycle (in-process)",
                       f"{count} surfaces, {mib(size_b / 1024)}", f"process RSS {mib(data['rss_kib'])}"))
    if r.idle is not None and r.floor_idle is not None:
        notes.append(f"display: context switches per thread, idle: {r.idle.window.describe()}; bare pygame-ce "
                     f"loop: {r.floor_idle.describe()}.")
    if r.burst is not None:
        notes.append(f"display: context switches per thread, burst: {r.burst.window.describe()}.")
    if r.chromium is not None:
        notes.append(f"Chromium: {r.chromium.version}, {r.chromium.processes} processes "
                     f"({' '.join(CHROMIUM_FLAGS)}), RSS summed over the tree (shared pages counted in each).")
    notes.append(f"display log: {r.log_lines} lines, {len(r.log_warnings)} warnings/errors"
                 + (f" (first: {r.log_warnings[0].strip()[:160]})" if r.log_warnings else "") + ".")
    return out


def run(directory: Path | None = None, notes: list[str] | None = None,
        progress: Callable[[str], None] | None = print, **kwargs: Any) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="wartemarke-bench-display-", dir=directory or tempfile.gettempdir()))
    try:
        return rows(measure(work, progress=lambda m: progress(m) if progress else None, **kwargs), notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        return child_main(args_in[1])
    if args_in[:1] == ["--floor"]:
        return floor_main()
    if args_in[:1] == ["--render"]:
        return render_main(int(args_in[1]), int(args_in[2]))
    parser = argparse.ArgumentParser(prog="python -m bench.display_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="calls for the call → frame latency")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(args_in)
    parent = Path(os.environ.get("BENCH_TMPDIR") or tempfile.gettempdir())
    started = time.monotonic()
    print("wartemarke display benchmark")
    print("\n".join(machine_lines(parent)), flush=True)
    print(flush=True)
    notes: list[str] = []
    table = run(parent, notes=notes, progress=lambda m: print(m, flush=True), calls=args.calls)
    print_report(table, notes, args.markdown, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
