"""The running hub: MQTT in, durable engine, retained state out.

Handlers run on paho's network thread and commit inside the callback (paho acknowledges a received
QoS 1 message when the callback returns), so an event the broker handed over is never lost. One lock
serialises all inputs of all offices: that, not luck, is why two clerks pressing "next" at the same
moment get two different tickets.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from hub.config import HubConfig
from hub.publisher import OfficePublisher
from hub.runtime import OfficeRuntime
from hub.store import HubStore
from process.clock import Clock
from protocol import VERSION, topics
from protocol.fields import InvalidMessage, decode_object, encode_object
from protocol.link import COMMAND_MAX_EXPIRY_S, MqttLink, response_properties
from protocol.messages import COMMAND_OPS, OFFICE_OPS, CommandRequest, ticket_event_from_dict

log = logging.getLogger("wartemarke.hub")


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
        for office in config.offices:
            root = topics.office_root(office.id)
            self.link.subscribe(f"{root}/kiosk/+/ticket", self._on_ticket)
            self.link.subscribe_requests(f"{root}/counter/+/command", self._on_counter_command)  # never retained
            self.link.subscribe_requests(f"{root}/command", self._on_office_command)
        self.link.on_connection_change(self._on_connection)

    def start(self) -> None:
        log.info("wartemarke hub %s starting: offices %s, state %s, config %s", VERSION,
                 ", ".join(self.runtimes), self.store.path, self.config.path)
        now = self.clock.now()
        with self.lock:
            for runtime in self.runtimes.values():
                runtime.start(now)  # an ended day's tracking topics are cleared once connected (publisher)
        self._ticker.start()
        self.link.start()
        self.ready.set()

    def stop(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)
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
                "assumed_printed": sorted(t.label for e in engines for t in e.tickets.values() if t.assumed_printed)}

    # -- inputs (paho thread) -------------------------------------------------------------------

    def _office_of(self, topic: str) -> str:
        return topic.split("/")[2]

    def _on_connection(self, connected: bool) -> None:
        if connected:
            with self.lock:
                for office_id, publisher in self.publishers.items():
                    publisher.reset()
                    publisher.publish(self.clock.now())
                    log.info("%s: retained state republished", office_id)

    def _on_ticket(self, topic: str, payload: bytes) -> None:
        office_id = self._office_of(topic)
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
            self.publishers[office_id].publish(now, ack_again=None if changed else event.device)
        if changed:
            self._status_if_changed()

    def _on_counter_command(self, topic: str, payload: bytes, properties: Any) -> None:
        office_id, counter = self._office_of(topic), topic.split("/")[4]
        responses = f"{topics.office_root(office_id)}/counter/{counter}/response/"
        request = self._request(payload, properties, COMMAND_OPS, responses)
        with self.lock:
            now = self.clock.now()
            result = self.runtimes[office_id].counter_command(counter, request, now)  # committed here
            self._reply(properties, {"id": request.id, **result.to_dict()}, responses)  # the clerk first
            self.publishers[office_id].publish(now)
        log.info("%s: %s %s → %s", office_id, counter, request.op, result.to_dict())

    def _on_office_command(self, topic: str, payload: bytes, properties: Any) -> None:
        office_id = self._office_of(topic)
        responses = f"{topics.office_root(office_id)}/supervisor/response/"
        request = self._request(payload, properties, OFFICE_OPS, responses)
        with self.lock:
            now = self.clock.now()
            result = self.runtimes[office_id].office_command(request, now)
            self._reply(properties, {"id": request.id, **result.to_dict()}, responses)
            self.publishers[office_id].publish(now)
        log.info("%s: office %s → %s", office_id, request.op, result.to_dict())

    def _request(self, payload: bytes, properties: Any, ops: tuple[str, ...], responses: str) -> CommandRequest:
        """A valid command, or an answer saying why not (then InvalidMessage: logged and counted). A command
        must carry a message expiry of at most COMMAND_MAX_EXPIRY_S: the broker drops it unless the hub
        gets it in time, so a command its requester gave up on is never executed later (docs/protocol.md)."""
        try:
            request = CommandRequest.from_dict(decode_object(payload), ops)
            expiry = getattr(properties, "MessageExpiryInterval", None) if properties is not None else None
            if expiry is None or expiry > COMMAND_MAX_EXPIRY_S:
                raise InvalidMessage(f"command {request.id}: needs an MQTT message expiry of at most "
                                     f"{COMMAND_MAX_EXPIRY_S} s, so it is never executed after its requester "
                                     "gave up (got " + ("none" if expiry is None else f"{expiry} s") + ")")
        except InvalidMessage as exc:
            self._reply(properties, {"ok": False, "error": str(exc)}, responses)
            raise
        return request

    def _reply(self, properties: Any, answer: dict[str, Any], allowed_prefix: str) -> None:
        """Answer on the request's response topic — only under the requester's own response tree, so a
        request cannot make the hub publish onto `calls`, `queue` or a kiosk's `ack`."""
        response_topic = getattr(properties, "ResponseTopic", None) if properties is not None else None
        if not response_topic:
            return
        if not str(response_topic).startswith(allowed_prefix) or "+" in response_topic or "#" in response_topic:
            log.warning("not answering on response topic %r (must lie under %s)", response_topic, allowed_prefix)
            return
        correlation = getattr(properties, "CorrelationData", None)
        self.link.publish(response_topic, encode_object(answer), properties=response_properties(correlation))

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
