"""Pieces for fault tests: a clock that is wrong by a fixed offset, a TCP proxy that can hold back one
direction of a real connection, a public web replica, and checks on recorded retained sequences.

- `OffsetClock(timedelta(days=30), synced=True)`: the system clock moved by an offset, running (unlike
  FakeClock), monotonic time untouched — a Pi whose wall clock is wrong.
- `TcpProxy(broker_port)`: clients connect to `proxy.port`; `hold_upstream()` stops forwarding what the
  client sends (so the broker never confirms the client's publishes), `accepting = False` refuses new
  connections, `drop_all()` cuts every connection.
- `start_replica(directory, office, broker_port)`: a `wartemarke-web` replica (real HTTP) in-process.
- `retained(broker, filter)`: what a new subscriber gets as retained under a filter.
- `start_hub(config, rec)`, `clerk_link(port, office)`: a hub in this process, a link for commands.
- `never_backwards(records, key)`: the recorded values of one topic, checked to never decrease.
"""

from __future__ import annotations

import contextlib
import json
import socket
import textwrap
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.broker import Broker, Received, Recorder, free_port, make_recorder
from hub.app import Hub
from hub.config import load_hub_config
from process.clock import Clock, SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from web.app import WebServer
from web.config import load_replica_config


class OffsetClock(SystemClock):
    """The real clock, wrong by `offset`; `synced` is what the kernel would (mistakenly) claim."""

    def __init__(self, offset: timedelta, synced: bool) -> None:
        super().__init__(assume_synced=synced)
        self.offset = offset
        self._synced = synced

    def now(self) -> datetime:
        return super().now() + self.offset

    def synced(self) -> bool:
        return self._synced


class TcpProxy:
    """A byte-for-byte TCP forwarder between MQTT clients and a broker, with faults on demand."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.accepting = True
        self._upstream_held = threading.Event()
        self._server = socket.create_server((host, 0))  # the kernel's free port, bound at once: no race
        self.port = self._server.getsockname()[1]
        self._server.settimeout(0.2)
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def hold_upstream(self) -> None:
        """Stop forwarding client → broker: the broker no longer hears (or confirms) anything the client
        sends, while everything the broker sends still arrives."""
        self._upstream_held.set()

    def drop_all(self) -> None:
        """Cut every connection (the clients see the broker vanish) and forward normally again."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._upstream_held.clear()

    def close(self) -> None:
        self._stop.set()
        self.drop_all()
        self._thread.join(5)
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.accepting:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # the timeout was for connecting: a quiet connection (keepalive 60 s) stays
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        held = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if upstream and self._upstream_held.is_set():
                    held += data  # swallowed: this connection's bytes never reach the broker
                    continue
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def start_replica(directory: Path, office: str, broker_port: int) -> tuple[WebServer, str]:
    """A public web replica (its own broker client, real HTTP on a free port); returns it and its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    path = directory / "web.toml"
    path.write_text(textwrap.dedent(f"""
        [replica]
        device = "web-replica"

        [web]
        port = {port}
        offices = ["{office}"]
        operator = "Stadt Teststadt"

        [broker]
        host = "127.0.0.1"
        port = {broker_port}
        reconnect_max_s = 1
    """), encoding="utf-8")
    config = load_replica_config(path)
    replica = WebServer(config.web, config.broker, config.device, SystemClock(assume_synced=True))
    replica.start()
    return replica, f"http://127.0.0.1:{port}"


def retained(broker: Broker, topic_filter: str) -> list[tuple[str, bytes]]:
    """Every retained message the broker holds under a filter, read by a new subscriber: a retained
    marker on a second filter arrives after them (mosquitto hands over retained messages filter by
    filter, in the SUBSCRIBE's order)."""
    marker = f"test-marker/{uuid.uuid4().hex}"
    with make_recorder(broker, []) as publisher:
        publisher.publish(marker, b"{}", retain=True)
        with make_recorder(broker, [topic_filter, marker]) as reader:
            reader.wait_for(lambda t, p: t == marker)
            found = [(t, p) for t, p in reader.messages(topic_filter) if p]
        publisher.clear_retained(marker)
    return found


def start_hub(config: Path, rec: Recorder | None = None, clock: Clock | None = None) -> Hub:
    """A hub in this process; with a recorder, returns once it is subscribed (its status is online)."""
    mark = rec.mark() if rec is not None else 0
    hub = Hub(load_hub_config(config), clock or SystemClock(assume_synced=True))
    hub.start()
    if rec is not None:
        rec.wait_for_json(topics.device_status(hub.config.offices[0].id, hub.config.device),
                          lambda s: bool(s["online"]), since=mark)
    return hub


def clerk_link(port: int, office: str) -> MqttLink:
    """A connected MQTT link for sending commands (`hub.counter_cli.send_command`)."""
    link = MqttLink(BrokerSettings(port=port), office, f"clerk-{uuid.uuid4().hex[:6]}", "cli", VERSION,
                    SystemClock(), availability=False)
    link.start()
    assert link.connected.wait(10)
    return link


def never_backwards(records: list[Received], key: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """The sequence of `key(payload)` over the recorded messages of one topic (empty payloads skipped);
    raises AssertionError at the first value smaller than the one before it."""
    values: list[Any] = []
    for record in records:
        if not record.payload:
            continue
        value = key(json.loads(record.payload))
        if values and value < values[-1]:
            raise AssertionError(f"{record.topic} went backwards: {values[-5:]} then {value}")
        values.append(value)
    return values
