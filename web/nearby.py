""""Shorter wait nearby": for a service an office cannot serve soon, the nearest offices that can.

A service of an office gets suggestions when the office is current (not stale) and open and the service
is red or issues no more tickets today. A suggestion is another current, open office that offers the
same service (matched by id), still issues tickets for it and has a known expected wait — at least
MIN_SAVING_MIN shorter, unless the first office is out of tickets. Nearest first (great-circle distance
between the offices' `info.location`), at most LIMIT. Offices without a location are never compared.
Pure: the pages hand in the offices' summaries (web/public.py `office_summary`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

EARTH_RADIUS_KM = 6371.0
MIN_SAVING_MIN = 10  # a shorter wait worth the trip: at least this many minutes
LIMIT = 2  # suggestions per service


@dataclass(frozen=True)
class Suggestion:
    office: str
    name: str
    distance_km: float
    wait_min: int
    saving_min: int | None  # None: the first office issues no more tickets for the service

    def to_dict(self) -> dict[str, Any]:
        return {"office": self.office, "name": self.name, "distance_km": round(self.distance_km, 1),
                "expected_wait_min": self.wait_min, "shorter_by_min": self.saving_min}


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (latitude, longitude) points in degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def location(summary: dict[str, Any]) -> tuple[float, float] | None:
    place = summary.get("location")
    return None if not place else (float(place["latitude"]), float(place["longitude"]))


def _current(summary: dict[str, Any]) -> bool:
    return bool(summary["open"]) and not summary.get("stale") and location(summary) is not None


def _service(summary: dict[str, Any], service_id: str) -> dict[str, Any] | None:
    return next((s for s in summary["services"] if s["id"] == service_id), None)


def needs_alternative(summary: dict[str, Any], service: dict[str, Any]) -> bool:
    return _current(summary) and service["ampel"] != "closed" and (service["ampel"] == "red" or not service["issuing"])


def shorter_nearby(summaries: list[dict[str, Any]], office_id: str, service_id: str) -> list[Suggestion]:
    """The suggestions for one service of one office (the module's rule); [] when it needs none."""
    home = next((s for s in summaries if s["id"] == office_id), None)
    own = _service(home, service_id) if home is not None else None
    if home is None or own is None or not needs_alternative(home, own):
        return []
    here = location(home)
    assert here is not None  # needs_alternative checked it
    own_wait = own["expected_wait_min"] if own["issuing"] else None
    found = []
    for other in summaries:
        theirs = _service(other, service_id)
        if other is home or theirs is None or not _current(other) or not theirs["issuing"] \
                or theirs["ampel"] == "closed" or theirs["expected_wait_min"] is None:
            continue
        wait = int(theirs["expected_wait_min"])
        saving = None if own_wait is None else int(own_wait) - wait
        if saving is not None and saving < MIN_SAVING_MIN:
            continue
        there = location(other)
        assert there is not None
        found.append(Suggestion(other["id"], other["name"], distance_km(here, there), wait, saving))
    return sorted(found, key=lambda s: (s.distance_km, s.office))[:LIMIT]
