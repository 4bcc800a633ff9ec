"""`wartemarke-notifier` as a real process for tests and the demo: its config (a local push service
allowed over plain HTTP), its VAPID key made by its own CLI, start, `kill -9`, and HTTP calls to it."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.broker import free_port
from devtools.push_service import PushService

SUBJECT = "mailto:betrieb@example.org"


def write_notifier_config(directory: Path, broker_port: int, offices: tuple[str, ...], public_url: str,
                          port: int | None = None, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "notifier.toml"
    path.write_text(textwrap.dedent(f"""
        [notifier]
        device = "notifier-1"
        offices = {json.dumps(list(offices))}
        port = {port or free_port()}
        public_url = "{public_url}"
        database = "state/notifier.sqlite"
        vapid_key_file = "vapid.pem"
        vapid_subject = "{SUBJECT}"
        push_hosts = ["127.0.0.1"]
        allow_http_endpoints = true
        retry_initial_s = 0.2
        retry_max_s = 2
    """) + textwrap.dedent(extra) + textwrap.dedent(f"""
        [broker]
        host = "127.0.0.1"
        port = {broker_port}
        reconnect_max_s = 1
    """), encoding="utf-8")
    return path


def notifier_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "notifier", *args]


def generate_key(config: Path) -> str:
    """The public key, made by `wartemarke-notifier generate-key` (as an operator does)."""
    done = subprocess.run(notifier_command("generate-key", "--config", str(config)), capture_output=True,
                          text=True, timeout=30, check=True)
    return done.stdout.strip()


@dataclass
class NotifierProcess:
    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_config(cls, config: Path) -> NotifierProcess:
        port = int(next(line.split("=")[1] for line in config.read_text().splitlines() if line.startswith("port")))
        return cls(config, port, config.parent / "notifier.log")

    def start(self, timeout: float = 20.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(notifier_command("run", "--config", str(self.config)),
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.request("GET", "/push/v1/key")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the notifier did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)  # polling a port that is not open yet: nothing to wait on

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            sent = {"Content-Type": "application/json", **(headers or {})} if data is not None else (headers or {})
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    def subscribe(self, token: str, subscription: dict[str, Any], notify: str = "15min",
                  lang: str = "de", when_known: bool = True) -> tuple[int, Any]:
        """PUT a subscription. `when_known`: a ticket just issued may not have reached the notifier yet
        (its view travels hub → broker → notifier, slower on a loaded machine): its 404 is asked again,
        every 0.5 s for up to 10 s — 20 misses, within the notifier's default limit of 20 a minute."""
        body = {"subscription": subscription, "notify": notify, "lang": lang}
        answer = self.request("PUT", f"/push/v1/subscriptions/{token}", body)
        deadline = time.monotonic() + 10.0
        while when_known and answer[0] == 404 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = self.request("PUT", f"/push/v1/subscriptions/{token}", body)
        return answer


@contextmanager
def running_notifier(directory: Path, broker_port: int, offices: tuple[str, ...], public_url: str,
                     push: PushService, extra: str = "") -> Iterator[NotifierProcess]:
    """A started notifier whose key `push` checks every request's signature against; stopped afterwards."""
    config = write_notifier_config(directory, broker_port, offices, public_url, extra=extra)
    push.vapid_key = generate_key(config)
    process = NotifierProcess.for_config(config)
    process.start()
    try:
        yield process
    finally:
        process.stop()
