"""The city's processes for the length of a `with`, and the benchmark's two MQTT ends of the bare hop chain."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import secrets
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.city.topology import COUNTER, MEASURED, MEASURED_HUB, OBSERVER, PROBE, REPLICAS, City
from bench.runner import child, python, wait_ready
from bench.web.markers import realtime_ns
from devtools.hub_harness import issued, payload
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.fields import encode_object
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CommandRequest, TicketView
from protocol.requests import Requester

RECALL = re.compile(rb'"recall":(\d+)')


def paho_client(port: int, user: str, password: str, cafile: Path | None) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    if cafile is not None:
        client.tls_set(ca_certs=str(cafile))
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect_async("localhost" if cafile else "127.0.0.1", port, keepalive=60)
    client.loop_start()
    if not connected.wait(30):
        raise RuntimeError(f"{user} could not connect to the broker on port {port}")
    return client


class HopChain:
    """The baseline: a ticket view published at the measured office's broker (its local listener, as the
    hub publishes) → the bridge → the central broker → a subscriber there (an account like a replica's)."""

    def __init__(self, city: City) -> None:
        assert city.central is not None
        self.topic = topics.ticket(MEASURED, secrets.token_hex(32))
        self._cond = threading.Condition()
        self.arrivals: dict[int, int] = {}
        self.waiting = -1  # the measured office's queue at the central broker (the hub is up, the tickets in)
        self.queue_at: dict[int, int] = {}  # waiting count → CLOCK_REALTIME ns it first reached the central broker
        self.receiver = paho_client(city.central.port, OBSERVER, city.passwords[OBSERVER], city.ca.ca_cert)
        self.receiver.on_message = self._on_message
        self.receiver.subscribe([(self.topic, 1), (topics.queue(MEASURED), 1)])
        self.sender = paho_client(city.office_local_port, PROBE, city.passwords[PROBE], None)
        self.n = 0

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        at = realtime_ns()
        if message.topic == topics.queue(MEASURED):
            with self._cond:
                self.waiting = sum(int(s["waiting"]) for s in json.loads(message.payload)["services"])
                self.queue_at.setdefault(self.waiting, at)
                self._cond.notify_all()
            return
        found = RECALL.search(message.payload)
        if found:
            with self._cond:
                self.arrivals.setdefault(int(found.group(1)), at)
                self._cond.notify_all()

    def once(self, timeout: float = 10.0) -> float:
        """Seconds from publish to receipt of one ticket view (a real TicketView; the marker in `recall`)."""
        self.n += 1
        now = datetime.now(UTC)
        view = TicketView(date.today(), "Z999", "A", "waiting", now, ahead=1, expected_wait_min=3, recall=self.n)
        start = realtime_ns()
        self.sender.publish(self.topic, encode_object(view.to_dict()), qos=1, retain=True)
        with self._cond:
            if not self._cond.wait_for(lambda: self.n in self.arrivals, timeout):
                raise RuntimeError("the bare hop chain lost a message")
            return (self.arrivals[self.n] - start) / 1e9

    def wait_waiting(self, waiting: int, timeout: float = 60.0) -> int:
        """When the measured office's queue with `waiting` tickets reached the central broker (realtime ns)."""
        with self._cond:
            if not self._cond.wait_for(lambda: waiting in self.queue_at, timeout):
                raise RuntimeError(f"the hub's queue reached the central broker with {self.waiting} waiting, "
                                   f"not {waiting}")
            return self.queue_at[waiting]

    def close(self) -> None:
        for client in (self.sender, self.receiver):
            client.disconnect()
            client.loop_stop()


class Office:
    """The measured office's kiosk and clerk, on the office broker's local listener with their own accounts."""

    def __init__(self, city: City) -> None:
        settings = {user: BrokerSettings(port=city.office_local_port, username=user, password=city.passwords[user],
                                         reconnect_max_s=1) for user in (f"{MEASURED_HUB}-kiosk", COUNTER)}
        self.kiosk = MqttLink(settings[f"{MEASURED_HUB}-kiosk"], MEASURED, f"{MEASURED_HUB}-kiosk", "kiosk", VERSION,
                              SystemClock(), availability=False)
        self.clerk = MqttLink(settings[COUNTER], MEASURED, COUNTER, "counter", VERSION, SystemClock(),
                              availability=False)
        for link in (self.kiosk, self.clerk):
            link.start()
            if not link.connected.wait(30):
                raise RuntimeError(f"{link.device} could not connect to the office broker")
        self.requester = Requester(self.clerk)
        self.requester.listen(MEASURED, "platz-1")
        self.seq = 0

    def issue(self, token: str, day: date) -> None:
        self.seq += 1
        event = issued(day, f"A{self.seq:03d}", self.seq, device=f"{MEASURED_HUB}-kiosk", token=token)
        if not self.kiosk.publish(topics.kiosk_ticket(MEASURED, f"{MEASURED_HUB}-kiosk"), payload(event)):
            raise RuntimeError("the kiosk's ticket was not sent")

    def call_next(self) -> int:
        """A clerk's `next` at platz-1; returns the CLOCK_REALTIME ns just before it was sent."""
        start = realtime_ns()
        answer = self.requester.request(MEASURED, "platz-1", CommandRequest(uuid.uuid4().hex, "next", {}), 10.0)
        if answer is None or not answer.ok:
            raise RuntimeError(f"the hub did not call a ticket: {answer}")
        return start

    def close(self) -> None:
        self.kiosk.stop()
        self.clerk.stop()


@contextlib.contextmanager
def replicas_and_nginx(city: City, max_streams: int, workers: int, worker_connections: int,
                       ) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Both replicas (logged in to the central broker) and nginx in front of them, once all answer."""
    with contextlib.ExitStack() as stack:
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name in REPLICAS:
            config = city.replica_config(name, max_streams)
            log = config.parent / "replica.log"
            procs[name] = stack.enter_context(child(python("bench.web.replica", "run", "--config", str(config)), log,
                                                    timeout=30))
        main = city.nginx_config(workers, worker_connections)
        procs["nginx"] = stack.enter_context(child(["nginx", "-c", str(main)], main.parent / "nginx.out", timeout=30))
        for name, address in REPLICAS.items():
            wait_ready(procs[name], partial(_healthy, address, city.replica_ports[name]), name,
                       city.work / name / "replica.log", 60)
        wait_ready(procs["nginx"], lambda: _healthy("127.0.0.1", city.nginx_port, tls=True), "nginx",
                   main.parent / "error.log", 30)
        yield procs


def _healthy(address: str, port: int, tls: bool = False) -> bool:
    """A replica answers /healthz with 200 (it reads the central broker); nginx accepts connections."""
    try:
        if tls:
            socket.create_connection((address, port), timeout=1).close()
            return True
        connection = http.client.HTTPConnection(address, port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        finally:
            connection.close()
    except (OSError, http.client.HTTPException):
        return False
