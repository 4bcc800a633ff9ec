"""Press-to-last-byte latency of an in-process kiosk, beside one raw fsync on the same disk.

A real `Kiosk` (dummy printer, mock pins, the private broker, no hub so nothing is ever acked) is
pressed through its mock button pins; the latency runs from just before the pin goes low to the
moment `print_document` returns, i.e. the dummy printer holds the ticket's last byte. Presses
alternate between two services with `min_interval_s = 0`, and each waits until the kiosk has
handled the press (LEDs, status publish) before the next one, so presses never queue. A second
series runs after a few hundred more unmeasured presses: with no hub, every ticket stays in the
outbox, and the delivery worker reads (and periodically re-sends) all of it, as when the hub is down.

The baseline is interleaved with the presses, one sample before each: append 64 bytes to a file in
the kiosk's state directory and `os.fsync` it, which is the least any durable ticket can cost there.

Beside the total, each press is split into where the time went, by wrapping the store's `allocate`
(the one synced SQLite commit) and the printer: queue hand-off and checks before the commit, the
commit itself, the work between commit and printer (indicators, status publish, ticket content),
and rendering plus "printing" into memory.

With `speech`, the kiosk's voice is on (`[speech]`, espeak-ng writing WAV files to /dev/shm, as the
audio out writes nothing to disk): after each ticket it
hands a sentence to its own thread, so espeak-ng runs during the following presses — the worst case
for a speaking kiosk, whose press → last byte must stay where it is without speech.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.fixtures import SERVICE_IDS, initialize_state, kiosk_config
from devtools.kiosk_harness import press, start_kiosk
from kiosk.app import Kiosk
from kiosk.config import load_kiosk_config
from kiosk.printer.memory import MemoryPrinter
from kiosk.ticket import Document

WAL_FRAME_HEADER = 24


class TimedPrinter(MemoryPrinter):
    """The configured (dummy) printer, recording when each print started and returned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spans: list[tuple[float, float, int]] = []  # (start, last byte, bytes)

    def print_document(self, doc: Document, name: str) -> int:
        start = time.perf_counter()
        size = super().print_document(doc, name)
        self.spans.append((start, time.perf_counter(), size))
        self.printed.clear()  # the dummy keeps every ticket; the benchmark needs only the times
        return size


@dataclass
class LatencyResult:
    presses: int
    unacked_at_start: int = 0  # outbox rows (hub offline) when the measured presses began
    latency: list[float] = field(default_factory=list)  # press → last byte, seconds
    fsync: list[float] = field(default_factory=list)  # baseline: write 64 B + fsync, seconds
    before_commit: list[float] = field(default_factory=list)
    commit: list[float] = field(default_factory=list)
    commit_to_print: list[float] = field(default_factory=list)
    printing: list[float] = field(default_factory=list)
    handled: list[float] = field(default_factory=list)  # press → kiosk finished with it (incl. after print)
    ticket_bytes: int = 0
    wal_frames_per_commit: float = float("nan")
    page_size: int = 0
    autocheckpoint_pages: int = 0


def _wrap_allocate(kiosk: Kiosk, spans: list[tuple[float, float]]) -> None:
    """Record when each allocation (the synced commit) starts and returns; bench-only instrumentation."""
    original: Callable[..., Any] = kiosk.store.allocate

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = original(*args, **kwargs)
        spans.append((start, time.perf_counter()))
        return result

    setattr(kiosk.store, "allocate", timed)  # noqa: B010  (instance attribute shadows the method)


def _fsync_probe(fd: int, payload: bytes) -> float:
    start = time.perf_counter()
    os.write(fd, payload)
    os.fsync(fd)
    return time.perf_counter() - start


def _wal_size(state: Path) -> int:
    wal = state.with_name(state.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _kiosk_logging(directory: Path) -> Callable[[], None]:
    """Log INFO to a file, as the real kiosk logs INFO to journald: its log calls are on the press path."""
    handler = logging.FileHandler(directory / "kiosk.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("wartemarke")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()

    return undo


def measure(directory: Path, port: int, presses: int, warmup: int = 10,
            backlog: int = 0, speech: bool = False, gap_s: float = 0.0) -> list[LatencyResult]:
    """`presses` measured presses after `warmup`; with `backlog`, then that many unmeasured presses
    (left unacked: there is no hub) and `presses` measured presses again. `gap_s`: a pause before each
    press (citizens one after another, so the voice has spoken the last ticket) — 0: back to back."""
    config = kiosk_config(directory, port, "bench-latency")
    if speech:  # WAV files in memory (/dev/shm): like the audio out, no writes to the disk the commit syncs
        voice = Path(tempfile.mkdtemp(prefix="bench-voice-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        with config.open("a", encoding="utf-8") as out:
            out.write(f'\n[speech]\nenabled = true\nlanguages = ["de"]\noutput = "{voice}"\n')
    state = initialize_state(config)
    undo_logging = _kiosk_logging(directory)
    printer = TimedPrinter(load_kiosk_config(config).printer)
    kiosk = start_kiosk(config, printer=printer)
    allocations: list[tuple[float, float]] = []
    _wrap_allocate(kiosk, allocations)
    probe = os.open(state.parent / "fsync-probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    results: list[LatencyResult] = []
    pressed = 0
    try:
        if not kiosk.ready.wait(10):
            raise RuntimeError("benchmark kiosk did not become ready within 10 s")
        with kiosk.store._lock:
            page_size = int(kiosk.store._db.execute("PRAGMA page_size").fetchone()[0])
            autocheckpoint = int(kiosk.store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        payload = b"x" * 63 + b"\n"
        for skip in ([warmup, backlog] if backlog else [warmup]):
            result = LatencyResult(presses=presses, page_size=page_size, autocheckpoint_pages=autocheckpoint)
            frame_counts: list[float] = []
            for i in range(skip + presses):
                if i == skip:
                    result.unacked_at_start = kiosk.store.pending_count()
                if gap_s:
                    time.sleep(gap_s)  # pacing, not waiting for a result: the next citizen steps up
                fsync_s = _fsync_probe(probe, payload)
                wal_before = _wal_size(state)
                t0 = time.perf_counter()
                press(kiosk, SERVICE_IDS[pressed % len(SERVICE_IDS)])
                pressed += 1
                if not kiosk.wait_handled(pressed, timeout=10):
                    raise RuntimeError(f"press {pressed} was not handled within 10 s")
                t_handled = time.perf_counter()
                if len(printer.spans) != pressed or len(allocations) != pressed:
                    raise RuntimeError(f"press {pressed} did not print exactly one ticket "
                                       f"({len(printer.spans)} prints, {len(allocations)} allocations)")
                wal_after = _wal_size(state)
                if i < skip:
                    continue
                p_start, p_end, size = printer.spans[-1]
                a_start, a_end = allocations[-1]
                result.fsync.append(fsync_s)
                result.latency.append(p_end - t0)
                result.handled.append(t_handled - t0)
                result.before_commit.append(a_start - t0)
                result.commit.append(a_end - a_start)
                result.commit_to_print.append(p_start - a_end)
                result.printing.append(p_end - p_start)
                result.ticket_bytes = size
                if wal_after > wal_before > 0:  # no checkpoint restarted the WAL in between
                    frame_counts.append((wal_after - wal_before) / (page_size + WAL_FRAME_HEADER))
            if frame_counts:
                result.wal_frames_per_commit = sorted(frame_counts)[len(frame_counts) // 2]
            results.append(result)
    finally:
        os.close(probe)
        kiosk.stop()
        undo_logging()
        if speech:
            shutil.rmtree(voice, ignore_errors=True)
    return results
