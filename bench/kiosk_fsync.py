"""Synced commits per ticket, counted as fsync-family system calls under `strace -f -y`.

The parent runs a child process (this module's `child()`) under strace. The child starts a kiosk
(dummy printer, mock pins, no hub) with initialized state, then:

1. presses N times, waiting for each press to be handled (nothing is acked: the press path only);
2. publishes ONE retained hub ack covering all N tickets and waits until the outbox is empty and
   the kiosk has handled the ack (the ack deletes the outbox rows in its own, later commit);
3. presses M more times, each followed by its own ack (as the real hub acks every ticket).

Before each step (and each press) the child fsyncs a marker file named after it; `strace -y`
prints the path of every fsync'ed descriptor, so the parent can cut the trace into phases and
ignore the markers themselves. Every thread of the kiosk is traced (`-f`), so a checkpoint or a
stray fsync from any thread inside a phase is counted there.

Needs strace (Debian package `strace`). Without it, or where ptrace is not allowed, this part is
reported as not measured.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.fixtures import SERVICE_IDS, initialize_state, kiosk_config
from devtools.broker import Broker

SYNC_CALLS = ("fsync", "fdatasync", "sync_file_range", "syncfs")
MARKER_PREFIX = "bench-marker-"
_CALL = re.compile(r"^(?:\[pid\s+)?(?:\d+\]?\s+)?(?P<call>" + "|".join(SYNC_CALLS)
                   + r")\((?P<fd>\d+)(?:<(?P<path>[^>]*)>)?")


@dataclass
class FsyncResult:
    presses: int
    acked_presses: int
    press_calls: int = 0
    press_files: Counter[str] = field(default_factory=Counter)
    per_press: list[Counter[str]] = field(default_factory=list)  # the files synced during each press
    ack_all_calls: int = 0
    ack_all_files: Counter[str] = field(default_factory=Counter)
    acked_calls: int = 0
    acked_files: Counter[str] = field(default_factory=Counter)
    other_calls: int = 0
    syscalls: Counter[str] = field(default_factory=Counter)

    @property
    def per_press_histogram(self) -> Counter[int]:
        """Calls during one press → how many presses had that many."""
        return Counter(sum(files.values()) for files in self.per_press)

    @property
    def typical_per_press(self) -> int:
        return self.per_press_histogram.most_common(1)[0][0] if self.per_press else -1

    def exceptions(self) -> list[tuple[int, Counter[str]]]:
        """(1-based press number, files) of every press that did not have the typical count."""
        typical = self.typical_per_press
        return [(n, files) for n, files in enumerate(self.per_press, 1) if sum(files.values()) != typical]

    @staticmethod
    def describe_files(files: Counter[str]) -> str:
        return ", ".join(f"{name} {n}" for name, n in files.most_common()) or "none"


def _short(path: str) -> str:
    name = Path(path).name
    if name.startswith("kiosk.sqlite3"):
        return name
    return f"dir {name}/" if Path(path).is_dir() else f"other file {name}"


def parse_trace(lines: list[str], presses: int, acked_presses: int) -> FsyncResult:
    result = FsyncResult(presses=presses, acked_presses=acked_presses)
    phase = "start"
    for line in lines:
        match = _CALL.match(line.strip())
        if match is None or "resumed>" in line:
            continue
        path = match.group("path") or f"fd {match.group('fd')}"
        name = Path(path).name
        if name.startswith(MARKER_PREFIX):
            phase = name[len(MARKER_PREFIX):].split("-")[0]
            if phase == "press":
                result.per_press.append(Counter())
            continue
        result.syscalls[match.group("call")] += 1
        if phase == "press":
            result.press_calls += 1
            result.press_files[_short(path)] += 1
            result.per_press[-1][_short(path)] += 1
        elif phase == "ackall":
            result.ack_all_calls += 1
            result.ack_all_files[_short(path)] += 1
        elif phase == "acked":
            result.acked_calls += 1
            result.acked_files[_short(path)] += 1
        else:
            result.other_calls += 1
    if len(result.per_press) != presses:
        raise RuntimeError(f"trace shows {len(result.per_press)} press markers, expected {presses}")
    return result


def measure(directory: Path, broker: Broker, presses: int, acked_presses: int) -> tuple[FsyncResult | None, str]:
    strace = shutil.which("strace")
    if strace is None:
        return None, "strace is not installed (apt-get install strace)"
    config = kiosk_config(directory, broker.port, "bench-fsync")
    initialize_state(config)
    markers = directory / "markers"
    markers.mkdir()
    trace = directory / "strace.txt"
    command = [strace, "-f", "-y", "-qq", "-o", str(trace), "-e", "trace=" + ",".join(SYNC_CALLS),
               sys.executable, "-m", "bench.kiosk_fsync", str(config), str(presses), str(acked_presses), str(markers)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=Path(__file__).parent.parent)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return None, f"strace run failed ({proc.returncode}): {' / '.join(tail)}"
    return parse_trace(trace.read_text(encoding="utf-8").splitlines(), presses, acked_presses), ""


# -- the traced child ----------------------------------------------------------------------------


def _marker(directory: Path, name: str) -> None:
    with (directory / f"{MARKER_PREFIX}{name}").open("wb") as fh:
        os.fsync(fh.fileno())


def child(config: Path, presses: int, acked_presses: int, markers: Path) -> None:
    from devtools.broker import Recorder
    from devtools.kiosk_harness import press, start_kiosk
    from kiosk.config import load_kiosk_config
    from protocol import topics
    from protocol.fields import encode_object
    from protocol.messages import Ack

    settings = load_kiosk_config(config)
    kiosk = start_kiosk(config)
    acks_handled = threading.Semaphore(0)
    original_on_ack = kiosk.delivery.on_ack
    assert original_on_ack is not None

    def on_ack(ack: Any, live: bool) -> None:
        original_on_ack(ack, live)
        acks_handled.release()

    kiosk.delivery.on_ack = on_ack
    recorder = Recorder(settings.broker.host, settings.broker.port, [])
    ack_topic = topics.kiosk_ack(settings.office, settings.device)
    handled = 0

    def press_once(service: str) -> None:
        nonlocal handled
        press(kiosk, service)
        handled += 1
        if not kiosk.wait_handled(handled, timeout=10):
            raise RuntimeError(f"press {handled} not handled within 10 s")

    def ack_everything() -> None:
        last: dict[str, int] = {}
        for label in kiosk.printed_labels:
            service = label.rstrip("0123456789")
            last[service] = max(last.get(service, 0), int(label[len(service):]))
        ack = Ack(seq=kiosk.store.last_seq(), day=kiosk.current_day(), last=last)
        recorder.publish(ack_topic, encode_object(ack.to_dict()), retain=True)
        if not acks_handled.acquire(timeout=10):
            raise RuntimeError("the kiosk did not handle the ack within 10 s")
        deadline = time.monotonic() + 10
        while kiosk.store.pending_count():
            if time.monotonic() > deadline:
                raise RuntimeError("the outbox was not emptied within 10 s of the ack")
            time.sleep(0.005)

    try:
        if not kiosk.ready.wait(10):
            raise RuntimeError("kiosk not ready within 10 s")
        for i in range(presses):
            _marker(markers, f"press-{i}")
            press_once(SERVICE_IDS[i % len(SERVICE_IDS)])
        _marker(markers, "ackall")
        ack_everything()
        for i in range(acked_presses):
            _marker(markers, f"acked-{i}")
            press_once(SERVICE_IDS[i % len(SERVICE_IDS)])
            ack_everything()
        time.sleep(0.2)  # let the delivery thread finish its pass before the phase ends
        _marker(markers, "stop")
    finally:
        recorder.close()
        kiosk.stop()


if __name__ == "__main__":
    child(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
