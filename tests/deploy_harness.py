"""Helpers for testing what deploy/ generates: the broker role's templates, mosquitto
password files and an authenticating (TLS) MQTT probe client.

    config = render_broker_template("mosquitto.conf.j2", {"offices": [...], "devices": [...], ...})
    acl = render_role_template("central", "acl.j2", {"accounts": [...]})   # any role's template
    ca = make_office_ca(tmp_path / "tls", hosts=("localhost",), ips=("127.0.0.1",))  # devtools/office_ca.py
    write_password_file(tmp_path / "passwd", {"kiosk-1": "secret", ...})
    probe = MqttProbe.connect_ok(port, username="kiosk-1", password="secret", ca_file=ca.ca_cert)
    probe.subscribe(["wartemarke/v1/o/queue"])          # -> SUBACK reason codes
    probe.publish("wartemarke/v1/o/queue", b"{}")        # -> PUBACK reason code (0x87: not authorized)
    probe.wait_for(lambda t, p: t.endswith("/queue"))

The templates are rendered the way Ansible's `template` module does (trim_blocks, undefined variables
are errors), with the role's defaults/main.yml underneath the given variables, so a test checks the
very files the playbook installs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import ssl
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devtools.broker import Received
from devtools.deploy_templates import (
    ROLES,
    playbook_filters,
    render_role_template,
    role_defaults,
    role_variables,
    write_password_file,
)

# The tests import the template helpers from here too (they live in devtools/ so that bench/city can use them).
__all__ = ["BROKER_ROLE", "NOT_AUTHORIZED", "MqttProbe", "broker_role_defaults", "broker_variables", "playbook_filters",
           "render_broker_template", "render_role_template", "write_password_file"]

BROKER_ROLE = ROLES / "broker"
NOT_AUTHORIZED = 0x87  # MQTT v5 reason code (CONNACK, SUBACK, PUBACK)
Predicate = Callable[[str, bytes], bool]


# -- templates ----------------------------------------------------------------------------------

def broker_role_defaults() -> dict[str, Any]:
    return role_defaults("broker")


def broker_variables(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return role_variables("broker", overrides)


def render_broker_template(name: str, overrides: Mapping[str, Any]) -> str:
    return render_role_template("broker", name, overrides)


# -- an authenticating MQTT v5 probe --------------------------------------------------------------

_ids = itertools.count()


class MqttProbe:
    """A paho client (MQTT v5, optional TLS and credentials) that reports every reason code.

    Unlike devtools.broker.Recorder it never reconnects by itself: a refused connection stays refused,
    and `connack` tells why.
    """

    def __init__(self, port: int, *, host: str = "127.0.0.1", username: str | None = None,
                 password: str | None = None, ca_file: Path | None = None, tls: bool = True,
                 client_id: str | None = None, will: tuple[str, bytes] | None = None,
                 clean_start: bool = True, session_expiry_s: int | None = None) -> None:
        self._cond = threading.Condition()
        self._received: list[Received] = []
        self._properties: list[Properties | None] = []  # the v5 properties of each delivery
        self._acks: dict[int, list[ReasonCode]] = {}
        self.connack: ReasonCode | None = None
        self.disconnected: ReasonCode | None = None
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"probe-{os.getpid()}-{next(_ids)}-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            # ca_file None: the system's CAs, which do not know the office CA.
            self.client.tls_set(ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_ack
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.host, self.port = host, port
        self.clean_start, self.session_expiry_s = clean_start, session_expiry_s
        self.session_present: bool | None = None

    @classmethod
    def connect_ok(cls, port: int, timeout: float = 5.0, **kwargs: Any) -> MqttProbe:
        probe = cls(port, **kwargs)
        code = probe.connect(timeout)
        if code.is_failure:
            probe.close()
            raise AssertionError(f"connection as {kwargs.get('username')} refused: {code}")
        return probe

    def connect(self, timeout: float = 5.0) -> ReasonCode:
        """Connect (TLS handshake included, so a verification failure raises ssl.SSLError here) and
        return the CONNACK reason code."""
        properties = None
        if self.session_expiry_s is not None:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.session_expiry_s
        self.client.connect(self.host, self.port, keepalive=30, clean_start=self.clean_start, properties=properties)
        self.client.loop_start()
        with self._cond:
            if not self._cond.wait_for(lambda: self.connack is not None or self.disconnected is not None, timeout):
                raise TimeoutError("no CONNACK")
            if self.connack is None:
                raise ConnectionError(f"disconnected before CONNACK: {self.disconnected}")
            return self.connack

    # paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                    properties: Any) -> None:
        with self._cond:
            self.connack = reason_code
            self.session_present = bool(flags.session_present)
            self._cond.notify_all()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                       properties: Any) -> None:
        with self._cond:
            self.disconnected = reason_code
            self._cond.notify_all()

    def _on_ack(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[ReasonCode],
                properties: Any) -> None:
        with self._cond:
            self._acks[mid] = list(reason_codes)
            self._cond.notify_all()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: ReasonCode,
                    properties: Any) -> None:
        self._on_ack(client, userdata, mid, [reason_code], properties)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self._received.append(Received(message.topic, bytes(message.payload), bool(message.retain)))
            self._properties.append(message.properties)
            self._cond.notify_all()

    def _wait_ack(self, mid: int, what: str, timeout: float) -> list[ReasonCode]:
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acks or self.disconnected is not None, timeout):
                raise TimeoutError(f"no acknowledgement for {what} within {timeout} s")
            if mid not in self._acks:
                raise ConnectionError(f"disconnected while waiting for {what}: {self.disconnected}")
            return self._acks.pop(mid)

    # test API
    def subscribe(self, filters: Iterable[str], retained: bool = True, timeout: float = 5.0) -> list[ReasonCode]:
        """Subscribe (QoS 1) and return the SUBACK reason codes, one per filter. `retained=False`:
        live messages only (retain handling 2), so nothing stored arrives after this returns."""
        filters = list(filters)
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE if retained
                                   else SubscribeOptions.RETAIN_DO_NOT_SEND)
        result, mid = self.client.subscribe([(f, options) for f in filters])
        assert result == mqtt.MQTT_ERR_SUCCESS and mid is not None, result
        return self._wait_ack(mid, f"SUBSCRIBE {filters}", timeout)

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False,
                properties: Properties | None = None, timeout: float = 5.0) -> ReasonCode:
        """Publish with QoS 1 and return the PUBACK reason code (0 success, 0x87 not authorized)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, info.rc
        return self._wait_ack(info.mid, f"PUBLISH {topic}", timeout)[0]

    def mark(self) -> int:
        with self._cond:
            return len(self._received)

    def wait_disconnected(self, timeout: float = 5.0) -> bool:
        """Wait until the broker (or the network) ended this connection."""
        with self._cond:
            return self._cond.wait_for(lambda: self.disconnected is not None, timeout)

    def wait_for(self, predicate: Predicate, since: int = 0, timeout: float = 5.0) -> int:
        """Index of the first delivery after `since` matching the predicate (waits for it)."""
        def find() -> int | None:
            for index in range(since, len(self._received)):
                record = self._received[index]
                if predicate(record.topic, record.payload):
                    return index
            return None

        with self._cond:
            if not self._cond.wait_for(lambda: find() is not None, timeout):
                seen = [(r.topic, r.payload[:60]) for r in self._received[since:]][-10:]
                raise TimeoutError(f"no matching delivery within {timeout} s; last seen: {seen}")
            found = find()
            assert found is not None
            return found

    def received(self, since: int = 0, until: int | None = None) -> list[Received]:
        with self._cond:
            return self._received[since:until]

    def properties(self, index: int) -> Properties | None:
        """The MQTT v5 properties of delivery `index`."""
        with self._cond:
            return self._properties[index]

    def property(self, index: int, name: str) -> Any:
        """One v5 property of delivery `index` ("ResponseTopic", "CorrelationData", …), None if absent."""
        return getattr(self.properties(index), name, None)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
