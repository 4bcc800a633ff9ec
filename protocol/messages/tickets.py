"""Kiosk ↔ hub: ticket events (`…/kiosk/{device}/ticket`) and the hub's receipt (`…/kiosk/{device}/ack`),
docs/protocol.md §3.1–§3.3 and §4."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from protocol.fields import LABEL_RE, SERVICE_RE, TICKET_ID_RE, Fields, InvalidMessage


@dataclass(frozen=True)
class TicketIssued:
    """A ticket that was handed out (or, after a crash mid-print, is assumed to have been)."""

    id: str
    token: str
    service: str
    number: int
    label: str
    issued_at: datetime
    day: date
    device: str
    seq: int
    # The lowest seq still in the kiosk's outbox when it sent this: everything below was acknowledged by
    # a hub and deleted, so a hub restored from an older backup must not wait for it (docs/protocol.md §7).
    pending_from: int | None = None
    # The kiosk restarted between allocating this number and learning the print's outcome: it may or may
    # not have come out of the printer (docs/protocol.md §3.1). Sent only when true.
    assumed_printed: bool = False
    # When the kiosk (re)sent this, by the kiosk's clock: `sent_at - issued_at` is how long the event
    # waited on the kiosk, measured on one clock, so the hub can date the ticket by its own clock
    # (docs/protocol.md §4, "Whose clock dates a ticket").
    sent_at: datetime | None = None

    type = "ticket.issued"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type, "id": self.id, "token": self.token, "service": self.service,
            "number": self.number, "label": self.label, "issued_at": self.issued_at.isoformat(),
            "day": self.day.isoformat(), "device": self.device, "seq": self.seq,
        }
        if self.assumed_printed:
            data["assumed_printed"] = True
        if self.sent_at is not None:
            data["sent_at"] = self.sent_at.isoformat()
        return _with_pending_from(data, self.pending_from)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketIssued:
        f = Fields(data, cls.type)
        return cls(
            id=f.text("id", TICKET_ID_RE), token=f.token("token"),
            service=f.text("service", SERVICE_RE), number=f.integer("number", 1),
            label=f.text("label", LABEL_RE), issued_at=f.time("issued_at"),
            day=f.day(), device=f.slug("device"), seq=f.integer("seq", 1),
            pending_from=f.opt_integer("pending_from", 1),
            assumed_printed=f.flag("assumed_printed") if data.get("assumed_printed") is not None else False,
            sent_at=f.opt_time("sent_at"),
        )


def _with_pending_from(data: dict[str, Any], pending_from: int | None) -> dict[str, Any]:
    if pending_from is not None:
        data["pending_from"] = pending_from
    return data


@dataclass(frozen=True)
class TicketVoided:
    """A number that was allocated but never handed out (the printer failed)."""

    id: str
    reason: str
    service: str
    number: int
    label: str
    day: date
    device: str
    seq: int
    pending_from: int | None = None  # as in TicketIssued

    type = "ticket.voided"

    def to_dict(self) -> dict[str, Any]:
        data = {
            "type": self.type, "id": self.id, "reason": self.reason, "service": self.service,
            "number": self.number, "label": self.label, "day": self.day.isoformat(),
            "device": self.device, "seq": self.seq,
        }
        return _with_pending_from(data, self.pending_from)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketVoided:
        f = Fields(data, cls.type)
        return cls(
            id=f.text("id", TICKET_ID_RE), reason=f.human("reason", 200),
            service=f.text("service", SERVICE_RE), number=f.integer("number", 1),
            label=f.text("label", LABEL_RE), day=f.day(), device=f.slug("device"), seq=f.integer("seq", 1),
            pending_from=f.opt_integer("pending_from", 1),
        )


TicketEvent = TicketIssued | TicketVoided


def ticket_event_from_dict(data: Mapping[str, Any]) -> TicketEvent:
    kind = data.get("type")
    if kind == TicketIssued.type:
        return TicketIssued.from_dict(data)
    if kind == TicketVoided.type:
        return TicketVoided.from_dict(data)
    raise InvalidMessage(f"ticket event: unknown type {kind!r}")


@dataclass(frozen=True)
class Ack:
    """The hub's retained receipt for one kiosk: everything up to `seq` is durably ingested."""

    seq: int
    day: date
    last: dict[str, int] = field(default_factory=dict)
    refused: int = 0  # this kiosk's events of another day that the hub refused on `day`; sent when > 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"seq": self.seq, "day": self.day.isoformat(), "last": dict(self.last)}
        if self.refused:
            data["refused"] = self.refused
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ack:
        f = Fields(data, "ack")
        last_raw = f.mapping("last")
        last: dict[str, int] = {}
        for service, number in last_raw.items():
            if not SERVICE_RE.match(service) or isinstance(number, bool) or not isinstance(number, int) \
                    or number < 0:
                raise f.fail("last", f"has an invalid entry {service!r}: {number!r}")
            last[service] = number
        return cls(seq=f.integer("seq"), day=f.day(), last=last, refused=f.opt_integer("refused") or 0)
