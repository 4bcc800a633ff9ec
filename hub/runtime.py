"""One office inside the hub: its engine for today, made durable by the input log.

Every input is committed to SQLite before the engine applies it and before anything is published or
acknowledged; at start-up the day's log is replayed, so a `kill -9` loses nothing and calls nothing
twice. Duplicates (a re-sent ticket event, a repeated request id) are answered without being logged
again. The business day follows the hub's own clock only; kiosk events of another day are refused.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime, timedelta
from typing import Any, assert_never

from hub.arrival import CLOCK_TOLERANCE, clock_skew, describe, hub_issued_at
from hub.citizen import MAX_REQUESTS_PER_TICKET, citizen_request, holder, requests_of
from hub.engine import OfficeEngine, ToldWait
from hub.inputs import (
    CitizenInput,
    CloseOutInput,
    CounterInput,
    Input,
    OfficeInput,
    RefusedInput,
    SoldOutInput,
    TicketInput,
    ToldInput,
)
from hub.office import OfficeDef
from hub.statistics import day_summary
from hub.store import HubStore
from protocol.businessday import local_business_day
from protocol.messages import Ack, CitizenRequest, CommandAnswer, CommandRequest, TicketEvent, TicketIssued
from protocol.messages.citizen import TOO_MANY_REQUESTS, UNKNOWN_TICKET
from protocol.topics import token_hash

log = logging.getLogger("wartemarke.hub")


class OfficeRuntime:
    def __init__(self, office: OfficeDef, store: HubStore) -> None:
        self.office = office
        self.store = store
        self.engine = OfficeEngine(office, date.min)
        self.clock_skew: dict[str, timedelta] = {}  # kiosk → how far its clock is off, when beyond the tolerance

    def start(self, now: datetime) -> None:
        """Replay the stored day, then move to today if the day has changed meanwhile."""
        stored = self.store.office_day(self.office.id)
        if stored is not None:
            self.engine = OfficeEngine(self.office, stored)
            inputs = self.store.inputs(self.office.id, stored)
            for item in inputs:
                self._apply(item)
            log.info("%s: replayed %d inputs of %s (%d tickets)", self.office.id, len(inputs), stored,
                     len(self.engine.tickets))
        self.roll_day(now)

    def today(self, now: datetime) -> date:
        return local_business_day(now, self.office.timezone, self.office.day_reset)

    def roll_day(self, now: datetime) -> bool:
        """Start a new business day when the hub's own clock says so; never go back. Only the hub's clock
        decides: a kiosk's event for another day is refused (`ticket`), it never moves the day.

        The ended day's tracking topics are recorded for clearing in the same transaction that deletes
        its tickets; the publisher clears them once the broker is reachable (hub/publisher.py)."""
        target = self.today(now)
        old = self.engine
        if old.day != date.min and target <= old.day:
            return False
        first = old.day == date.min
        stats = None if first else day_summary(old)
        expired = () if first else tuple(t.token_hash for t in old.tickets.values() if t.token_hash)
        self.store.start_day(self.office.id, None if first else old.day, target, stats, expired)
        self.engine = OfficeEngine(self.office, target)
        if first:
            log.info("%s: business day %s starts", self.office.id, target)
        else:
            log.info("%s: business day %s ends (%d tickets, %d tracking topics to clear), %s starts",
                     self.office.id, old.day, len(old.tickets), len(expired), target)
        return True

    # -- inputs ---------------------------------------------------------------------------------

    def _apply(self, item: Input) -> Any:
        engine = self.engine
        match item:
            case TicketInput():
                return engine.ingest(item.event, item.at)
            case CounterInput():
                return engine.counter_command(item.counter, item.op, item.args, item.id, item.at)
            case OfficeInput():
                return engine.office_command(item.op, item.args, item.id, item.at)
            case CloseOutInput():
                return engine.close_out(item.at)
            case SoldOutInput():
                return engine.mark_sold_out(item.service, item.at)
            case RefusedInput():
                return engine.refuse(item.id, item.device)
            case ToldInput():
                return [engine.record_told(tid, told) for tid, told in item.tickets.items()]
            case CitizenInput():
                return citizen_request(engine, item.op, item.token_hash, item.id, item.places, item.at, item.rating)
            case _:
                assert_never(item)

    def ticket(self, event: TicketEvent, now: datetime) -> tuple[Ack, bool]:
        """Ingest a kiosk's event durably; returns the kiosk's new ack and whether state changed."""
        if event.day != self.engine.day:
            return self._refuse(event, now)
        known = self.engine.tickets.get(event.id)
        duplicate = known is not None and (event.type == "ticket.issued" or known.state.value == "voided")
        if duplicate or self.office.service(event.service) is None:
            if not duplicate:
                self.engine.ingest(event, now)  # logs why it is ignored
            contiguous = self.store.receive_only(self.office.id, event.device, event.seq, event.pending_from)
            return self._ack(event.device, contiguous), False
        stored = dataclasses.replace(event, pending_from=None)
        if isinstance(event, TicketIssued):  # filed by the hub's clock, not the kiosk's (hub/arrival.py)
            self._note_skew(event, now)
            day_start = datetime.combine(self.engine.day, self.office.day_reset, self.office.timezone)
            stored = dataclasses.replace(event, pending_from=None, sent_at=None,
                                         issued_at=hub_issued_at(event, now, day_start, self._filed_before(event)))
        item = TicketInput(now, stored)
        acked = self.store.append(self.office.id, self.engine.day, item,
                                  kiosk=(event.device, event.seq, event.pending_from))
        changed = bool(self._apply(item))
        assert acked is not None
        if changed and event.id in self.engine.duplicates:
            log.error("%s: DUPLICATE LABEL %s: %s issued it, but %s already did today — two people now hold %s. "
                      "Both wait and are called in turn; check the kiosks' [numbering] (every kiosk of the "
                      "office needs the same kiosk_count and its own kiosk_index)", self.office.id, event.label,
                      event.device, self.engine.duplicates[event.id], event.label)
        if changed and isinstance(event, TicketIssued) and event.assumed_printed:
            log.warning("%s: %s from %s is only ASSUMED printed: the kiosk restarted before the print finished, "
                        "so the citizen may never have got it (a no-show of %s is no surprise)", self.office.id,
                        event.label, event.device, event.label)
        return self._ack(event.device, acked), changed

    def _filed_before(self, event: TicketIssued) -> datetime | None:
        """When the hub filed the latest ticket this kiosk issued before `event` (by its number order)."""
        times = [t.issued_at for t in self.engine.tickets.values()
                 if t.device == event.device and t.issued_service == event.service and t.number < event.number]
        return max(times, default=None)

    def _note_skew(self, event: TicketIssued, now: datetime) -> None:
        """Log a kiosk's clock error once (again only after it was fine in between); the hub's status
        shows it (`kiosk_clock_skew_s`)."""
        skew = clock_skew(event, now)
        if skew is None or abs(skew) <= CLOCK_TOLERANCE:
            self.clock_skew.pop(event.device, None)
            return
        known = self.clock_skew.get(event.device)
        if known is not None and abs(skew - known) <= CLOCK_TOLERANCE:
            return  # the same error as before: logged and shown already
        if known is None:
            log.warning("%s: the clock of %s is off by %s against the hub's (its ticket %s was sent at %s, "
                        "received at %s): its tickets are dated and queued by the hub's clock; check its time "
                        "sync (an event that waited at the broker for the hub also looks behind)", self.office.id,
                        event.device, describe(skew), event.label, event.sent_at, now.isoformat())
        self.clock_skew[event.device] = skew

    def _refuse(self, event: TicketEvent, now: datetime) -> tuple[Ack, bool]:
        """An event for another day than the hub's: refused, counted, and acknowledged so the kiosk stops
        re-sending it. It never moves the hub's day (docs/protocol.md §6)."""
        if event.id in self.engine.refused:
            contiguous = self.store.receive_only(self.office.id, event.device, event.seq, event.pending_from)
            return self._ack(event.device, contiguous), False
        log.warning("%s: REFUSED %s %s from %s: its day %s is not the hub's business day %s (is the kiosk's "
                    "clock wrong, or was it printed before the day changed?); acknowledged, not queued",
                    self.office.id, event.type, event.label, event.device, event.day, self.engine.day)
        item = RefusedInput(now, event.id, event.device, event.label, event.day, event.type)
        acked = self.store.append(self.office.id, self.engine.day, item,
                                  kiosk=(event.device, event.seq, event.pending_from))
        self._apply(item)
        assert acked is not None
        return self._ack(event.device, acked), True

    def _ack(self, device: str, contiguous: int) -> Ack:
        return Ack(seq=contiguous, day=self.engine.day, last=self.engine.last_numbers(device),
                   refused=self.engine.refused_count(device))

    def acks(self) -> dict[str, Ack]:
        return {device: self._ack(device, seq) for device, seq in self.store.acks(self.office.id).items()}

    def counter_command(self, counter: str, request: CommandRequest, now: datetime) -> CommandAnswer:
        previous = self.engine.previous_answer(request.id)
        if previous is not None:
            return previous
        item = CounterInput(now, counter, request.op, request.args, request.id)
        self.store.append(self.office.id, self.engine.day, item)
        result: CommandAnswer = self._apply(item)
        return result

    def office_command(self, request: CommandRequest, now: datetime) -> CommandAnswer:
        previous = self.engine.previous_answer(request.id)
        if previous is not None:
            return previous
        item = OfficeInput(now, request.op, request.args, request.id)
        self.store.append(self.office.id, self.engine.day, item)
        result: CommandAnswer = self._apply(item)
        return result

    def citizen(self, request: CitizenRequest, places: int, now: datetime) -> CommandAnswer:
        """A ticket holder's request, committed before it is carried out (a repeat is not logged again)."""
        hashed = token_hash(request.token)
        previous = self.engine.citizen_answers.get((hashed, request.id))
        if previous is not None:
            return previous
        if holder(self.engine, hashed) is None:  # not logged: nobody can fill the log with guessed tokens
            return CommandAnswer.refused(UNKNOWN_TICKET)
        if requests_of(self.engine, hashed) >= MAX_REQUESTS_PER_TICKET:  # nor with one ticket's token
            return CommandAnswer.refused(TOO_MANY_REQUESTS)
        rating = None if request.score is None else (request.score, request.settled)
        item = CitizenInput(now, request.op, hashed, request.id, places, rating)
        self.store.append(self.office.id, self.engine.day, item)
        result: CommandAnswer = self._apply(item)
        return result

    def sold_out(self, service: str, now: datetime) -> None:
        """Remember (durably) when a service first ran out of tickets today, for the history."""
        if service not in self.engine.sold_out_at:
            item = SoldOutInput(now, service)
            self.store.append(self.office.id, self.engine.day, item)
            self._apply(item)

    def told(self, waits: dict[str, ToldWait], now: datetime) -> None:
        """Remember (durably) what new tickets were told, for the hub's check of its estimates."""
        fresh = {tid: w for tid, w in waits.items() if tid not in self.engine.told}
        if fresh:
            item = ToldInput(now, fresh)
            self.store.append(self.office.id, self.engine.day, item)
            self._apply(item)

    def tick(self, now: datetime) -> bool:
        """Time passes: close out at closing time, roll the day. Returns whether state changed."""
        rolled = self.roll_day(now)
        closing = self.office.closing_time(self.engine.day)
        if closing is not None and now >= closing and not self.engine.closed_out:
            item = CloseOutInput(now)
            self.store.append(self.office.id, self.engine.day, item)
            closed = self._apply(item)
            log.info("%s: closing time: %d waiting tickets closed out", self.office.id, len(closed))
            return True
        return rolled
