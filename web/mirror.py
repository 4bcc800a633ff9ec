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
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar, cast

from protocol import topics
from protocol.fields import PROTOCOL_VERSION, InvalidMessage, decode_object
from protocol.messages import (
    PARSERS,
    CallsState,
    CounterState,
    DeviceStatus,
    History,
    OfficeInfo,
    QueueState,
    TicketView,
)
from web.freshness import FRESH, Freshness, bridge_client_id, bridge_of, own_time, stale_reason

log = logging.getLogger("wartemarke.web.mirror")
Key = tuple[str, ...]
M = TypeVar("M")
OFFICE_WIDE = {topics.INFO: "info", topics.QUEUE: "queue", topics.CALLS: "calls", topics.HISTORY: "history"}


class Message(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def as_published(message: Message) -> dict[str, Any]:
    """A mirrored message as its topic carried it (`v` and all): what a JSON API serves of it."""
    return {"v": PROTOCOL_VERSION, **message.to_dict()}


def office_name(mirror: Mirror, office: str) -> str:
    """The office's name from its `info`; its id until that has arrived."""
    info = mirror.office(office).info
    return info.name if info is not None else office


@dataclass
class OfficeMirror:
    info: OfficeInfo | None = None
    queue: QueueState | None = None
    calls: CallsState | None = None
    history: History | None = None
    counters: dict[str, CounterState] = field(default_factory=dict)
    devices: dict[str, DeviceStatus] = field(default_factory=dict)


@dataclass
class Mirror:
    offices: dict[str, OfficeMirror] = field(default_factory=dict)
    tickets: dict[str, tuple[str, TicketView]] = field(default_factory=dict)  # sha256 → (office, view)
    mqtt_connected: bool = False
    updates: int = 0
    _versions: dict[str, int] = field(default_factory=dict)  # office → count of changes, for caches
    _days: dict[str, date] = field(default_factory=dict)  # office → its business day (from `queue`)
    invalid: int = 0
    _subscribers: dict[Key, set[asyncio.Queue[str]]] = field(default_factory=lambda: defaultdict(set))
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    bridges: dict[str, bool] = field(default_factory=dict)  # bridge client id → up (web/freshness.py)
    _confirmed: set[str] = field(default_factory=set)  # offices whose queue arrived since the last (re)connect
    _stale: dict[str, datetime | None] = field(default_factory=dict)  # stale office → since when (None: unknown)
    _was_current: set[str] = field(default_factory=set)  # offices that were current here at some time

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

    # -- freshness (web/freshness.py) -----------------------------------------------------------

    def freshness(self, office: str) -> Freshness:
        reason = self._reason(office)
        if reason is None:
            return FRESH
        mirror = self.office(office)
        hub = self._hub_status(office)
        since = self._stale.get(office) or own_time(mirror.queue.at if mirror.queue is not None else None,
                                                    hub.at if hub is not None else None)
        return Freshness(True, reason, since)

    def set_connected(self, up: bool) -> None:
        """The broker connection came or went: every office is rechecked (after a reconnect each is stale
        until its retained `queue` has arrived again)."""
        self.mqtt_connected = up
        self._confirmed.clear()
        for office in list(self.offices):
            self._recheck(office)

    def _hub_status(self, office: str) -> DeviceStatus | None:
        mirror = self.office(office)
        hub = mirror.info.hub if mirror.info is not None else None
        return mirror.devices.get(hub) if hub is not None else None

    def _reason(self, office: str) -> str | None:
        info = self.office(office).info
        hub = info.hub if info is not None else None
        bridge_up = self.bridges.get(bridge_client_id(hub)) if hub is not None else None
        return stale_reason(self.mqtt_connected, office in self._confirmed, self._hub_status(office), bridge_up)

    def _recheck(self, office: str) -> None:
        """Note a change between current and stale (and when it happened), and tell the pages."""
        stale = self._reason(office) is not None
        if not stale:
            self._was_current.add(office)
        if stale == (office in self._stale):
            return
        if stale:
            self._stale[office] = self.now() if office in self._was_current else None
        else:
            del self._stale[office]
        self._versions[office] = self._versions.get(office, 0) + 1
        self.notify(("office", office), "freshness")
        self.notify(("offices",), office)
        for token_hash, (ticket_office, _view) in list(self.tickets.items()):
            if ticket_office == office:
                self.notify(("ticket", token_hash), "freshness")

    def apply_bridge_state(self, topic: str, payload: bytes) -> None:
        """mosquitto's bridge notification at the central broker: `1` up, `0` down (its will)."""
        client = bridge_of(topic)
        if client is None:
            return
        if payload not in (b"0", b"1"):
            self.invalid += 1
            log.warning("dropped invalid bridge state on %s: %r", topic, payload[:20])
            return
        self.bridges[client] = payload == b"1"
        for office, mirror in list(self.offices.items()):
            hub = mirror.info.hub if mirror.info is not None else None
            if hub is not None and bridge_client_id(hub) == client:
                self._recheck(office)

    # -- updates (on the event loop) ------------------------------------------------------------

    def apply(self, topic: str, payload: bytes) -> None:
        try:
            where = topics.parse(topic)
        except topics.TopicError:
            return
        office, kind, key = where.office, where.kind, where.id or ""
        if kind not in (*OFFICE_WIDE, topics.TICKET, topics.COUNTER_STATE, topics.DEVICE_STATUS):
            return
        try:  # checked against the contract; the pages read the parsed objects
            data = decode_object(payload) if payload else None
            message = PARSERS[kind](data) if data is not None else None
        except InvalidMessage as exc:
            self.invalid += 1
            log.warning("dropped invalid message on %s: %s", topic, exc)
            return
        self.updates += 1
        self._versions[office] = self._versions.get(office, 0) + 1
        mirror = self.office(office)
        if kind == topics.TICKET:
            self._ticket(office, key, cast(TicketView | None, message))
        elif kind in OFFICE_WIDE:
            setattr(mirror, OFFICE_WIDE[kind], message)
            if isinstance(message, QueueState):
                self._confirmed.add(office)
                if self._days.get(office) != message.day:
                    self._days[office] = message.day
                    self._expire_before(office, message.day)
            self.notify(("office", office), OFFICE_WIDE[kind])
            self.notify(("offices",), office)
            self._recheck(office)
        elif kind == topics.COUNTER_STATE:
            self._set(mirror.counters, key, cast(CounterState | None, message))
            self.notify(("counter", office, key), "state")
        else:
            self._set(mirror.devices, key, cast(DeviceStatus | None, message))
            self.notify(("devices", office), key)
            if mirror.info is not None and key == mirror.info.hub:
                self._recheck(office)

    def _expire_before(self, office: str, day: date) -> None:
        """The office's day moved on: its tickets of earlier days are gone, even if their clearing (an empty
        retained message) never reached this replica — yesterday's links answer 404."""
        old = [h for h, (o, view) in self.tickets.items() if o == office and view.day < day]
        for token_hash in old:
            self._ticket(office, token_hash, None)

    def _ticket(self, office: str, token_hash: str, view: TicketView | None) -> None:
        if view is None:
            self.tickets.pop(token_hash, None)
        else:
            self.tickets[token_hash] = (office, view)
        self.notify(("ticket", token_hash), "state")

    @staticmethod
    def _set(table: dict[str, M], key: str, data: M | None) -> None:
        if data is None:
            table.pop(key, None)
        else:
            table[key] = data
