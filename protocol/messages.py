"""Message types of the contract, each with `to_dict()` and a validating `from_dict()`.

`from_dict` raises `InvalidMessage` (naming the field) for anything off-contract; unknown fields are
ignored so newer publishers do not break older consumers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from protocol.businessday import WEEKDAYS
from protocol.fields import LABEL_RE, SERVICE_RE, SLUG_RE, Fields, InvalidMessage
from protocol.text import text_problem

TOKEN_RE = re.compile(r"^[A-Z2-7]{26,64}\Z")
TIMEZONE_RE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*\Z")
INTERVAL_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]\Z")
TICKET_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}\Z")
AMPEL_LEVELS = ("green", "yellow", "red", "closed")


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

    type = "ticket.issued"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type, "id": self.id, "token": self.token, "service": self.service,
            "number": self.number, "label": self.label, "issued_at": self.issued_at.isoformat(),
            "day": self.day.isoformat(), "device": self.device, "seq": self.seq,
        }
        if self.assumed_printed:
            data["assumed_printed"] = True
        return _with_pending_from(data, self.pending_from)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketIssued:
        f = Fields(data, cls.type)
        return cls(
            id=f.text("id", TICKET_ID_RE), token=f.text("token", TOKEN_RE),
            service=f.text("service", SERVICE_RE), number=f.integer("number", 1),
            label=f.text("label", LABEL_RE), issued_at=f.time("issued_at"),
            day=f.day(), device=f.slug("device"), seq=f.integer("seq", 1),
            pending_from=f.opt_integer("pending_from", 1),
            assumed_printed=f.flag("assumed_printed") if data.get("assumed_printed") is not None else False,
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


@dataclass(frozen=True)
class WaitCalibration:
    """How the waits told today for one service held against the actual waits (hub/calibration.py)."""

    called: int
    median_abs_error_min: float | None = None
    bias_min: float | None = None
    called_before_share: float | None = None
    late_share: float | None = None
    below_range_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitCalibration:
        f = Fields(data, "queue.services[].calibration")
        return cls(
            called=f.integer("called"),
            median_abs_error_min=f.opt_number("median_abs_error_min", 0.0, 1e4),
            bias_min=f.opt_number("bias_min", -1e4, 1e4),
            called_before_share=f.opt_number("called_before_share", 0.0, 1.0),
            late_share=f.opt_number("late_share", 0.0, 1.0),
            below_range_share=f.opt_number("below_range_share", 0.0, 1.0),
        )


@dataclass(frozen=True)
class ServiceQueue:
    """One service's load as the hub sees it."""

    service: str
    waiting: int
    expected_wait_min: int | None
    issuing: bool
    reason: str | None = None
    ampel: str = "green"
    wait_range_min: tuple[int, int] | None = None  # 10 % and 90 % quantiles of a new ticket's wait
    calibration: WaitCalibration | None = None  # today's told waits against the actual ones

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "service": self.service, "waiting": self.waiting, "expected_wait_min": self.expected_wait_min,
            "issuing": self.issuing, "reason": self.reason, "ampel": self.ampel,
        }
        if self.wait_range_min is not None:
            data["wait_range_min"] = list(self.wait_range_min)
        if self.calibration is not None:
            data["calibration"] = self.calibration.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceQueue:
        f = Fields(data, "queue.services[]")
        ampel = f.text("ampel")
        if ampel not in AMPEL_LEVELS:
            raise f.fail("ampel", f"must be one of {', '.join(AMPEL_LEVELS)}")
        calibration = data.get("calibration")
        if calibration is not None and not isinstance(calibration, dict):
            raise f.fail("calibration", "must be an object")
        expected = f.opt_integer("expected_wait_min")
        return cls(
            service=f.text("service", SERVICE_RE), waiting=f.integer("waiting"),
            expected_wait_min=expected, issuing=f.flag("issuing"),
            reason=f.opt_human("reason", 200), ampel=ampel, wait_range_min=wait_range(f, expected),
            calibration=None if calibration is None else WaitCalibration.from_dict(calibration),
        )


def wait_range(f: Fields, expected: int | None) -> tuple[int, int] | None:
    """An optional `wait_range_min`: [low, high] whole minutes, low ≤ expected_wait_min ≤ high."""
    value = f.data.get("wait_range_min")
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**31 for v in value)
            and value[0] <= value[1]):
        raise f.fail("wait_range_min", "must be [low, high], whole minutes with 0 ≤ low ≤ high")
    if expected is not None and not value[0] <= expected <= value[1]:
        raise f.fail("wait_range_min", "must contain expected_wait_min")
    return value[0], value[1]


