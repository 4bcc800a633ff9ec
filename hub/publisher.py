"""Publishing an office's retained state: only what changed, everything again after a reconnect."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any

from hub.engine import ToldWait
from hub.estimate import Forecast, availability, expected_wait_min, forecast, wait_range_min
from hub.history import build_history
from hub.priors import OfficePriors, priors_from_history
from hub.runtime import Expired, OfficeRuntime
from hub.views import calls_state, counter_state, office_info, queue_state, ticket_view
from protocol import topics
from protocol.fields import encode_object
from protocol.link import MqttLink

log = logging.getLogger("wartemarke.hub.publisher")
QUEUE_REFRESH_S = 60  # `queue` is republished at least this often: kiosks judge the hub by its age


class OfficePublisher:
    def __init__(self, link: MqttLink, runtime: OfficeRuntime) -> None:
        self.link = link
        self.runtime = runtime
        self.office = runtime.office.id
        self._last: dict[str, bytes] = {}
        self._queue_at: datetime | None = None
        self._priors: tuple[date, OfficePriors] | None = None  # (business day, the office's history)

    def reset(self) -> None:
        """After a (re)connect: the broker may have lost everything, so publish it all again."""
        self._last.clear()
        self._queue_at = None

    def _put(self, topic: str, data: dict[str, Any], compare: dict[str, Any] | None = None) -> None:
        key = json.dumps(compare if compare is not None else data, sort_keys=True, default=str).encode()
        if self._last.get(topic) == key:
            return
        if self.link.publish(topic, encode_object(data), retain=True):
            self._last[topic] = key

    def clear(self, expired: Expired) -> None:
        self._last.pop(topics.history(self.office), None)  # a day ended: its aggregates join the history
        for token_hash in expired.token_hashes:
            topic = topics.ticket(self.office, token_hash)
            if self.link.publish(topic, b"", retain=True):
                self._last.pop(topic, None)
        log.info("%s: cleared %d tracking topics of the last day", self.office, len(expired.token_hashes))

    def _history_priors(self) -> OfficePriors:
        """The estimate's priors from the office's daily aggregates, read once per business day."""
        day = self.runtime.engine.day
        if self._priors is None or self._priors[0] != day:
            self._priors = (day, priors_from_history(self.runtime.store.daily_stats(self.office), day))
        return self._priors[1]

    def _record_told(self, fc: Forecast, now: datetime) -> None:
        """What new tickets are told (hub/calibration.py checks it against their actual waits)."""
        engine = self.runtime.engine
        fresh: dict[str, ToldWait] = {}
        for ticket in engine.waiting():
            if ticket.id in engine.told:
                continue
            wait, spread = expected_wait_min(fc, ticket, now), wait_range_min(fc, ticket, now)
            if wait is not None and spread is not None:
                fresh[ticket.id] = ToldWait(ticket.service, wait, *spread)
        self.runtime.told(fresh, now)

    def publish(self, now: datetime) -> None:
        engine = self.runtime.engine
        # What people are waiting to see first (displays, the clerk's screen), the forecast after.
        self._put(topics.calls(self.office), calls_state(engine).to_dict())
        for counter in self.runtime.office.counters:
            self._put(topics.counter_state(self.office, counter.id), counter_state(engine, counter.id))
        for device, ack in self.runtime.acks().items():
            self._put(topics.kiosk_ack(self.office, device), ack.to_dict())
        fc = forecast(engine, now, self._history_priors())
        self._record_told(fc, now)
        issuing = availability(engine, fc, now)
        for service, (ok, reason) in issuing.items():
            if not ok and reason in ("capacity", "quota"):
                self.runtime.sold_out(service, now)
        queue = queue_state(engine, fc, issuing, now).to_dict()
        stale = self._queue_at is None or (now - self._queue_at).total_seconds() >= QUEUE_REFRESH_S
        compare = {k: v for k, v in queue.items() if k != "at"}
        if stale:
            self._last.pop(topics.queue(self.office), None)
        before = self._last.get(topics.queue(self.office))
        self._put(topics.queue(self.office), queue, compare)
        if self._last.get(topics.queue(self.office)) != before:
            self._queue_at = now
        self._put(topics.info(self.office), office_info(self.runtime.office, engine))
        if topics.history(self.office) not in self._last:  # changes only when a day ends (or on reconnect)
            history = build_history(self.office, self.runtime.store.daily_stats(self.office), engine.day)
            self._put(topics.history(self.office), history)
        for ticket in engine.tickets.values():
            if ticket.token_hash:
                self._put(topics.ticket(self.office, ticket.token_hash), ticket_view(engine, ticket, fc, now))
