"""The city's public web tier as the playbook builds it (issue 13): two `wartemarke-web run` replicas on
two addresses (two "hosts": 127.0.0.1 and 127.0.0.2) with configs rendered from deploy/roles/web's
template for a city, each logged in to the central broker (deploy/roles/central) with its own account and
the city CA, and one nginx from the role's template with both as upstreams. Behind the central broker: two
office brokers bridged to it, each with a real hub (in this process) — so a kiosk's ticket event goes
hub → office broker → bridge → central → replicas → nginx → citizen.

When one replica is killed (`kill -9`), its event streams end, nginx sends every request and every new
stream to the other, and the other's streams stay live.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devtools.broker import reserved_port
from devtools.hub_harness import issued, payload, write_hub_config
from devtools.office_ca import make_office_ca
from hub.app import Hub
from hub.config import load_hub_config
from hub.counter_cli import send_command
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CommandAnswer, CommandRequest
from tests.city_harness import (
    CITY,
    OBSERVER,
    central_accounts,
    city_inventory,
    start_central,
    start_city_office,
    start_program,
    stop_program,
    wait_bridge_state,
    watch_central,
)
from tests.deploy_harness import render_role_template
from tests.test_broker_acl import OfficeBroker
from tests.test_nginx import self_signed
from tests.web_harness import SseClient, get, nginx_listens, random_token, wait_until
from web.config import load_replica_config

OST, WEST = "t-ost", "t-west"
ADDRESSES = {"web-1": "127.0.0.1", "web-2": "127.0.0.2"}  # two "hosts" on the loopback network


def web_variables(name: str, ports: dict[str, int], central_port: int, offices: dict[str, str] = CITY,
                  **overrides: Any) -> dict[str, Any]:
    """What Ansible would give the web role on host `name` of the test city (hostvars and groups included)."""
    hostvars, groups = city_inventory(offices, replicas={host: {"web_replica_address": address,
                                                       "web_replica_port": ports[host]}
                                                for host, address in ADDRESSES.items()})
    return {"hostvars": hostvars, "groups": groups, "inventory_hostname": name, "wartemarke_city": True,
            "wartemarke_central_address": "localhost", "wartemarke_central_port": central_port,
            "web_replica_address": ADDRESSES[name], "web_replica_port": ports[name],
            "wartemarke_public_url": "https://localhost", "wartemarke_operator": "Teststadt",
            "wartemarke_privacy_url": "/datenschutz", "wartemarke_imprint_url": "/impressum",
            "ansible_managed": "test", **overrides}


@dataclass
class Replica:
    name: str
    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{ADDRESSES[self.name]}:{self.port}"

    def start(self) -> None:
        self.process = start_program("wartemarke-web", self.config, self.log)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no clean shutdown, its connections just break
        self.process.wait(10)

    def stop(self) -> None:
        stop_program(self.process)

    def streams(self) -> int:
        """Its open event streams, from its own /metrics (not through nginx, which refuses it)."""
        text = get(self.url + "/metrics").text
        match = re.search(r"^wartemarke_web_sse_clients (\d+)$", text, re.MULTILINE)
        assert match, text
        return int(match.group(1))

    def serves(self, offices: tuple[str, ...]) -> bool:
        """Its broker connection is up and it mirrors the offices (their info and queue reached it)."""
        try:
            if get(self.url + "/healthz").status != 200:
                return False
            listed = json.loads(get(self.url + "/api/v1/offices").body)
        except (OSError, http.client.HTTPException):
            return False
        return all(office in json.dumps(listed) for office in offices)


@dataclass
class WebCity:
    central: OfficeBroker
    offices: dict[str, OfficeBroker]
    hubs: dict[str, Hub]
    replicas: dict[str, Replica]
    base: str
    context: ssl.SSLContext
    nginx_config: str
    links: list[MqttLink] = field(default_factory=list)
    issued: dict[str, int] = field(default_factory=dict)  # tickets issued per office (the kiosk's sequence)

    def issue(self, office: str) -> str:
        """A ticket as the office's kiosk sends it; returns its tracking token."""
        hub = CITY[office]
        token = random_token()
        day = self.hubs[office].runtimes[office].engine.day
        kiosk = self.offices[office].connect(f"{hub}-kiosk")
        self.issued[office] = seq = self.issued.get(office, 0) + 1
        event = issued(day, f"A{seq:03d}", seq, device=f"{hub}-kiosk", token=token)
        assert not kiosk.publish(topics.kiosk_ticket(office, f"{hub}-kiosk"), payload(event)).is_failure
        return token

    def call_next(self, office: str) -> CommandAnswer:
        """A clerk's `next` at platz-1, sent by the office web's account as the hub's web sends it."""
        hub = CITY[office]
        broker = self.offices[office]
        link = MqttLink(BrokerSettings(port=broker.local_port, username=f"{hub}-web",
                                       password=broker.passwords[f"{hub}-web"]),
                        office, f"{hub}-web", "web", VERSION, SystemClock(), availability=False)
        self.links.append(link)
        link.start()
        answer = send_command(link, office, "platz-1", CommandRequest(uuid.uuid4().hex, "next", {}))
        assert answer is not None, "the hub did not answer"
        return answer


