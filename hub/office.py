"""What an office is, as the queue engine sees it: services, counters, hours and policies.

Pure data, built from the hub's TOML config (hub/config.py) or directly by tests and simulations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[time, time]


@dataclass(frozen=True)
class ServiceDef:
    id: str  # also the label prefix: "A" → A001
    name_de: str
    name_en: str
    prior_handling_min: float  # what a clerk needs on average, before today's data says otherwise
    daily_quota: int | None = None  # at most this many tickets a day (None: only capacity limits)


@dataclass(frozen=True)
class CounterDef:
    id: str
    name: str  # shown on displays and tickets: "Platz 3"
    services: tuple[str, ...]
    weights: dict[str, float] = field(default_factory=dict)  # >1 favours a service (fast lane); default 1
    hours: dict[int, tuple[Interval, ...]] | None = None  # weekday (0=Mon) → shifts; None = office hours

    def weight(self, service: str) -> float:
        return self.weights.get(service, 1.0)


@dataclass(frozen=True)
class AmpelBands:
    green_max_min: float = 30.0
    yellow_max_min: float = 90.0

    def level(self, wait_min: float | None, issuing: bool, open_now: bool) -> str:
        if not open_now:
            return "closed"
        if not issuing:
            return "red"
        if wait_min is None or wait_min <= self.green_max_min:
            return "green"
        return "yellow" if wait_min <= self.yellow_max_min else "red"


@dataclass(frozen=True)
class OfficeDef:
    id: str
    name: str
    timezone: ZoneInfo
    day_reset: time
    hours: dict[int, tuple[Interval, ...]]  # weekday (0=Mon) → opening intervals; missing = closed
    services: tuple[ServiceDef, ...]
    counters: tuple[CounterDef, ...]
    ampel: AmpelBands = AmpelBands()
    no_show_grace_min: float = 15.0
    transfer_keeps_place: bool = True
    closing_margin_min: float = 10.0  # stop issuing when a new ticket would start later than closing - margin
    no_show_cost_min: float = 1.5
    location: tuple[float, float] | None = None  # (latitude, longitude): the Ampel's "shorter wait nearby"

    def service(self, service_id: str) -> ServiceDef | None:
        return next((s for s in self.services if s.id == service_id), None)

    def counter(self, counter_id: str) -> CounterDef | None:
        return next((c for c in self.counters if c.id == counter_id), None)

    def intervals_on(self, day: date, hours: dict[int, tuple[Interval, ...]] | None = None) -> list[
            tuple[datetime, datetime]]:
        """Opening (or shift) intervals of a business day as aware datetimes."""
        table = self.hours if hours is None else hours
        return [(datetime.combine(day, start, self.timezone), datetime.combine(day, end, self.timezone))
                for start, end in table.get(day.weekday(), ())]

    def is_open(self, day: date, now: datetime) -> bool:
        return any(start <= now < end for start, end in self.intervals_on(day))

    def closing_time(self, day: date) -> datetime | None:
        intervals = self.intervals_on(day)
        return max(end for _, end in intervals) if intervals else None

    def counter_until(self, counter: CounterDef, day: date, now: datetime) -> datetime | None:
        """When the counter's current shift ends (None: not on shift now)."""
        for start, end in self.intervals_on(day, counter.hours):
            if start - timedelta(minutes=30) <= now < end:
                return end
        return None
