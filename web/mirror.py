"""The web tier's memory: the hub's retained topics, kept current, with change notifications.

The web holds no durable state: after a restart the broker hands every retained topic over again.
Every message is checked against the contract first (protocol/): one that breaks it is logged, counted
and dropped, and the pages keep the last good state.
Updates arrive on paho's thread and are applied on the asyncio loop (`call_soon_threadsafe`), where
the pages and the server-sent-event streams read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from protocol import topics
from protocol.fields import InvalidMessage, decode_object
from protocol.messages import PARSERS

log = logging.getLogger("wartemarke.web.mirror")
Key = tuple[str, ...]
OFFICE_WIDE = {topics.INFO: "info", topics.QUEUE: "queue", topics.CALLS: "calls", topics.HISTORY: "history"}


@dataclass
class OfficeMirror:
    info: dict[str, Any] | None = None
    queue: dict[str, Any] | None = None
    calls: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    counters: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Mirror:
    offices: dict[str, OfficeMirror] = field(default_factory=dict)
    tickets: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # sha256 → (office, view)
    mqtt_connected: bool = False
    updates: int = 0
    _versions: dict[str, int] = field(default_factory=dict)  # office → count of changes, for caches
    _days: dict[str, str] = field(default_factory=dict)  # office → its business day (from `queue`)
    invalid: int = 0
    _subscribers: dict[Key, set[asyncio.Queue[str]]] = field(default_factory=lambda: defaultdict(set))

    def version(self, office: str) -> int:
        return self._versions.get(office, 0)

    def office(self, office: str) -> OfficeMirror:
        return self.offices.setdefault(office, OfficeMirror())

    # -- change notification --------------------------------------------------------------------

    def subscribe(self, key: Key) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=16)
        self._subscribers[key].add(queue)
        return queue

    def unsubscribe(self, key: Key, queue: asyncio.Queue[str]) -> None:
        self._subscribers[key].discard(queue)
        if not self._subscribers[key]:
            del self._subscribers[key]

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def notify(self, key: Key, data: str) -> None:
        for queue in list(self._subscribers.get(key, ())):
            if queue.full():  # a slow client gets the newest state, not a backlog
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(data)

    # -- updates (on the event loop) ------------------------------------------------------------

    def apply(self, topic: str, payload: bytes) -> None:
        try:
            where = topics.parse(topic)
        except topics.TopicError:
            return
        office, kind, key = where.office, where.kind, where.id or ""
        if kind not in (*OFFICE_WIDE, topics.TICKET, topics.COUNTER_STATE, topics.DEVICE_STATUS):
            return
        try:  # checked against the contract; the pages read the plain dicts
            data = decode_object(payload) if payload else None
            if data is not None:
                PARSERS[kind](data)
        except InvalidMessage as exc:
            self.invalid += 1
            log.warning("dropped invalid message on %s: %s", topic, exc)
            return
        self.updates += 1
        self._versions[office] = self._versions.get(office, 0) + 1
        mirror = self.office(office)
        if kind == topics.TICKET:
            self._ticket(office, key, data)
        elif kind in OFFICE_WIDE:
            setattr(mirror, OFFICE_WIDE[kind], data)
            if kind == topics.QUEUE and data is not None and self._days.get(office) != data["day"]:
                self._days[office] = data["day"]
                self._expire_before(office, data["day"])
            self.notify(("office", office), OFFICE_WIDE[kind])
            self.notify(("offices",), office)
        elif kind == topics.COUNTER_STATE:
            self._set(mirror.counters, key, data)
            self.notify(("counter", office, key), "state")
        else:
            self._set(mirror.devices, key, data)
            self.notify(("devices", office), key)

    def _expire_before(self, office: str, day: str) -> None:
        """The office's day moved on: its tickets of earlier days are gone, even if their clearing (an empty
        retained message) never reached this replica — yesterday's links answer 404."""
        old = [h for h, (o, view) in self.tickets.items() if o == office and str(view.get("day", day)) < day]
        for token_hash in old:
            self._ticket(office, token_hash, None)

    def _ticket(self, office: str, token_hash: str, data: dict[str, Any] | None) -> None:
        if data is None:
            self.tickets.pop(token_hash, None)
        else:
            self.tickets[token_hash] = (office, data)
        self.notify(("ticket", token_hash), json.dumps(data))

    @staticmethod
    def _set(table: dict[str, dict[str, Any]], key: str, data: dict[str, Any] | None) -> None:
        if data is None:
            table.pop(key, None)
        else:
            table[key] = data
