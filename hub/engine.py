"""The queue engine of one office for one business day: pure state, no MQTT, no SQL, no clock.

Every input carries its time (`now`), so the hub can rebuild the exact state by replaying its input
log after a crash, and tests and simulations drive whole days in milliseconds. Invariants:
- a ticket id is ingested once (re-sent events change nothing);
- a ticket is called by at most one counter at a time (inputs are applied one by one);
- a repeated request id gets the first answer, never a second execution.
Commands are dispatched by their name in protocol/operations.py: operation `x` is the method `_x`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from hub.office import OfficeDef
from hub.policy import pick_service
from protocol.messages import CommandAnswer, TicketIssued, TicketVoided
from protocol.operations import ARG_MAX, COUNTER_OPS, OFFICE_OPS
from protocol.text import text_problem
from protocol.topics import token_hash

log = logging.getLogger("wartemarke.hub.engine")
RECENT_CALLS = 10


class TicketState(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    DONE = "done"
    NO_SHOW = "no_show"
    CLOSED = "closed"
    VOIDED = "voided"
    CANCELLED = "cancelled"  # given up by its holder (hub/citizen.py)


@dataclass
class Ticket:
    id: str
    label: str
    service: str
    number: int
    token_hash: str | None
    issued_at: datetime
    queued_at: datetime  # its place in the queue: arrival, kept on transfer unless configured otherwise
    device: str
    state: TicketState = TicketState.WAITING
    counter: str | None = None
    called_at: datetime | None = None
    finished_at: datetime | None = None
    recalls: int = 0
    issued_service: str = ""  # the service the number was issued for: `service` changes on transfer
    transfers: int = 0
    assumed_printed: bool = False  # the kiosk restarted before the print finished (docs/protocol.md §3.1)
    postponed: int = 0  # how often its holder moved it back (hub/citizen.py)

    def __post_init__(self) -> None:
        self.issued_service = self.issued_service or self.service


@dataclass
class Counter:
    id: str
    paused: bool = False
    seen: bool = False  # has sent a command today: a clerk is logged in
    current: str | None = None  # ticket id being served (state CALLED)
    last_active: datetime | None = None
    paused_at: datetime | None = None  # when the current pause began (None: not paused)


@dataclass(frozen=True)
class Call:
    label: str
    service: str
    counter: str
    called_at: datetime
    recall: int = 0


@dataclass(frozen=True)
class Handled:
    """One finished service, for the wait estimator and the day's statistics."""

    service: str
    counter: str
    minutes: float
    finished_at: datetime
    no_show: bool = False


@dataclass(frozen=True)
class Pause:
    """A counter's pause that has ended, for the wait estimator (how long pauses are today)."""

    counter: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ToldWait:
    """What a ticket was told at issue: the median wait and its 10 %–90 % range (minutes), for the
    hub's check of its own estimates (hub/calibration.py)."""

    service: str
    wait_min: float
    low_min: float
    high_min: float


