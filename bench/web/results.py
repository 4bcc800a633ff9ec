"""What the web benchmark measured."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.web.fanout import FanOut
from bench.web.fetch import Fetched
from bench.web.renders import Renders
from bench.web.throughput import Wrk

IDLE_S = 2.0  # the replica's idle CPU is measured over this long


@dataclass
class WebBenchResult:
    fanouts: list[FanOut] = field(default_factory=list)
    burst: FanOut | None = None
    wrk: list[Wrk] = field(default_factory=list)
    wrk_missing: str = ""
    pages: dict[str, tuple[Fetched, Fetched]] = field(default_factory=dict)
    renders: Renders = field(default_factory=Renders)
    rlimit: int = 0
    replica_idle_rss_kib: int = 0
    replica_idle_cpu: float = float("nan")  # share of a core, nothing connected, no updates
    log_lines: int = 0
    log_problems: list[str] = field(default_factory=list)
