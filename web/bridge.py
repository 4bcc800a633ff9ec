"""MQTT for the web tier: retained topics into the Mirror, commands out with MQTT v5 request/response
(`protocol.requests.Requester`).

paho calls back on its own thread; everything is handed to the asyncio loop, so the Mirror is only ever
touched by the loop: in batches, in the order it arrived — one `call_soon_threadsafe` (one wake-up of the
loop) for whatever arrived while the loop was busy, not one per message (a call in an office sends a view
per waiting ticket, ~100 messages in a burst).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

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
        self._pending: list[tuple[Callable[..., None], tuple[Any, ...]]] = []  # for the loop, in arrival order
        self._pending_lock = threading.Lock()
        role = "web" if internal else "replica"  # as the inventory names them (web/identity.py)
        self.link = MqttLink(settings, offices[0], device, role, VERSION, clock)
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
        self._hand_over(self.mirror.set_connected, up)

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._hand_over(self.mirror.apply, topic, payload)

    def _on_bridge_state(self, topic: str, payload: bytes) -> None:
        self._hand_over(self.mirror.apply_bridge_state, topic, payload)

    def _hand_over(self, apply: Callable[..., None], *args: Any) -> None:
        """(paho's thread) Queue an update for the loop; wake the loop only if none was waiting."""
        with self._pending_lock:
            self._pending.append((apply, args))
            wake = len(self._pending) == 1
        if wake:
            self.loop.call_soon_threadsafe(self._apply_pending)

    def _apply_pending(self) -> None:
        """(the loop) Everything that arrived since the last batch, in order; one update that fails is
        logged and does not keep the others from the mirror."""
        with self._pending_lock:
            batch, self._pending = self._pending, []
        for apply, args in batch:
            try:
                apply(*args)
            except Exception:
                log.exception("an update could not be applied to the mirror; dropped")

    async def command(self, office: str, counter: str | None, request: CommandRequest,
                      timeout_s: float = 5.0) -> CommandAnswer | None:
        """Send a counter (or, with counter None, an office) command; the hub's answer (checked against the
        contract), or None when the hub does not answer. The command expires at the broker before
        `timeout_s` is over: one that did not reach the hub in time is never executed later."""
        return await self.requester.request_async(office, counter, request, timeout_s)

    async def citizen(self, office: str, request: CitizenRequest, timeout_s: float = 5.0) -> CommandAnswer | None:
        """A ticket holder's request (docs/protocol.md §3.12); None when the hub does not answer in time."""
        return await self.requester.citizen_async(office, request, timeout_s)
