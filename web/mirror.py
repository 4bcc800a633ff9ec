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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol.fields import InvalidMessage, decode_object
from protocol.messages import CallsState, DeviceStatus, OfficeInfo, QueueState
from protocol.views import check_counter_state, check_history, check_ticket_view

log = logging.getLogger("wartemarke.web.mirror")
Key = tuple[str, ...]
# What each retained kind must satisfy before a page may see it (the pages read the plain dicts).
CHECKS: dict[str, Callable[[dict[str, Any]], object]] = {
    "info": OfficeInfo.from_dict, "queue": QueueState.from_dict, "calls": CallsState.from_dict,
    "history": check_history, "ticket": check_ticket_view, "counter": check_counter_state,
    "device": DeviceStatus.from_dict,
}


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
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != "wartemarke" or parts[1] != "v1":
            return
        office, kind = parts[2], parts[3]
        try:
            data = decode_object(payload) if payload else None
            if data is not None and kind in CHECKS:
                CHECKS[kind](data)
        except InvalidMessage as exc:
            self.invalid += 1
            log.warning("dropped invalid message on %s: %s", topic, exc)
            return
        self.updates += 1
        self._versions[office] = self._versions.get(office, 0) + 1
        mirror = self.office(office)
        if kind == "ticket" and len(parts) == 5:
            self._ticket(office, parts[4], data)
        elif kind in ("info", "queue", "calls", "history") and len(parts) == 4:
            setattr(mirror, kind, data)
            if kind == "queue" and data is not None and isinstance(data.get("day"), str) \
                    and self._days.get(office) != data["day"]:
                self._days[office] = data["day"]
                self._expire_before(office, data["day"])
            self.notify(("office", office), kind)
            self.notify(("offices",), office)
        elif kind == "counter" and len(parts) == 6 and parts[5] == "state":
            self._set(mirror.counters, parts[4], data)
            self.notify(("counter", office, parts[4]), "state")
        elif kind == "device" and len(parts) == 6 and parts[5] == "status":
            self._set(mirror.devices, parts[4], data)
            self.notify(("devices", office), parts[4])

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
