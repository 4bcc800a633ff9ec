"""A replica's CPU per ticket view, in-process, before and after the round that made it small (perf13),
interleaved in one run: what a call in an office costs each replica — ~100 waiting tickets' views
republished, each dispatched from paho's thread to the loop, applied to the mirror, and rendered for the
open tracking streams of that ticket.

- before: the link's old dispatch (`topic_matches_sub` against every filter the replica subscribed: 5 per
  office and the bridge states), one `call_soon_threadsafe` per message, `Mirror.apply`, and the tracking
  event rendered once per open stream (as e3b81dd did);
- after: the real `web.bridge.Bridge` and its `MqttLink.dispatch` (one walk of paho's MQTTMatcher, the loop
  woken once per batch), `Mirror.apply`, and the event rendered once per ticket and language
  (`web.streams.SharedEvents`, as `web.public.tracking_events` takes it).
The loop runs in this thread; nothing touches the network (the bridge's link is never started).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.city.topology import MEASURED, office_ids
from bench.web.payloads import new_token, ticket_payload
from bench.web.replica import write_replica_config
from devtools.broker import free_port
from devtools.stats import median
from process.clock import SystemClock
from protocol import topics
from protocol.link import BrokerSettings

VIEWS = 100  # waiting tickets whose view a call changes
TRACKED = 40  # of them with open tracking streams (bench/city/measure.py TOKENS_PER_OFFICE)


@dataclass
class PerView:
    """Microseconds of CPU per ticket view (median over rounds), with `streams` open per tracked ticket."""

    streams: int
    offices: int
    before_us: float
    after_us: float
    dispatch_before_us: float  # of which: paho's thread → the loop
    dispatch_after_us: float
    rounds: int


def measure(offices: int = 23, streams_per_ticket: int = 10, rounds: int = 30) -> PerView:
    from aiohttp.test_utils import make_mocked_request

    from web.app import create_app
    from web.bridge import Bridge
    from web.config import load_replica_config
    from web.freshness import BRIDGE_STATE_FILTER
    from web.mirror import Mirror
    from web.public import status_event
    from web.streams import SharedEvents

    day = date.today()
    office_list = tuple([MEASURED, *(o for o, _ in office_ids(offices - 1))])
    tokens = [new_token() for _ in range(VIEWS)]
    hashes = [topics.token_hash(t) for t in tokens]
    loop = asyncio.new_event_loop()
    settings = BrokerSettings(port=free_port(), username="web-bench", password="-")
    mirrors = {"before": Mirror(), "after": Mirror()}
    bridge = Bridge(settings, office_list, "web-bench", SystemClock(), mirrors["after"], loop, internal=False)
    filters = [f(o) for o in office_list for f in (topics.info, topics.queue, topics.history, topics.tickets,
                                                   topics.device_statuses)] + [BRIDGE_STATE_FILTER]
    with tempfile.TemporaryDirectory() as directory:
        web_settings = load_replica_config(write_replica_config(Path(directory), free_port(), 1883)).web
    token = "A" * 26  # the route's match (the page's forms name their ticket's path)
    requests = {name: make_mocked_request("GET", f"/t/{token}/events", app=create_app(web_settings, mirror),
                                          match_info={"token": token})
                for name, mirror in mirrors.items()}
    shared = SharedEvents()

    def messages(n: int) -> list[mqtt.MQTTMessage]:
        out = []
        for i, token_hash in enumerate(hashes):
            message = mqtt.MQTTMessage(topic=topics.ticket(MEASURED, token_hash).encode())
            message.payload = ticket_payload(day, f"A{i + 100:03d}", "waiting", recall=n, ahead=i + 1 + n % 2)
            out.append(message)
        return out

    def before(batch: list[mqtt.MQTTMessage]) -> tuple[float, float]:
        mirror, request = mirrors["before"], requests["before"]
        started = time.process_time()
        for message in batch:  # paho's thread, as protocol/link.py dispatched before
            deliveries = [f for f in filters if mqtt.topic_matches_sub(f, message.topic)]
            for _ in deliveries:
                loop.call_soon_threadsafe(mirror.apply, message.topic, bytes(message.payload))
        dispatched = time.process_time()
        loop.run_until_complete(asyncio.sleep(0))
        for token_hash in hashes[-TRACKED:]:
            office, view = mirror.tickets[token_hash]
            for _ in range(streams_per_ticket):
                status_event(request, "de", office, view)
        return dispatched - started, time.process_time() - started

    def after(batch: list[mqtt.MQTTMessage]) -> tuple[float, float]:
        mirror, request = mirrors["after"], requests["after"]
        started = time.process_time()
        for message in batch:
            bridge.link.dispatch(message)
        dispatched = time.process_time()
        loop.run_until_complete(asyncio.sleep(0))
        for token_hash in hashes[-TRACKED:]:
            office, view = mirror.tickets[token_hash]
            stamp = (view, mirror.office(office).info, mirror.freshness(office))
            render = partial(status_event, request, "de", office, view)
            for _ in range(streams_per_ticket):
                shared.get((token_hash, "de"), stamp, render)
        return dispatched - started, time.process_time() - started

    runs: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    ways: dict[str, Callable[[list[mqtt.MQTTMessage]], tuple[float, float]]] = {"before": before, "after": after}
    try:
        for n in range(rounds + 3):
            for name, way in ways.items():  # interleaved: the machine's noise hits both alike
                took = way(messages(n))
                if n >= 3:  # warm-up rounds left out
                    runs[name].append(took)
        for name, mirror in mirrors.items():
            assert all(mirror.tickets[h][1].recall == rounds + 2 for h in hashes), f"{name}: a view was lost"
    finally:
        loop.close()
    per = {name: (median([d for d, _ in r]) / VIEWS * 1e6, median([t for _, t in r]) / VIEWS * 1e6)
           for name, r in runs.items()}
    return PerView(streams_per_ticket, offices, per["before"][1], per["after"][1], per["before"][0],
                   per["after"][0], rounds)
