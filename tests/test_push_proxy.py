"""The push service through the city's HTTP proxy (notifier.toml `proxy`, the inventory's
web_notifier_proxy): the real `wartemarke-notifier` reaches the local push service only through a real
tinyproxy (Debian's), whose log shows each request and whose Via header the push service sees; with the
proxy stopped the notifier says why in its log and retries, and the notification goes out once the proxy
is back."""

from __future__ import annotations

import socket
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.broker import free_port
from devtools.notifier_harness import NotifierProcess, running_notifier
from devtools.push_service import PushService
from tests.web_harness import WebHub, wait_until


@dataclass
class Tinyproxy:
    """tinyproxy in the foreground on a port of its own, with its own config and log."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "tinyproxy.log"

    def start(self) -> None:
        config = self.directory / "tinyproxy.conf"
        config.write_text(textwrap.dedent(f"""
            Port {self.port}
            Listen 127.0.0.1
            Timeout 30
            LogFile "{self.log}"
            LogLevel Info
            PidFile "{self.directory / 'tinyproxy.pid'}"
            MaxClients 20
            Allow 127.0.0.1
            ViaProxyName "cityproxy"
        """))
        with (self.directory / "tinyproxy.out").open("ab") as out:
            self.process = subprocess.Popen(["tinyproxy", "-d", "-c", str(config)], stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._listens, 20, "tinyproxy to listen")

    def _listens(self) -> bool:
        assert self.process is not None and self.process.poll() is None, (self.directory / "tinyproxy.out").read_text()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    directory = tmp_path / "proxy"
    directory.mkdir()
    running = Tinyproxy(directory, free_port())
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def notifier(tmp_path: Path, shared_broker: Any, web_hub: WebHub, push: PushService,
             proxy: Tinyproxy) -> Iterator[NotifierProcess]:
    with running_notifier(tmp_path / "notifier", shared_broker.port, (web_hub.office,), web_hub.url, push,
                          extra=f'proxy = "http://127.0.0.1:{proxy.port}"\n') as process:
        yield process


def posted(push: PushService, name: str) -> list[str]:
    return [p.message["kind"] for p in push.posts if p.name == name]


def test_notifications_go_through_the_proxy_and_wait_for_it_when_it_is_down(
        web_hub: WebHub, notifier: NotifierProcess, push: PushService, proxy: Tinyproxy) -> None:
    ticket = web_hub.issue()
    browser = push.subscription("anna")
    assert notifier.subscribe(ticket.token, browser.info, notify="5places")[0] == 201
    push.wait_for(lambda: posted(push, "anna") == ["near"], what="turn near, through the proxy")
    assert push.posts[0].via is not None and "cityproxy" in push.posts[0].via, push.posts[0].via
    wait_until(lambda: f"POST {browser.endpoint} HTTP/1.1" in proxy.log.read_text(), 10, "the proxy's log line")
    # The proxy goes away: the notifier cannot reach the push service, says why, and keeps the notification.
    proxy.stop()
    web_hub.command("platz-1", "next")
    wait_until(lambda: f"push service unreachable through the proxy 127.0.0.1:{proxy.port} (ProxyError): will retry"
               in notifier.log.read_text(), 30, "the notifier to log the unreachable proxy")
    assert posted(push, "anna") == ["near"]
    proxy.start()  # back on the same port: the retry (back-off up to retry_max_s = 2 s) gets through
    push.wait_for(lambda: posted(push, "anna") == ["near", "called"], timeout=30, what="the retried notification")
    assert all(p.via and "cityproxy" in p.via for p in push.posts)
    assert push.rejected == []