@dataclass(frozen=True)
class QueueState:
    """The office's retained queue summary, republished on every change and at least every minute."""

    day: date
    at: datetime
    services: tuple[ServiceQueue, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "at": self.at.isoformat(),
                "services": [s.to_dict() for s in self.services]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueState:
        f = Fields(data, "queue")
        services = []
        for item in f.array("services"):
            if not isinstance(item, dict):
                raise f.fail("services", "must be a list of objects")
            services.append(ServiceQueue.from_dict(item))
        return cls(day=f.day(), at=f.time("at"), services=tuple(services))

    def service(self, service_id: str) -> ServiceQueue | None:
        return next((s for s in self.services if s.service == service_id), None)


@dataclass(frozen=True)
class DeviceStatus:
    """A device's retained availability and health (ESPHome style: last will says offline)."""

    online: bool
    role: str
    version: str | None = None
    at: datetime | None = None
    clock_synced: bool | None = None
    health: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.health)
        out.update({"online": self.online, "role": self.role})
        if self.version is not None:
            out["version"] = self.version
        if self.at is not None:
            out["at"] = self.at.isoformat()
        if self.clock_synced is not None:
            out["clock_synced"] = self.clock_synced
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceStatus:
        f = Fields(data, "device status")
        known = {"v", "online", "role", "version", "at", "clock_synced"}
        return cls(
            online=f.flag("online"), role=f.text("role", SLUG_RE), version=f.opt_human("version", 80),
            at=f.time("at") if data.get("at") is not None else None,
            clock_synced=f.flag("clock_synced") if data.get("clock_synced") is not None else None,
            health={k: v for k, v in data.items() if k not in known},
        )


COMMAND_OPS = ("next", "recall", "no_show", "reactivate", "done", "transfer", "pause", "resume")
OFFICE_OPS = ("announce", "open_service", "close_service")
COMMAND_ARGS = ("label", "service", "text")
COMMAND_TEXT_MAX = 300  # the announcement's limit; labels and services are far shorter


@dataclass(frozen=True)
class CommandRequest:
    """A clerk's or supervisor's command; `id` makes a repeated request return the first answer."""

    id: str
    op: str
    args: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, **self.args}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], ops: tuple[str, ...]) -> CommandRequest:
        f = Fields(data, "command")
        op = f.text("op", max_len=40)
        if op not in ops:
            raise f.fail("op", f"must be one of {', '.join(ops)}; got {op!r}")
        args: dict[str, Any] = {}
        for key in COMMAND_ARGS:
            if data.get(key) is not None:
                args[key] = f.human(key, COMMAND_TEXT_MAX)
        return cls(id=f.text("id", TICKET_ID_RE), op=op, args=args)

    def __post_init__(self) -> None:
        """The builder keeps the parser's rule: a request the hub would refuse is never built."""
        for key, value in self.args.items():
            problem = "is not an argument of any command" if key not in COMMAND_ARGS else \
                text_problem(value, COMMAND_TEXT_MAX)
            if problem is not None:
                raise InvalidMessage(f"command: field '{key}' {problem}")


@dataclass(frozen=True)
class Call:
    label: str
    service: str
    counter: str
    counter_name: str
    called_at: datetime
    recall: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "service": self.service, "counter": self.counter,
                "counter_name": self.counter_name, "called_at": self.called_at.isoformat(), "recall": self.recall}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        f = Fields(data, "calls.calls[]")
        return cls(label=f.text("label", LABEL_RE), service=f.text("service", SERVICE_RE), counter=f.slug("counter"),
                   counter_name=f.human("counter_name", 80), called_at=f.time("called_at"),
                   recall=f.integer("recall"))


MAX_CALLS = 20


@dataclass(frozen=True)
class CallsState:
    """The office's recent calls, newest first; `seq` grows by one with every change."""

    day: date
    seq: int
    calls: tuple[Call, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "seq": self.seq, "calls": [c.to_dict() for c in self.calls]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallsState:
        f = Fields(data, "calls")
        calls = []
        for item in f.array("calls")[:MAX_CALLS]:  # a hostile list of thousands costs nothing
            if not isinstance(item, dict):
                raise f.fail("calls", "must be a list of objects")
            calls.append(Call.from_dict(item))
        return cls(day=f.day(), seq=f.integer("seq"), calls=tuple(calls))


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

