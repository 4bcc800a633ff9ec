"""The running hub: MQTT in, durable engine, retained state out.

Handlers run on paho's network thread and commit inside the callback (paho acknowledges a received
QoS 1 message when the callback returns), so an event the broker handed over is never lost. One lock
serialises all inputs of all offices: that, not luck, is why two clerks pressing "next" at the same
moment get two different tickets.

After an input the handler publishes what it changed directly (the answer, calls, counter states, the
kiosk's ack); the forecast and what follows from it (queue, the tracking views: a few milliseconds and
a message per waiting ticket) is left to the forecast thread, which runs it at once but at most every
`FORECAST_INTERVAL_S` per office: a burst of inputs is forecast once, not once per input.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

from hub.citizen import places_for
from hub.config import HubConfig
from hub.publisher import OfficePublisher
from hub.runtime import OfficeRuntime
from hub.store import HubStore
from process.clock import Clock
from protocol import VERSION, topics
from protocol.fields import InvalidMessage, decode_object
from protocol.link import MqttLink
from protocol.messages import CommandAnswer, ticket_event_from_dict
from protocol.messages.citizen import TOO_MANY_REQUESTS, UNKNOWN_TICKET
from protocol.operations import CITIZEN, COUNTER, OFFICE
from protocol.requests import CommandRefused, read_citizen_request, read_command, reply
from protocol.topics import token_hash

log = logging.getLogger("wartemarke.hub")
FORECAST_INTERVAL_S = 0.1  # the forecast runs at most this often while inputs keep coming


class Hub:
    def __init__(self, config: HubConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.store = HubStore(config.state_dir / "hub.sqlite3")
        self.link = MqttLink(config.broker, config.offices[0].id, config.device, "hub", VERSION, clock,
                             health=self.health)
        self.lock = threading.RLock()
        self.runtimes = {o.id: OfficeRuntime(o, self.store) for o in config.offices}
        self.publishers = {o.id: OfficePublisher(self.link, self.runtimes[o.id]) for o in config.offices}
        self.ready = threading.Event()
        self._published_health: dict[str, Any] | None = None
        self.beat = clock.monotonic()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="hub-tick", daemon=True)
        self._stale: set[str] = set()  # offices whose forecast is older than their last input (under the lock)
        self._inputs = threading.Event()  # set when an office was added to _stale
        self._forecaster = threading.Thread(target=self._forecast_loop, name="hub-forecast", daemon=True)
        for office in config.offices:
            self.link.subscribe(topics.kiosk_tickets(office.id), self._on_ticket)
            self.link.subscribe_requests(topics.counter_commands(office.id), self._on_command)  # never retained
            self.link.subscribe_requests(topics.office_command(office.id), self._on_command)
            self.link.subscribe_requests(topics.citizen_request(office.id), self._on_citizen)
        self.link.on_connection_change(self._on_connection)

    def start(self) -> None:
        log.info("wartemarke hub %s starting: offices %s, state %s, config %s", VERSION,
                 ", ".join(self.runtimes), self.store.path, self.config.path)
        now = self.clock.now()
        with self.lock:
            for runtime in self.runtimes.values():
                runtime.start(now)  # an ended day's tracking topics are cleared once connected (publisher)
        self._ticker.start()
        self._forecaster.start()
        self.link.start()
        self.ready.set()

    def stop(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)
        self._forecaster.join(timeout=5)
        self._forecast_now()  # what the last inputs changed goes out before the hub does
        self.link.stop()
        self.store.close()

    def _status_if_changed(self) -> None:
        """Republish the hub's status when its health changed (a refused event, an assumed-printed ticket),
        so the technician's device page shows it at once."""
        health = self.health()
        if health != self._published_health:
            self._published_health = health
            self.link.publish_status()

    def health(self) -> dict[str, Any]:
        """For the hub's status: refused events (another day) and tickets only assumed printed, today."""
        engines = [r.engine for r in self.runtimes.values()]
        return {"offices": sorted(self.runtimes), "invalid_messages": self.link.invalid_messages,
                "refused_events": sum(len(e.refused) for e in engines),
                "assumed_printed": sorted(t.label for e in engines for t in e.tickets.values() if t.assumed_printed),
                "duplicate_labels": sorted({e.tickets[tid].label for e in engines for tid in e.duplicates}),
                "kiosk_clock_skew_s": {device: round(skew.total_seconds()) for r in self.runtimes.values()
                                       for device, skew in sorted(r.clock_skew.items())}}

    # -- inputs (paho thread) -------------------------------------------------------------------

    def _on_connection(self, connected: bool) -> None:
        if connected:
            with self.lock:
                for office_id, publisher in self.publishers.items():
                    publisher.reset()
                    publisher.publish(self.clock.now())
                    log.info("%s: retained state republished", office_id)

    def _on_ticket(self, topic: str, payload: bytes) -> None:
        office_id = topics.parse(topic).office
        event = ticket_event_from_dict(decode_object(payload))
        if topic != topics.kiosk_ticket(office_id, event.device):
            raise InvalidMessage(f"event of device {event.device!r} on another kiosk's topic")
        with self.lock:
            runtime = self.runtimes[office_id]
            now = self.clock.now()
            _, changed = runtime.ticket(event, now)  # the publisher sends the ack, after the commit
            if changed:
                log.info("%s: %s %s from %s (seq %d)", office_id, event.type, event.label, event.device, event.seq)
            # A re-sent event means the kiosk may have missed its ack: send it again even if unchanged.
            self.publishers[office_id].publish_direct(now, ack_again=None if changed else event.device)
            self._forecast_soon(office_id)
        if changed:
            self._status_if_changed()

    def _on_command(self, topic: str, payload: bytes, properties: Any) -> None:
        """A counter's or the office's command: committed, answered (the clerk first), then published."""
        where = topics.parse(topic)
        office_id, counter = where.office, where.id  # counter None: an office command
        try:
            request = read_command(payload, properties, OFFICE if counter is None else COUNTER)
        except InvalidMessage as exc:  # answered, then logged and counted by the link
            refusal = dataclasses.replace(CommandAnswer.refused(str(exc), counter),
                                          id=exc.request_id if isinstance(exc, CommandRefused) else None)
            reply(self.link, properties, refusal, office_id, counter)
            raise
        with self.lock:
            now = self.clock.now()
            runtime = self.runtimes[office_id]
            result = runtime.office_command(request, now) if counter is None else \
                runtime.counter_command(counter, request, now)  # committed here
            reply(self.link, properties, dataclasses.replace(result, id=request.id), office_id, counter)
            self.publishers[office_id].publish_direct(now)
            self._forecast_soon(office_id)
        log.info("%s: %s %s → %s", office_id, counter or "office", request.op, result.to_dict())

    def _on_citizen(self, topic: str, payload: bytes, properties: Any) -> None:
        """A ticket holder's request (docs/protocol.md §3.12): committed, answered, then published — the
        views of everyone behind a cancelled or moved ticket change with the next forecast, at once."""
        office_id = topics.parse(topic).office
        try:
            request = read_citizen_request(payload, properties)
        except InvalidMessage as exc:
            reply(self.link, properties, CommandAnswer.refused(str(exc)), office_id, None, CITIZEN)
            raise
        with self.lock:
            now = self.clock.now()
            runtime = self.runtimes[office_id]
            places = 0
            hashed = token_hash(request.token)
            if request.op == "postpone" and (hashed, request.id) not in runtime.engine.citizen_answers:
                start = self.publishers[office_id].fresh_forecast(now).start
                places = places_for(runtime.engine, hashed, start)
            result = runtime.citizen(request, places, now)  # committed here
            reply(self.link, properties, dataclasses.replace(result, id=request.id), office_id, None, CITIZEN)
            self.publishers[office_id].publish_direct(now)
            self._forecast_soon(office_id)
        quiet = result.error in (UNKNOWN_TICKET, TOO_MANY_REQUESTS)  # guesses or a flood: not into the journal
        log.log(logging.DEBUG if quiet else logging.INFO,
                "%s: citizen %s (request %s) → %s", office_id, request.op, request.id, result.to_dict())

    # -- the forecast -------------------------------------------------------------------------

    def _forecast_soon(self, office_id: str) -> None:
        """Called under the lock after an input: the forecast thread publishes the rest."""
        self._stale.add(office_id)
        self._inputs.set()

    def _forecast_loop(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            if not self._inputs.wait(1.0):
                continue
            pause = last + FORECAST_INTERVAL_S - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                return
            self._inputs.clear()  # before taking the stale offices: an input after this sets it again
            try:
                self._forecast_now()
            except Exception:
                log.exception("hub forecast failed")
            last = time.monotonic()

    def _forecast_now(self) -> None:
        with self.lock:
            stale, self._stale = self._stale, set()
            now = self.clock.now()
            for office_id in stale:
                self.publishers[office_id].publish_forecast(now)

    # -- time -----------------------------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.config.tick_s):
            self.beat = self.clock.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("hub tick failed")

    def tick(self) -> None:
        """Closing time, a new day, the queue's age: re-check and publish."""
        with self.lock:
            now = self.clock.now()
            for office_id, runtime in self.runtimes.items():
                runtime.tick(now)
                self.publishers[office_id].publish(now)
