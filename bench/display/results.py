"""What the display benchmark measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.display.child import Counts
from bench.display.chromium import ChromiumResult
from bench.procfs import Window


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
