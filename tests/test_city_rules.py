"""The city Ampel's pure rules: when an office's data is stale (web/freshness.py) and which offices are
suggested as "shorter wait nearby" (web/nearby.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from protocol.messages import DeviceStatus
from web.freshness import bridge_of, local_time, own_time, stale_reason
from web.mirror import Mirror
from web.nearby import distance_km, shorter_nearby

HOME = {"latitude": 48.7758, "longitude": 9.1829}


def office(office_id: str, wait: int | None, km_east: float, ampel: str = "green", issuing: bool = True,
           stale: bool = False, is_open: bool = True, located: bool = True) -> dict[str, Any]:
    """An office summary as web/public.py makes it, `km_east` of HOME (1° of longitude ≈ 73.3 km there)."""
    location = {"latitude": HOME["latitude"], "longitude": HOME["longitude"] + km_east / 73.3} if located else None
    return {"id": office_id, "name": office_id.title(), "open": is_open, "stale": stale, "location": location,
            "services": [{"id": "A", "expected_wait_min": wait, "issuing": issuing, "ampel": ampel}]}


def test_the_stale_rule_in_its_order() -> None:
    online, offline = DeviceStatus(online=True, role="hub"), DeviceStatus(online=False, role="hub")
    assert stale_reason(True, True, online, True) is None
    assert stale_reason(True, True, None, None) is None  # no status yet, no bridge (an office broker): current
    assert stale_reason(False, True, online, True) == "no_broker"
    assert stale_reason(True, False, online, True) == "not_confirmed"
    assert stale_reason(True, True, offline, True) == "hub_offline"
    assert stale_reason(True, True, online, False) == "bridge_down"


def test_bridge_state_topics_and_times() -> None:
    assert bridge_of("$SYS/broker/connection/ost-hub-bridge/state") == "ost-hub-bridge"
    assert bridge_of("$SYS/broker/connection//state") is None and bridge_of("wartemarke/v1/a/queue") is None
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    later = at + timedelta(minutes=5)
    assert own_time(at, later) == later and own_time(later, at) == later and own_time(None, at) == at
    assert own_time(None, None) is None
    assert local_time(at, "Europe/Berlin") == "10:00" and local_time(at, "Nowhere/Atlantis") == "09:00"


def test_the_mirror_notes_when_an_office_went_stale_and_ignores_odd_bridge_states() -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    mirror = Mirror(now=lambda: now)
    mirror.set_connected(True)
    info = b'{"v":1,"day":"2026-11-25","name":"Ost","timezone":"Europe/Berlin","hours":{},"services":[],' \
           b'"counters":[],"announcement":"","hub":"ost-hub"}'
    mirror.apply("wartemarke/v1/ost/queue", b'{"v":1,"day":"2026-11-25","at":"2026-11-25T08:00:00+00:00",'
                                            b'"services":[]}')  # before info: current at once
    mirror.apply("wartemarke/v1/ost/info", info)
    assert not mirror.freshness("ost").stale
    mirror.apply_bridge_state("$SYS/broker/connection/ost-hub-bridge/state", b"0")
    fresh = mirror.freshness("ost")
    assert fresh.stale and fresh.reason == "bridge_down" and fresh.since == now
    mirror.apply_bridge_state("$SYS/broker/connection/ost-hub-bridge/state", b"maybe")  # dropped
    assert mirror.freshness("ost").stale and mirror.invalid == 1
    mirror.apply_bridge_state("$SYS/broker/connection/ost-hub-bridge/state", b"1")
    assert not mirror.freshness("ost").stale


def test_distance() -> None:
    assert abs(distance_km((48.7758, 9.1829), (48.7735, 9.1560)) - 1.99) < 0.02
    assert distance_km((0.0, 0.0), (0.0, 0.0)) == 0


def test_a_red_office_gets_the_nearest_offices_that_are_at_least_10_minutes_shorter() -> None:
    offices = [office("mitte", 60, 0, "red"), office("far", 5, 9.0), office("near", 20, 1.0),
               office("almost", 52, 0.5), office("stale", 0, 0.2, stale=True), office("shut", 0, 0.3, is_open=False),
               office("nowhere", 0, 0.1, located=False), office("full", 0, 0.4, "red", issuing=False)]
    found = shorter_nearby(offices, "mitte", "A")
    assert [(s.office, s.saving_min) for s in found] == [("near", 40), ("far", 55)]
    assert round(found[0].distance_km, 1) == 1.0
    assert shorter_nearby(offices, "near", "A") == []  # green: no suggestions
    assert shorter_nearby(offices, "mitte", "P") == []  # a service it does not offer


def test_an_office_out_of_tickets_gets_any_office_that_still_issues() -> None:
    offices = [office("mitte", None, 0, "red", issuing=False), office("busy", 80, 2.0, "red"),
               office("quiet", 10, 3.0)]
    found = shorter_nearby(offices, "mitte", "A")
    assert [(s.office, s.wait_min, s.saving_min) for s in found] == [("busy", 80, None), ("quiet", 10, None)]
    assert shorter_nearby([{**offices[0], "stale": True}, *offices[1:]], "mitte", "A") == []  # stale: none
