"""A simulated city on this machine (issue 13): 23 offices, each with its own mosquitto (roles/broker's
templates, its own office CA) and a real `wartemarke-hub run` process, bridged to one central mosquitto
(roles/central); two `wartemarke-web run` replicas reading the central broker behind one real nginx
(roles/web). One office's bridge goes through a TcpProxy, so the test can cut that office off the city.

    city = start_city(tmp, 23)          # everything running, every office on both replicas
    office = city.office(17)
    token, _ = office.issue()           # the office's kiosk sends a ticket event; returns its token
    office.call_next()                  # a clerk's "next" at platz-1 (the office web's account)
    city.stop()

Start-up runs in parallel (office brokers in threads, all hubs at once) and everything is reused by the
tests of one module: building the city costs most of its time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devtools.hub_harness import issued, payload, write_hub_config
from devtools.office_ca import make_office_ca
from hub.counter_cli import send_command
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CommandAnswer, CommandRequest
from tests.city_harness import (
    central_accounts,
    start_central,
    start_city_office,
    start_program,
    stop_program,
    wait_bridge_state,
    watch_central,
)
from tests.deploy_harness import MqttProbe, render_role_template
from tests.fault_harness import TcpProxy
from tests.test_archive import ArchiveProcess
from tests.test_broker_acl import OfficeBroker
from tests.test_city_web import (
    ADDRESSES,
    Replica,
    distinct_ports,
    start_nginx_on_free_ports,
    web_variables,
    write_replica,
)
from tests.web_harness import random_token

CUT = 9  # the office whose bridge runs through a TcpProxy (the "network" the test can cut)


def poll(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.3) -> Any:
    """Wait for a condition that is checked over HTTP: not more often than `every` seconds, so nginx's
    per-client rate limit (web_api_rate_per_s) never answers 429 to the test."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            break
        pause.wait(every)
    if not value:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return value


def office_id(number: int) -> str:
    return f"t-amt{number:02d}"


def city_offices(count: int) -> dict[str, str]:
    """office id → hub (inventory name), numbered from 1."""
    return {office_id(n): f"amt{n:02d}-hub" for n in range(1, count + 1)}


@dataclass
class SimOffice:
    """One office: its broker, its hub process, its kiosk (a probe with the kiosk's account that reads
    its acks and the queue, as a kiosk does) and a clerk link."""

    number: int
    id: str
    hub: str
    broker: OfficeBroker
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    kiosk: MqttProbe | None = None
    clerk: MqttLink | None = None
    proxy: TcpProxy | None = None
    seq: int = 0

    @property
    def name(self) -> str:
        return f"Bürgerbüro Amt {self.number:02d}"

    def start(self) -> None:
        self.process = start_program("wartemarke-hub", self.config, self.log)

    def stop(self) -> None:
        if self.clerk is not None:
            self.clerk.stop()
        if self.kiosk is not None:
            self.kiosk.close()
        stop_program(self.process)
        self.broker.close_probes()
        self.broker.broker.stop()
        if self.proxy is not None:
            self.proxy.close()

    def watch(self) -> None:
        """The kiosk's connection: its acks and the office's queue, as the office broker's ACL allows."""
        self.kiosk = self.broker.connect(f"{self.hub}-kiosk")
        self.kiosk.subscribe([topics.kiosk_ack(self.id, f"{self.hub}-kiosk"), topics.queue(self.id)])

    def queue(self) -> dict[str, Any] | None:
        """The office's current queue as its own broker holds it (the truth the city must show)."""
        assert self.kiosk is not None
        found = [r for r in self.kiosk.received() if r.topic == topics.queue(self.id) and r.payload]
        return json.loads(found[-1].payload) if found else None

    def day(self) -> date:
        queue = self.queue()
        assert queue is not None, f"{self.id}: no queue yet"
        return date.fromisoformat(queue["day"])

    def issue(self, service: str = "A") -> tuple[str, float]:
        """A ticket event as the office's kiosk sends it; returns its token and the seconds until the hub's
        ack (the kiosk prints only then) — once the office's queue with the ticket is out, too."""
        assert self.kiosk is not None
        self.seq += 1
        seq, token, device = self.seq, random_token(), f"{self.hub}-kiosk"
        event = issued(self.day(), f"{service}{seq:03d}", seq, device=device, token=token)
        since = self.kiosk.mark()
        started = time.monotonic()
        assert not self.kiosk.publish(topics.kiosk_ticket(self.id, device), payload(event)).is_failure
        self.kiosk.wait_for(lambda t, p: t == topics.kiosk_ack(self.id, device) and json.loads(p)["seq"] >= seq,
                            since, timeout=20)
        took = time.monotonic() - started
        # The forecast follows the ack: until the office's new queue is out, `queue()` is the old truth.
        self.kiosk.wait_for(lambda t, p: t == topics.queue(self.id) and bool(p), since, timeout=20)
        return token, took

    def call_next(self, counter: str = "platz-1") -> tuple[CommandAnswer, float]:
        """A clerk's `next`, sent with the office web's account as the hub's web sends it; the answer and
        the seconds it took."""
        if self.clerk is None:
            self.clerk = MqttLink(BrokerSettings(port=self.broker.local_port, username=f"{self.hub}-web",
                                                 password=self.broker.passwords[f"{self.hub}-web"]),
                                  self.id, f"{self.hub}-web", "web", VERSION, SystemClock(), availability=False)
            self.clerk.start()
            assert self.clerk.connected.wait(20), f"{self.id}: the clerk link did not connect"
        started = time.monotonic()
        answer = send_command(self.clerk, self.id, counter, CommandRequest(uuid.uuid4().hex, "next", {}))
        assert answer is not None, f"{self.id}: the hub did not answer"
        return answer, time.monotonic() - started


