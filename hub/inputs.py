"""What the hub commits to its input log before acting on it (hub/runtime.py): one dataclass per kind of
input, and their one stored form.

The stored form (`kind`, JSON payload) of every kind is the one the hub has always written, so a hub
upgraded in the middle of a day replays the log its older version wrote, and an older version replays
what this one writes (tests/test_hub_input_log.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from hub.engine import ToldWait
from protocol.messages import TicketEvent, ticket_event_from_dict


@dataclass(frozen=True)
class TicketInput:
    """A kiosk's ticket event of the hub's day (as logged: without `pending_from`)."""

    at: datetime
    event: TicketEvent
    kind: ClassVar[str] = "ticket"

    def payload(self) -> dict[str, Any]:
        return self.event.to_dict()

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> TicketInput:
        return cls(at, ticket_event_from_dict(payload))


@dataclass(frozen=True)
class RefusedInput:
    """A kiosk's event of another business day: refused, remembered for the count in the kiosk's ack."""

    at: datetime
    id: str
    device: str
    label: str
    day: date
    type: str
    kind: ClassVar[str] = "refused"

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "device": self.device, "label": self.label, "day": self.day.isoformat(),
                "type": self.type}

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> RefusedInput:
        return cls(at, payload["id"], payload["device"], payload["label"], date.fromisoformat(payload["day"]),
                   payload["type"])


@dataclass(frozen=True)
class CounterInput:
    """A clerk's command to a counter (its arguments as received: an older log may hold any)."""

    at: datetime
    counter: str
    op: str
    args: dict[str, Any]
    id: str
    kind: ClassVar[str] = "counter"

    def payload(self) -> dict[str, Any]:
        return {"counter": self.counter, "op": self.op, "args": self.args, "id": self.id}

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> CounterInput:
        return cls(at, payload["counter"], payload["op"], payload.get("args", {}), payload["id"])


@dataclass(frozen=True)
class OfficeInput:
    """A supervisor's command to the office."""

    at: datetime
    op: str
    args: dict[str, Any]
    id: str
    kind: ClassVar[str] = "office"

    def payload(self) -> dict[str, Any]:
        return {"op": self.op, "args": self.args, "id": self.id}

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> OfficeInput:
        return cls(at, payload["op"], payload.get("args", {}), payload["id"])


@dataclass(frozen=True)
class CloseOutInput:
    """Closing time: the tickets still waiting are closed out."""

    at: datetime
    kind: ClassVar[str] = "close_out"

    def payload(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> CloseOutInput:
        return cls(at)


@dataclass(frozen=True)
class SoldOutInput:
    """The first time today a service stopped issuing for lack of capacity or quota (for the history)."""

    at: datetime
    service: str
    kind: ClassVar[str] = "sold_out"

    def payload(self) -> dict[str, Any]:
        return {"service": self.service}

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> SoldOutInput:
        return cls(at, payload["service"])


@dataclass(frozen=True)
class ToldInput:
    """What new tickets were told at issue (ticket id → wait), for the hub's check of its estimates."""

    at: datetime
    tickets: dict[str, ToldWait]
    kind: ClassVar[str] = "told"

    def payload(self) -> dict[str, Any]:
        return {"tickets": {tid: [w.service, w.wait_min, w.low_min, w.high_min] for tid, w in self.tickets.items()}}

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> ToldInput:
        return cls(at, {tid: ToldWait(*told) for tid, told in payload["tickets"].items()})


@dataclass(frozen=True)
class CitizenInput:
    """A ticket holder's request (hub/citizen.py): by the token's hash, never the token, with the places a
    postponement moves the ticket as computed when it arrived, or a rating."""

    at: datetime
    op: str
    token_hash: str
    id: str
    places: int
    rating: tuple[int, bool | None] | None = None  # a `rate`'s score and settled
    kind: ClassVar[str] = "citizen"

    def payload(self) -> dict[str, Any]:
        data = {"op": self.op, "token_hash": self.token_hash, "id": self.id, "places": self.places}
        return data if self.rating is None else {**data, "rating": list(self.rating)}

    @classmethod
    def from_payload(cls, at: datetime, payload: dict[str, Any]) -> CitizenInput:
        rating = payload.get("rating")
        return cls(at, payload["op"], payload["token_hash"], payload["id"], payload["places"],
                   None if rating is None else (rating[0], rating[1]))


Input = (TicketInput | RefusedInput | CounterInput | OfficeInput | CloseOutInput | SoldOutInput | ToldInput
         | CitizenInput)
KINDS: dict[str, type[Input]] = {cls.kind: cls for cls in (TicketInput, RefusedInput, CounterInput, OfficeInput,
                                                           CloseOutInput, SoldOutInput, ToldInput, CitizenInput)}


def encode(item: Input) -> tuple[str, str]:
    """The stored form: (kind, JSON payload)."""
    return item.kind, json.dumps(item.payload())


def decode(kind: str, at: datetime, payload: str) -> Input:
    found = KINDS.get(kind)
    if found is None:
        raise ValueError(f"unknown input kind {kind!r}")
    return found.from_payload(at, json.loads(payload))
