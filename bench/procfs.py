"""What a benchmark reads about a process from /proc: CPU time, memory, context switches, its tree."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may contain spaces): field 3 onwards."""
    text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    return text[text.rindex(")") + 2:].split()


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, in seconds (clock-tick resolution)."""
    return cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


def cpu_ns(pid: int) -> int:
    """CPU time of a process so far, summed over its threads (schedstat: ns, not clock ticks)."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text(encoding="ascii").split()[0])
    return total


def status_kib(pid: int, key: str) -> int:
    """A KiB value of /proc/PID/status (VmRSS, VmHWM, …); 0 when the process or the key is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages split between the processes sharing them."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="utf-8").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
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
    main_switches_per_s: float  # the main thread (tid == pid)
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


def _process_table() -> dict[int, tuple[int, int]]:
    """pid → (ppid, pgid) of every process."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry))
        except OSError:
            continue
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
