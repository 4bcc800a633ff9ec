"""The office's "when to come" history (`…/history`), docs/protocol.md §3.11: recent weeks by weekday and
hour, from the hub's daily aggregates only (no per-ticket data)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from protocol.fields import Fields

HH_MM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")


@dataclass(frozen=True)
class HistoryCell:
    """One weekday (0 = Monday) and local hour: the typical wait of tickets issued then (minutes) and how
    many tickets were issued then on an average such day."""

    weekday: int
    hour: int
    typical_wait_min: int
    tickets_per_day: float

    def to_dict(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "hour": self.hour, "typical_wait_min": self.typical_wait_min,
                "tickets_per_day": self.tickets_per_day}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryCell:
        f = Fields(data, "history.cells[]")
        return cls(weekday=f.integer("weekday", 0, 6), hour=f.integer("hour", 0, 23),
                   typical_wait_min=f.integer("typical_wait_min", 0, 100000),
                   tickets_per_day=f.number("tickets_per_day", 0.0, 1e6))


@dataclass(frozen=True)
class RanOut:
    """On how many of the recent such weekdays (`of_days`) tickets ran out (`days`), and the typical
    local time they did."""

    days: int
    of_days: int
    typical_time: time

    def to_dict(self) -> dict[str, Any]:
        return {"days": self.days, "of_days": self.of_days, "typical_time": f"{self.typical_time:%H:%M}"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RanOut:
        f = Fields(data, "history.ran_out[]")
        hh_mm = f.text("typical_time", HH_MM_RE)
        return cls(days=f.integer("days", 0, 1000), of_days=f.integer("of_days", 0, 1000),
                   typical_time=time(int(hh_mm[:2]), int(hh_mm[3:])))


@dataclass(frozen=True)
class History:
    """The history of `weeks` weeks before `until` (a business day, not included)."""

    office: str
    weeks: int
    until: date
    cells: tuple[HistoryCell, ...] = ()
    ran_out: dict[int, RanOut] = field(default_factory=dict)  # weekday (0 = Monday) → when tickets ran out

    def to_dict(self) -> dict[str, Any]:
        return {"office": self.office, "weeks": self.weeks, "until": self.until.isoformat(),
                "cells": [c.to_dict() for c in self.cells],
                "ran_out": {str(weekday): r.to_dict() for weekday, r in sorted(self.ran_out.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        f = Fields(data, "history")
        ran_out = {}
        for weekday, item in f.mapping("ran_out").items():
            if weekday not in tuple("0123456") or not isinstance(item, dict):
                raise f.fail("ran_out", f"has an invalid entry for weekday {weekday!r}")
            ran_out[int(weekday)] = RanOut.from_dict(item)
        return cls(office=f.slug("office"), weeks=f.integer("weeks", 0, 520), until=f.day("until"),
                   cells=tuple(HistoryCell.from_dict(c) for c in f.objects("cells", 7 * 24)), ran_out=ran_out)
