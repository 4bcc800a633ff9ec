"""Simulated offices, all in one process of their own: `python -m bench.city.offices SPEC_FILE`.

Each office is what the central broker sees of an office: one MQTT v5 connection over TLS with the
office's bridge account (`{hub}-bridge`, so the central ACL applies as to a real bridge), publishing its
hub's public topics retained at QoS 1 with the real message types of protocol/messages: `info` and
`history` once, the hub's status, then every `interval_s` (each office at its own phase) one change,
alternately a ticket issued (`queue` and the new ticket's view) and a call (`queue`, the called ticket's
view, and the view of every ticket still waiting, whose `ahead` dropped — what a hub publishes after a
`next`). The watched tickets (the tokens the benchmark's tracking pages show) cycle: the called one
queues up again at the end, so the number of open tracking pages stays the same.

SPEC_FILE (JSON): {"port", "cafile", "interval_s", "offices": [[office, account, password, [token hash…]]…]}.
Prints {"ready": n} once every office has connected and published its initial state; `count` on stdin
prints {"published": n}; end of input stops it.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.web.payloads import history_payload, info_payload
from protocol import topics
from protocol.fields import decode_object, encode_object
from protocol.messages import DeviceStatus, History, OfficeInfo, QueueState, ServiceQueue, TicketView

EXTRA_WAITING = 6  # tickets waiting besides the watched ones (nobody tracks them here)
MINUTES_PER_TICKET = 4


@dataclass
class SimulatedOffice:
    office: str
    account: str
    tokens: list[str]  # sha256 of the watched tickets' tokens, in queue order
    client: mqtt.Client
    day: date = field(default_factory=date.today)
    issued: int = 0
    called: str | None = None
    changes: int = 0

    def publish(self, topic: str, data: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, encode_object(data), qos=1, retain=True)

    def initial(self, seed: int) -> list[mqtt.MQTTMessageInfo]:
        info = OfficeInfo.from_dict(decode_object(info_payload(f"Bürgerbüro {self.office}", self.day)))
        history = History.from_dict(decode_object(history_payload(self.office, self.day, seed)))
        hub = self.account.removesuffix("-bridge")
        status = DeviceStatus(online=True, role="hub", version="bench", at=datetime.now(UTC), clock_synced=True)
        sent = [self.publish(topics.info(self.office), info.to_dict()),
                self.publish(topics.history(self.office), history.to_dict()),
                self.publish(topics.device_status(self.office, hub), status.to_dict()),
                self.publish(topics.queue(self.office), self.queue().to_dict())]
        sent += [self.publish(topics.ticket(self.office, h), self.view(n).to_dict()) for n, h in enumerate(self.tokens)]
        return sent

    def waiting(self) -> int:
        return len(self.tokens) + EXTRA_WAITING + self.issued % 4

    def queue(self) -> QueueState:
        waiting = self.waiting()
        wait = waiting * MINUTES_PER_TICKET // 3
        return QueueState(self.day, datetime.now(UTC), (
            ServiceQueue("A", waiting, wait, True, None, "green" if wait < 30 else "yellow" if wait < 90 else "red",
                         (max(0, wait - 10), wait + 15)),
            ServiceQueue("P", 2, 5, True, None, "green", (2, 9))))

    def view(self, ahead: int, state: str = "waiting") -> TicketView:
        now = datetime.now(UTC)
        label = f"A{100 + ahead:03d}"
        if state == "called":
            return TicketView(self.day, label, "A", "called", now - timedelta(minutes=40), counter="platz-2",
                              counter_name="Platz 2", called_at=now, recall=0)
        wait = ahead * MINUTES_PER_TICKET // 3
        return TicketView(self.day, label, "A", "waiting", now - timedelta(minutes=5), ahead=ahead,
                          expected_wait_min=wait, wait_range_min=(max(0, wait - 5), wait + 10))

    def change(self) -> int:
        """One change of the office, alternately an issue and a call; returns the messages published."""
        self.changes += 1
        if self.changes % 2:
            self.issued += 1
            extra = f"{self.office}-{self.issued % 8}".encode().hex()[:64].ljust(64, "0")
            self.publish(topics.ticket(self.office, extra), self.view(self.waiting()).to_dict())
            self.publish(topics.queue(self.office), self.queue().to_dict())
            return 2
        if not self.tokens:
            self.publish(topics.queue(self.office), self.queue().to_dict())
            return 1
        front = self.tokens.pop(0)
        if self.called is not None:
            self.tokens.append(self.called)
        self.called = front
        self.publish(topics.ticket(self.office, front), self.view(0, "called").to_dict())
        for ahead, token_hash in enumerate(self.tokens):
            self.publish(topics.ticket(self.office, token_hash), self.view(ahead).to_dict())
        self.publish(topics.queue(self.office), self.queue().to_dict())
        return len(self.tokens) + 2


def connect(port: int, cafile: str, account: str, password: str) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=account,
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(account, password)
    client.tls_set(ca_certs=cafile)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(100)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect_async("localhost", port, keepalive=60)
    client.loop_start()
    if not connected.wait(30):
        raise RuntimeError(f"{account} could not connect to the central broker")
    return client


def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    offices = [SimulatedOffice(office, account, list(tokens), connect(spec["port"], spec["cafile"], account, password),
                               changes=n % 2)  # every other office starts with a call: any window sees both kinds
               for n, (office, account, password, tokens) in enumerate(spec["offices"])]
    sent = [m for n, o in enumerate(offices) for m in o.initial(n)]
    for message in sent:
        message.wait_for_publish(30)
    published = [len(sent)]
    print(json.dumps({"ready": len(offices)}), flush=True)
    stop = threading.Event()
    threading.Thread(target=_changes, args=(offices, float(spec["interval_s"]), stop, published), daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "count":
            print(json.dumps({"published": published[0]}), flush=True)
    stop.set()
    for o in offices:
        o.client.disconnect()
        o.client.loop_stop()
    return 0


def _changes(offices: list[SimulatedOffice], interval_s: float, stop: threading.Event, published: list[int]) -> None:
    """Every office changes once per `interval_s`, at its own random phase."""
    rng = random.Random(13)
    due = [(time.monotonic() + rng.uniform(0, interval_s), n) for n in range(len(offices))]
    while not stop.is_set():
        due.sort()
        at, n = due[0]
        if stop.wait(max(0.0, at - time.monotonic())):
            return
        published[0] += offices[n].change()
        due[0] = (at + interval_s, n)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
