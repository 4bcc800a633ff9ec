"""When a ticket was issued, by the hub's clock: a kiosk's clock never orders the queue, picks the day or
feeds the statistics (docs/protocol.md §4, "Whose clock dates a ticket").

A Pi has no battery-backed clock: one that booted without time sync may be a month ahead or hours
behind. Its `issued_at` alone cannot tell a wrong clock from an event that waited on the kiosk while
the hub was away. The kiosk therefore also sends `sent_at`, its clock when it (re)sent the event:
`sent_at - issued_at` is how long the event waited on the kiosk, measured on one clock (its error
cancels out), and the hub dates the ticket `received - waited`. Pure: no clock, no MQTT.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from protocol.messages import TicketIssued

#: A kiosk clock further off than this (sent_at against the hub's receipt) is logged as skewed.
CLOCK_TOLERANCE = timedelta(seconds=60)
#: An event without `sent_at` (an older kiosk, a hand-made event): its `issued_at` is believed only
#: this far back and never beyond the receipt; outside that window the receipt dates it.
UNDATED_WINDOW = timedelta(minutes=10)


def hub_issued_at(event: TicketIssued, received: datetime, day_start: datetime,
                  earlier: datetime | None = None) -> datetime:
    """The time the hub files the ticket under: within [day_start, received], never the kiosk's clock.
    `earlier`: when the hub filed this kiosk's latest earlier ticket. A kiosk's tickets keep the order
    it issued them in: the wait measured on the kiosk jitters by milliseconds under load, and without
    this floor A003 could be filed a moment before A002 and be called first."""
    if event.sent_at is not None:
        waited = max(event.sent_at - event.issued_at, timedelta(0))
        at = received - waited
    elif received - UNDATED_WINDOW <= event.issued_at <= received:
        at = event.issued_at
    else:
        at = received
    return min(max(at, day_start, earlier or day_start), received)


def clock_skew(event: TicketIssued, received: datetime) -> timedelta | None:
    """How far the kiosk's clock is ahead of the hub's (negative: behind), or None when the event does
    not say. An event that waited at the broker for the hub looks behind by that wait."""
    return None if event.sent_at is None else event.sent_at - received


def describe(skew: timedelta) -> str:
    """`+30 d 0 h 0 min` / `-14 h 0 min`: a skew as a technician reads it."""
    sign = "+" if skew >= timedelta(0) else "-"
    total = int(abs(skew).total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h {minutes} min"
    return f"{sign}{hours} h {minutes} min" if hours else f"{sign}{minutes} min {seconds} s"
