"""One office inside the hub: its engine for today, made durable by the input log.

Every input is committed to SQLite before the engine applies it and before anything is published or
acknowledged; at start-up the day's log is replayed, so a `kill -9` loses nothing and calls nothing
twice. Duplicates (a re-sent ticket event, a repeated request id) are answered without being logged
again.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hub.engine import CommandResult, OfficeEngine, ToldWait
from hub.office import OfficeDef
from hub.statistics import day_summary
from hub.store import HubStore, Input
from protocol.businessday import local_business_day
from protocol.messages import Ack, CommandRequest, TicketEvent, ticket_event_from_dict

log = logging.getLogger("wartemarke.hub")


@dataclass(frozen=True)
class Expired:
    """Tickets of a finished day whose retained tracking topics must be cleared."""

    token_hashes: tuple[str, ...]


class OfficeRuntime:
    def __init__(self, office: OfficeDef, store: HubStore) -> None:
        self.office = office
        self.store = store
        self.engine = OfficeEngine(office, date.min)

    def start(self, now: datetime) -> Expired | None:
        """Replay the stored day, then move to today if the day has changed meanwhile."""
        stored = self.store.office_day(self.office.id)
        if stored is not None:
            self.engine = OfficeEngine(self.office, stored)
            inputs = self.store.inputs(self.office.id, stored)
            for item in inputs:
                self._apply(item)
            log.info("%s: replayed %d inputs of %s (%d tickets)", self.office.id, len(inputs), stored,
                     len(self.engine.tickets))
        return self.roll_day(now)

    def today(self, now: datetime) -> date:
        return local_business_day(now, self.office.timezone, self.office.day_reset)

    def roll_day(self, now: datetime, to: date | None = None) -> Expired | None:
        """Start a new business day when the clock (or a kiosk that is ahead) says so; never go back."""
        target = max(to or self.today(now), self.today(now))
        old = self.engine
        if old.day != date.min and target <= old.day:
            return None
        stats = day_summary(old) if old.day != date.min else None
        self.store.start_day(self.office.id, old.day if old.day != date.min else None, target, stats)
        self.engine = OfficeEngine(self.office, target)
        if old.day == date.min:
            log.info("%s: business day %s starts", self.office.id, target)
            return None
        log.info("%s: business day %s ends (%d tickets), %s starts", self.office.id, old.day, len(old.tickets),
                 target)
        return Expired(tuple(t.token_hash for t in old.tickets.values() if t.token_hash))

    # -- inputs ---------------------------------------------------------------------------------

    def _apply(self, item: Input) -> Any:
        if item.kind == "ticket":
            return self.engine.ingest(ticket_event_from_dict(item.payload), item.at)
        if item.kind == "counter":
            p = item.payload
            return self.engine.counter_command(p["counter"], p["op"], p.get("args", {}), p["id"], item.at)
        if item.kind == "office":
            p = item.payload
            return self.engine.office_command(p["op"], p.get("args", {}), p["id"], item.at)
        if item.kind == "close_out":
            return self.engine.close_out(item.at)
        if item.kind == "sold_out":
            return self.engine.mark_sold_out(item.payload["service"], item.at)
        if item.kind == "told":
            return [self.engine.record_told(tid, ToldWait(*told)) for tid, told in item.payload["tickets"].items()]
        raise ValueError(f"unknown input kind {item.kind!r}")

    def ticket(self, event: TicketEvent, now: datetime) -> tuple[Ack, bool]:
        """Ingest a kiosk's event durably; returns the kiosk's new ack and whether state changed."""
        if event.day > self.engine.day:
            self.roll_day(now, to=event.day)
        known = self.engine.tickets.get(event.id)
        duplicate = known is not None and (event.type == "ticket.issued" or known.state.value == "voided")
        if duplicate or event.day != self.engine.day or self.office.service(event.service) is None:
            if not duplicate:
                self.engine.ingest(event, now)  # logs why it is ignored
            contiguous = self.store.receive_only(self.office.id, event.device, event.seq, event.pending_from)
            return self._ack(event.device, contiguous), False
        item = Input("ticket", now, dataclasses.replace(event, pending_from=None).to_dict())
        acked = self.store.append(self.office.id, self.engine.day, item,
                                  kiosk=(event.device, event.seq, event.pending_from))
        changed = bool(self._apply(item))
        assert acked is not None
        return self._ack(event.device, acked), changed

    def _ack(self, device: str, contiguous: int) -> Ack:
        return Ack(seq=contiguous, day=self.engine.day, last=self.engine.last_numbers(device))

    def acks(self) -> dict[str, Ack]:
        return {device: self._ack(device, seq) for device, seq in self.store.acks(self.office.id).items()}

    def counter_command(self, counter: str, request: CommandRequest, now: datetime) -> CommandResult:
        previous = self.engine.previous_answer(request.id)
        if previous is not None:
            return previous
        item = Input("counter", now, {"counter": counter, "op": request.op, "args": request.args, "id": request.id})
        self.store.append(self.office.id, self.engine.day, item)
        result: CommandResult = self._apply(item)
        return result

    def office_command(self, request: CommandRequest, now: datetime) -> CommandResult:
        previous = self.engine.previous_answer(request.id)
        if previous is not None:
            return previous
        item = Input("office", now, {"op": request.op, "args": request.args, "id": request.id})
        self.store.append(self.office.id, self.engine.day, item)
        result: CommandResult = self._apply(item)
        return result

    def sold_out(self, service: str, now: datetime) -> None:
        """Remember (durably) when a service first ran out of tickets today, for the history."""
        if service not in self.engine.sold_out_at:
            item = Input("sold_out", now, {"service": service})
            self.store.append(self.office.id, self.engine.day, item)
            self._apply(item)

    def told(self, waits: dict[str, ToldWait], now: datetime) -> None:
        """Remember (durably) what new tickets were told, for the hub's check of its estimates."""
        fresh = {tid: w for tid, w in waits.items() if tid not in self.engine.told}
        if fresh:
            item = Input("told", now, {"tickets": {tid: [w.service, w.wait_min, w.low_min, w.high_min]
                                                   for tid, w in fresh.items()}})
            self.store.append(self.office.id, self.engine.day, item)
            self._apply(item)

    def tick(self, now: datetime) -> tuple[bool, Expired | None]:
        """Time passes: close out at closing time, roll the day. Returns (state changed, expired)."""
        expired = self.roll_day(now)
        closing = self.office.closing_time(self.engine.day)
        if closing is not None and now >= closing and not self.engine.closed_out:
            item = Input("close_out", now, {})
            self.store.append(self.office.id, self.engine.day, item)
            closed = self._apply(item)
            log.info("%s: closing time: %d waiting tickets closed out", self.office.id, len(closed))
            return True, expired
        return expired is not None, expired
