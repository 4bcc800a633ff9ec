"""A real mosquitto broker and a recording MQTT client for tests.

`Broker` runs `mosquitto -c <tmp conf>` on a free 127.0.0.1 port (found by binding port 0), logging
into its own tmp dir, so every pytest-xdist worker (and every test) can have its own broker:

    broker = Broker(tmp_path / "broker", persistence=False)
    broker.start()          # waits until the port accepts connections; raises with the log tail
    broker.stop()           # SIGTERM + wait (a persistent broker saves its database)
    broker.kill()           # SIGKILL + wait (an unclean broker death)
    broker.restart()        # stop + start on the same port

`Recorder` is a paho-mqtt 2 client (callback API v2, MQTT v5) that subscribes to topic filters and
records every delivery as `Received(topic, payload, retain)`. It reconnects and re-subscribes by
itself when the broker restarts. Waiting is done on a `threading.Condition`, never by sleeping:

    rec = make_recorder(broker, ["wartemarke/v1/t-1234abcd/#"])   # returns once subscribed
    topic, payload = rec.wait_for(lambda t, p: t.endswith("/ack"), timeout=10.0)
    mark = rec.mark()                       # ... later: only look at what arrived after `mark`
    rec.wait_for(predicate, since=mark)
    rec.publish(topic, b"...", retain=True)  # waits until the broker has the message
    rec.messages("wartemarke/v1/+/queue")   # everything recorded so far for a filter
    rec.close()

In tests, prefer the fixtures from tests/conftest.py: `broker` (fresh per test), `shared_broker`
(one per xdist worker), `broker_factory(persistence=...)`, `recorder_factory(broker, filters)` (closes
its recorders at teardown) and `topic_office` (a unique office slug per test).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from devtools.children import die_with_parent, stop

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
Predicate = Callable[[str, bytes], bool]


class BrokerError(RuntimeError):
    """The broker did not start (the message carries the tail of its log)."""


def find_mosquitto() -> str:
    for candidate in MOSQUITTO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("mosquitto")
    if found is None:
        raise BrokerError("mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)")
    return found


def reserved_port(host: str = "0.0.0.0") -> int:
    """A free TCP port below the kernel's ephemeral range (32768–60999 on Linux), for a port that must
    stay free for many minutes (the provisioning test writes its ports into the inventory and binds
    them half an hour later): the kernel never hands these to the `free_port()` of other tests or to
    outgoing connections, so nobody takes one meanwhile by chance."""
    for port in random.sample(range(20000, 32000), 400):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000–32000")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class Broker:
    """One mosquitto process with its own config, port, log and (optional) persistence directory."""

    def __init__(self, directory: Path, persistence: bool = False, port: int | None = None,
                 host: str = "127.0.0.1", extra_config: str = "", executable: str | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.persistence = persistence
        self.executable = executable or find_mosquitto()
        self.config_path = self.directory / "mosquitto.conf"
        self.log_path = self.directory / "mosquitto.log"
        self.output_path = self.directory / "mosquitto.out"  # stdout/stderr (errors before logging starts)
        self.persistence_dir = self.directory / "data"
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_config(extra_config)

    def _write_config(self, extra_config: str) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"log_dest file {self.log_path}",
            "log_type all",
            "log_timestamp_format %H:%M:%S",
            "connection_messages true",
            "set_tcp_nodelay true",  # as in deploy/: no Nagle delay on small messages
        ]
        if self.persistence:
            self.persistence_dir.mkdir(exist_ok=True)
            lines.append(f"persistence_location {self.persistence_dir}/")
        if os.geteuid() == 0:
            # As root, mosquitto would drop to the `mosquitto` user, which cannot write our tmp dir.
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        if extra_config:
            lines.append(extra_config)
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.output_path, self.log_path):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts) or "(no log output)"

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto; return once it logged "running" and the port accepts TCP connections.

        Both are needed: a clashing mosquitto that failed to bind would otherwise look ready because
        *another* process answers on the port.
        """
        if self.running:
            raise BrokerError(f"broker on port {self.port} is already running")
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.output_path.open("ab") as out:
            proc = self._proc = subprocess.Popen(
                [self.executable, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.directory,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while not (self._logged_running(log_offset) and self._accepts_connections()):
            if time.monotonic() >= deadline:
                self.kill()
                raise BrokerError(f"mosquitto did not get ready on {self.host}:{self.port} "
                                  f"within {timeout} s\n{self.log_tail()}")
            try:
                # Doubles as the pause between checks: returns at once if mosquitto exits.
                code = proc.wait(timeout=0.02)
            except subprocess.TimeoutExpired:
                continue
            self._proc = None
            raise BrokerError(f"mosquitto exited with code {code} on start-up (port {self.port})\n"
                              f"{self.log_tail()}")

    def _logged_running(self, offset: int) -> bool:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                text = fh.read()
        except FileNotFoundError:
            return False
        return re.search(rb"mosquitto version \S+ running", text) is not None

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait (a clean shutdown: a persistent broker writes its database)."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL and wait: the broker dies without saving anything."""
        self._end(signal.SIGKILL, 10.0)

    def restart(self, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop (or kill) and start again on the same port."""
        if kill:
            self.kill()
        else:
            self.stop()
        self.start(timeout)

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop(proc, timeout, sig)

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Broker({self.host}:{self.port}, persistence={self.persistence}, running={self.running})"


class Received(NamedTuple):
    topic: str
    payload: bytes
    retain: bool


_counter = itertools.count()


class Recorder:
    """A subscribing paho client that records deliveries and lets tests wait for them."""

    def __init__(self, host: str, port: int, filters: Iterable[str], *, client_id: str | None = None,
                 retain_as_published: bool = False, timeout: float = 10.0) -> None:
        self.filters = list(filters)
        self._retain_as_published = retain_as_published
        self._cond = threading.Condition()
        self._received: list[Received] = []
        self._sub_mid: int | None = None
        self._ready = False  # connected and subscribed (again, after every reconnect)
        self._closed = False
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"rec-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.connect_async(host, port, keepalive=30, clean_start=True)
        self.client.loop_start()
        if not self.wait_ready(timeout):
            self.close()
            raise TimeoutError(f"recorder could not connect to {host}:{port} and subscribe to "
                               f"{self.filters} within {timeout} s")

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            return
        if not self.filters:
            with self._cond:
                self._ready = True
                self._cond.notify_all()
            return
        options = SubscribeOptions(qos=1, retainAsPublished=self._retain_as_published)
        _, mid = client.subscribe([(f, options) for f in self.filters])
        with self._cond:
            self._sub_mid = mid

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        with self._cond:
            if mid == self._sub_mid:
                self._ready = True
                self._cond.notify_all()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        with self._cond:
            self._ready = False
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self._received.append(Received(message.topic, bytes(message.payload), bool(message.retain)))
            self._cond.notify_all()

    # -- test API ----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        with self._cond:
            return self._ready

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Wait until connected and subscribed (after a broker restart: re-subscribed)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._ready, timeout)

    def wait_disconnected(self, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._ready, timeout)

    def mark(self) -> int:
        """A position in the record; pass it as `since=` to wait only for later messages."""
        with self._cond:
            return len(self._received)

    def wait_for(self, predicate: Predicate, timeout: float = 10.0, since: int = 0) -> tuple[str, bytes]:
        """The first recorded (topic, payload) at or after `since` that satisfies `predicate`."""
        found: list[Received] = []

        def match() -> bool:
            for item in self._received[since:]:
                if predicate(item.topic, item.payload):
                    found.append(item)
                    return True
            return False

        with self._cond:
            if not self._cond.wait_for(match, timeout):
                seen = [(r.topic, r.payload[:200]) for r in self._received[since:]][-20:]
                raise TimeoutError(f"no matching message within {timeout} s; last seen: {seen}")
        return found[0].topic, found[0].payload

    def wait_for_json(self, topic_filter: str, predicate: Callable[[dict[str, Any]], bool] | None = None,
                      timeout: float = 10.0, since: int = 0) -> dict[str, Any]:
        """The first JSON object on a topic matching `topic_filter` (and `predicate`, if given)."""

        def check(topic: str, payload: bytes) -> bool:
            if not mqtt.topic_matches_sub(topic_filter, topic):
                return False
            try:
                data = json.loads(payload)
            except ValueError:
                return False
            return isinstance(data, dict) and (predicate is None or predicate(data))

        _, payload = self.wait_for(check, timeout, since)
        result: dict[str, Any] = json.loads(payload)
        return result

    def records(self, topic_filter: str = "#") -> list[Received]:
        """Every recorded delivery whose topic matches the filter, oldest first."""
        with self._cond:
            return [r for r in self._received if mqtt.topic_matches_sub(topic_filter, r.topic)]

    def messages(self, topic_filter: str = "#") -> list[tuple[str, bytes]]:
        """(topic, payload) of every recorded delivery matching the filter, oldest first."""
        return [(r.topic, r.payload) for r in self.records(topic_filter)]

    def publish(self, topic: str, payload: bytes, retain: bool = False, qos: int = 1,
                timeout: float = 10.0) -> None:
        """Publish and wait until the broker acknowledged it (QoS 1/2) or it was sent (QoS 0)."""
        if not self.wait_ready(timeout):
            raise TimeoutError("recorder is not connected")
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise TimeoutError(f"publish to {topic} not confirmed within {timeout} s")

    def clear_retained(self, topic: str) -> None:
        self.publish(topic, b"", retain=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_recorder(broker: Broker, filters: Iterable[str], **kwargs: Any) -> Recorder:
    """A connected, subscribed Recorder on `broker` (close it yourself, or use `recorder_factory`)."""
    return Recorder(broker.host, broker.port, filters, **kwargs)
