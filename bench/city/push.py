"""The Web Push notifier in the city (issue 15): `python -m bench.push --city`.

The city of bench/city/topology.py (the playbook's templates: city CA, central mosquitto with its ACL, the
measured office's broker bridged to it with a real hub, two replicas, nginx with TLS), with the inventory's
`wartemarke_notifier: true` on web-1, so that the templates themselves add what the playbook adds: the
central broker's `web-1-notifier` account (reads `ticket/+`), `wartemarke-notifier` on web-1 from
roles/web's notifier.toml.j2 logged in with it, nginx's `location /push/` in front of it and the replicas'
`push_url`. The benchmark's only change to a rendered config: `allow_http_endpoints = true` (the local push
service, devtools/push_service.py, which checks every VAPID signature and decrypts every message, speaks
plain HTTP on 127.0.0.1).

`--tickets` waiting tickets per office: in the measured office issued at its kiosk (the hub publishes
their views), in the `--offices` − 1 simulated ones (bench/city/offices.py, a change every `--interval`
seconds each) published with their bridge accounts. Every ticket is subscribed **through nginx** as the
tracking page does (`PUT /push/v1/subscriptions/{token}`, JSON, the public URL's Origin, "5 places
before"), 20 from each loopback address (nginx allows a burst of 20 per address). Then `--calls` `next`
at platz-1 of the measured office, each timed from the command's publish: to the push service holding
that ticket's decrypted `called` message, and to that ticket's tracking-page stream (`/t/{token}/events`,
TLS through nginx and a replica, opened before the call) saying `called`; the bare hop chain (office
broker → bridge → central broker → a subscriber) interleaved as a floor.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from bench.city.measure import measured_office, offices_child, replicas_hold
from bench.city.processes import HopChain, Office, replicas_and_nginx
from bench.city.topology import MEASURED, MEASURED_HUB, City, office_ids
from bench.push import CalledStream, called_latency, latency_row
from bench.runner import wait_ready, work_dir
from bench.web.payloads import new_token
from devtools.broker import free_port
from devtools.deploy_templates import render_role_template
from devtools.notifier_harness import SUBJECT, NotifierProcess, generate_key
from devtools.push_service import PushService
from devtools.stats import Row, median, ms, p50_p99

NOTIFIER_HOST = "web-1"
PER_ADDRESS = 20  # the web role's `location /push/`: limit_req burst=20 nodelay per client address
ORIGIN = "https://localhost"  # the public URL's origin: what a browser on the tracking page sends
SUBSCRIBERS = 4  # threads making the subscriptions' requests
SUBSCRIBE_DEADLINE_S = 1800.0


def notifier_config(city: City) -> Path:
    """roles/web's notifier.toml.j2 for web-1, plus `allow_http_endpoints` for the local push service."""
    directory = city.work / "notifier"
    directory.mkdir()
    account = f"{NOTIFIER_HOST}-notifier"
    (directory / "broker-password").write_text(city.passwords[account] + "\n", encoding="utf-8")
    text = render_role_template("web", "notifier.toml.j2", city.web_variables(
        NOTIFIER_HOST, web_notifier_vapid_subject=SUBJECT, web_notifier_push_hosts=["127.0.0.1"],
        web_notifier_database=str(directory / "notifier.sqlite"), web_notifier_key_file=str(directory / "vapid.pem"),
        web_broker_ca_file=str(city.ca.ca_cert)))
    text = text.replace("/etc/wartemarke/notifier-broker-password", str(directory / "broker-password"))
    text = text.replace("[notifier]\n", "[notifier]\nallow_http_endpoints = true   # benchmark only\n", 1)
    path = directory / "notifier.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Subscriber:
    """The tracking pages' `PUT`s through nginx, `PER_ADDRESS` from each loopback address on one connection."""

    def __init__(self, city: City, push: PushService) -> None:
        self.city, self.push = city, push
        self.context = ssl.create_default_context(cafile=str(city.ca.ca_cert))
        self.retries = 0
        self._lock = threading.Lock()

    def all(self, tickets: list[tuple[str, str]]) -> None:
        """Subscribe every (browser name, token), `SUBSCRIBERS` blocks at a time."""
        blocks = [tickets[i:i + PER_ADDRESS] for i in range(0, len(tickets), PER_ADDRESS)]
        deadline = time.monotonic() + SUBSCRIBE_DEADLINE_S
        with ThreadPoolExecutor(SUBSCRIBERS) as pool:
            for done in pool.map(lambda n: self._block(n, blocks[n], deadline), range(len(blocks))):
                assert done is None

    def _connect(self, n: int) -> http.client.HTTPSConnection:
        address = f"127.20.{n // 250}.{n % 250 + 1}"
        return http.client.HTTPSConnection("127.0.0.1", self.city.nginx_port, context=self.context, timeout=60,
                                           source_address=(address, 0))

    def _block(self, n: int, block: list[tuple[str, str]], deadline: float) -> None:
        conn = self._connect(n)
        try:
            for name, token in block:
                body = json.dumps({"subscription": self.push.subscription(name).info, "notify": "5places",
                                   "lang": "de"})
                while (status := self._put(conn, token, body)) not in (200, 201):
                    if status not in (404, 429, 502, 0) or time.monotonic() > deadline:
                        raise RuntimeError(f"subscribing {name} through nginx: {status}")
                    with self._lock:
                        self.retries += 1
                    conn.close()
                    conn = self._connect(n)
                    time.sleep(1.0)  # the notifier has not seen the ticket yet, or nginx's Retry-After
        finally:
            conn.close()

    @staticmethod
    def _put(conn: http.client.HTTPSConnection, token: str, body: str) -> int:
        try:
            conn.request("PUT", f"/push/v1/subscriptions/{token}", body=body.encode(),
                         headers={"Content-Type": "application/json", "Origin": ORIGIN})
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return 0


