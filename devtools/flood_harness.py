"""One hostile client (or many) holding thousands of sockets on the office web while a clerk works —
the parts tests/test_web_flood.py asserts on and bench/web_flood.py measures with.

- `FloodHub.start(directory, broker_port, office)`: `python -m hubprocess run` (`wartemarke-hub run`)
  as its own process with its `[web]` over HTTPS (a certificate from a fresh office CA), accounts
  `clara` (clerk) and the stderr log in a file (`log_lines()`).
- `Attacker(port, ca_file)`: a process of its own (devtools/flood_attacker.py) holding sockets:
  `hold(sources, streams, slow_tls, slow_headers, slow_bodies)` — event streams (`GET /events/offices`),
  connections that never start their TLS handshake, requests whose headers never finish, and logins
  whose body never finishes — from the given client addresses (any of 127.0.0.0/8: the sockets are
  bound to them). `release()` closes them all.
- `attack(attacker)`: the attack of issue 10, over 5,000 sockets from one address, then from 1,500.
- `Prober(port, context)`: `/healthz` over a fresh connection every `interval_s` on a thread, each
  answer's latency recorded with its time.
- `clerk_round(port, context, office, source)`: a clerk's work as a browser does it — the login form,
  the login, the counter page, "next", the page after it — each request timed.

All client sockets are bound to addresses of 127.0.0.0/8, so "one address" and "many addresses" are
real to the server. The calling process needs a raised RLIMIT_NOFILE (`web.gate.raise_open_files_limit`).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import resource
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from devtools.broker import free_port
from devtools.children import stop
from devtools.hub_harness import issued, payload, write_hub_config
from devtools.office_ca import make_office_ca
from hub.accounts import HubAccounts
from hub.store import HubStore
from hubprocess.config import load_hub_process_config
from web.directory import ROLES

REPO = Path(__file__).resolve().parents[1]
CLERK = ("clara", "clerk", "correct horse battery")
CLERK_SOURCE, PROBE_SOURCE = "127.0.200.1", "127.0.201.1"
ONE_ADDRESS = "127.0.0.1"


def systemd_file_limits() -> None:
    """In the hub's child process: open files as systemd gives a service by default (soft 1,024; the
    hard limit stays), not the raised limit of the test process."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def many_addresses(count: int) -> list[str]:
    """`count` distinct client addresses in 127.1.0.0/16."""
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(count)]


@dataclass
class FloodHub:
    process: subprocess.Popen[bytes]
    port: int
    context: ssl.SSLContext  # trusts the office CA, as the clerk PCs do
    office: str
    log: Path
    ca_file: Path
    day: date | None = None
    seq: int = 0

    @classmethod
    def start(cls, directory: Path, broker_port: int, office: str, extra_web: str = "") -> FloodHub:
        ca = make_office_ca(directory / "ca", hosts=("localhost",), ips=("127.0.0.1",))
        port = free_port()
        config = write_hub_config(directory / "hub", broker_port, office, counters=2, tick_s=0.5)
        config.write_text(config.read_text(encoding="utf-8") + f"""
[web]
port = {port}
tls_certificate = "{ca.server_cert}"
tls_key = "{ca.server_key}"
{extra_web}
""", encoding="utf-8")
        store = HubStore(load_hub_process_config(config).hub.state_dir / "hub.sqlite3")
        try:
            HubAccounts(store, ROLES).add(*CLERK)
        finally:
            store.close()
        log = directory / "hub.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "hubprocess", "run", "--config", str(config)], cwd=REPO,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1", "WARTEMARKE_LOG_LEVEL": "INFO"},
                                       preexec_fn=systemd_file_limits)
        hub = cls(process, port, ssl.create_default_context(cafile=str(ca.ca_cert)), office, log, ca.ca_cert)
        deadline = time.monotonic() + 30
        while https_get(hub.port, hub.context, "/healthz", PROBE_SOURCE)[0] != 200:
            assert process.poll() is None, f"the hub ended: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the hub's web did not come up: {log.read_text()[-3000:]}"
            time.sleep(0.2)
        return hub

    def log_lines(self) -> int:
        return len(self.log.read_bytes().splitlines())

    def issue(self, publish: Any, day: date, count: int) -> None:
        """Tickets as a kiosk sends them (over `publish(topic, payload)`), so clerks have something to call."""
        from protocol import topics

        for _ in range(count):
            self.seq += 1
            publish(topics.kiosk_ticket(self.office, "kiosk-1"), payload(issued(day, f"A{self.seq:03d}", self.seq)))

    def stop(self) -> None:
        stop(self.process, 20)


def https_get(port: int, context: ssl.SSLContext, path: str, source: str,
              timeout: float = 5.0, errors: list[str] | None = None) -> tuple[int, float]:
    """(status, seconds) of a GET on a fresh connection; status 0 when it failed (why: appended to `errors`)."""
    started = time.perf_counter()
    conn = http.client.HTTPSConnection("localhost", port, timeout=timeout, context=context,
                                       source_address=(source, 0))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except (OSError, http.client.HTTPException) as exc:
        if errors is not None:
            errors.append(f"{time.monotonic():.1f}: {exc!r} after {time.perf_counter() - started:.2f} s")
        return 0, time.perf_counter() - started
    finally:
        conn.close()


