"""Requests per second with wrk, and the replica's CPU per request."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procfs import cpu_ns


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


def run_wrk(work: Path, pid: int, port: int, path: str, seconds: float) -> Wrk:
    """`wrk -t2 -c64 --latency` against `path` for `seconds`, with the replica's (`pid`) and wrk's CPU time."""
    exe = shutil.which("wrk")
    assert exe is not None
    before_cpu, before_children = cpu_ns(pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run([exe, "-t2", "-c64", f"-d{seconds:g}s", "--latency", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=seconds + 60, check=False)
    wall = time.monotonic() - started
    cpu = (cpu_ns(pid) - before_cpu) / 1e9
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after_children.ru_utime + after_children.ru_stime - before_children.ru_utime
               - before_children.ru_stime)
    (work / f"wrk{path.replace('/', '_')}.txt").write_text(out.stdout + out.stderr, encoding="utf-8")
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()[:300]}")
    return parse_wrk(path, out.stdout, cpu, wrk_cpu, wall)


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

