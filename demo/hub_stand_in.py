"""A stand-in for the hub until the hub exists: it plays the hub's part of the kiosk contract.

It ingests ticket events idempotently by id, acks the highest contiguous seq per kiosk (retained,
with the last number per service today) and publishes a retained `queue` with a naive estimate, so
the demo shows the full delivery loop. The real queue authority is the `hub` package (hub issue).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import UTC, datetime

from protocol import topics
from protocol.fields import decode_object, encode_object
from protocol.link import MqttLink
from protocol.messages import Ack, QueueState, ServiceQueue, TicketEvent, TicketIssued, ticket_event_from_dict

log = logging.getLogger("wartemarke.demo.hub")
MINUTES_PER_TICKET = 6


class HubStandIn:
    def __init__(self, link: MqttLink, services: list[str]) -> None:
        self.link = link
        self.services = services
        self.seen: set[str] = set()
        self.acked: dict[str, int] = defaultdict(int)
        self.received: dict[str, set[int]] = defaultdict(set)
        self.last: dict[str, dict[str, int]] = defaultdict(dict)
        self.waiting: dict[str, int] = defaultdict(int)
        self.labels: dict[str, list[str]] = defaultdict(list)
        self._cond = threading.Condition()
        link.subscribe(f"{topics.office_root(link.office)}/kiosk/+/ticket", self._on_ticket)

    def _on_ticket(self, topic: str, payload: bytes) -> None:
        event = ticket_event_from_dict(decode_object(payload))
        with self._cond:
            self._ingest(event)
            self._cond.notify_all()

    def _ingest(self, event: TicketEvent) -> None:
        device = event.device
        if event.id not in self.seen:
            self.seen.add(event.id)
            last = self.last[device]
            last[event.service] = max(last.get(event.service, 0), event.number)
            if isinstance(event, TicketIssued):
                self.waiting[event.service] += 1
                self.labels[device].append(event.label)
                print(f"  hub ← {event.type} {event.label} from {device} (seq {event.seq})", flush=True)
            else:
                print(f"  hub ← {event.type} {event.label} from {device}: {event.reason}", flush=True)
        self.received[device].add(event.seq)
        while self.acked[device] + 1 in self.received[device]:
            self.acked[device] += 1
        ack = Ack(seq=self.acked[device], day=event.day, last=dict(self.last[device]))
        self.link.publish(topics.kiosk_ack(self.link.office, device), encode_object(ack.to_dict()), retain=True)
        self.publish_queue(event.day)

    def wait_acked(self, device: str, seq: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.acked[device] >= seq, timeout)

    def issued_labels(self, device: str) -> list[str]:
        with self._cond:
            return list(self.labels[device])

    def publish_queue(self, day: object) -> None:
        now = datetime.now(UTC)
        services = tuple(ServiceQueue(service=s, waiting=self.waiting[s],
                                      expected_wait_min=self.waiting[s] * MINUTES_PER_TICKET, issuing=True,
                                      ampel="green") for s in self.services)
        state = QueueState(day=now.date() if day is None else day, at=now, services=services)  # type: ignore[arg-type]
        self.link.publish(topics.queue(self.link.office), encode_object(state.to_dict()), retain=True)
