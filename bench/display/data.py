"""The board's data as the hub would publish it: retained `calls` states, `info` and `queue`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from protocol.fields import encode_object
from protocol.messages import Call, CallsState

OFFICE = "bench-display"
BERLIN = ZoneInfo("Europe/Berlin")
KEEP_CALLS = 10  # the hub's calls state holds its 10 most recent calls (hub/engine.py RECENT_CALLS)


def today() -> date:
    return datetime.now(UTC).astimezone(BERLIN).date()


class CallSeries:
    """Retained `calls` states: newest first, the 10 most recent, seq growing by one per call."""

    def __init__(self, day: date, first_number: int = 100) -> None:
        from display.sample import sample_calls

        self.day = day
        initial = sample_calls(day, datetime.now(UTC))
        self.seq = initial.seq
        self.calls: tuple[Call, ...] = initial.calls
        self.number = first_number

    def state(self) -> CallsState:
        return CallsState(day=self.day, seq=self.seq, calls=self.calls)

    def next(self) -> tuple[int, str, CallsState]:
        self.number += 1
        counter = self.number % 6 + 1
        label = f"A{self.number:03d}"
        call = Call(label, "A", f"platz-{counter}", f"Platz {counter}", datetime.now(UTC), 0)
        self.calls = (call, *self.calls)[:KEEP_CALLS]
        self.seq += 1
        return self.seq, label, self.state()


def info_payload(day: date) -> bytes:
    from display.sample import sample_info

    info = sample_info(day)
    return json.dumps({
        "v": 1, "day": day.isoformat(), "name": info.name, "timezone": info.timezone,
        "hours": {k: list(v) for k, v in info.hours.items()},
        "services": [{"id": s.id, "name": {"de": s.name_de, "en": s.name_en}} for s in info.services],
        "counters": [{"id": c.id, "name": c.name} for c in info.counters], "announcement": info.announcement,
    }).encode()


def queue_payload(day: date) -> bytes:
    from display.sample import sample_queue

    return encode_object(sample_queue(day, datetime.now(UTC)).to_dict())
