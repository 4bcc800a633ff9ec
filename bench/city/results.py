"""What the city benchmark measured."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.city.per_view import PerView


@dataclass
class Level:
    """One stream count: per update (a clerk's `next` in the measured office), seconds from sending the
    command to the first, the median and the last screen that shows it; the bare hop chain beside it."""

    streams: int
    offices: int
    updates: int
    ready: int = 0
    failed: int = 0
    late: int = 0  # not opened within the connect deadline
    resumed: int = 0  # of those open: TLS handshakes that resumed a session (bench/city/clients.py)
    processes: int = 1  # client processes the streams were spread over
    watchers: int = 0
    connect_s: float = float("nan")
    errors: dict[str, int] = field(default_factory=dict)
    first: list[float] = field(default_factory=list)
    mid: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    central: list[float] = field(default_factory=list)  # the call → the office's new queue at the central broker
    last_ampel: list[float] = field(default_factory=list)  # the call → the last Ampel screen
    last_tracking: list[float] = field(default_factory=list)  # the call → the last tracking page of the office
    missing: int = 0  # screens that had not shown an update when its wait timed out
    events: int = 0  # events delivered to all streams during the updates (with the other offices' changes)
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process (nginx: master and workers)
    rss_kib: dict[str, int] = field(default_factory=dict)


@dataclass
class Growth:
    """The central broker and the replicas with `offices` simulated offices: a window without event streams
    (`quiet`) and one with `streams` open (`loaded`)."""

    offices: int
    streams: int
    window_s: float
    ready: int = 0
    central_idle_kib: int = 0  # connected replicas, no office yet
    central_offices_kib: int = 0  # every office connected and its retained state in
    central_streams_kib: int = 0
    replica_kib: int = 0  # both replicas, with the streams open
    quiet: dict[str, float] = field(default_factory=dict)
    loaded: dict[str, float] = field(default_factory=dict)


@dataclass
class Results:
    levels: list[Level] = field(default_factory=list)
    growth: list[Growth] = field(default_factory=list)
    deployed: tuple[int, int, int, int] | None = None  # nginx as the role leaves it: workers, connections, tried, open
    offices_interval_s: float = 20.0
    ampel_share: float = 0.1
    per_view: PerView | None = None  # a replica's CPU per ticket view, before/after (bench/city/per_view.py)
