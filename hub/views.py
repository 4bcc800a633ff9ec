"""The retained messages the hub publishes, built from the engine and the forecast (pure): each is a
type of the contract (protocol/messages/), so what goes out is what every consumer parses."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.calibration import todays_calibration
from hub.citizen import rating_counts
from hub.engine import OfficeEngine, Ticket, TicketState
from hub.estimate import Forecast, expected_wait_min, wait_range_min
from hub.office import OfficeDef
from protocol.businessday import WEEKDAYS
from protocol.messages import (
    AmpelBands,
    Call,
    CallsState,
    CounterInfo,
    CounterState,
    Location,
    OfficeInfo,
    QueueState,
    ServiceInfo,
    ServiceQueue,
    TicketView,
)
from protocol.wait_range import shown_range


def queue_state(engine: OfficeEngine, fc: Forecast, issuing: dict[str, tuple[bool, str | None]],
                now: datetime) -> QueueState:
    office = engine.office
    open_now = office.is_open(engine.day, now)
    checked = todays_calibration(engine)
    rated = rating_counts(engine)
    services = []
    for service in office.services:
        ok, reason = issuing[service.id]
        wait = fc.new_wait_min[service.id]
        spread = fc.new_range_min.get(service.id)
        told = None if wait is None else round(wait)
        cal = checked.get(service.id)
        services.append(ServiceQueue(
            service=service.id, waiting=len(engine.waiting(service.id)),
            expected_wait_min=told, issuing=ok, reason=reason,
            ampel=office.ampel.level(wait, ok, open_now),
            wait_range_min=None if told is None or spread is None else
            (min(round(spread[0]), told), max(round(spread[1]), told)),
            calibration=cal.message() if cal is not None and cal.called else None, ratings=rated.get(service.id)))
    return QueueState(day=engine.day, at=now, services=tuple(services))


def calls_state(engine: OfficeEngine) -> CallsState:
    names = {c.id: c.name for c in engine.office.counters}
    return CallsState(day=engine.day, seq=engine.calls_seq, calls=tuple(
        Call(c.label, c.service, c.counter, names.get(c.counter, c.counter), c.called_at, c.recall)
        for c in engine.calls))


def counter_state(engine: OfficeEngine, counter_id: str) -> CounterState:
    counter = engine.counters[counter_id]
    if counter.current is not None:
        ticket = engine.tickets[counter.current]
        return CounterState(engine.day, counter_id, "serving", ticket.label, ticket.service,
                            postponed=ticket.postponed or None)
    return CounterState(engine.day, counter_id, "paused" if counter.paused else "idle")


def ticket_view(engine: OfficeEngine, ticket: Ticket, fc: Forecast, now: datetime) -> TicketView:
    """One ticket's tracking state. Never the token; nothing about other tickets but a count."""
    day, label, service, state, issued_at = engine.day, ticket.label, ticket.service, ticket.state, ticket.issued_at
    if state == TicketState.WAITING:
        return TicketView(day, label, service, state.value, issued_at, ahead=fc.ahead.get(ticket.id, 0),
                          expected_wait_min=expected_wait_min(fc, ticket, now),
                          wait_range_min=wait_range_min(fc, ticket, now), postponed=ticket.postponed or None)
    if state == TicketState.CALLED and ticket.counter is not None:
        counter = engine.office.counter(ticket.counter)
        return TicketView(day, label, service, state.value, issued_at, counter=ticket.counter,
                          counter_name=counter.name if counter else ticket.counter, called_at=ticket.called_at,
                          recall=ticket.recalls)
    if state == TicketState.NO_SHOW and ticket.finished_at is not None:
        grace_until = ticket.finished_at + timedelta(minutes=engine.office.no_show_grace_min)
        return TicketView(day, label, service, state.value, issued_at,
                          grace_until=grace_until.astimezone(engine.office.timezone))
    if state == TicketState.DONE and ticket.id in engine.ratings:
        return TicketView(day, label, service, state.value, issued_at, rated=True)
    return TicketView(day, label, service, state.value, issued_at)


def as_shown(view: dict[str, Any]) -> dict[str, Any]:
    """What a tracking page shows of a ticket view (`TicketView.to_dict()`; protocol/wait_range.py): the
    wait as the page shows it — the range rounded as pages round it, or the median where no range is
    shown — instead of the figures to the minute. The publisher republishes a view only when this
    changes, not for a forecast that moved by less than a page shows."""
    shown = dict(view)
    spread = shown_range(shown.pop("wait_range_min", None))
    if spread is not None and shown.get("expected_wait_min") is not None:
        shown["expected_wait_min"] = spread
    return shown


def office_info(office: OfficeDef, engine: OfficeEngine, hub: str | None = None) -> OfficeInfo:
    """`hub`: the hub's device id (only its status topic speaks for the hub)."""
    return OfficeInfo(
        day=engine.day, name=office.name, timezone=office.timezone.key,
        hours={WEEKDAYS[d]: tuple(f"{s:%H:%M}-{e:%H:%M}" for s, e in intervals)
               for d, intervals in sorted(office.hours.items())},
        services=tuple(ServiceInfo(s.id, s.name_de, s.name_en) for s in office.services),
        counters=tuple(CounterInfo(c.id, c.name, tuple(c.services)) for c in office.counters),
        announcement=engine.announcement, hub=hub,
        ampel=AmpelBands(office.ampel.green_max_min, office.ampel.yellow_max_min),
        location=None if office.location is None else Location(*office.location))
