"""MQTT for the web tier: retained topics into the Mirror, commands out with MQTT v5 request/response.

paho calls back on its own thread; everything is handed to the asyncio loop with
`call_soon_threadsafe`, so the Mirror is only ever touched by the loop.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from process.clock import Clock
from protocol import VERSION, topics
from protocol.fields import decode_object, encode_object
from protocol.link import BrokerSettings, MqttLink, command_expiry_s, request_properties
from protocol.messages import CommandRequest
from web.mirror import Mirror

log = logging.getLogger("wartemarke.web.bridge")
PUBLIC_TOPICS = ("info", "queue", "history", "ticket/+")
INTERNAL_TOPICS = ("calls", "counter/+/state", "device/+/status")


class Bridge:
    def __init__(self, settings: BrokerSettings, offices: tuple[str, ...], device: str, clock: Clock,
                 mirror: Mirror, loop: asyncio.AbstractEventLoop, internal: bool) -> None:
        self.mirror, self.loop, self.offices = mirror, loop, offices
        self.client_tag = uuid.uuid4().hex[:12]
        self.link = MqttLink(settings, offices[0], device, "web", VERSION, clock)
        self._pending: dict[bytes, asyncio.Future[dict[str, Any]]] = {}
        for office in offices:
            root = topics.office_root(office)
            for suffix in PUBLIC_TOPICS + (INTERNAL_TOPICS if internal else ()):
                self.link.subscribe(f"{root}/{suffix}", self._on_message)
            if internal:
                self.link.subscribe_requests(f"{root}/counter/+/response/{self.client_tag}", self._on_reply)
                self.link.subscribe_requests(f"{root}/supervisor/response/{self.client_tag}", self._on_reply)
        self.link.on_connection_change(self._on_connection)

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()

    def _on_connection(self, up: bool) -> None:
        self.loop.call_soon_threadsafe(setattr, self.mirror, "mqtt_connected", up)

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.loop.call_soon_threadsafe(self.mirror.apply, topic, payload)

    def _on_reply(self, topic: str, payload: bytes, properties: Any) -> None:
        correlation = getattr(properties, "CorrelationData", None)
        answer = decode_object(payload)
        self.loop.call_soon_threadsafe(self._resolve, correlation, answer)

    def _resolve(self, correlation: bytes | None, answer: dict[str, Any]) -> None:
        future = self._pending.pop(correlation or b"", None)
        if future is not None and not future.done():
            future.set_result(answer)

    async def command(self, office: str, counter: str | None, request: CommandRequest,
                      timeout_s: float = 5.0) -> dict[str, Any] | None:
        """Send a counter (or, with counter None, an office) command; None when the hub does not answer.
        The command expires at the broker before `timeout_s` is over (`command_expiry_s`): one that
        did not reach the hub in time is never executed later."""
        if counter is not None:
            topic = topics.counter_command(office, counter)
            response = f"{topics.office_root(office)}/counter/{counter}/response/{self.client_tag}"
        else:
            topic = topics.office_command(office)
            response = f"{topics.office_root(office)}/supervisor/response/{self.client_tag}"
        correlation = uuid.uuid4().bytes
        future: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self._pending[correlation] = future
        if not self.link.publish(topic, encode_object(request.to_dict()),
                                 properties=request_properties(response, correlation, command_expiry_s(timeout_s))):
            self._pending.pop(correlation, None)
            return None
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            self._pending.pop(correlation, None)
            return None
