"""Server-sent event streams: the current state at once, then every change, heartbeats between — and
how many of them one client, and everybody, may hold.

A stream lives as long as its client wants, so it is the cheapest way to hold a server's sockets:
public streams are limited per client (`max_streams_per_client`, then 429) and in total (`max_streams`,
then 503), both with Retry-After. A tracking page's streams count per client *and ticket*: phones in a
waiting room on the office's guest Wi-Fi, or behind a mobile carrier's NAT, share one address, and each
must still get its own ticket's stream; the Ampel's count per client. The staff's streams (counter, devices) need a
session and are counted apart, so citizens (or an attacker) filling the public streams never lock a
clerk out of the counter page.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from web.config import Limits
from web.gate import GATE, STREAM
from web.keys import MIRROR
from web.limits import client_key, throttled

HEARTBEAT_S = 20.0
RETRY_MS = 2000  # the `retry:` each stream starts with: a browser reconnects this soon after a stream ends
STAFF_STREAMS = 200  # open staff streams at most (a busy office has a few dozen clerks and technicians)
RETRY_AFTER_S = 30


SHARED_EVENTS_MAX = 100_000  # rendered events kept (a few hundred bytes each); all forgotten beyond


@dataclass
class SharedEvents:
    """One rendering of an event for every stream that shows the same thing (a ticket in one language):
    the first stream to need it renders it, the others take it while its `stamp` — everything the event is
    made from — is unchanged. Hundreds of streams may watch one ticket; a change is rendered once each."""

    made: dict[Hashable, tuple[Hashable, str | None]] = field(default_factory=dict)

    def get(self, key: Hashable, stamp: Hashable, make: Callable[[], str | None]) -> str | None:
        found = self.made.get(key)
        if found is not None and found[0] == stamp:
            return found[1]
        if len(self.made) >= SHARED_EVENTS_MAX:
            self.made.clear()
        event = make()
        self.made[key] = (stamp, event)
        return event

    def forget(self, key: Hashable) -> None:
        self.made.pop(key, None)


@dataclass
class Streams:
    """The open event streams (their handler tasks): limited, counted for /metrics, ended on shutdown.

    A mutable object set before the app starts: a running aiohttp app's own state must not change.
    """

    limits: Limits
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    public: int = 0
    staff: int = 0
    per_client: Counter[str] = field(default_factory=Counter)
    shared: SharedEvents = field(default_factory=SharedEvents)

    @property
    def clients(self) -> int:
        return len(self.tasks)

    def refusal(self, request: web.Request, client: str, staff: bool) -> web.Response | None:
        """A 429/503 when this client, or everybody, holds as many streams as allowed; None to go ahead."""
        if staff:
            if self.staff >= STAFF_STREAMS:
                return throttled(request, 503, "staff event streams refused: server full",
                                 "too many open event streams; retry later", RETRY_AFTER_S)
            return None
        per_client = self.limits.max_streams_per_client
        if per_client and self.per_client[client] >= per_client:
            return throttled(request, 429, "event streams refused: too many from one client",
                             "too many open event streams from this client", RETRY_AFTER_S)
        if self.public >= self.limits.max_streams:
            return throttled(request, 503, "event streams refused: server full",
                             "too many open event streams; retry later", RETRY_AFTER_S)
        return None

    def opened(self, client: str, staff: bool) -> None:
        if staff:
            self.staff += 1
        else:
            self.public += 1
            self.per_client[client] += 1

    def closed(self, client: str, staff: bool) -> None:
        if staff:
            self.staff -= 1
            return
        self.public -= 1
        self.per_client[client] -= 1
        if self.per_client[client] <= 0:
            del self.per_client[client]


STREAMS = web.AppKey("streams", Streams)


async def stream(request: web.Request, key: tuple[str, ...], name: str,
                 make: Callable[[str | None], str | list[str] | None],
                 initial: Callable[[], list[str]] | None = None, staff: bool = False,
                 per_key: bool = False) -> web.StreamResponse:
    """A server-sent event stream: `retry:` and the current state at once, then every change, heartbeats
    between.

    The current state is `make(None)`, or the events `initial()` returns; `make` may answer a change with
    one event, several or none. `staff`: a logged-in page's stream (not counted against the public limits).
    `per_key`: the per-client limit counts this client's streams of `key` only (a ticket's tracking page).
    """
    streams = request.app[STREAMS]
    client = client_key(request) + ("\n" + "/".join(key) if per_key else "")
    refused = streams.refusal(request, client, staff)
    if refused is not None:
        return refused
    gate = request.app[GATE]
    conn = gate.lookup(request)
    if conn is not None:
        gate.set_state(conn, STREAM)  # no request timeout from now on
    mirror = request.app[MIRROR]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    streams.opened(client, staff)
    queue = mirror.subscribe(key)
    task = asyncio.current_task()
    if task is not None:
        streams.tasks.add(task)
    try:
        await response.prepare(request)
        current = initial() if initial is not None else _events(make(None))
        await response.write(f"retry: {RETRY_MS}\n\n".encode() + _framed(name, current))
        while True:
            try:
                changed = await _next_change(queue)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            framed = _framed(name, _events(make(changed)))
            if framed:  # the events of one change in one write: one send() per stream, not one per event
                await response.write(framed)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if task is not None:
            streams.tasks.discard(task)
        streams.closed(client, staff)
        mirror.unsubscribe(key, queue)
    return response


async def _next_change(queue: asyncio.Queue[str]) -> str:
    """The next change, or TimeoutError after HEARTBEAT_S without one. `asyncio.timeout`, not `wait_for`:
    no task per wait (thousands of streams wait at once), and none at all when a change is already queued."""
    if not queue.empty():
        return queue.get_nowait()
    async with asyncio.timeout(HEARTBEAT_S):
        return await queue.get()


def _events(made: str | list[str] | None) -> list[str]:
    return [] if made is None else [made] if isinstance(made, str) else made


def _framed(name: str, events: list[str]) -> bytes:
    return "".join(f"event: {name}\ndata: {event}\n\n" for event in events).encode()


async def end_streams(app: web.Application) -> None:
    """On shutdown: end the open event streams, or the server waits for them (they never end by themselves)."""
    for task in list(app[STREAMS].tasks):
        task.cancel()


async def merged_stream(request: web.Request, keys: list[tuple[str, ...]], name: str,
                        make: Callable[[str | None], str | None]) -> web.StreamResponse:
    """A staff page's stream over several mirror keys: each key's changes are forwarded to one private key."""
    mirror = request.app[MIRROR]
    own = ("staff-stream", uuid.uuid4().hex)

    async def forward(key: tuple[str, ...], queue: asyncio.Queue[str]) -> None:
        while True:
            await queue.get()
            mirror.notify(own, "/".join(key))

    queues = [(key, mirror.subscribe(key)) for key in keys]
    tasks = [asyncio.create_task(forward(key, queue)) for key, queue in queues]
    try:
        return await stream(request, own, name, make, staff=True)
    finally:
        for task in tasks:
            task.cancel()
        for key, queue in queues:
            mirror.unsubscribe(key, queue)
