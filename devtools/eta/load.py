"""How loaded a simulated day is: the work its tickets bring against the counter minutes, per hour and for
the day, and `describe()`, the summary `python -m devtools.eta.scenarios` and `… hard_days` print.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the days import this module for `print_days`
    from devtools.eta.scenarios import Arrival, CounterPlan, Scenario

#: Wall-clock minute of opening (8:00) — only for printing; scenario times are minutes since opening.
OPENS_AT_CLOCK = 8 * 60


def offered_work(s: Scenario, a: Arrival) -> float:
    """Counter minutes a ticket will take: its handling, or the no-show cost."""
    return s.no_show_cost if a.no_show else a.handling


def counter_minutes(plan: CounterPlan, start: float, end: float) -> float:
    """Minutes a clerk is logged in at `plan` within [start, end)."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in plan.open_intervals)


@dataclass(frozen=True)
class HourLoad:
    start: float  # minute since opening
    tickets: int  # issued in this hour
    offered: float  # counter minutes those tickets need
    capacity: float  # counter minutes available in this hour

    @property
    def load(self) -> float:
        return self.offered / self.capacity if self.capacity else math.inf


def hourly_load(s: Scenario) -> list[HourLoad]:
    """Offered work of the tickets issued in each hour against the counter minutes of that hour."""
    hours: list[HourLoad] = []
    for h in range(math.ceil(s.open_minutes / 60.0)):
        start, end = h * 60.0, min((h + 1) * 60.0, s.open_minutes)
        issued = [a for a in s.arrivals if start <= a.t < end]
        hours.append(HourLoad(start, len(issued), math.fsum(offered_work(s, a) for a in issued),
                              sum(counter_minutes(c, start, end) for c in s.counters)))
    return hours


def day_load(s: Scenario) -> float:
    """The whole day's offered work divided by the whole day's counter minutes."""
    offered = math.fsum(offered_work(s, a) for a in s.arrivals)
    capacity = sum(counter_minutes(c, 0.0, s.open_minutes) for c in s.counters)
    return offered / capacity


def _clock(minute: float) -> str:
    m = round(OPENS_AT_CLOCK + minute)
    return f"{m // 60:02d}:{m % 60:02d}"


def describe(s: Scenario) -> str:
    """A human-readable summary: tickets per service, counters, offered load vs capacity per hour."""
    per_service: dict[str, int] = {}
    for a in s.arrivals:
        per_service[a.service] = per_service.get(a.service, 0) + 1
    no_shows = sum(a.no_show for a in s.arrivals)
    tag = " [OVERLOADED]" if s.overloaded else ""
    lines = [
        f"{s.name} (seed {s.seed}){tag}: open {_clock(0)}-{_clock(s.open_minutes)}, tickets until "
        f"{_clock(s.issue_until)}, no-show cost {s.no_show_cost:g} min",
        f"  {s.description}",
        f"  tickets: {len(s.arrivals)} ("
        + ", ".join(f"{k} {per_service.get(k, 0)}" for k in s.services)
        + f"), no-shows {no_shows} ({100.0 * no_shows / max(1, len(s.arrivals)):.1f} %)",
        "  mean handling, prior → true: "
        + ", ".join(f"{k} {s.services[k]:.1f} → {s.true_means[k]:.1f} min" for k in s.services),
        "  counters:",
    ]
    if s.quotas:
        lines.insert(3, "  daily quota: " + ", ".join(f"{k} {v}" for k, v in sorted(s.quotas.items())))
    patient = [a.patience for a in s.arrivals if a.patience is not None]
    if patient:
        lines.insert(3, f"  {len(patient)} tickets leave when their wait exceeds their patience (median "
                        f"{sorted(patient)[len(patient) // 2]:.0f} min)")
    for c in s.counters:
        shifts = " ".join(f"{_clock(a)}-{_clock(b)}" for a, b in c.open_intervals)
        roster = "" if c.roster is None else " (roster: " + " ".join(f"{_clock(a)}-{_clock(b)}"
                                                                     for a, b in c.roster) + ")"
        lines.append(f"    {c.id:<8} [{','.join(c.services)}] {shifts}{roster}")
    lines.append("  hour   tickets  offered min  capacity min  load")
    for h in hourly_load(s):
        lines.append(f"  {_clock(h.start)}  {h.tickets:7d}  {h.offered:11.0f}  {h.capacity:12.0f}  {h.load:4.2f}")
    offered = math.fsum(offered_work(s, a) for a in s.arrivals)
    capacity = sum(counter_minutes(c, 0.0, s.open_minutes) for c in s.counters)
    lines.append(f"  day    {len(s.arrivals):7d}  {offered:11.0f}  {capacity:12.0f}  {day_load(s):4.2f}")
    return "\n".join(lines)


def print_days(scenarios: list[Scenario], fingerprint_of: Callable[[list[Scenario]], str], noun: str) -> None:
    """`describe()` of every day, then their count and fingerprint (the modules' `python -m`)."""
    for s in scenarios:
        print(describe(s))
        print()
    print(f"{len(scenarios)} {noun}, {sum(len(s.arrivals) for s in scenarios)} tickets, "
          f"fingerprint {fingerprint_of(scenarios)}")