@dataclass
class SimCity:
    central: OfficeBroker
    offices: dict[str, SimOffice]
    replicas: dict[str, Replica]
    base: str  # nginx
    context: ssl.SSLContext
    pool: ThreadPoolExecutor  # started the office brokers: must outlive them
    nginx: subprocess.Popen[bytes] | None = None
    archive: ArchiveProcess | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def office(self, number: int) -> SimOffice:
        return self.offices[office_id(number)]

    def observe(self) -> MqttProbe:
        """A fresh observer on the central broker (every topic, the bridges' states)."""
        return watch_central(self.central)

    def fetch(self, path: str) -> tuple[int, str]:
        """GET through nginx (HTTPS)."""
        connection = http.client.HTTPSConnection("localhost", urlsplit(self.base).port, timeout=15,
                                                 context=self.context)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()

    def listed(self, replica: Replica) -> dict[str, dict[str, Any]]:
        """/api/v1/offices of one replica (directly, past nginx's 5 s cache), by office id."""
        connection = http.client.HTTPConnection(ADDRESSES[replica.name], replica.port, timeout=15)
        try:
            connection.request("GET", "/api/v1/offices")
            body = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        return {o["id"]: o for o in body["offices"]}

    def shows_truth(self, replica: Replica, only: set[str] | None = None) -> bool:
        """The replica shows every office (or `only` those) exactly as its own broker holds it now:
        the same queue (`at` included) — no office left at an older state."""
        try:
            listed = self.listed(replica)
        except (OSError, http.client.HTTPException, ValueError):
            return False
        return all(shown_as(listed.get(o.id), o.queue()) for o in self.offices.values()
                   if only is None or o.id in only)

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.terminate()
            self.nginx.wait(10)
        for replica in self.replicas.values():
            replica.stop()
        if self.archive is not None:
            self.archive.stop()
        list(self.pool.map(SimOffice.stop, self.offices.values()))
        self.pool.shutdown()
        self.central.close_probes()
        self.central.broker.stop()


def shown_as(summary: dict[str, Any] | None, queue: dict[str, Any] | None) -> bool:
    """An /api/v1/offices entry shows this queue: its time and every service's waiting and issuing."""
    if summary is None or queue is None:
        return False
    shown = {s["id"]: (s["waiting"], s["issuing"]) for s in summary["services"]}
    truth = {s["service"]: (s["waiting"], s["issuing"]) for s in queue["services"]}
    return bool(summary["updated_at"] == queue["at"] and summary["day"] == queue["day"] and shown == truth)


def waiting(summary: dict[str, Any], service: str = "A") -> int:
    return int(next(s["waiting"] for s in summary["services"] if s["id"] == service))


