"""The retained messages the hub would publish for three offices, and tracking tokens as kiosks make them."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from protocol.fields import encode_object

OFFICES = (("buergerbuero-mitte", "Bürgerbüro Mitte"), ("buergerbuero-nord", "Bürgerbüro Nord"),
           ("buergerbuero-sued", "Bürgerbüro Süd"))
MEASURED = OFFICES[0][0]  # the office whose queue updates are measured


def info_payload(name: str, day: date) -> bytes:
    """Like hub/views.py office_info: two services, five counters, Mon–Fri hours."""
    counters = [{"id": f"platz-{i}", "name": f"Platz {i}", "services": ["A", "P"]} for i in range(1, 5)]
    return encode_object({
        "day": day.isoformat(), "name": name, "timezone": "Europe/Berlin",
        "hours": {d: ["07:30-12:30", "14:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "services": [{"id": "A", "name": {"de": "Allgemeine Anliegen", "en": "General concerns"}},
                     {"id": "P", "name": {"de": "Abholung Ausweis / Pass", "en": "ID card / passport pickup"}}],
        "counters": [*counters, {"id": "abholung", "name": "Abholung", "services": ["P"]}],
        "announcement": "", "ampel": {"green_max_min": 30, "yellow_max_min": 90},
    })


def queue_payload(day: date, waiting_a: int) -> bytes:
    return encode_object({"day": day.isoformat(), "at": datetime.now(UTC).isoformat(timespec="seconds"),
                          "services": [
                              {"service": "A", "waiting": waiting_a, "expected_wait_min": 38, "issuing": True,
                               "reason": None, "ampel": "yellow"},
                              {"service": "P", "waiting": 3, "expected_wait_min": 6, "issuing": True,
                               "reason": None, "ampel": "green"}]})


def history_payload(office: str, day: date, seed: int) -> bytes:
    """Like hub/history.py build_history: 8 weeks, Mon–Fri 7–17 h, tickets ran out on some days."""
    cells = [{"weekday": wd, "hour": hour, "typical_wait_min": 5 + (wd * 17 + hour * 29 + seed * 7) % 110,
              "tickets_per_day": round(4 + ((wd * 5 + hour * 3 + seed) % 23) / 1.7, 1)}
             for wd in range(5) for hour in range(7, 18)]
    ran_out = {"0": {"days": 5, "of_days": 8, "typical_time": "11:40"},
               "3": {"days": 2, "of_days": 8, "typical_time": "16:10"}}
    return encode_object({"office": office, "weeks": 8, "until": day.isoformat(), "cells": cells,
                          "ran_out": ran_out})


def ticket_payload(day: date, label: str, state: str, recall: int = 0, ahead: int = 7) -> bytes:
    """Like hub/views.py ticket_view; benchmark markers travel in `recall` (the stream's JSON has it)."""
    now = datetime.now(UTC)
    view: dict[str, Any] = {"day": day.isoformat(), "label": label, "service": label[0], "state": state,
                            "issued_at": (now - timedelta(minutes=25)).isoformat(), "recall": recall}
    if state == "waiting":
        view.update(ahead=ahead, expected_wait_min=3 * ahead)
    elif state == "called":
        view.update(counter="platz-3", counter_name="Platz 3", called_at=now.isoformat())
    return encode_object(view)


def new_token() -> str:
    """A tracking token as kiosks make them: 160 random bits in base32."""
    return base64.b32encode(secrets.token_bytes(20)).decode()
