"""What the numbers were measured on: printed above the table, since they only mean something beside it."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from datetime import datetime
from pathlib import Path


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (x86: `model name`; Raspberry Pi: `Model` or `Hardware`)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        if fields.get(key):
            return fields[key]
    return platform.machine() or "unknown"


def filesystem_of(path: Path) -> str:
    """`fstype on mountpoint (device)` for the mount holding `path`: fsync costs depend on it."""
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best: tuple[str, str, str] | None = None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        device, mountpoint, fstype = parts[0], parts[1].replace("\\040", " "), parts[2]
        inside = resolved == mountpoint or resolved.startswith(mountpoint.rstrip("/") + "/")
        if inside and (best is None or len(mountpoint) >= len(best[1])):
            best = (device, mountpoint, fstype)
    if best is None:
        return "unknown"
    return f"{best[2]} on {best[1]} ({best[0]})"


def machine_lines(state_parent: Path) -> list[str]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"date:      {datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine:   {cpus} CPUs (nproc), {cpu_model()}, {platform.machine()}",
        f"kernel:    {platform.system()} {platform.release()}",
        f"python:    {sys.version.split()[0]} ({sys.executable}); SQLite {sqlite3.sqlite_version}",
        f"state dir: {state_parent} on {filesystem_of(state_parent)}",
        f"load avg:  {load} (at start)",
    ]
