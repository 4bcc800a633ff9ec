"""Publishing an office's retained state: only what changed, everything again after a reconnect.

Also clears the tracking topics of ended days (recorded durably by the store when the day ended) and
forgets each only once the broker has confirmed the empty retained message — so a day change while
the broker is unreachable (or before the hub has connected at all) still clears every topic.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import paho.mqtt.client as mqtt

from hub.engine import ToldWait
from hub.estimate import Forecast, availability, expected_wait_min, forecast, wait_range_min
from hub.history import build_history
from hub.priors import OfficePriors, priors_from_history
from hub.runtime import OfficeRuntime
from hub.views import as_shown, calls_state, counter_state, office_info, queue_state, ticket_view
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
        self._last: dict[str, dict[str, Any]] = {}  # topic → what was compared when it was last published
        self._queue_at: datetime | None = None
        self._day: date | None = None
        self._clearing: dict[str, mqtt.MQTTMessageInfo] = {}  # token hash → the unconfirmed empty message
        self._priors: tuple[date, OfficePriors] | None = None  # (business day, the office's history)

    def reset(self) -> None:
        """After a (re)connect: the broker may have lost everything, so publish it all again (the link
        dropped whatever was unconfirmed, clears included)."""
        self._last.clear()
        self._queue_at = None
        self._clearing.clear()

    def _put(self, topic: str, data: dict[str, Any], compare: dict[str, Any] | None = None,
             force: bool = False) -> None:
        """Publish `data` retained unless `compare` (default: the data) equals what was compared last time."""
        key = compare if compare is not None else data
        if self._last.get(topic) == key and not force:
            return
        if self.link.publish(topic, encode_object(data), retain=True):
            self._last[topic] = key

    def _clear_expired(self) -> None:
        """Clear ended days' tracking topics; forget each once the broker has confirmed it."""
        confirmed = [h for h, info in self._clearing.items() if info.is_published()]
        if confirmed:
            self.runtime.store.cleared(self.office, confirmed)
            for token_hash in confirmed:
                del self._clearing[token_hash]
            log.info("%s: cleared %d tracking topics of an ended day (confirmed by the broker)", self.office,
                     len(confirmed))
        for token_hash in self.runtime.store.pending_clears(self.office):
            if token_hash not in self._clearing:
                info = self.link.publish_tracked(topics.ticket(self.office, token_hash), b"", retain=True)
                if info is None:
                    return  # not connected: after the reconnect
                self._clearing[token_hash] = info

    def _history_priors(self) -> OfficePriors:
        """The estimate's priors from the office's daily aggregates, read once per business day."""
        day = self.runtime.engine.day
        if self._priors is None or self._priors[0] != day:
            self._priors = (day, priors_from_history(self.runtime.store.daily_stats(self.office), day))
        return self._priors[1]

    def fresh_forecast(self, now: datetime) -> Forecast:
        """The forecast as of `now` (a citizen's postponement is measured in it: hub/citizen.py)."""
        return forecast(self.runtime.engine, now, self._history_priors())

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

    def publish(self, now: datetime, ack_again: str | None = None) -> None:
        """Publish what changed: `publish_direct`, then the forecast and what follows from it."""
        self.publish_direct(now, ack_again)
        self.publish_forecast(now)

    def publish_direct(self, now: datetime, ack_again: str | None = None) -> None:
        """What an input changes directly and people wait for: calls, counter states, kiosk acks.
        `ack_again`: a kiosk that re-sent an event gets its ack again even if unchanged — the one it was
        sent may have been lost on the way (docs/protocol.md §4)."""
        engine = self.runtime.engine
        if engine.day != self._day:  # a day ended: its aggregates join the history
            self._day = engine.day
            self._last.pop(topics.history(self.office), None)
        self._clear_expired()
        # What people are waiting to see first (displays, the clerk's screen), the forecast after.
        self._put(topics.calls(self.office), calls_state(engine).to_dict())
        states = [counter_state(engine, counter.id) for counter in self.runtime.office.counters]
        # Counters that let a ticket go before those that took one: after an outage (a republish of every
        # counter) a subscriber's old picture never shows a ticket at two counters for this reason.
        for state in sorted(states, key=lambda s: s.state == "serving"):
            self._put(topics.counter_state(self.office, state.counter), state.to_dict())
        for device, ack in self.runtime.acks().items():
            self._put(topics.kiosk_ack(self.office, device), ack.to_dict(), force=device == ack_again)

    def publish_forecast(self, now: datetime) -> None:
        """The forecast (what new tickets are told, which services still issue) and what follows from it:
        `queue`, `info`, the history, the tracking views."""
        engine = self.runtime.engine
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
        self._put(topics.info(self.office), office_info(self.runtime.office, engine, self.link.device).to_dict())
        if topics.history(self.office) not in self._last:  # changes only when a day ends (or on reconnect)
            history = build_history(self.office, self.runtime.store.daily_stats(self.office), engine.day,
                                    self.runtime.office.timezone)
            self._put(topics.history(self.office), history.to_dict())
        for ticket in engine.tickets.values():  # republished when what its page shows changes (views.as_shown)
            if ticket.token_hash:
                view = ticket_view(engine, ticket, fc, now).to_dict()
                self._put(topics.ticket(self.office, ticket.token_hash), view, as_shown(view))