def sse_clients(port: int, context: ssl.SSLContext) -> int | None:
    """The web's open event streams, from its /metrics (None when it does not answer)."""
    conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=context,
                                       source_address=("127.0.204.1", 0))
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    found = re.search(r"^wartemarke_web_sse_clients (\d+)$", text, re.M)
    return int(found.group(1)) if found else None


# -- the attacker ------------------------------------------------------------------------------------------

class Attacker:
    """The attacker in a process of its own (devtools/flood_attacker.py), as it would be on a machine of its
    own: its work must not hold this process's GIL while the prober and the clerk measure latencies."""

    def __init__(self, port: int, ca_file: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "devtools.flood_attacker", str(port), str(ca_file)],
                                        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.held = 0

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the attacker's process ended"
        answer: dict[str, Any] = json.loads(line)
        self.held = answer["held"]
        return answer

    def hold(self, sources: list[str], streams: int, slow_tls: int, slow_headers: int,
             slow_bodies: int = 0) -> Counter[str]:
        """Open the sockets (sources used round-robin); what happened to each attempt, counted."""
        return Counter(self._ask({"op": "hold", "sources": sources, "streams": streams, "slow_tls": slow_tls,
                                  "slow_headers": slow_headers, "slow_bodies": slow_bodies})["outcomes"])

    def release(self) -> None:
        self._ask({"op": "release"})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.release()
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def attack(attacker: Attacker) -> tuple[Counter[str], Counter[str]]:
    """The attack of issue 10: over 5,000 sockets, first all from one address, then from 1,500 addresses
    (two to four each): event streams, connections that never start TLS, headers that never end, and
    login forms whose body never ends (last, so they fill what the others left)."""
    one = attacker.hold([ONE_ADDRESS], streams=100, slow_tls=2000, slow_headers=100, slow_bodies=100)
    many = attacker.hold(many_addresses(1500), streams=800, slow_tls=2000, slow_headers=500, slow_bodies=500)
    return one, many


# -- the health probe and the clerk ------------------------------------------------------------------------

@dataclass
class Prober:
    port: int
    context: ssl.SSLContext
    interval_s: float = 0.1
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (monotonic time, status, seconds)
    errors: list[str] = field(default_factory=list)  # why a probe failed (status 0)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Prober:
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            status, seconds = https_get(self.port, self.context, "/healthz", PROBE_SOURCE, errors=self.errors)
            self.samples.append((time.monotonic(), status, seconds))

    def between(self, start: float, end: float) -> list[tuple[float, int, float]]:
        return [s for s in self.samples if start <= s[0] <= end]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)


class ClerkBrowser:
    """HTTPS with a cookie jar from the clerk's own address; every request timed."""

    def __init__(self, port: int, context: ssl.SSLContext, source: str = CLERK_SOURCE) -> None:
        self.port, self.context, self.source = port, context, source
        self.cookies: dict[str, str] = {}
        self.latencies: list[float] = []

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        headers = {"Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn = http.client.HTTPSConnection("localhost", self.port, timeout=20, context=self.context,
                                           source_address=(self.source, 0))
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            raw = response.getheaders()
        finally:
            conn.close()
        self.latencies.append(time.perf_counter() - started)
        for name, value in raw:
            if name.lower() == "set-cookie":
                for key, morsel in SimpleCookie(value).items():
                    if morsel["max-age"] == "0":
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = morsel.value
        return response.status, {k.lower(): v for k, v in raw}, text


def clerk_round(port: int, context: ssl.SSLContext, office: str, source: str = CLERK_SOURCE) -> tuple[str, list[float]]:
    """Log in, open the counter page, press "next", read the page after it: (that page's flash, latencies)."""
    clerk = ClerkBrowser(port, context, source)
    status, _, page = clerk.request("GET", "/login")
    assert status == 200, status
    token = re.search(r'name="token" value="([^"]*)"', page)
    assert token is not None
    status, headers, _ = clerk.request("POST", "/login", {"token": token.group(1), "user": CLERK[0],
                                                          "password": CLERK[2], "next": ""})
    assert status == 303 and headers["location"] == "/counter", status
    counter = "/counter?" + urlencode({"office": office, "counter": "platz-1"})
    status, _, page = clerk.request("GET", counter)
    assert status == 200, status
    form = re.search(r'<form[^>]*id="form-next".*?</form>', page, re.S)
    assert form is not None
    fields = dict(re.findall(r'name="([a-z]+)" value="([^"]*)"', form.group(0)))
    status, headers, _ = clerk.request("POST", "/counter/command", fields)
    assert status == 303, status
    status, _, page = clerk.request("GET", headers["location"])
    assert status == 200, status
    flash = re.search(r'class="flash[^"]*"[^>]*>(.*?)<', page, re.S)
    return (flash.group(1).strip() if flash else ""), clerk.latencies
