"""The benchmarks' MQTT side: a private broker as an office runs it, clients with TCP_NODELAY, MQTT v5
request/response as a clerk's counter sends it, a subscriber that timestamps what arrives, and the
one-hop publish → receive baseline."""

from __future__ import annotations

import itertools
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.broker import Broker
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.fields import decode_object, encode_object
from protocol.link import BrokerSettings, MqttLink
from protocol.requests import command_expiry_s, request_properties

REPLY_TIMEOUT_S = 10.0
#: mosquitto's default log types (the test broker logs every packet, which is not what an office runs)
DEFAULT_BROKER_LOG = "log_type error\nlog_type warning\nlog_type notice\nlog_type information"


def private_broker(directory: Path, nodelay: bool) -> Broker:
    """A private mosquitto logging at its default levels; with `nodelay`, `set_tcp_nodelay true`."""
    broker = Broker(directory, persistence=False, extra_config="set_tcp_nodelay true" if nodelay else "")
    text = broker.config_path.read_text(encoding="utf-8").replace("log_type all", DEFAULT_BROKER_LOG)
    broker.config_path.write_text(text, encoding="utf-8")
    return broker


def tcp_nodelay() -> None:
    """In this process, open every TCP connection with TCP_NODELAY (paho does not set it, so a small
    packet waits for the ACK of the previous one: Nagle against delayed ACKs, ~40 ms on Linux)."""
    original = socket.create_connection
    if getattr(original, "_bench_nodelay", False):
        return

    def create_connection(*args: Any, **kwargs: Any) -> socket.socket:
        sock = original(*args, **kwargs)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    create_connection._bench_nodelay = True  # type: ignore[attr-defined]
    socket.create_connection = create_connection  # type: ignore[assignment]


def bench_link(port: int, office: str, device: str, host: str = "127.0.0.1") -> MqttLink:
    """A benchmark client: no availability status, reconnecting within a second."""
    return MqttLink(BrokerSettings(host=host, port=port, reconnect_max_s=1), office, device, "bench", VERSION,
                    SystemClock(), availability=False)


def started(client: MqttLink) -> MqttLink:
    client.start()
    if not client.connected.wait(REPLY_TIMEOUT_S):
        client.stop()
        raise RuntimeError(f"benchmark client {client.device} could not connect to the broker")
    return client


class Requester:
    """MQTT v5 request/response over one connection, one request in flight (what `send_command` does,
    with the response topic subscribed once instead of per request).

    The response topic lies under the counter's own response tree, as a clerk's: the hub answers a
    counter's commands nowhere else (hub/app.py)."""

    def __init__(self, port: int, office: str, counter: str, name: str, host: str = "127.0.0.1") -> None:
        self.response_topic = topics.counter_response(office, counter, uuid.uuid4().hex[:12])
        self.link = bench_link(port, office, name, host)
        self.link.subscribe_requests(self.response_topic, self._on_reply)
        self._ids = itertools.count(1)
        self._expect = b""
        self._done = threading.Event()
        self._answer: dict[str, Any] = {}
        self._at = 0.0

    def start(self) -> Requester:
        started(self.link)
        return self

    def stop(self) -> None:
        self.link.stop()

    def _on_reply(self, topic: str, data: bytes, properties: Any) -> None:
        if getattr(properties, "CorrelationData", None) == self._expect:
            self._at = time.perf_counter()
            self._answer = decode_object(data)
            self._done.set()

    def request(self, topic: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """Publish one request and wait for its reply; returns (seconds, answer)."""
        correlation = f"{self.link.device}-{next(self._ids)}".encode()
        self._expect = correlation
        self._done.clear()
        props = request_properties(self.response_topic, correlation, command_expiry_s(REPLY_TIMEOUT_S))
        raw = encode_object(body)
        start = time.perf_counter()
        if not self.link.publish(topic, raw, properties=props):
            raise RuntimeError(f"{self.link.device}: not connected")
        if not self._done.wait(REPLY_TIMEOUT_S):
            raise RuntimeError(f"{self.link.device}: no reply on {topic} within {REPLY_TIMEOUT_S:.0f} s")
        return self._at - start, self._answer

    def command(self, topic: str, op: str) -> tuple[float, dict[str, Any]]:
        return self.request(topic, {"id": uuid.uuid4().hex, "op": op})


class Watch:
    """A subscriber keeping the latest JSON of a topic, with its arrival time, and waiting on it."""

    def __init__(self, port: int, office: str, topic: str, name: str, host: str = "127.0.0.1") -> None:
        self.topic = topic
        self._cond = threading.Condition()
        self.latest: dict[str, Any] | None = None
        self.arrivals: dict[int, float] = {}  # value of `key` → first arrival
        self.key = "seq"
        self.last_arrival = 0.0
        self.link = bench_link(port, office, name, host)
        self.link.subscribe(topic, self._on_message)

    def start(self) -> Watch:
        started(self.link)
        return self

    def stop(self) -> None:
        self.link.stop()

    def _on_message(self, topic: str, data: bytes) -> None:
        at = time.perf_counter()
        if not data:
            return
        value = decode_object(data)
        with self._cond:
            self.latest = value
            self.last_arrival = at
            k = value.get(self.key)
            if isinstance(k, int):
                self.arrivals.setdefault(k, at)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: self.latest is not None and predicate(self.latest), timeout):
                raise RuntimeError(f"timed out waiting on {self.topic} (latest: {self.latest})")
            assert self.latest is not None
            return self.latest

    def settled(self, quiet_s: float, timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        """The latest message once none has arrived for `quiet_s` (the publisher has caught up)."""
        deadline = time.perf_counter() + timeout
        while True:
            with self._cond:
                quiet = time.perf_counter() - self.last_arrival
                if self.latest is not None and quiet >= quiet_s:
                    return self.latest
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.topic} did not settle (latest: {self.latest})")
            time.sleep(max(quiet_s - quiet, 0.01))

    def arrival(self, key: int, timeout: float = REPLY_TIMEOUT_S) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self.arrivals, timeout):
                raise RuntimeError(f"no message with {self.key} = {key} on {self.topic} within {timeout:.0f} s")
            return self.arrivals[key]


class Ping:
    """One-hop baseline: publish (QoS 1) from one connection, timestamp the delivery on another."""

    def __init__(self, port: int, office: str, host: str = "127.0.0.1") -> None:
        self.topic = f"bench/ping/{uuid.uuid4().hex[:8]}"
        self.sender = bench_link(port, office, "ping-tx", host)
        self.watch = Watch(port, office, self.topic, "ping-rx", host)
        self._n = 0

    def start(self) -> Ping:
        started(self.sender)
        self.watch.start()
        return self

    def stop(self) -> None:
        self.sender.stop()
        self.watch.stop()

    def once(self) -> float:
        self._n += 1
        body = encode_object({"seq": self._n, "pad": "x" * 200})
        start = time.perf_counter()
        self.sender.publish(self.topic, body)
        return self.watch.arrival(self._n) - start
