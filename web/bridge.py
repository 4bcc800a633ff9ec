"""MQTT for the web tier: retained topics into the Mirror, commands out with MQTT v5 request/response
(`protocol.requests.Requester`).

paho calls back on its own thread; everything is handed to the asyncio loop with
`call_soon_threadsafe`, so the Mirror is only ever touched by the loop.
"""

from __future__ import annotations

import asyncio
import logging

from process.clock import Clock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CitizenRequest, CommandAnswer, CommandRequest
from protocol.requests import Requester
from web.freshness import BRIDGE_STATE_FILTER
from web.mirror import Mirror

log = logging.getLogger("wartemarke.web.bridge")
PUBLIC_TOPICS = (topics.info, topics.queue, topics.history, topics.tickets, topics.device_statuses)
INTERNAL_TOPICS = (topics.calls, topics.counter_states)


class Bridge:
    def __init__(self, settings: BrokerSettings, offices: tuple[str, ...], device: str, clock: Clock,
                 mirror: Mirror, loop: asyncio.AbstractEventLoop, internal: bool) -> None:
        self.mirror, self.loop, self.offices = mirror, loop, offices
        self.link = MqttLink(settings, offices[0], device, "web", VERSION, clock)
        self.requester = Requester(self.link)
        for office in offices:
            for topic_filter in PUBLIC_TOPICS + (INTERNAL_TOPICS if internal else ()):
                self.link.subscribe(topic_filter(office), self._on_message)
            if internal:
                self.requester.listen(office)
            self.requester.listen_citizen(office)  # the tracking pages' own operations (web/citizen.py)
        if not internal:  # a replica: the office bridges' states at the central broker (web/freshness.py)
            self.link.subscribe(BRIDGE_STATE_FILTER, self._on_bridge_state)
        self.link.on_connection_change(self._on_connection)

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()

    def _on_connection(self, up: bool) -> None:
        self.loop.call_soon_threadsafe(self.mirror.set_connected, up)

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.loop.call_soon_threadsafe(self.mirror.apply, topic, payload)

    def _on_bridge_state(self, topic: str, payload: bytes) -> None:
        self.loop.call_soon_threadsafe(self.mirror.apply_bridge_state, topic, payload)

    async def command(self, office: str, counter: str | None, request: CommandRequest,
                      timeout_s: float = 5.0) -> CommandAnswer | None:
        """Send a counter (or, with counter None, an office) command; the hub's answer (checked against the
        contract), or None when the hub does not answer. The command expires at the broker before
        `timeout_s` is over: one that did not reach the hub in time is never executed later."""
        return await self.requester.request_async(office, counter, request, timeout_s)

    async def citizen(self, office: str, request: CitizenRequest, timeout_s: float = 5.0) -> CommandAnswer | None:
        """A ticket holder's request (docs/protocol.md §3.12); None when the hub does not answer in time."""
        return await self.requester.citizen_async(office, request, timeout_s)
