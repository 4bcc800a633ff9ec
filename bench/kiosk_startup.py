"""Cold start to ready, and the RSS of a running kiosk, beside a bare interpreter.

`python -m kiosk run --simulate --config X` is spawned as a technician (or systemd) would start it,
with a dummy printer, the private broker and a state directory that already holds numbering state
(one initial run resumes fresh and is not counted). The clock runs from just before the spawn until
its stderr shows the line "ready: a press prints a ticket". Right after, one press is sent on stdin
and timed until the "printed" log line (so lazy imports on the first ticket show up), and VmRSS is
read from /proc (at ready and after that first ticket). The last kiosk is then fed more presses
(stdin lines "A"/"P" in batches of 10; the config has `min_interval_s = 0`, otherwise same-service
presses within it would be dropped) and VmRSS read again after 50 and after 500 more tickets.

With no hub, every ticket stays unacked in the outbox and the kiosk keeps re-sending it (here with
the production default resend_after_s = 10 s), as in an office whose hub is down; the idle CPU share of
the kiosk process is sampled over one re-send period at a few, ~50 and ~500 unacked tickets.

Baselines: `python -c pass` with the same interpreter (start-up), and a `python -c` that imports
nothing and reports its own VmRSS (memory).
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.fixtures import RESEND_AFTER_S, SERVICE_IDS, kiosk_config
from bench.procfs import cpu_seconds, status_kib

READY_LINE = "ready: a press prints a ticket"
PRINTED = re.compile(r"\bprinted [A-Z]{1,3}\d+ \(seq")
REPO = Path(__file__).resolve().parent.parent


@dataclass
class StartupResult:
    ready_s: list[float] = field(default_factory=list)
    interpreter_s: list[float] = field(default_factory=list)
    first_ticket_s: list[float] = field(default_factory=list)
    rss_ready_kib: list[float] = field(default_factory=list)
    rss_first_kib: list[float] = field(default_factory=list)  # right after the first ticket
    rss_bare_kib: list[float] = field(default_factory=list)
    rss_after_kib: dict[int, float] = field(default_factory=dict)  # tickets printed → VmRSS
    idle_cpu: dict[int, float] = field(default_factory=dict)  # unacked tickets → CPU share of one core
    idle_log_lines: dict[int, int] = field(default_factory=dict)  # unacked tickets → log lines in the window
    idle_resends: dict[int, int] = field(default_factory=dict)  # unacked tickets → "re-sending" lines
    idle_window_s: float = 0.0
    resend_after_s: float = 0.0


class KioskProcess:
    """`python -m kiosk run --simulate`; a thread timestamps every stderr line as it arrives."""

    def __init__(self, config: Path) -> None:
        env = dict(os.environ, WARTEMARKE_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "run", "--simulate", "--config", str(config)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put((time.perf_counter(), line))
        self.lines.put((time.perf_counter(), ""))  # EOF

    def wait_for(self, predicate: re.Pattern[str] | str, timeout: float = 20.0) -> float:
        """perf_counter() when the first (further) line matching `predicate` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                at, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"kiosk: no {predicate!r} within {timeout} s; log tail:\n"
                                   + "".join(self.log[-15:])) from None
            if not line:
                raise RuntimeError("kiosk exited; log tail:\n" + "".join(self.log[-15:]))
            self.log.append(line)
            found = predicate in line if isinstance(predicate, str) else predicate.search(line) is not None
            if found:
                return at

    def drain(self) -> list[str]:
        """Every line that arrived so far and was not yet looked at."""
        drained: list[str] = []
        while True:
            try:
                _, line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line:
                drained.append(line)
        self.log += drained
        return drained

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        try:
            self.send("quit")
            self.proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


def interpreter_start() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def bare_rss_kib() -> float:
    """VmRSS of an interpreter that imports nothing beyond its own start-up, reported by itself."""
    out = subprocess.run([sys.executable, "-c", "print(open('/proc/self/status').read())"],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def idle_cpu_share(pid: int, seconds: float) -> float:
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def idle_window(kiosk: KioskProcess, result: StartupResult, unacked: int) -> None:
    """CPU share and log output of the idle kiosk over one window, keyed by its unacked tickets."""
    kiosk.drain()
    result.idle_cpu[unacked] = idle_cpu_share(kiosk.proc.pid, result.idle_window_s)
    time.sleep(0.1)  # the reader thread catches up with what was logged inside the window
    lines = kiosk.drain()
    result.idle_log_lines[unacked] = len(lines)
    result.idle_resends[unacked] = sum("re-sending" in line for line in lines)


def feed(kiosk: KioskProcess, presses: int, batch: int = 10) -> None:
    """Press `presses` times via stdin, in batches well below the kiosk's 50-press queue (it drops beyond)."""
    done = 0
    while done < presses:
        n = min(batch, presses - done)
        for i in range(n):
            kiosk.send(SERVICE_IDS[(done + i) % len(SERVICE_IDS)])
        for _ in range(n):
            kiosk.wait_for(PRINTED)
        done += n


def measure(directory: Path, port: int, runs: int, presses: int, more_presses: int = 450,
            idle_window_s: float = RESEND_AFTER_S) -> StartupResult:
    config = kiosk_config(directory, port, "bench-startup")
    result = StartupResult(idle_window_s=idle_window_s, resend_after_s=RESEND_AFTER_S)
    # One uncounted run creates the SQLite state (a new kiosk resumes after resume_wait_s without a hub)
    # and warms the escpos capabilities cache and the page cache, as on a kiosk that has run before.
    first = KioskProcess(config)
    try:
        first.wait_for(READY_LINE, timeout=30)
    finally:
        first.stop()
    # Earlier runs' tickets stay unacked (no hub); count them for the idle-CPU rows.
    unacked = 0
    for run in range(runs):
        result.interpreter_s.append(interpreter_start())
        result.rss_bare_kib.append(bare_rss_kib())
        kiosk = KioskProcess(config)
        try:
            ready_at = kiosk.wait_for(READY_LINE)
            result.ready_s.append(ready_at - kiosk.started)
            result.rss_ready_kib.append(status_kib(kiosk.proc.pid, "VmRSS"))
            sent = time.perf_counter()
            kiosk.send(SERVICE_IDS[0])
            result.first_ticket_s.append(kiosk.wait_for(PRINTED) - sent)
            unacked += 1
            time.sleep(0.2)  # the worker finishes the press (indicators, status publish)
            result.rss_first_kib.append(status_kib(kiosk.proc.pid, "VmRSS"))
            if run < runs - 1:
                continue
            pid = kiosk.proc.pid
            idle_window(kiosk, result, unacked)
            printed = 1
            for batch in (presses, more_presses):
                feed(kiosk, batch)
                printed += batch
                unacked += batch
                time.sleep(0.5)
                result.rss_after_kib[printed] = status_kib(pid, "VmRSS")
                idle_window(kiosk, result, unacked)
        finally:
            kiosk.stop()
    return result
