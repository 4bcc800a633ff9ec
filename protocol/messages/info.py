"""What every device needs to know about the office (`…/info`), docs/protocol.md §3.10."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from protocol.fields import SERVICE_RE, Fields

TIMEZONE_RE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*\Z")
INTERVAL_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]\Z")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ServiceInfo:
    id: str
    name_de: str
    name_en: str


@dataclass(frozen=True)
class CounterInfo:
    id: str
    name: str


@dataclass(frozen=True)
class OfficeInfo:
    """The hub's retained `info`: what displays and pages need to know about the office."""

    day: date
    name: str
    timezone: str
    hours: dict[str, tuple[str, ...]]  # "mon" → ("08:00-12:00", …)
    services: tuple[ServiceInfo, ...]
    counters: tuple[CounterInfo, ...]
    announcement: str = ""
    hub: str | None = None  # the hub's device id: only `device/{hub}/status` speaks for the hub

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OfficeInfo:
        f = Fields(data, "info")
        hours: dict[str, tuple[str, ...]] = {}
        for weekday, intervals in f.mapping("hours").items():
            if weekday not in WEEKDAYS or not isinstance(intervals, list) or len(intervals) > 12 \
                    or not all(isinstance(i, str) and INTERVAL_RE.match(i) for i in intervals):
                raise f.fail("hours", f"has an invalid entry for {weekday!r}")
            hours[weekday] = tuple(intervals)
        services = []
        for item in f.array("services")[:50]:
            sf = Fields(item if isinstance(item, dict) else {}, "info.services[]")
            names = Fields(sf.mapping("name"), "info.services[].name")
            services.append(ServiceInfo(sf.text("id", SERVICE_RE), names.human("de", 120), names.human("en", 120)))
        counters = []
        for item in f.array("counters")[:200]:
            cf = Fields(item if isinstance(item, dict) else {}, "info.counters[]")
            counters.append(CounterInfo(cf.slug("id"), cf.human("name", 80)))
        return cls(day=f.day(), name=f.human("name", 120), timezone=f.text("timezone", TIMEZONE_RE, max_len=64),
                   hours=hours, services=tuple(services), counters=tuple(counters),
                   announcement=f.opt_human("announcement", 300) or "",
                   hub=f.slug("hub") if data.get("hub") is not None else None)

    def service(self, service_id: str) -> ServiceInfo | None:
        return next((s for s in self.services if s.id == service_id), None)