def start_hub(directory: Path, office: str, broker: OfficeBroker) -> Hub:
    """The office's real hub on its broker's local listener, with the hub's account."""
    hub = CITY[office]
    path = write_hub_config(directory, broker.local_port, office)
    (directory / "password").write_text(broker.passwords[hub] + "\n", encoding="utf-8")
    text = path.read_text(encoding="utf-8").replace('device = "hub-test"', f'device = "{hub}"').replace(
        "reconnect_max_s = 1", f'reconnect_max_s = 1\nusername = "{hub}"\npassword_file = "{directory / "password"}"')
    path.write_text(text, encoding="utf-8")
    instance = Hub(load_hub_config(path), SystemClock(assume_synced=True))
    instance.start()
    return instance


def write_replica(directory: Path, name: str, ports: dict[str, int], central: OfficeBroker,
                  offices: dict[str, str] = CITY) -> Replica:
    """The replica's web.toml from roles/web/templates/web.toml.j2 (city mode); the files it names are
    moved from /etc/wartemarke to the test's folder."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "broker-password").write_text(central.passwords[name] + "\n", encoding="utf-8")
    text = render_role_template("web", "web.toml.j2", web_variables(name, ports, central.tls_port, offices,
                                                                   web_broker_ca_file=str(central.ca.ca_cert)))
    config = directory / "web.toml"
    config.write_text(text.replace("/etc/wartemarke/broker-password", str(directory / "broker-password")),
                      encoding="utf-8")
    return Replica(name, config, ports[name], directory / "replica.log")


def write_nginx(directory: Path, ports: dict[str, int], central_port: int, http_port: int, https_port: int,
                **overrides: Any) -> tuple[Path, str, Path]:
    """nginx's site from the web role's template (its upstreams from the inventory) inside a main config."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(directory)
    site = render_role_template("web", "nginx-wartemarke.conf.j2", web_variables(
        "web-1", ports, central_port, web_tls_certificate=str(cert), web_tls_key=str(key),
        web_http_port=http_port, web_https_port=https_port, web_cache_dir=str(directory / "cache"),
        web_access_log=str(directory / "access.log"), web_error_log=str(directory / "site-error.log"),
        web_server_name="localhost", **overrides))
    (directory / "wartemarke.conf").write_text(site, encoding="utf-8")
    temp = directory / "temp"
    temp.mkdir()
    main = directory / "nginx.conf"
    main.write_text(f"""{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
    access_log off;
    include {directory / 'wartemarke.conf'};
}}
""", encoding="utf-8")
    check = subprocess.run(["nginx", "-t", "-c", str(main)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    return main, site, cert


def distinct_ports(count: int, taken: set[int] | None = None) -> list[int]:
    """Ports free on every address (nginx listens on 0.0.0.0, the replicas on 127.0.0.1 and 127.0.0.2),
    below the kernel's ephemeral range, so no outgoing connection of another test takes one meanwhile."""
    ports: list[int] = []
    while len(ports) < count:
        port = reserved_port("0.0.0.0")
        if port not in ports and port not in (taken or set()):
            ports.append(port)
    return ports


def start_nginx(main: Path) -> subprocess.Popen[bytes] | None:
    """nginx with `main` once it has bound its ports (its output in nginx.out next to it); None when it
    ended because a port was taken meanwhile (other error: the assertion names the log)."""
    with (main.parent / "nginx.out").open("ab") as out:
        nginx = subprocess.Popen(["nginx", "-c", str(main)], stdout=out, stderr=subprocess.STDOUT)
    if nginx_listens(nginx, main.parent / "nginx.pid", timeout=30):
        return nginx
    nginx.wait(10)
    log = (main.parent / "error.log").read_text() + (main.parent / "nginx.out").read_text()
    assert "Address already in use" in log, log
    return None


def start_nginx_on_free_ports(directory: Path, ports: dict[str, int], central_port: int,
                              taken: frozenset[int] = frozenset(), **overrides: Any,
                              ) -> tuple[subprocess.Popen[bytes], int, str, Path]:
    """nginx from the web role's template in front of `ports`, on new ports of its own (none of `taken`) if
    another process took one before nginx bound it. Returns it, its HTTPS port, its site and its certificate."""
    for attempt in range(5):
        http_port, https_port = distinct_ports(2, taken=set(ports.values()) | taken)
        main, site, cert = write_nginx(directory / f"nginx-{attempt}", ports, central_port, http_port, https_port,
                                       **overrides)
        nginx = start_nginx(main)
        if nginx is not None:
            return nginx, https_port, site, cert
    raise AssertionError(f"nginx found no free ports in 5 attempts (logs under {directory})")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebCity]:
    directory = tmp_path_factory.mktemp("web-city")
    ca = make_office_ca(directory / "city-ca", name="wartemarke city CA")
    central = start_central(directory / "central", ca, central_accounts())
    offices: dict[str, OfficeBroker] = {}
    hubs: dict[str, Hub] = {}
    replicas: dict[str, Replica] = {}
    nginx: subprocess.Popen[bytes] | None = None
    try:
        observer = watch_central(central)
        for office, hub in CITY.items():
            offices[office] = start_city_office(directory / office, office, hub, central)
            wait_bridge_state(observer, hub, b"1")
            hubs[office] = start_hub(directory / f"{office}-hub", office, offices[office])
        ports = dict(zip(ADDRESSES, distinct_ports(len(ADDRESSES)), strict=True))
        for name in ADDRESSES:
            replicas[name] = write_replica(directory / name, name, ports, central)
            replicas[name].start()
        nginx, https_port, site, cert = start_nginx_on_free_ports(directory, ports, central.tls_port)
        for replica in replicas.values():
            wait_until(lambda replica=replica: replica.serves((OST, WEST)), timeout=60,  # type: ignore[misc]
                       what=f"{replica.name} to serve both offices (log: {replica.log})")
        central.close_probes()
        yield WebCity(central, offices, hubs, replicas, f"https://localhost:{https_port}",
                      ssl.create_default_context(cafile=str(cert)), site)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for replica in replicas.values():
            replica.stop()
        for instance in hubs.values():
            instance.stop()
        for broker in offices.values():
            broker.close_probes()
            broker.broker.stop()
        central.close_probes()
        central.broker.stop()


class HttpsSse(SseClient):
    """SseClient over HTTPS (nginx)."""

    def __init__(self, url: str, context: ssl.SSLContext, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPSConnection(parts.hostname or "localhost", parts.port, timeout=timeout,
                                                context=context)
        self.conn.request("GET", parts.path, headers={"Accept": "text/event-stream"})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}

    def __enter__(self) -> HttpsSse:
        return self

    def ended(self) -> bool:
        """Read until the stream ends (True) or the socket times out (False)."""
        try:
            while True:
                self.next_event()
        except (ConnectionError, http.client.HTTPException):
            return True
        except TimeoutError:
            return False


def fetch(city: WebCity, path: str) -> tuple[int, str]:
    connection = http.client.HTTPSConnection("localhost", urlsplit(city.base).port, timeout=10, context=city.context)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    finally:
        connection.close()


# -- the rendered configs -------------------------------------------------------------------------

def test_a_city_replica_reads_every_office_from_the_central_broker(city: WebCity) -> None:
    for replica in city.replicas.values():
        config = tomllib.loads(replica.config.read_text(encoding="utf-8"))
        assert config["web"]["offices"] == [OST, WEST]  # every office of the inventory
        assert config["web"]["host"] == ADDRESSES[replica.name]  # its private address, for the other nginx
        assert config["broker"] == {
            "host": "localhost", "port": city.central.tls_port, "tls": True, "ca_file": str(city.central.ca.ca_cert),
            "username": replica.name, "password_file": str(replica.config.parent / "broker-password")}
        loaded = load_replica_config(replica.config)  # what `wartemarke-web check-config` reads
        assert loaded.web.offices == (OST, WEST) and loaded.broker.username == replica.name


def test_outside_a_city_a_replica_reads_its_office_broker() -> None:
    """The single-office inventory (deploy/inventory/example) keeps working: one office, its broker."""
    variables = {"inventory_hostname": "web-1", "wartemarke_city": False, "hostvars": {}, "groups": {},
                 "wartemarke_office": "buergerbuero-mitte", "wartemarke_broker_address": "mitte-broker.example.org",
                 "wartemarke_public_url": "https://warte.example.org", "wartemarke_operator": "Stadt",
                 "wartemarke_privacy_url": "/d", "wartemarke_imprint_url": "/i", "ansible_managed": "test"}
    config = tomllib.loads(render_role_template("web", "web.toml.j2", variables))
    assert config["web"]["offices"] == ["buergerbuero-mitte"] and config["web"]["host"] == "127.0.0.1"
    assert config["broker"]["host"] == "mitte-broker.example.org" and config["broker"]["port"] == 8883
    assert config["broker"]["ca_file"] == "/etc/wartemarke/office-ca.crt"
    site = render_role_template("web", "nginx-wartemarke.conf.j2", {
        **variables, "web_tls_certificate": "/c", "web_tls_key": "/k"})
    assert re.findall(r"^\s+server (\S+) max_fails", site, re.MULTILINE) == ["127.0.0.1:8080"]


def test_nginx_has_both_replicas_with_passive_health_checks(city: WebCity) -> None:
    servers = re.findall(r"^\s+server (\S+) (.*);$", city.nginx_config, re.MULTILINE)
    assert servers == [(f"{ADDRESSES[n]}:{r.port}", "max_fails=2 fail_timeout=10s") for n, r in city.replicas.items()]
    assert "least_conn;" in city.nginx_config
    assert "proxy_next_upstream error timeout http_503;" in city.nginx_config
    assert "proxy_read_timeout 45s;" in city.nginx_config  # a stream from a dead host is closed, the browser reconnects


# -- through the whole chain ------------------------------------------------------------------------

def test_a_ticket_from_an_office_shows_through_nginx_and_its_event_never_reaches_the_central_broker(
        city: WebCity) -> None:
    observer = city.central.connect(OBSERVER)
    observer.subscribe(["#"], retained=False)
    since = observer.mark()
    token = city.issue(WEST)
    key = topics.token_hash(token)
    index = observer.wait_for(lambda t, _p: t == topics.ticket(WEST, key), since, timeout=20)
    assert not [r for r in observer.received(since, index + 1)
                if token.encode() in r.payload or "/kiosk/" in r.topic]  # bridged: the view, never the event
    wait_until(lambda: fetch(city, f"/t/{token}")[0] == 200, timeout=20, what="the tracking page through nginx")
    status, page = fetch(city, f"/t/{token}")
    assert status == 200 and "A001" in page
    status, body = fetch(city, "/api/v1/offices")
    assert status == 200 and OST in body and WEST in body
    assert fetch(city, "/metrics")[0] == 403  # still refused from outside
    assert fetch(city, "/counter")[0] == 404


def test_when_a_replica_dies_nginx_moves_everything_to_the_other(city: WebCity) -> None:
    token = city.issue(OST)
    wait_until(lambda: all(get(r.url + f"/api/v1/tickets/{token}").status == 200 for r in city.replicas.values()),
               timeout=20, what="both replicas to know the ticket")
    first = HttpsSse(f"{city.base}/t/{token}/events", city.context)
    assert first.status == 200 and first.next_event()[1]["state"] == "waiting"
    holder = next(r for r in city.replicas.values() if r.streams() == 1)  # least_conn: the next goes elsewhere
    second = HttpsSse(f"{city.base}/t/{token}/events", city.context)
    assert second.status == 200 and second.next_event()[1]["state"] == "waiting"
    survivor = next(r for r in city.replicas.values() if r is not holder)
    assert holder.streams() == 1 and survivor.streams() == 1
    try:
        holder.kill()
        assert first.ended()  # the dead replica's stream ends at once: the browser's EventSource reconnects
        assert [fetch(city, f"/t/{token}")[0] for _ in range(20)] == [200] * 20  # nginx: the next upstream
        third = HttpsSse(f"{city.base}/t/{token}/events", city.context)  # what the reconnect does
        assert third.status == 200 and third.next_event()[1]["state"] == "waiting"
        assert survivor.streams() == 2
        city.call_next(OST)  # live again: the call reaches both streams on the survivor
        for stream in (second, third):
            assert stream.wait_for(lambda data: data.get("state") == "called")["state"] == "called"
        third.close()
    finally:
        first.close()
        second.close()
        holder.start()
        wait_until(lambda: holder.serves((OST, WEST)), timeout=60, what=f"{holder.name} to be back")
        for link in city.links:
            link.stop()



def test_a_hung_replica_is_left_behind_too(city: WebCity, tmp_path: Path) -> None:
    """A replica that stops answering but keeps its sockets (SIGSTOP: a hung process; a host that lost power
    looks the same to nginx, minus the connect): its streams are closed after the idle timeout and pages go to
    the other replica after the read timeout. Its own nginx with short timeouts (3 s idle, 2 s read)."""
    ports = {name: replica.port for name, replica in city.replicas.items()}
    nginx, https_port, _, cert = start_nginx_on_free_ports(tmp_path, ports, city.central.tls_port,
                                                           web_stream_idle_timeout_s=3, web_upstream_read_timeout_s=2)
    hung: Replica | None = None
    try:
        base = f"https://localhost:{https_port}"
        context = ssl.create_default_context(cafile=str(cert))
        with HttpsSse(f"{base}/events/offices", context) as stream:
            assert stream.status == 200 and stream.next_event()[0] == "office"
            hung = next(r for r in city.replicas.values() if r.streams() == 1)
            assert hung.process is not None
            hung.process.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            assert stream.ended()  # after 3 s without a byte (a live replica's heartbeat comes every 20 s)
            assert time.monotonic() - started < 9
        with HttpsSse(f"{base}/events/offices", context, timeout=15) as fresh:  # the browser's reconnect
            assert fresh.status == 200 and fresh.next_event()[0] == "office"
        connection = http.client.HTTPSConnection("localhost", https_port, timeout=15, context=context)
        for _ in range(4):
            connection.request("GET", "/api/v1/offices")
            response = connection.getresponse()
            assert response.status == 200 and WEST in response.read().decode()
        connection.close()
    finally:
        if hung is not None and hung.process is not None:
            hung.process.send_signal(signal.SIGCONT)
        nginx.terminate()
        nginx.wait(10)


# -- staleness and reconnects through the chain (the city Ampel, web/freshness.py) ----------------------

def offices_through_nginx(city: WebCity) -> dict[str, dict[str, Any]]:
    """The offices as open data through nginx (its cache holds an answer 5 s); {} when its rate limit refuses."""
    status, body = fetch(city, "/api/v1/offices")
    assert status in (200, 429), body
    return {o["id"]: o for o in json.loads(body)["offices"]} if status == 200 else {}


def west_stale(city: WebCity) -> dict[str, dict[str, Any]] | None:
    offices = offices_through_nginx(city)
    return offices if offices and offices[WEST]["stale"] else None


def all_current(city: WebCity) -> bool:
    offices = offices_through_nginx(city)
    return bool(offices) and not any(o["stale"] for o in offices.values())


def test_an_office_whose_bridge_is_down_shows_its_stand_and_catches_up(city: WebCity) -> None:
    """The office broker (and with it its bridge) goes away: the central broker publishes the bridge's will
    (`$SYS/broker/connection/west-hub-bridge/state` = 0), every replica marks that office stale — and only
    that one; once the bridge is back its views come again and it is current."""
    wait_until(lambda: all_current(city), what="every office current")
    token = city.issue(WEST)
    replica = city.replicas["web-1"]
    wait_until(lambda: get(replica.url + f"/api/v1/tickets/{token}").status == 200, what="the ticket on web-1")
    office = city.offices[WEST].broker
    office.stop()
    try:
        ticket = wait_until(lambda: (t := json.loads(get(replica.url + f"/api/v1/tickets/{token}").body))["stale"]
                            and t, timeout=30, what="the ticket's API to say its office is stale")
        assert ticket["state"] == "waiting" and ticket["stale_since"] is not None
        for replica in city.replicas.values():
            wait_until(lambda replica=replica: json.loads(get(replica.url + "/api/v1/offices").body)  # type: ignore[misc]
                       ["offices"][1]["stale"], timeout=30, what=f"{replica.name} to show {WEST} stale")
        offices = wait_until(lambda: west_stale(city), what="nginx's cache (5 s) to let it through")
        assert offices[WEST]["stale_since"] is not None and not offices[OST]["stale"]
        status, page = fetch(city, "/")
        box = page.split(f'id="office-{WEST}"')[1].split("</section>")[0]
        assert status == 200 and re.search(r"Stand \d\d:\d\d", box) and "level-green" not in box
    finally:
        office.start()
    wait_until(lambda: all_current(city), timeout=60, what=f"{WEST} current again once its bridge is back")


def test_a_browser_on_a_killed_replica_is_live_again_within_5_s(city: WebCity, tmp_path: Path) -> None:
    """Chromium on the Ampel through nginx; the replica holding its stream is killed: the stream ends, the
    browser reconnects after the server's `retry:` (2 s) and nginx sends it to the other replica."""
    from playwright.sync_api import expect, sync_playwright

    from tests.test_web_browser import ARGS, CHROMIUM

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        holder: Replica | None = None
        try:
            page = browser.new_context(locale="de-DE", ignore_https_errors=True).new_page()
            with page.expect_response(lambda r: "/events/offices" in r.url and r.status == 200):
                page.goto(city.base + "/")
            wait_until(lambda: sum(r.streams() for r in city.replicas.values()) == 1, what="one stream")
            holder = next(r for r in city.replicas.values() if r.streams() == 1)
            survivor = next(r for r in city.replicas.values() if r is not holder)
            holder.kill()
            killed = time.monotonic()
            wait_until(lambda: survivor.streams() == 1, timeout=10, what="the browser's stream on the survivor")
            print(f"reconnected {time.monotonic() - killed:.2f} s after the kill")
            assert time.monotonic() - killed < 5
            waiting = page.locator(f"#office-{OST} li", has_text="Allgemeine Anliegen")
            match = re.search(r"(\d+) wartend", waiting.inner_text())
            assert match is not None
            city.issue(OST)
            expect(waiting).to_contain_text(f"{int(match.group(1)) + 1} wartend", timeout=10_000)  # live again
        finally:
            browser.close()
            if holder is not None:
                holder.start()
                wait_until(lambda: holder.serves((OST, WEST)), timeout=60,  # type: ignore[union-attr]
                           what=f"{holder.name} to be back")
