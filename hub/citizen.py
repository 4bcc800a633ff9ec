"""A ticket holder's own operations (docs/protocol.md §3.12): "Ich brauche mehr Zeit" moves a waiting
ticket back, "Ich komme nicht mehr" cancels it, and after the visit a rating (once). Pure logic on the
engine: no MQTT, no SQL, no clock.

Only the ticket's token authorises them (the hub passes its hash). A repeated request id gets the first
answer and changes nothing — a repeat for the same ticket: the same id with another ticket's token is
that ticket's own new request; the answer's `error` is one of protocol's CITIZEN_REFUSALS, worded by the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from hub.engine import OfficeEngine, Ticket, TicketState
from protocol.messages import MAX_POSTPONES, CommandAnswer, Ratings
from protocol.messages.citizen import CALLED, ENDED, NOBODY_BEHIND, NOT_SERVED, POSTPONED_TWICE, RATED, UNKNOWN_TICKET

MAX_REQUESTS_PER_TICKET = 20  # logged per ticket and day: a holder needs a handful; more is a flood
POSTPONE_MINUTES = 15  # "more time" is about this many minutes' worth of places
AFTER = timedelta(microseconds=1)  # a moved ticket's queue time: just after the one it lets go first


def postpone_places(own_start: datetime | None, behind_starts: list[datetime | None]) -> int:
    """How many places "more time" moves a ticket back: the tickets of its service behind it that the hub
    expects to call within POSTPONE_MINUTES after this one (medians of its forecast) — the office's own
    pace, counters and services included — and at least one (the next) when anyone waits behind it."""
    if not behind_starts:
        return 0
    if own_start is None:
        return 1
    until = own_start + timedelta(minutes=POSTPONE_MINUTES)
    return max(1, sum(1 for start in behind_starts if start is not None and start <= until))


def places_for(engine: OfficeEngine, token_hash: str, start: Mapping[str, datetime | None]) -> int:
    """`postpone_places` for the ticket of `token_hash`, from the forecast's median call times (`start`)."""
    ticket = holder(engine, token_hash)
    if ticket is None or ticket.state != TicketState.WAITING:
        return 0
    return postpone_places(start.get(ticket.id), [start.get(t.id) for t in behind(engine, ticket)])


def citizen_request(engine: OfficeEngine, op: str, token_hash: str, request_id: str, places: int,
                    now: datetime, rating: tuple[int, bool | None] | None = None) -> CommandAnswer:
    """Carry out `op` once on the ticket whose token hashes to `token_hash` (a repeat gets the first answer).
    `places`: what `postpone_places` gave when the request arrived (logged with it, so a replay moves the
    ticket exactly as far); `rating`: a `rate`'s score and whether the concern was settled."""
    known = engine.citizen_answers.get((token_hash, request_id))
    if known is not None:
        return known
    ticket = holder(engine, token_hash)
    if ticket is None:
        answer = CommandAnswer.refused(UNKNOWN_TICKET)
    elif op == "rate":
        answer = _rate(engine, ticket, rating)
    elif ticket.state == TicketState.CALLED:
        answer = CommandAnswer.refused(CALLED)
    elif ticket.state != TicketState.WAITING:
        answer = CommandAnswer.refused(ENDED)
    elif op == "cancel":
        ticket.state, ticket.finished_at = TicketState.CANCELLED, now
        answer = CommandAnswer(True, label=ticket.label, service=ticket.service)
    elif op == "postpone":
        answer = _postpone(engine, ticket, places)
    else:
        answer = CommandAnswer.refused(f"unknown operation {op!r}")
    engine.citizen_answers[token_hash, request_id] = answer
    return answer


def requests_of(engine: OfficeEngine, token_hash: str) -> int:
    """How many requests of this ticket the hub has answered (and logged) today."""
    return sum(1 for hashed, _ in engine.citizen_answers if hashed == token_hash)


def behind(engine: OfficeEngine, ticket: Ticket) -> list[Ticket]:
    """The tickets of its service waiting behind `ticket`, in queue order."""
    queue = engine.waiting(ticket.service)
    return queue[queue.index(ticket) + 1:]


def holder(engine: OfficeEngine, token_hash: str) -> Ticket | None:
    """Today's ticket of this token hash (a voided one has none)."""
    return next((t for t in engine.tickets.values() if t.token_hash == token_hash), None)


def _rate(engine: OfficeEngine, ticket: Ticket, rating: tuple[int, bool | None] | None) -> CommandAnswer:
    """Once per ticket, only after it was served: kept by ticket only to refuse a second one; counted per
    service (never per counter: `rating_counts`)."""
    if ticket.state != TicketState.DONE or ticket.called_at is None or rating is None:
        return CommandAnswer.refused(NOT_SERVED)
    if ticket.id in engine.ratings:
        return CommandAnswer.refused(RATED)
    engine.ratings[ticket.id] = rating
    return CommandAnswer(True, label=ticket.label, service=ticket.service)


def rating_counts(engine: OfficeEngine) -> dict[str, Ratings]:
    """Today's ratings per service (the service a ticket was served in): counts only."""
    scores: dict[str, list[int]] = {}
    for ticket_id, (score, settled) in engine.ratings.items():
        counts = scores.setdefault(engine.tickets[ticket_id].service, [0] * 7)  # scores 1–5, then yes, no
        counts[score - 1] += 1
        if settled is not None:
            counts[5 if settled else 6] += 1
    return {service: Ratings((c[0], c[1], c[2], c[3], c[4]), c[5], c[6]) for service, c in scores.items()}


def _postpone(engine: OfficeEngine, ticket: Ticket, places: int) -> CommandAnswer:
    if ticket.postponed >= MAX_POSTPONES:
        return CommandAnswer.refused(POSTPONED_TWICE)
    later = behind(engine, ticket)
    if not later or places < 1:
        return CommandAnswer.refused(NOBODY_BEHIND)
    ticket.queued_at = later[min(places, len(later)) - 1].queued_at + AFTER
    ticket.postponed += 1
    return CommandAnswer(True, label=ticket.label, service=ticket.service)
