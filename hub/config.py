"""The hub's configuration: the offices it serves, each with hours, services and counters.

Validated like the kiosk's (process/config.py): unknown keys and bad values stop the hub at start-up
with the file and the dotted key named. A hub.toml may also hold `[web]`, the web tier in the hub's
process: that table is the web's (web/config.py), and hubprocess/config.py reads the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path

from hub.office import AmpelBands, CounterDef, Interval, OfficeDef, ServiceDef
from process.config import ConfigSection, load_toml
from protocol.businessday import WEEKDAYS, reset_time_problem
from protocol.fields import service_problem, slug_problem
from protocol.link import BrokerSettings, read_broker_settings
from protocol.messages.info import MAX_COUNTERS, MAX_INTERVALS, MAX_SERVICES
from protocol.text import human_text

INTERVAL_RE = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})\Z")


@dataclass(frozen=True)
class HubConfig:
    path: Path
    device: str
    state_dir: Path
    tick_s: float
    broker: BrokerSettings
    offices: tuple[OfficeDef, ...]

    def office(self, office_id: str) -> OfficeDef | None:
        return next((o for o in self.offices if o.id == office_id), None)


def load_hub_config(path: Path, other_tables: tuple[str, ...] = ()) -> HubConfig:
    """A config with the hub's tables. `other_tables` may be there too and are not checked here: they are
    another reader's (a hub.toml's `[web]` is read by hubprocess/config.py, which reads the whole file)."""
    root = load_toml(path)
    config = read_hub_config(root, path)
    for table in other_tables:
        root.get_value(table, None)  # counted as read; its keys are its own reader's to check
    root.check_unknown()
    return config


def read_hub_config(root: ConfigSection, path: Path) -> HubConfig:
    """The hub's tables of a config file: `[hub]`, `[broker]`, `[[offices]]`. The caller reads the rest
    of the file, if it has more, and then checks it for unknown keys (`root.check_unknown()`)."""
    hub = root.get_section("hub")
    offices = tuple(_read_office(s) for s in root.get_section_list("offices"))
    ids = [o.id for o in offices]
    if len(set(ids)) != len(ids):
        raise root.error("offices", f"office ids must be unique; got {', '.join(ids)}")
    return HubConfig(
        path=path,
        device=hub.get_str("device", "hub", check=slug_problem),
        state_dir=hub.get_path("state_dir"),
        tick_s=hub.get_float("tick_s", 15.0, minval=0.05, maxval=60),
        broker=read_broker_settings(root.get_section("broker")),
        offices=offices,
    )


def _read_office(section: ConfigSection) -> OfficeDef:
    services = tuple(_read_service(s) for s in section.get_section_list("services"))
    service_ids = {s.id for s in services}
    if len(service_ids) != len(services):
        raise section.error("services", "service ids must be unique")
    if len(services) > MAX_SERVICES:  # `info` carries no more: the rest would lose their names on every screen
        raise section.error("services", f"at most {MAX_SERVICES} services an office; got {len(services)}")
    counters = tuple(_read_counter(c, service_ids) for c in section.get_section_list("counters"))
    if len(counters) > MAX_COUNTERS:
        raise section.error("counters", f"at most {MAX_COUNTERS} counters an office; got {len(counters)}")
    if len({c.id for c in counters}) != len(counters):
        raise section.error("counters", "counter ids must be unique")
    for service in services:
        if not any(service.id in c.services for c in counters):
            raise section.error("services", f"no counter serves service {service.id!r}")
    ampel = section.get_section("ampel", required=False)
    green = ampel.get_float("green_max_min", 30.0, minval=1, maxval=600)
    return OfficeDef(
        id=section.get_str("id", check=slug_problem),
        name=section.get_str("name", check=human_text(120)),
        timezone=section.get_zone("timezone"),
        day_reset=section.get_time("day_reset", "04:00", check=reset_time_problem),
        hours=_read_hours(section.get_section("hours")),
        services=services,
        counters=counters,
        ampel=AmpelBands(green, ampel.get_float("yellow_max_min", 90.0, minval=green, maxval=1440)),
        no_show_grace_min=section.get_float("no_show_grace_min", 15.0, minval=0, maxval=240),
        transfer_keeps_place=section.get_bool("transfer_keeps_place", True),
        closing_margin_min=section.get_float("closing_margin_min", 10.0, minval=0, maxval=240),
        no_show_cost_min=section.get_float("no_show_cost_min", 1.5, minval=0, maxval=30),
        location=_read_location(section),
    )


def _read_location(section: ConfigSection) -> tuple[float, float] | None:
    """`latitude` and `longitude` (WGS 84 degrees, both or neither): where citizens find the office."""
    latitude = section.get_float("latitude", None, minval=-90, maxval=90)
    longitude = section.get_float("longitude", None, minval=-180, maxval=180)
    if (latitude is None) != (longitude is None):
        raise section.error("longitude" if longitude is None else "latitude", "latitude and longitude go together")
    return None if latitude is None or longitude is None else (latitude, longitude)


def _read_hours(section: ConfigSection) -> dict[int, tuple[Interval, ...]]:
    """`mon = ["08:00-12:00", "13:00-16:00"]` (at most 12 a day); a missing day is closed."""
    hours: dict[int, tuple[Interval, ...]] = {}
    for index, day in enumerate(WEEKDAYS):
        values = section.get_str_list(day, [])
        if len(values) > MAX_INTERVALS:  # `info` carries no more (docs/protocol.md §3.10)
            raise section.error(day, f"at most {MAX_INTERVALS} intervals a day; got {len(values)}")
        intervals: list[Interval] = []
        for value in values:
            match = INTERVAL_RE.match(value)
            try:
                if match is None:
                    raise ValueError
                start, end = time.fromisoformat(match.group(1)), time.fromisoformat(match.group(2))
            except ValueError:
                raise section.error(day, f"intervals look like \"08:00-12:30\"; got {value!r}") from None
            if end <= start or (intervals and start < intervals[-1][1]):
                raise section.error(day, f"intervals must be in order and not overlap; got {value!r}")
            intervals.append((start, end))
        if intervals:
            hours[index] = tuple(intervals)
    return hours


def _read_service(section: ConfigSection) -> ServiceDef:
    return ServiceDef(
        id=section.get_str("id", check=service_problem),
        name_de=section.get_str("name_de", check=human_text(120)),
        name_en=section.get_str("name_en", check=human_text(120)),
        prior_handling_min=section.get_float("prior_handling_min", minval=0.5, maxval=240),
        daily_quota=section.get_int("daily_quota", None, minval=1, maxval=100000),
    )


def _read_counter(section: ConfigSection, service_ids: set[str]) -> CounterDef:
    services = tuple(section.get_str_list("services"))
    unknown = [s for s in services if s not in service_ids]
    if not services or unknown:
        raise section.error("services", f"must list known services; unknown: {unknown or 'none listed'}")
    weights_section = section.get_section("weights", required=False)
    weights = {s: weights_section.get_float(s, minval=0.01, maxval=100) for s in services if weights_section.has(s)}
    return CounterDef(
        id=section.get_str("id", check=slug_problem),
        name=section.get_str("name", check=human_text(80)),
        services=services,
        weights=weights,
        hours=_read_hours(section.get_section("hours")) if section.has("hours") else None,
    )
