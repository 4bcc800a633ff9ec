"""What every device needs to know about the office (`…/info`), docs/protocol.md §3.10."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from protocol.businessday import WEEKDAYS
from protocol.fields import SERVICE_RE, Fields

TIMEZONE_RE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*\Z")
INTERVAL_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]\Z")
MAX_INTERVALS = 12  # opening intervals a day (the hub's config refuses more)
MAX_SERVICES = 50  # services of an office that `info` carries (the hub's config refuses more)
MAX_COUNTERS = 200  # counters of an office that `info` carries (the hub's config refuses more)


@dataclass(frozen=True)
class ServiceInfo:
    id: str
    name_de: str
    name_en: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": {"de": self.name_de, "en": self.name_en}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceInfo:
        f = Fields(data, "info.services[]")
        names = Fields(f.mapping("name"), "info.services[].name")
        return cls(f.text("id", SERVICE_RE), names.human("de", 120), names.human("en", 120))

    def named(self, lang: str) -> str:
        """Its name in `lang` ("de" or "en")."""
        return self.name_en if lang == "en" else self.name_de


@dataclass(frozen=True)
class CounterInfo:
    id: str
    name: str
    services: tuple[str, ...] = ()  # the services it serves

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "services": list(self.services)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterInfo:
        f = Fields(data, "info.counters[]")
        services = data.get("services") or []
        if not isinstance(services, list) or len(services) > 50 \
                or not all(isinstance(s, str) and SERVICE_RE.match(s) for s in services):
            raise f.fail("services", "must be a list of service ids")
        return cls(f.slug("id"), f.human("name", 80), tuple(services))


@dataclass(frozen=True)
class AmpelBands:
    """Up to which expected wait (minutes) the Ampel is green, and yellow."""

    green_max_min: float
    yellow_max_min: float

    def to_dict(self) -> dict[str, Any]:
        return {"green_max_min": self.green_max_min, "yellow_max_min": self.yellow_max_min}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AmpelBands:
        f = Fields(data, "info.ampel")
        return cls(f.number("green_max_min", 0, 1e5), f.number("yellow_max_min", 0, 1e5))


@dataclass(frozen=True)
class Location:
    """Where the office is (WGS 84 degrees): the Ampel's "shorter wait nearby" measures distances with it."""

    latitude: float
    longitude: float

    def to_dict(self) -> dict[str, Any]:
        return {"latitude": self.latitude, "longitude": self.longitude}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        f = Fields(data, "info.location")
        return cls(f.number("latitude", -90, 90), f.number("longitude", -180, 180))


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
    ampel: AmpelBands | None = None
    location: Location | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "day": self.day.isoformat(), "name": self.name, "timezone": self.timezone,
            "hours": {weekday: list(intervals) for weekday, intervals in self.hours.items()},
            "services": [s.to_dict() for s in self.services], "counters": [c.to_dict() for c in self.counters],
            "announcement": self.announcement,
        }
        if self.ampel is not None:
            data["ampel"] = self.ampel.to_dict()
        if self.hub is not None:
            data["hub"] = self.hub
        if self.location is not None:
            data["location"] = self.location.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OfficeInfo:
        f = Fields(data, "info")
        hours: dict[str, tuple[str, ...]] = {}
        for weekday, intervals in f.mapping("hours").items():
            if weekday not in WEEKDAYS or not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS \
                    or not all(isinstance(i, str) and INTERVAL_RE.match(i) for i in intervals):
                raise f.fail("hours", f"has an invalid entry for {weekday!r}")
            hours[weekday] = tuple(intervals)
        # A non-object entry reads as an empty one: its first field is "missing".
        services = [ServiceInfo.from_dict(s if isinstance(s, dict) else {}) for s in f.array("services")[:MAX_SERVICES]]
        counters = [CounterInfo.from_dict(c if isinstance(c, dict) else {}) for c in f.array("counters")[:MAX_COUNTERS]]
        ampel, location = data.get("ampel"), data.get("location")
        return cls(day=f.day(), name=f.human("name", 120), timezone=f.text("timezone", TIMEZONE_RE, max_len=64),
                   hours=hours, services=tuple(services), counters=tuple(counters),
                   announcement=f.opt_human("announcement", 300) or "", hub=f.opt_slug("hub"),
                   ampel=None if ampel is None else AmpelBands.from_dict(ampel if isinstance(ampel, dict) else {}),
                   location=None if location is None else Location.from_dict(
                       location if isinstance(location, dict) else {}))

    def service(self, service_id: str) -> ServiceInfo | None:
        return next((s for s in self.services if s.id == service_id), None)

    def counter(self, counter_id: str) -> CounterInfo | None:
        return next((c for c in self.counters if c.id == counter_id), None)

    def service_names(self, lang: str) -> dict[str, str]:
        """Every service's id → its name in `lang`, in the office's order."""
        return {s.id: s.named(lang) for s in self.services}