def write_hub_process_config(directory: Path, office: SimOffice) -> Path:
    """hub.toml for the office's `wartemarke-hub`: its broker's local listener with the hub's account."""
    path = write_hub_config(directory, office.broker.local_port, office.id, counters=2, tick_s=1.0)
    (directory / "password").write_text(office.broker.passwords[office.hub] + "\n", encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    text = text.replace('device = "hub-test"', f'device = "{office.hub}"')
    text = text.replace('name = "Bürgerbüro Test"', f'name = "{office.name}"')
    text = text.replace("reconnect_max_s = 1", f'reconnect_max_s = 1\nusername = "{office.hub}"\n'
                                                f'password_file = "{directory / "password"}"')
    path.write_text(text, encoding="utf-8")
    return path


def _start_office(directory: Path, number: int, hub: str, central: OfficeBroker) -> SimOffice:
    office = office_id(number)
    proxy = TcpProxy(central.tls_port) if number == CUT else None
    overrides: dict[str, Any] = {"broker_bridge_address": f"localhost:{proxy.port}"} if proxy is not None else {}
    broker = start_city_office(directory / office, office, hub, central, **overrides)
    sim = SimOffice(number, office, hub, broker, Path(), directory / office / "hub.log", proxy=proxy)
    sim.config = write_hub_process_config(directory / office / "hub", sim)
    sim.start()
    return sim


def start_archive(directory: Path, ports: dict[str, int], central: OfficeBroker, hubs: dict[str, str],
                  port: int) -> ArchiveProcess:
    """`wartemarke-archive` on web-1 (the archive host) with archive.toml from the web role's template,
    logged in to the central broker with its own account; files written every second (not every minute)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "broker-password").write_text(central.passwords["web-1-archive"] + "\n", encoding="utf-8")
    text = render_role_template("web", "archive.toml.j2", web_variables(
        "web-1", ports, central.tls_port, hubs, web_broker_ca_file=str(central.ca.ca_cert),
        web_archive_directory=str(directory / "files"), web_archive_port=port, web_archive_flush_s=1))
    config = directory / "archive.toml"
    config.write_text(text.replace("/etc/wartemarke/archive-broker-password", str(directory / "broker-password")),
                      encoding="utf-8")
    archive = ArchiveProcess(config, port)
    archive.start()
    return archive


def start_city(directory: Path, count: int) -> SimCity:
    """The whole city, running; every office's queue on both replicas."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    ca = make_office_ca(directory / "city-ca", name="wartemarke city CA")
    hubs = city_offices(count)
    central = start_central(directory / "central", ca, central_accounts(hubs))
    # The pool's threads live as long as the city: a broker started from a thread dies with that thread
    # (devtools.broker.die_with_parent: the parent-death signal follows the thread that forked).
    city = SimCity(central, {}, {}, "", ssl.create_default_context(), pool=ThreadPoolExecutor(8))
    try:
        futures = [city.pool.submit(_start_office, directory, n, hubs[office_id(n)], central)
                   for n in range(1, count + 1)]
        for future in futures:
            office = future.result()
            city.offices[office.id] = office
        timings["office brokers and hubs started"] = time.monotonic() - started
        ports = dict(zip(ADDRESSES, distinct_ports(len(ADDRESSES)), strict=True))
        for name in ADDRESSES:
            city.replicas[name] = write_replica(directory / name, name, ports, central, hubs)
            city.replicas[name].start()
        archive_port = distinct_ports(1, taken=set(ports.values()))[0]
        city.archive = start_archive(directory / "archive", ports, central, hubs, archive_port)
        city.nginx, https_port, _, cert = start_nginx_on_free_ports(directory, ports, central.tls_port,
                                                                    taken=frozenset({archive_port}),
                                                                    web_archive_port=archive_port)
        city.base, city.context = f"https://localhost:{https_port}", ssl.create_default_context(cafile=str(cert))
        observer = city.observe()
        for office in city.offices.values():
            wait_bridge_state(observer, office.hub, b"1", timeout=60)
            observer.wait_for(lambda t, p, o=office: t == topics.queue(o.id) and bool(p), timeout=60)  # type: ignore[misc]
            office.watch()
        timings["every hub's queue at the central broker"] = time.monotonic() - started
        for replica in city.replicas.values():
            poll(lambda r=replica: city.shows_truth(r), timeout=60,  # type: ignore[misc]
                 what=f"{replica.name} to show every office (log: {replica.log})")
        timings["both replicas show every office"] = time.monotonic() - started
        central.close_probes()
        city.timings = timings
        return city
    except BaseException:
        with contextlib.suppress(Exception):
            city.stop()
        raise


def replica_holding_one_stream(city: SimCity) -> Replica:
    """The replica that holds the only open event stream."""
    def holder() -> Replica | None:
        counts = {name: replica.streams() for name, replica in city.replicas.items()}
        held = [name for name, n in counts.items() if n == 1]
        return city.replicas[held[0]] if sorted(counts.values()) == [0, 1] else None
    found: Replica = poll(holder, timeout=20, what="one replica to hold the page's stream", every=0.1)
    return found
