"""The web tier in tests: the hub's real process (hub and web) with a `[web]` table on a free port,
plain HTTP and SSE clients.

- `write_web_hub_config(directory, broker_port, office, web_port, extra_web="")` writes a hub config
  (devtools/hub_harness.py) with a `[web]` table appended.
- `WebHub` starts that hub's process (hubprocess: the Hub and its WebServer), waits until the web
  mirrors the office, and issues tickets over MQTT as a kiosk would (`issue`), or calls them (`command`).
- `get(url)` / `SseClient(url)`: HTTP without a library, socket reads with timeouts (never sleeps).
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import subprocess
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devtools.hub_harness import issued, payload, write_hub_config
from hub.app import Hub
from hub.counter_cli import send_command
from hubprocess.app import HubProcess
from hubprocess.config import load_hub_process_config
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CommandAnswer, CommandRequest, TicketIssued
from web.app import WebServer

TIMEOUT_S = 10.0
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def write_web_hub_config(directory: Path, broker_port: int, office: str, web_port: int, extra_web: str = "",
                         **kwargs: Any) -> Path:
    path = write_hub_config(directory, broker_port, office, **kwargs)
    web = textwrap.dedent(f"""

        [web]
        port = {web_port}
        public_url = "http://127.0.0.1:{web_port}"
    """) + textwrap.dedent(extra_web)
    path.write_text(path.read_text(encoding="utf-8") + web, encoding="utf-8")
    return path


def random_token() -> str:
    """A tracking token as kiosks make them: 160 random bits in base32 (32 characters of A-Z2-7)."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT_S, what: str = "condition") -> Any:
    """Poll a cheap in-process predicate (the web's mirror is updated on another thread)."""
    deadline = time.monotonic() + timeout
    done = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        done.wait(0.02)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Reply:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=TIMEOUT_S)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


class SseClient:
    """A server-sent-event stream; `next_event()` blocks on the socket (with a timeout), never sleeps."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
        self.conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                          headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}

    def next_event(self) -> tuple[str, Any]:
        """The next event's name and its JSON data (comments and heartbeats skipped)."""
        name, data = "message", list[str]()
        while True:
            line = self.response.readline().decode("utf-8")
            if line == "":
                raise ConnectionError("the server closed the event stream")
            line = line.rstrip("\r\n")
            if line == "":
                if data:
                    return name, json.loads("\n".join(data))
                name = "message"
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)

    def wait_for(self, predicate: Callable[[Any], bool], limit: int = 50) -> Any:
        """Read events until one's data satisfies the predicate (each read bounded by the socket timeout)."""
        for _ in range(limit):
            _, data = self.next_event()
            if predicate(data):
                return data
        raise AssertionError(f"no matching event within {limit} events")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class WebHub:
    """A running hub's process with its web tier; `url` is the web's base URL."""

    process: HubProcess
    office: str
    port: int
    config: Path
    broker_port: int
    seq: int = 0
    tokens: list[str] = field(default_factory=list)
    _clerk: MqttLink | None = None

    @classmethod
    def start(cls, config: Path, office: str, broker_port: int,
              users: tuple[tuple[str, str, str], ...] = ()) -> WebHub:
        """Start the hub; `users` ((name, role, password), …) are added to its database before it starts."""
        process = HubProcess(load_hub_process_config(config), SystemClock(assume_synced=True))
        server = process.web
        assert server is not None, "the hub config has no [web] table"
        for name, role, password in users:
            process.accounts.add(name, role, password)
        process.start()
        web = cls(process, office, server.settings.port, config, broker_port)
        mirror = server.mirror
        wait_until(lambda: mirror.mqtt_connected and mirror.office(office).info is not None
                   and mirror.office(office).queue is not None and mirror.office(office).history is not None,
                   what="the web to mirror the office")  # the hub's first publication is complete
        return web

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hub(self) -> Hub:
        return self.process.hub

    @property
    def server(self) -> WebServer:
        assert self.process.web is not None
        return self.process.web

    @property
    def mirror(self) -> Any:
        return self.server.mirror

    def issue(self, service: str = "A", token: str | None = None, wait: bool = True) -> TicketIssued:
        """A kiosk's ticket event over MQTT; waits until the web mirrors the ticket's tracking topic."""
        self.seq += 1
        label = f"{service}{self.seq:03d}"
        event = issued(self.hub.runtimes[self.office].engine.day, label, self.seq, token=token or random_token())
        self.tokens.append(event.token)
        self.clerk.publish(topics.kiosk_ticket(self.office, "kiosk-1"), payload(event))
        if wait:
            key = topics.token_hash(event.token)
            wait_until(lambda: key in self.mirror.tickets, what=f"the web to mirror {label}")
        return event

    @property
    def clerk(self) -> MqttLink:
        if self._clerk is None:
            self._clerk = MqttLink(BrokerSettings(port=self.broker_port), self.office,
                                   f"clerk-{uuid.uuid4().hex[:6]}", "cli", VERSION, SystemClock(), availability=False)
            self._clerk.start()
            assert self._clerk.connected.wait(TIMEOUT_S)
        return self._clerk

    def command(self, counter: str, op: str, **args: Any) -> CommandAnswer:
        answer = send_command(self.clerk, self.office, counter, CommandRequest(uuid.uuid4().hex, op, args))
        assert answer is not None, "the hub did not answer"
        return answer

    def stop(self) -> None:
        if self._clerk is not None:
            self._clerk.stop()
        self.process.stop()


def nginx_listens(nginx: subprocess.Popen[bytes], pid_file: Path, timeout: float = 20.0) -> bool:
    """nginx has bound its ports (it writes its pid file after that); False when it ended (a port was taken)."""
    deadline = time.monotonic() + timeout
    while nginx.poll() is None and time.monotonic() < deadline:
        if pid_file.exists() and pid_file.read_text().strip() == str(nginx.pid):
            return True
        time.sleep(0.05)
    if nginx.poll() is None:
        nginx.terminate()
    return False