@dataclass
class OfficeEngine:
    office: OfficeDef
    day: date
    tickets: dict[str, Ticket] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    calls_seq: int = 0
    closed_services: set[str] = field(default_factory=set)
    announcement: str = ""
    handled: list[Handled] = field(default_factory=list)
    issued_count: dict[str, int] = field(default_factory=dict)
    _results: dict[str, CommandAnswer] = field(default_factory=dict)  # request id → first answer
    # the same for citizen requests, by (token hash, request id): an id names a request of one ticket only
    citizen_answers: dict[tuple[str, str], CommandAnswer] = field(default_factory=dict)
    ratings: dict[str, tuple[int, bool | None]] = field(default_factory=dict)  # ticket id → (score, settled)
    closed_out: bool = False
    sold_out_at: dict[str, datetime] = field(default_factory=dict)  # when a service first stopped issuing
    refused: dict[str, str] = field(default_factory=dict)  # event id → kiosk: events of another day, refused
    pauses: list[Pause] = field(default_factory=list)  # ended pauses of today, in order
    told: dict[str, ToldWait] = field(default_factory=dict)  # ticket id → the wait told at issue
    # ticket id → the kiosk that had already issued its label today (a misconfigured kiosk_index, §7)
    duplicates: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for counter in self.office.counters:
            self.counters.setdefault(counter.id, Counter(counter.id))

    # -- tickets --------------------------------------------------------------------------------

    def ingest(self, event: TicketIssued | TicketVoided, now: datetime) -> bool:
        """Take a kiosk's event; False when it changes nothing (duplicate, other day, unknown service)."""
        if event.day != self.day:
            log.warning("ignoring %s %s of %s (business day is %s)", event.type, event.label, event.day, self.day)
            return False
        if self.office.service(event.service) is None:
            log.warning("ignoring %s %s: unknown service %r", event.type, event.label, event.service)
            return False
        existing = self.tickets.get(event.id)
        if isinstance(event, TicketVoided):
            if existing is not None and existing.state != TicketState.WAITING:
                return False
            if existing is not None:  # issued, then voided: it no longer counts towards a quota
                self.issued_count[existing.issued_service] -= 1
            self.tickets[event.id] = Ticket(event.id, event.label, event.service, event.number, None, now, now,
                                            event.device, state=TicketState.VOIDED)
            return existing is None or existing.state != TicketState.VOIDED
        if existing is not None:
            return False
        earlier = self.by_label(event.label)
        if earlier is not None:  # queued all the same: the citizen holds it (docs/protocol.md §7)
            self.duplicates[event.id] = earlier.device
        state = TicketState.CLOSED if self.closed_out else TicketState.WAITING
        self.tickets[event.id] = Ticket(event.id, event.label, event.service, event.number, token_hash(event.token),
                                        event.issued_at, event.issued_at, event.device, state=state,
                                        finished_at=now if self.closed_out else None,
                                        assumed_printed=event.assumed_printed)
        self.issued_count[event.service] = self.issued_count.get(event.service, 0) + 1
        return True

    def refuse(self, event_id: str, device: str) -> bool:
        """Remember a kiosk's event for another business day, refused (counted in its ack, never queued)."""
        if event_id in self.refused:
            return False
        self.refused[event_id] = device
        return True

    def refused_count(self, device: str) -> int:
        return sum(1 for d in self.refused.values() if d == device)

    def waiting(self, service: str | None = None) -> list[Ticket]:
        """Waiting tickets in queue order (by queue time, then label)."""
        found = [t for t in self.tickets.values() if t.state == TicketState.WAITING
                 and (service is None or t.service == service)]
        return sorted(found, key=lambda t: (t.queued_at, t.label))

    def by_label(self, label: str) -> Ticket | None:
        return next((t for t in self.tickets.values() if t.label == label and t.state != TicketState.VOIDED), None)

    # -- commands -------------------------------------------------------------------------------

    def counter_command(self, counter_id: str, op: str, args: dict[str, Any], request_id: str,
                        now: datetime) -> CommandAnswer:
        """Apply a clerk's command once; a repeated request id returns the first result."""
        if request_id in self._results:
            return self._results[request_id]
        result = self._counter_op(counter_id, op, args, now)
        self._results[request_id] = result
        return result

    def previous_answer(self, request_id: str) -> CommandAnswer | None:
        """The answer a request id already got today, if any (a repeated request is not executed)."""
        return self._results.get(request_id)

    def office_command(self, op: str, args: dict[str, Any], request_id: str, now: datetime) -> CommandAnswer:
        if request_id in self._results:
            return self._results[request_id]
        result = self._office_op(op, args)
        self._results[request_id] = result
        return result

    def _counter_op(self, counter_id: str, op: str, args: dict[str, Any], now: datetime) -> CommandAnswer:
        defn = self.office.counter(counter_id)
        if defn is None:
            return CommandAnswer(False, f"unknown counter {counter_id!r}")
        counter = self.counters[counter_id]
        counter.seen, counter.last_active = True, now
        if op not in COUNTER_OPS:
            return CommandAnswer(False, f"unknown operation {op!r}", counter=counter_id)
        handler: Callable[[Counter, dict[str, Any], datetime], CommandAnswer] = getattr(self, f"_{op}")
        return handler(counter, args, now)

    def _finish_current(self, counter: Counter, now: datetime, state: TicketState) -> Ticket | None:
        if counter.current is None:
            return None
        ticket = self.tickets[counter.current]
        ticket.state, ticket.finished_at = state, now
        counter.current = None
        if ticket.called_at is not None:
            minutes = (now - ticket.called_at).total_seconds() / 60
            self.handled.append(Handled(ticket.service, counter.id, minutes, now, state == TicketState.NO_SHOW))
        return ticket

    def _next(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        if counter.paused:
            return CommandAnswer(False, "counter is paused", counter=counter.id)
        self._finish_current(counter, now, TicketState.DONE)  # "next" also completes the current ticket
        defn = self.office.counter(counter.id)
        assert defn is not None
        heads = {}
        for service in defn.services:
            queue = self.waiting(service)
            if queue:
                heads[service] = queue[0]
        chosen = pick_service(defn, {s: t.queued_at for s, t in heads.items()}, now)
        if chosen is None:
            return CommandAnswer(False, "nobody is waiting", counter=counter.id)
        return self._call(counter, heads[chosen], now)

    def _call(self, counter: Counter, ticket: Ticket, now: datetime, recall: int = 0) -> CommandAnswer:
        ticket.state, ticket.counter, ticket.called_at = TicketState.CALLED, counter.id, now
        ticket.recalls = recall
        counter.current = ticket.id
        self._announce_call(Call(ticket.label, ticket.service, counter.id, now, recall))
        return CommandAnswer(True, label=ticket.label, service=ticket.service, counter=counter.id)

    def _announce_call(self, call: Call) -> None:
        self.calls.insert(0, call)
        del self.calls[RECENT_CALLS:]
        self.calls_seq += 1

    def _recall(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        if counter.current is None:
            return CommandAnswer(False, "no ticket is being served", counter=counter.id)
        ticket = self.tickets[counter.current]
        ticket.recalls += 1
        self._announce_call(Call(ticket.label, ticket.service, counter.id, now, ticket.recalls))
        return CommandAnswer(True, label=ticket.label, service=ticket.service, counter=counter.id)

    def _done(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        ticket = self._finish_current(counter, now, TicketState.DONE)
        if ticket is None:
            return CommandAnswer(False, "no ticket is being served", counter=counter.id)
        return CommandAnswer(True, label=ticket.label, service=ticket.service, counter=counter.id)

    def _no_show(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        ticket = self._finish_current(counter, now, TicketState.NO_SHOW)
        if ticket is None:
            return CommandAnswer(False, "no ticket is being served", counter=counter.id)
        return CommandAnswer(True, label=ticket.label, service=ticket.service, counter=counter.id)

    def _reactivate(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        """A no-show who turns up within the grace period is called to this counter straight away."""
        label = args.get("label")
        ticket = self.by_label(label) if isinstance(label, str) else None
        if ticket is None or ticket.state != TicketState.NO_SHOW:
            return CommandAnswer(False, f"{label} is not a no-show today", counter=counter.id)
        assert ticket.finished_at is not None
        if now - ticket.finished_at > timedelta(minutes=self.office.no_show_grace_min):
            return CommandAnswer(False, f"{label}: the grace period of {self.office.no_show_grace_min:.0f} min "
                                 "is over", counter=counter.id)
        if counter.paused:
            return CommandAnswer(False, "counter is paused", counter=counter.id)
        self._finish_current(counter, now, TicketState.DONE)
        ticket.finished_at = None
        return self._call(counter, ticket, now)

    def _transfer(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        target = args.get("service")
        if not isinstance(target, str) or self.office.service(target) is None:
            return CommandAnswer(False, f"unknown service {target!r}", counter=counter.id)
        if counter.current is None:
            return CommandAnswer(False, "no ticket is being served", counter=counter.id)
        ticket = self.tickets[counter.current]
        counter.current = None
        ticket.service = target
        ticket.transfers += 1
        ticket.state, ticket.counter, ticket.called_at = TicketState.WAITING, None, None
        if not self.office.transfer_keeps_place:
            ticket.queued_at = now
        return CommandAnswer(True, label=ticket.label, service=target, counter=counter.id)

    def _pause(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        self._finish_current(counter, now, TicketState.DONE)
        if not counter.paused:
            counter.paused_at = now
        counter.paused = True
        return CommandAnswer(True, counter=counter.id)

    def _resume(self, counter: Counter, args: dict[str, Any], now: datetime) -> CommandAnswer:
        if counter.paused and counter.paused_at is not None:
            self.pauses.append(Pause(counter.id, counter.paused_at, now))
        counter.paused, counter.paused_at = False, None
        return CommandAnswer(True, counter=counter.id)

    def _office_op(self, op: str, args: dict[str, Any]) -> CommandAnswer:
        if op not in OFFICE_OPS:
            return CommandAnswer(False, f"unknown operation {op!r}")
        handler: Callable[[dict[str, Any]], CommandAnswer] = getattr(self, f"_{op}")
        return handler(args)

    def _announce(self, args: dict[str, Any]) -> CommandAnswer:
        text = args.get("text", "")
        problem = text_problem(text, ARG_MAX)
        if problem is not None:
            return CommandAnswer(False, f"the announcement {problem}")
        self.announcement = text
        return CommandAnswer(True)

    def _open_service(self, args: dict[str, Any]) -> CommandAnswer:
        return self._issuing(args.get("service"), closed=False)

    def _close_service(self, args: dict[str, Any]) -> CommandAnswer:
        return self._issuing(args.get("service"), closed=True)

    def _issuing(self, service: Any, closed: bool) -> CommandAnswer:
        if not isinstance(service, str) or self.office.service(service) is None:
            return CommandAnswer(False, f"unknown service {service!r}")
        if closed:
            self.closed_services.add(service)
        else:
            self.closed_services.discard(service)
        return CommandAnswer(True, service=service)

    def record_told(self, ticket_id: str, told: ToldWait) -> bool:
        """Remember the wait a ticket was told when it was issued (the first record counts)."""
        if ticket_id in self.told or ticket_id not in self.tickets:
            return False
        self.told[ticket_id] = told
        return True

    def mark_sold_out(self, service: str, now: datetime) -> bool:
        """Record the first time today a service stopped issuing for lack of capacity or quota."""
        if service in self.sold_out_at or self.office.service(service) is None:
            return False
        self.sold_out_at[service] = now
        return True

    # -- the end of the day ---------------------------------------------------------------------

    def close_out(self, now: datetime) -> list[Ticket]:
        """At closing time: every ticket still waiting becomes `closed` (tracking pages stop saying
        "waiting"); tickets being served stay with their counter until done."""
        self.closed_out = True
        closed = self.waiting()
        for ticket in closed:
            ticket.state, ticket.finished_at = TicketState.CLOSED, now
        return closed

    # -- views ----------------------------------------------------------------------------------

    def present_counters(self) -> list[str]:
        """Counters with a clerk: sent a command today and not paused."""
        return [c.id for c in self.counters.values() if c.seen and not c.paused]

    def last_numbers(self, device: str) -> dict[str, int]:
        """The highest number per service a kiosk has issued (or voided) today, for its ack — by the
        service the number was issued for: a transfer moves the ticket, not its number."""
        last: dict[str, int] = {}
        for ticket in self.tickets.values():
            if ticket.device == device:
                service = ticket.issued_service
                last[service] = max(last.get(service, 0), ticket.number)
        return last
