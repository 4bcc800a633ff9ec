"""What the hub benchmark measured, per variant and in all."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.hub.breakdown import Breakdown
from bench.hub.office import Throughput


@dataclass
class Variant:
    """One broker/socket setup, one hub: parts 1 and 2."""

    name: str
    nodelay: bool
    waiting: int
    preload_events: int = 0
    preload_s: float = float("nan")
    throughput: list[Throughput] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)  # next published → calls message with its seq
    calls_reply: list[float] = field(default_factory=list)  # the same presses: next → reply
    echo: list[float] = field(default_factory=list)  # interleaved echo round trips
    pubsub: list[float] = field(default_factory=list)  # interleaved one-hop publish → receive
    hub_log_lines: int = 0


@dataclass
class HubBenchResult:
    variants: list[Variant] = field(default_factory=list)
    fsync: list[float] = field(default_factory=list)  # write 64 B + fsync on the state disk
    commit: list[float] = field(default_factory=list)  # HubStore.append alone
    breakdown: Breakdown | None = None
