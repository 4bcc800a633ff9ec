"""Server-sent-event fan-out: per update, publish → first, median and last client; and the hub's side of
it, which publishes retained messages and timestamps what the broker delivers on a second connection."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from bench.web.markers import MARK_BASE, PAYLOAD_MARKER, realtime_ns
from bench.web.payloads import MEASURED
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink


@dataclass
class FanOut:
    """K updates to `clients` clients: per update, seconds from publish to the first/median/last client."""

    name: str
    clients: int
    connect_s: float = float("nan")
    connect_cpu_s: float = float("nan")
    failed: int = 0
    first: list[float] = field(default_factory=list)
    mid: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    client_p99: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)  # bare publish → receive (for a burst: the last message)
    lag: list[float] = field(default_factory=list)  # kernel stamp → the client process read it (max per update)
    delivered: int = 0
    missing: int = 0
    cpu_s: float = 0.0  # replica, over the measured updates
    client_cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_before_kib: int = 0
    rss_kib: int = 0
    streams_after_close: int = -1
    cleanup_s: float = float("nan")

    @property
    def spread(self) -> list[float]:
        return [b - a for a, b in zip(self.first, self.last, strict=True)]

    @property
    def cpu_per_event(self) -> float:
        return self.cpu_s / self.delivered if self.delivered else float("nan")


class Mqtt:
    """The hub's side: publishes retained messages; a second connection timestamps what the broker delivers."""

    def __init__(self, port: int) -> None:
        settings = BrokerSettings(host="127.0.0.1", port=port, reconnect_max_s=1)
        self.tx = MqttLink(settings, MEASURED, "bench-web-tx", "bench", VERSION, SystemClock(), availability=False)
        self.rx = MqttLink(settings, MEASURED, "bench-web-rx", "bench", VERSION, SystemClock(), availability=False)
        self._cond = threading.Condition()
        self.arrivals: dict[int, list[int]] = defaultdict(list)  # marker k → realtime ns of each delivery
        self.rx.subscribe(topics.queue(MEASURED), self._on_message)
        self.rx.subscribe(topics.tickets(MEASURED), self._on_message)

    def start(self) -> None:
        for link in (self.tx, self.rx):
            link.start()
            if not link.connected.wait(10):
                raise RuntimeError("benchmark MQTT client could not connect")

    def stop(self) -> None:
        self.tx.stop()
        self.rx.stop()

    def _on_message(self, topic: str, payload: bytes) -> None:
        at = realtime_ns()
        found = PAYLOAD_MARKER.search(payload)
        if found:
            with self._cond:
                self.arrivals[int(found.group(1)) - MARK_BASE].append(at)
                self._cond.notify_all()

    def publish(self, topic: str, payload: bytes) -> None:
        if not self.tx.publish(topic, payload, qos=1, retain=True):
            raise RuntimeError(f"publish to {topic} failed")

    def received(self, k: int, count: int, timeout: float = 10.0) -> list[int]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.arrivals.get(k, ())) >= count, timeout)
            return list(self.arrivals.pop(k, []))