def measure(parent: Path, notes: list[str], progress: Callable[[str], None], offices: int, tickets: int,
            calls: int, interval_s: float) -> list[Row]:
    if calls > tickets:
        raise ValueError("--calls must not exceed --tickets (each call calls a subscribed ticket)")
    with work_dir("push-city", parent) as work:
        city = City(work, [(MEASURED, MEASURED_HUB), *office_ids(offices - 1)])
        city.hostvars[NOTIFIER_HOST]["wartemarke_notifier"] = True
        city.notifier_port = free_port()
        tokens = {office: [new_token() for _ in range(tickets)] for office, _ in city.offices}
        with contextlib.ExitStack() as stack:
            hop, office = measured_office(city, stack, work)
            progress(f"[push city] {offices - 1} simulated offices, {tickets} tickets each …")
            others = offices_child(city, city.offices[1:], tokens, interval_s, work / "offices.log")
            stack.callback(others.close)
            others.result(300)
            for token in tokens[MEASURED]:
                office.issue(token, date.today())
            hop.wait_waiting(tickets, timeout=600)
            push = PushService(subject=SUBJECT).start()
            stack.callback(push.stop)
            config = notifier_config(city)
            push.vapid_key = generate_key(config)
            notifier = NotifierProcess.for_config(config)
            notifier.start(60)
            stack.callback(notifier.stop)
            procs = stack.enter_context(replicas_and_nginx(city, 1000, 1, 1024))
            wait_ready(procs["web-1"], replicas_hold(city, tickets * offices), "the replicas (every office's "
                       "tickets)", work / "web-1" / "replica.log", 600)
            progress(f"[push city] subscribing {tickets * offices:,} tickets through nginx …")
            subscriber = Subscriber(city, push)
            started = time.monotonic()
            subscriber.all([(f"{o}-{i}", t) for o, _ in city.offices for i, t in enumerate(tokens[o])])
            subscribed_s = time.monotonic() - started
            stored = _stored(config.parent / "notifier.sqlite")
            progress(f"[push city] {calls} calls …")
            rows = _calls(city, push, office, hop, tokens[MEASURED][:calls], notes)
            return [*rows,
                    Row(f"  {tickets * offices:,} subscriptions through nginx ({SUBSCRIBERS} at a time)",
                        f"{subscribed_s:.0f} s", f"{tickets * offices / subscribed_s:.0f} per s",
                        f"{subscriber.retries} retried (404: not seen yet; 429)"),
                    Row("  subscriptions the notifier holds (its SQLite)", f"{stored:,}"),
                    Row("  push messages taken (near + called, every office) / rejected",
                        f"{len(push.posts):,} / {len(push.rejected)}")]


def _stored(database: Path) -> int:
    """The subscriptions in the notifier's SQLite (read-only): what it holds, not what nginx answered."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM subscriptions").fetchone()[0])


def _calls(city: City, push: PushService, office: Office, hop: HopChain, called: list[str],
           notes: list[str]) -> list[Row]:
    context = ssl.create_default_context(cafile=str(city.ca.ca_cert))
    push_lat: list[float] = []
    sse_lat: list[float] = []
    bare: list[float] = []
    for k, token in enumerate(called):
        bare.append(hop.once())
        stream = CalledStream(http.client.HTTPSConnection("127.0.0.1", city.nginx_port, context=context, timeout=30),
                              token)
        pushed, seen = called_latency(push, stream, f"{MEASURED}-{k}", lambda: office.call_next() / 1e9)
        push_lat.append(pushed)
        if seen is not None:
            sse_lat.append(seen)
    notes.append("push city: from publishing `next` at the office broker to the push service holding the decrypted "
                 "`called` (hub, office broker, bridge, central broker, notifier's synced record, encryption, HTTP); "
                 "SSE: to that ticket's tracking-page stream saying `called`, through a replica and nginx (TLS)")
    return [latency_row(f"city: call → Web Push POST, p50 / p99 ({len(called)} calls)", push_lat,
                        "SSE via replica + nginx", sse_lat),
            Row("  bare hop chain (office broker → bridge → central broker → subscriber), p50 / p99", p50_p99(bare),
                f"push / bare: {median(push_lat) / median(bare):.0f}×" if bare else ""),
            Row("  calls whose stream did not say `called`", f"{len(called) - len(sse_lat)}",
                f"push p50 {ms(median(push_lat))}")]
