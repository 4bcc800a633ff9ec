"""The broker role's generated config, started as a real mosquitto (issue 6).

The ACL and mosquitto.conf are rendered from deploy/roles/broker/templates with the role's defaults,
exactly as the playbook installs them, for one office `t-acl`: hub-1, kiosk-1, kiosk-2, display-1, the
hub's web hub-1-web, a public replica web-1 and a clerk's counter client platz-1-cli. Every device
gets a random password (mosquitto_passwd), the broker a certificate from a fresh office CA, and then
real MQTT v5 clients check what each credential may publish and read.

mosquitto drops an unauthorised publish silently for subscribers (the publisher's QoS 1 PUBACK says
0x87 "not authorized"), so absence is never waited for: after the forbidden publishes an allowed
"marker" message follows on the same connection (or after the forbidden PUBACKs), and the receiver
must see the marker with nothing forbidden before it. mosquitto delivers one publisher's messages to
a subscriber in order, so whatever had been let through would have arrived first.

The test-only user `test-observer` (appended to the generated ACL) reads the whole office tree, to
watch publishes that no device role may read.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from devtools.broker import Broker, BrokerError, Received, free_port
from devtools.hub_harness import write_hub_config
from devtools.office_ca import OfficeCA, make_office_ca
from hub.counter_cli import main as counter_main
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from tests.deploy_harness import NOT_AUTHORIZED, MqttProbe, render_broker_template, write_password_file

OFFICE = "t-acl"
ROOT = topics.office_root(OFFICE)
DEVICES: list[dict[str, Any]] = [
    {"name": "hub-1", "role": "hub", "offices": [OFFICE]},
    {"name": "kiosk-1", "role": "kiosk", "office": OFFICE},
    {"name": "kiosk-2", "role": "kiosk", "office": OFFICE},
    {"name": "display-1", "role": "display", "office": OFFICE},
    {"name": "hub-1-web", "role": "web", "offices": [OFFICE]},
    {"name": "web-1", "role": "replica", "offices": [OFFICE]},
    {"name": "platz-1-cli", "role": "counter", "office": OFFICE, "counter": "platz-1"},
]
OBSERVER = "test-observer"
OBSERVER_ACL = f"\n# test only\nuser {OBSERVER}\ntopic read {ROOT}/#\ntopic read $SYS/broker/version\n"
TICKET_VIEW = topics.ticket(OFFICE, topics.token_hash("CAIREEYUCULBOGAZDINRYHI6D4"))


def _user() -> str:
    # As root mosquitto would drop to `mosquitto`, which cannot read the test's tmp dir.
    return pwd.getpwuid(os.geteuid()).pw_name


def base_variables(directory: Path, ca: OfficeCA, tls_port: int, local_port: int, log_file: Path,
                   devices: list[dict[str, Any]] = DEVICES) -> dict[str, Any]:
    return {
        "offices": [{"id": OFFICE}],
        "devices": devices,
        "broker_user": _user(),
        "broker_tls_port": tls_port,
        "broker_tls_bind_address": "127.0.0.1",
        "broker_local_port": local_port,
        "broker_tls_cafile": str(ca.ca_cert),
        "broker_tls_certfile": str(ca.server_cert),
        "broker_tls_keyfile": str(ca.server_key),
        "broker_password_file": str(directory / "passwd"),
        "broker_acl_file": str(directory / "acl"),
        "broker_persistence_location": f"{directory}/",
        "broker_log_dest": [f"file {log_file}"],
        "broker_log_types": ["all"],
        "broker_log_timestamp": True,
    }


@dataclass
class OfficeBroker:
    broker: Broker
    ca: OfficeCA
    tls_port: int
    local_port: int
    passwords: dict[str, str]
    acl: str
    config: str
    probes: list[MqttProbe] = field(default_factory=list)

    def probe(self, user: str | None, password: str | None = None, **kwargs: Any) -> MqttProbe:
        """An unconnected client for `user` (its real password unless given) over TLS with the CA."""
        kwargs.setdefault("ca_file", self.ca.ca_cert)
        port = self.local_port if kwargs.get("tls") is False else self.tls_port
        probe = MqttProbe(port, username=user,
                          password=password if password is not None else self.passwords.get(user or ""), **kwargs)
        self.probes.append(probe)
        return probe

    def connect(self, user: str, **kwargs: Any) -> MqttProbe:
        probe = self.probe(user, **kwargs)
        code = probe.connect()
        assert not code.is_failure, f"{user} was refused: {code}\n{self.broker.log_tail()}"
        return probe

    def close_probes(self) -> None:
        while self.probes:
            self.probes.pop().close()


def start_office_broker(directory: Path, devices: list[dict[str, Any]] = DEVICES, extra_acl: str = OBSERVER_ACL,
                        ca: OfficeCA | None = None, **overrides: Any) -> OfficeBroker:
    directory.mkdir(parents=True, exist_ok=True)
    ca = ca or make_office_ca(directory / "tls", hosts=("localhost",), ips=("127.0.0.1",))
    users = [d["name"] for d in devices] + re.findall(r"^user (\S+)$", extra_acl, re.MULTILINE)
    passwords = {user: secrets.token_urlsafe(18) for user in users}
    write_password_file(directory / "passwd", passwords)
    for attempt in range(3):
        # Broker only runs the process and waits for readiness; the config is the rendered template.
        broker = Broker(directory / f"mosquitto-{attempt}", port=free_port())
        local_port = free_port()
        variables = {**base_variables(directory, ca, broker.port, local_port, broker.log_path, devices), **overrides}
        acl = render_broker_template("acl.j2", variables)
        (directory / "acl").write_text(acl + extra_acl, encoding="utf-8")
        config = render_broker_template("mosquitto.conf.j2", variables)
        broker.config_path.write_text(config, encoding="utf-8")
        try:
            broker.start()
        except BrokerError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
            continue  # another process took one of the free ports in the meantime
        return OfficeBroker(broker, ca, broker.port, local_port, passwords, acl, config)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfficeBroker]:
    instance = start_office_broker(tmp_path_factory.mktemp("broker-acl"))
    try:
        yield instance
    finally:
        instance.close_probes()
        instance.broker.stop()


@pytest.fixture
def clients(office: OfficeBroker) -> Iterator[OfficeBroker]:
    """The module's broker; the clients a test makes are closed after it."""
    try:
        yield office
    finally:
        office.close_probes()


def allowed(code: ReasonCode) -> bool:
    """A PUBACK that accepted the message (0 success, or 0x10 "no matching subscribers")."""
    return not code.is_failure


def denied(code: ReasonCode) -> bool:
    return code.value == NOT_AUTHORIZED


_markers: set[bytes] = set()


def marker() -> bytes:
    """A unique, allowed "sync" payload. Markers are left out of `before_marker` results: with
    overlapping subscriptions mosquitto delivers one copy per matching filter, so a copy of an
    earlier marker may still arrive in a later phase."""
    payload = f'{{"v":1,"marker":"{uuid.uuid4().hex}"}}'.encode()
    _markers.add(payload)
    return payload


def before_marker(probe: MqttProbe, payload: bytes, since: int = 0) -> list[Received]:
    """Everything but markers that `probe` received after `since` up to the first copy of the message
    carrying `payload` (waits for it)."""
    index = probe.wait_for(lambda _t, p: p == payload, since)
    return [r for r in probe.received(since, index) if r.payload not in _markers]


def topics_of(records: list[Received]) -> set[str]:
    return {r.topic for r in records}


def request(response_topic: str, correlation: bytes) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = response_topic
    props.CorrelationData = correlation
    return props


def reply(correlation: bytes) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.CorrelationData = correlation
    return props


# -- the rendered files ---------------------------------------------------------------------------

def acl_grants(acl: str) -> dict[str, set[str]]:
    """user -> {"read TOPIC", "write TOPIC", "deny TOPIC"} from a mosquitto ACL file."""
    grants: dict[str, set[str]] = {}
    user: str | None = None
    for line in acl.splitlines():
        if line.startswith("user "):
            user = line.split()[1]
            grants[user] = set()
        elif line.startswith("topic "):
            assert user is not None, f"topic line outside a user block: {line}"
            _, access, topic = line.split()
            grants[user].add(f"{access} {topic}")
    return grants


def test_acl_grants_each_role_only_its_own_topics(office: OfficeBroker) -> None:
    acl = office.acl
    rules = [line for line in acl.splitlines() if line and not line.startswith("#")]
    assert not [line for line in rules if line.startswith("pattern") or "%" in line]
    grants = acl_grants(acl)
    assert set(grants) == {d["name"] for d in DEVICES}
    r = ROOT
    assert grants["kiosk-1"] == {
        "deny $SYS/#", f"write {r}/kiosk/kiosk-1/ticket", f"write {r}/device/kiosk-1/status",
        f"read {r}/kiosk/kiosk-1/ack", f"read {r}/queue", f"read {r}/info"}
    assert grants["display-1"] == {
        "deny $SYS/#", f"write {r}/device/display-1/status",
        f"read {r}/calls", f"read {r}/queue", f"read {r}/info", f"read {r}/device/+/status"}
    assert grants["web-1"] == {
        "deny $SYS/#", f"write {r}/device/web-1/status",
        f"read {r}/info", f"read {r}/queue", f"read {r}/history", f"read {r}/ticket/+",
        f"read {r}/device/hub-1/status",  # the hub's will: the pages say "Stand" when it is gone
        f"write {r}/citizen/request", f"read {r}/citizen/response/+"}  # a tracking page's postpone/cancel
    assert grants["platz-1-cli"] == {
        "deny $SYS/#", f"write {r}/device/platz-1-cli/status", f"write {r}/counter/platz-1/command",
        f"read {r}/counter/platz-1/response/+"}
    # Only the hub reads kiosk tickets (they carry the tracking token).
    assert {user for user, g in grants.items() if any(re.fullmatch(rf"read {r}/kiosk/[^/]+/ticket", t) for t in g)} \
        == {"hub-1"}
    assert {t for t in grants["hub-1"] if t.startswith("read")} == {
        f"read {r}/kiosk/+/ticket", f"read {r}/counter/+/command", f"read {r}/command", f"read {r}/citizen/request"}
    # Only the hub reads citizen requests (they carry tracking tokens) and answers them.
    assert {user for user, g in grants.items() if f"read {r}/citizen/request" in g} == {"hub-1"}
    assert {user for user, g in grants.items() if f"write {r}/citizen/response/+" in g} == {"hub-1"}
    assert f"write {r}/counter/+/command" in grants["hub-1-web"]
    assert f"read {r}/counter/+/response/+" in grants["hub-1-web"]


def test_config_has_the_hardened_settings(office: OfficeBroker) -> None:
    lines = set(office.config.splitlines())
    for line in ("per_listener_settings false", "allow_anonymous false", "require_certificate false",
                 "set_tcp_nodelay true", "persistence true", f"listener {office.local_port} 127.0.0.1",
                 f"listener {office.tls_port} 127.0.0.1", f"cafile {office.ca.ca_cert}"):
        assert line in lines, line
    assert not any(line.startswith("connection ") for line in lines)  # no bridge unless asked for
    # Client ids are usernames on every listener (a per-listener option: right after each `listener`).
    listeners = office.config.split("\nlistener ")[1:]
    assert len(listeners) == 2 and all("\nuse_username_as_clientid true\n" in block.split("\n\n")[0] + "\n"
                                       for block in listeners), office.config


@pytest.mark.parametrize(("device", "message"), [
    ({"name": "kiosk 1", "role": "kiosk", "office": OFFICE}, "not a slug"),
    ({"name": "kiosk-9", "role": "printer", "office": OFFICE}, "unknown role"),
    ({"name": "kiosk-9", "role": "kiosk", "office": "elsewhere"}, "unknown office"),
    ({"name": "kiosk-9", "role": "kiosk"}, "no office"),
    ({"name": "platz-9-cli", "role": "counter", "office": OFFICE}, "needs `counter`"),
    ({"name": "platz-9-cli", "role": "counter", "office": OFFICE, "counter": "#"}, "not a slug"),
    ({"name": "kiosk-1", "role": "kiosk", "office": OFFICE}, "listed twice"),
    ({"name": "hub-9", "role": "hub", "offices": [OFFICE], "embedded_web": True}, "needs its own user hub-9-web"),
])
def test_acl_template_refuses_bad_inventory(device: dict[str, Any], message: str) -> None:
    with pytest.raises(jinja2.UndefinedError, match=re.escape(message)):
        render_broker_template("acl.j2", {"offices": [{"id": OFFICE}], "devices": [*DEVICES, device]})


# -- authentication and TLS -----------------------------------------------------------------------

@pytest.mark.parametrize("tls", [True, False], ids=["tls", "local-plain"])
def test_anonymous_and_wrong_credentials_are_refused(clients: OfficeBroker, tls: bool) -> None:
    assert clients.probe(None, tls=tls).connect().value == NOT_AUTHORIZED
    assert clients.probe("kiosk-1", password="wrong", tls=tls).connect().value == NOT_AUTHORIZED
    assert clients.probe("kiosk-1", password=clients.passwords["kiosk-2"], tls=tls).connect().value == NOT_AUTHORIZED
    assert clients.probe("nobody", password="x", tls=tls).connect().value == NOT_AUTHORIZED
    assert not clients.probe("kiosk-1", tls=tls).connect().is_failure


# paho 2.2 does not close the socket of a failed TLS handshake; it is collected with a ResourceWarning.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_tls_works_with_the_office_ca_only(clients: OfficeBroker, tmp_path: Path) -> None:
    for host in ("localhost", "127.0.0.1"):  # the certificate names both (subjectAltName)
        assert not clients.probe("kiosk-1", host=host).connect().is_failure
    with pytest.raises(ssl.SSLCertVerificationError):
        clients.probe("kiosk-1", ca_file=None).connect()  # the system's CAs do not know the office CA
    other = make_office_ca(tmp_path / "other-ca", name="another office CA")
    with pytest.raises(ssl.SSLCertVerificationError):
        clients.probe("kiosk-1", ca_file=other.ca_cert).connect()
    plain = MqttProbe(clients.tls_port, username="kiosk-1", password=clients.passwords["kiosk-1"], tls=False)
    clients.probes.append(plain)
    with pytest.raises(OSError):  # plain MQTT on the TLS port gets no CONNACK
        plain.connect(timeout=3.0)


def test_the_products_link_connects_with_tls_and_its_credentials(clients: OfficeBroker) -> None:
    display = clients.connect("display-1")
    display.subscribe([f"{ROOT}/device/+/status"], retained=False)
    since = display.mark()
    settings = BrokerSettings(host="localhost", port=clients.tls_port, username="kiosk-1",
                              password=clients.passwords["kiosk-1"], tls=True, ca_file=str(clients.ca.ca_cert))
    link = MqttLink(settings, OFFICE, "kiosk-1", "kiosk", VERSION, SystemClock())
    link.start()
    try:
        assert link.connected.wait(5.0), clients.broker.log_tail()
        display.wait_for(lambda t, p: t == topics.device_status(OFFICE, "kiosk-1") and b'"online":true' in p, since)
    finally:
        link.stop()
    display.wait_for(lambda t, p: t == topics.device_status(OFFICE, "kiosk-1") and b'"online":false' in p
                     and VERSION.encode() in p, since)


# -- what each role may publish and read ----------------------------------------------------------

def test_kiosk_publishes_only_its_own_ticket_and_status(clients: OfficeBroker) -> None:
    hub = clients.connect("hub-1")
    hub.subscribe([f"{ROOT}/kiosk/+/ticket", f"{ROOT}/counter/+/command", f"{ROOT}/command"], retained=False)
    observer = clients.connect(OBSERVER)
    observer.subscribe([f"{ROOT}/#"], retained=False)
    kiosk = clients.connect("kiosk-1")
    hub_since, observer_since = hub.mark(), observer.mark()
    forbidden = [
        (topics.kiosk_ticket(OFFICE, "kiosk-2"), False),
        (topics.kiosk_ack(OFFICE, "kiosk-1"), True),
        (topics.counter_command(OFFICE, "platz-1"), False),
        (topics.office_command(OFFICE), False),
        (topics.queue(OFFICE), True),
        (topics.calls(OFFICE), True),
        (topics.device_status(OFFICE, "kiosk-2"), True),
        (TICKET_VIEW, True),
    ]
    for topic, retain in forbidden:
        assert denied(kiosk.publish(topic, b'{"v":1,"forged":true}', retain=retain)), topic
    assert allowed(kiosk.publish(topics.device_status(OFFICE, "kiosk-1"), b'{"v":1,"online":true}', retain=True))
    mark = marker()
    assert allowed(kiosk.publish(topics.kiosk_ticket(OFFICE, "kiosk-1"), mark))
    assert before_marker(hub, mark, hub_since) == []  # the hub got the own ticket and nothing forged
    seen = topics_of(before_marker(observer, mark, observer_since))
    assert seen == {topics.device_status(OFFICE, "kiosk-1")}


def test_kiosk_reads_only_its_own_ack_the_queue_and_info(clients: OfficeBroker) -> None:
    hub = clients.connect("hub-1")
    retained = {
        topics.kiosk_ack(OFFICE, "kiosk-1"): b'{"v":1,"seq":1}',
        topics.kiosk_ack(OFFICE, "kiosk-2"): b'{"v":1,"seq":2}',
        topics.queue(OFFICE): b'{"v":1,"q":1}',
        topics.info(OFFICE): b'{"v":1,"i":1}',
        topics.calls(OFFICE): b'{"v":1,"c":1}',
        topics.history(OFFICE): b'{"v":1,"h":1}',
        topics.counter_state(OFFICE, "platz-1"): b'{"v":1,"s":1}',
        TICKET_VIEW: b'{"v":1,"t":1}',
    }
    for topic, payload in retained.items():
        assert allowed(hub.publish(topic, payload, retain=True)), topic
    observer = clients.connect(OBSERVER)
    observer.subscribe(["$SYS/broker/version"])  # control: the broker does hand out retained $SYS
    observer.wait_for(lambda t, _p: t == "$SYS/broker/version")

    kiosk = clients.connect("kiosk-1")
    # mosquitto 2.0 grants every SUBSCRIBE (the ACL file is not checked against filters); the ACL
    # decides per message, for retained messages too.
    kiosk.subscribe([topics.kiosk_ack(OFFICE, "kiosk-1"), topics.kiosk_ack(OFFICE, "kiosk-2"),
                     f"{ROOT}/kiosk/+/ack", f"{ROOT}/kiosk/+/ticket", f"{ROOT}/ticket/+", f"{ROOT}/#", "$SYS/#", "#"])
    mark = marker()
    assert allowed(hub.publish(topics.queue(OFFICE), mark))
    got = before_marker(kiosk, mark)
    assert topics_of(got) == {topics.kiosk_ack(OFFICE, "kiosk-1"), topics.queue(OFFICE), topics.info(OFFICE)}, got
    assert all(r.retain for r in got)

    # Live messages too: kiosk-2's ack, a ticket view, calls, another kiosk's ticket.
    since = kiosk.mark()
    assert allowed(hub.publish(topics.kiosk_ack(OFFICE, "kiosk-2"), b'{"v":1,"seq":3}', retain=True))
    assert allowed(hub.publish(TICKET_VIEW, b'{"v":1,"t":2}', retain=True))
    assert allowed(hub.publish(topics.calls(OFFICE), b'{"v":1,"c":2}', retain=True))
    kiosk2 = clients.connect("kiosk-2")
    assert allowed(kiosk2.publish(topics.kiosk_ticket(OFFICE, "kiosk-2"), b'{"v":1,"token":"SECRET"}'))
    mark = marker()
    assert allowed(hub.publish(topics.kiosk_ack(OFFICE, "kiosk-1"), mark, retain=True))
    assert before_marker(kiosk, mark, since) == []


def test_display_publishes_only_its_own_status(clients: OfficeBroker) -> None:
    hub = clients.connect("hub-1")
    calls_payload = b'{"v":1,"calls":"real"}'
    assert allowed(hub.publish(topics.calls(OFFICE), calls_payload, retain=True))
    for topic in (topics.queue(OFFICE), topics.info(OFFICE), topics.kiosk_ack(OFFICE, "kiosk-1"), TICKET_VIEW):
        assert allowed(hub.publish(topic, b'{"v":1}', retain=True))
    observer = clients.connect(OBSERVER)
    observer.subscribe([f"{ROOT}/#"], retained=False)
    since = observer.mark()
    display = clients.connect("display-1")
    for topic in (topics.calls(OFFICE), topics.queue(OFFICE), topics.info(OFFICE),
                  topics.device_status(OFFICE, "kiosk-1"), topics.device_status(OFFICE, "display-2"),
                  topics.kiosk_ticket(OFFICE, "display-1"), topics.counter_command(OFFICE, "platz-1"),
                  topics.office_command(OFFICE), topics.kiosk_ack(OFFICE, "kiosk-1")):
        assert denied(display.publish(topic, b'{"v":1,"forged":true}', retain=True)), topic
    mark = marker()
    assert allowed(display.publish(topics.device_status(OFFICE, "display-1"), mark, retain=True))
    assert before_marker(observer, mark, since) == []
    # The retained calls are still the hub's: a display subscribing now gets those.
    fresh = clients.connect("hub-1-web")
    fresh.subscribe([topics.calls(OFFICE)])
    index = fresh.wait_for(lambda t, _p: t == topics.calls(OFFICE))
    assert fresh.received()[index].payload == calls_payload

    # And it reads what a display shows, not acks or ticket views.
    display.subscribe([f"{ROOT}/#"])
    mark = marker()
    assert allowed(hub.publish(topics.calls(OFFICE), mark, retain=True))
    seen = topics_of(before_marker(display, mark))
    assert {topics.calls(OFFICE), topics.queue(OFFICE), topics.info(OFFICE)} <= seen
    assert all(t in (topics.calls(OFFICE), topics.queue(OFFICE), topics.info(OFFICE))
               or re.fullmatch(rf"{ROOT}/device/[a-z0-9-]+/status", t) for t in seen), seen


def test_replica_reads_public_views_but_no_tokens_and_sends_no_commands(clients: OfficeBroker) -> None:
    hub = clients.connect("hub-1")
    hub.subscribe([f"{ROOT}/counter/+/command", f"{ROOT}/command"], retained=False)
    for topic in (TICKET_VIEW, topics.queue(OFFICE), topics.info(OFFICE), topics.history(OFFICE),
                  topics.device_status(OFFICE, "hub-1")):
        assert allowed(hub.publish(topic, b'{"v":1}', retain=True))
    replica = clients.connect("web-1")
    replica.subscribe([f"{ROOT}/ticket/+", topics.queue(OFFICE), f"{ROOT}/kiosk/+/ticket", f"{ROOT}/#"])
    public = {TICKET_VIEW, topics.queue(OFFICE), topics.info(OFFICE), topics.history(OFFICE),
              topics.device_status(OFFICE, "hub-1")}  # the hub's status (its will), as the city bridge carries
    mark = marker()
    assert allowed(hub.publish(topics.info(OFFICE), mark, retain=True))
    assert topics_of(before_marker(replica, mark)) == public  # the retained views, nothing else

    since = replica.mark()
    kiosk = clients.connect("kiosk-1")
    assert allowed(kiosk.publish(topics.kiosk_ticket(OFFICE, "kiosk-1"), b'{"v":1,"token":"SECRET"}'))
    assert allowed(kiosk.publish(topics.device_status(OFFICE, "kiosk-1"), b'{"v":1}', retain=True))
    assert allowed(hub.publish(topics.calls(OFFICE), b'{"v":1}', retain=True))
    assert allowed(hub.publish(topics.counter_state(OFFICE, "platz-1"), b'{"v":1}', retain=True))
    assert allowed(hub.publish(topics.kiosk_ack(OFFICE, "kiosk-1"), b'{"v":1}', retain=True))
    mark = marker()
    assert allowed(hub.publish(TICKET_VIEW, mark, retain=True))
    assert before_marker(replica, mark, since) == []  # no token, no calls, no state, no ack

    hub_since = hub.mark()
    for topic in (topics.counter_command(OFFICE, "platz-1"), topics.office_command(OFFICE), TICKET_VIEW,
                  topics.queue(OFFICE), topics.device_status(OFFICE, "hub-1")):
        assert denied(replica.publish(topic, b'{"v":1,"forged":true}')), topic
    assert allowed(replica.publish(topics.device_status(OFFICE, "web-1"), b'{"v":1}', retain=True))
    web = clients.connect("hub-1-web")  # the office's own web may command
    mark = marker()
    assert allowed(web.publish(topics.counter_command(OFFICE, "platz-1"), mark))
    assert before_marker(hub, mark, hub_since) == []


def test_web_and_counter_client_request_response(clients: OfficeBroker) -> None:
    hub = clients.connect("hub-1")
    hub.subscribe([f"{ROOT}/counter/+/command", f"{ROOT}/command"], retained=False)
    tag = uuid.uuid4().hex[:12]
    web = clients.connect("hub-1-web")  # subscribes like web/bridge.py
    web.subscribe([f"{ROOT}/counter/+/response/{tag}", f"{ROOT}/supervisor/response/{tag}"])

    def round_trip(requester: MqttProbe, command_topic: str, response_topic: str) -> None:
        correlation = uuid.uuid4().bytes
        since, hub_since = requester.mark(), hub.mark()
        payload = marker()
        assert allowed(requester.publish(command_topic, payload, properties=request(response_topic, correlation)))
        index = hub.wait_for(lambda _t, p: p == payload, hub_since)
        assert hub.property(index, "ResponseTopic") == response_topic
        assert hub.property(index, "CorrelationData") == correlation
        answer = marker()
        assert allowed(hub.publish(response_topic, answer, properties=reply(correlation)))
        got = requester.wait_for(lambda _t, p: p == answer, since)
        assert requester.property(got, "CorrelationData") == correlation

    round_trip(web, topics.counter_command(OFFICE, "platz-2"), f"{ROOT}/counter/platz-2/response/{tag}")
    round_trip(web, topics.office_command(OFFICE), f"{ROOT}/supervisor/response/{tag}")

    cli_tag = uuid.uuid4().hex[:12]
    cli = clients.connect("platz-1-cli")  # subscribes like hub/counter_cli.py, plus wider filters
    cli.subscribe([f"{ROOT}/counter/platz-1/response/{cli_tag}", f"{ROOT}/counter/+/response/+",
                   f"{ROOT}/supervisor/response/+"])
    round_trip(cli, topics.counter_command(OFFICE, "platz-1"), f"{ROOT}/counter/platz-1/response/{cli_tag}")
    hub_since, since = hub.mark(), cli.mark()
    for topic in (topics.counter_command(OFFICE, "platz-2"), topics.office_command(OFFICE),
                  topics.counter_state(OFFICE, "platz-1")):
        assert denied(cli.publish(topic, b'{"v":1}')), topic
    assert allowed(hub.publish(f"{ROOT}/counter/platz-2/response/{tag}", b'{"v":1,"other":1}'))
    assert allowed(hub.publish(f"{ROOT}/supervisor/response/{tag}", b'{"v":1,"other":2}'))
    mark = marker()
    assert allowed(hub.publish(f"{ROOT}/counter/platz-1/response/{cli_tag}", mark))
    assert before_marker(cli, mark, since) == []
    mark = marker()
    assert allowed(web.publish(topics.counter_command(OFFICE, "platz-1"), mark))
    assert before_marker(hub, mark, hub_since) == []

    # The hub answers only on response topics and cannot speak for a kiosk or another device.
    for topic in (topics.kiosk_ticket(OFFICE, "kiosk-1"), topics.device_status(OFFICE, "kiosk-1"),
                  f"{ROOT}/elsewhere/response/x", topics.counter_command(OFFICE, "platz-1")):
        assert denied(hub.publish(topic, b'{"v":1}')), topic


def test_a_replica_sends_citizen_requests_that_only_the_hub_reads(clients: OfficeBroker) -> None:
    """A tracking page's postpone/cancel (docs/protocol.md §3.12) carries the token: a replica may write the
    request topic (and read its answers), nothing else new; nobody but the hub reads it."""
    hub = clients.connect("hub-1")
    hub.subscribe([topics.citizen_request(OFFICE)], retained=False)
    readers = {name: clients.connect(name) for name in ("kiosk-1", "display-1", "platz-1-cli")}
    for probe in readers.values():
        probe.subscribe([f"{ROOT}/#"], retained=False)
    since = {name: probe.mark() for name, probe in readers.items()}
    replica = clients.connect("web-1")
    tag = uuid.uuid4().hex[:12]
    replica.subscribe([topics.citizen_response(OFFICE, tag)])
    correlation, payload = uuid.uuid4().bytes, b'{"v":1,"token":"SECRETTOKEN' + marker() + b'"}'
    hub_since = hub.mark()
    assert allowed(replica.publish(topics.citizen_request(OFFICE), payload,
                                   properties=request(topics.citizen_response(OFFICE, tag), correlation)))
    index = hub.wait_for(lambda _t, p: p == payload, hub_since)
    assert hub.property(index, "ResponseTopic") == topics.citizen_response(OFFICE, tag)
    answer = marker()
    assert allowed(hub.publish(topics.citizen_response(OFFICE, tag), answer, properties=reply(correlation)))
    got = replica.wait_for(lambda _t, p: p == answer)
    assert replica.property(got, "CorrelationData") == correlation
    mark = marker()
    assert allowed(hub.publish(topics.queue(OFFICE), mark, retain=True))
    assert allowed(hub.publish(topics.counter_response(OFFICE, "platz-1", "x"), mark))
    for name, probe in readers.items():
        assert not [r for r in before_marker(probe, mark, since[name]) if b"SECRETTOKEN" in r.payload], name
    # Nobody else writes requests or answers; the replica writes no answer.
    for name in ("kiosk-1", "display-1", "platz-1-cli"):
        assert denied(readers[name].publish(topics.citizen_request(OFFICE), b'{"v":1}')), name
    assert denied(replica.publish(topics.citizen_response(OFFICE, "x"), b'{"v":1}'))


def test_protocol_md_clears_a_retained_command_as_written(clients: OfficeBroker, tmp_path: Path) -> None:
    """docs/protocol.md §3.6's mosquitto_pub line, run as written against the templated broker (only the
    host, port, CA path and office swapped for this test's): it clears a retained command."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- example: clear a retained command -->\n```sh\n(.*?)```", doc, re.S)
    assert block is not None, "protocol.md lost the example"
    command = block.group(1).replace("\\\n", " ").replace("hub.local", "localhost").replace(
        "-p 8883", f"-p {clients.tls_port}").replace("/etc/wartemarke/office-ca.crt", str(clients.ca.ca_cert)).replace(
        "buergerbuero-mitte", OFFICE)
    secret = tmp_path / "secrets" / "hub-1" / "broker" / "platz-1-cli"
    secret.parent.mkdir(parents=True)
    secret.write_text(clients.passwords["platz-1-cli"] + "\n", encoding="utf-8")
    topic = topics.counter_command(OFFICE, "platz-1")
    assert allowed(clients.connect("platz-1-cli").publish(topic, b'{"v":1,"op":"next","id":"kept-1"}', retain=True))
    before = clients.connect(OBSERVER)
    before.subscribe([topic])
    before.wait_for(lambda _t, p: p == b'{"v":1,"op":"next","id":"kept-1"}')  # it is retained
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stderr)
    after = clients.connect(OBSERVER)
    since = after.mark()
    after.subscribe([topic])
    mark = marker()
    assert allowed(clients.connect("platz-1-cli").publish(topic, mark))
    assert before_marker(after, mark, since) == [], "the retained command is still there"


def test_a_will_on_a_foreign_topic_is_never_published(clients: OfficeBroker) -> None:
    """mosquitto accepts the CONNECT but checks the will's topic when it would publish it."""
    observer = clients.connect(OBSERVER)
    observer.subscribe([f"{ROOT}/device/+/status"], retained=False)
    for device, published in (("kiosk-2", False), ("kiosk-1", True)):
        client_id = f"will-{uuid.uuid4().hex[:8]}"
        will_payload = f'{{"v":1,"will":"{uuid.uuid4().hex}"}}'.encode()
        since = observer.mark()
        clients.connect("kiosk-1", client_id=client_id, will=(topics.device_status(OFFICE, device), will_payload))
        # Taking the client id over ends the first connection, which publishes (or drops) its will
        # before the new connection is acknowledged.
        second = clients.connect("kiosk-1", client_id=client_id)
        mark = marker()
        assert allowed(second.publish(topics.device_status(OFFICE, "kiosk-1"), mark, retain=True))
        wills = [r for r in before_marker(observer, mark, since) if r.payload == will_payload]
        assert [r.topic for r in wills] == ([topics.device_status(OFFICE, device)] if published else [])


def test_another_devices_credentials_cannot_take_over_the_hubs_client_id(clients: OfficeBroker) -> None:
    """`use_username_as_clientid`: a kiosk connecting with the hub's client id gets its own username as
    its id instead, so the hub stays connected (no kick, no reconnect war) and keeps its session."""
    client_id = f"wm-{OFFICE}-hub-1"
    hub = clients.connect("hub-1", client_id=client_id, clean_start=False, session_expiry_s=300)
    hub.subscribe([f"{ROOT}/kiosk/+/ticket"], retained=False)
    since = hub.mark()
    thieves = [clients.connect(user, client_id=client_id, clean_start=False, session_expiry_s=300, tls=tls)
               for user, tls in (("kiosk-2", True), ("display-1", True), ("hub-1-web", True), ("web-1", False))]
    assert [t.session_present for t in thieves] == [False] * 4  # the hub's session stays the hub's
    kiosk = clients.connect("kiosk-1")
    mark = marker()
    assert allowed(kiosk.publish(topics.kiosk_ticket(OFFICE, "kiosk-1"), mark))
    assert before_marker(hub, mark, since) == []  # still connected: it receives the ticket …
    assert hub.disconnected is None  # … and was never disconnected
    log = clients.broker.log_path.read_text(encoding="utf-8", errors="replace")
    assert re.search(r"New client connected from \S+ as kiosk-2 \(", log), clients.broker.log_tail()
    assert f"as {client_id} (" not in log  # nobody is known by the id it sent

    # The same username twice is still one client: the newer connection replaces the older one.
    again = clients.connect("kiosk-2")
    assert again.connack is not None and not again.connack.is_failure
    assert thieves[0].wait_disconnected(5.0)


def _hub_config_for(clients: OfficeBroker, directory: Path, user: str) -> Path:
    """A hub-format config (what wartemarke-counter reads) that logs in as `user` over TLS."""
    path = write_hub_config(directory, clients.tls_port, OFFICE)
    (directory / "password").write_text(clients.passwords[user] + "\n", encoding="utf-8")
    text = path.read_text(encoding="utf-8").replace('device = "hub-test"', 'device = "hub-1"').replace(
        'host = "127.0.0.1"', f'host = "localhost"\ntls = true\nca_file = "{clients.ca.ca_cert}"\n'
                              f'username = "{user}"\npassword_file = "{directory / "password"}"')
    path.write_text(text, encoding="utf-8")
    return path


def test_wartemarke_counter_never_logs_in_as_the_running_hub(clients: OfficeBroker, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    hub = clients.connect("hub-1", client_id=f"wm-{OFFICE}-hub-1", clean_start=False, session_expiry_s=300)
    hub.subscribe([f"{ROOT}/counter/+/command"], retained=False)
    since = hub.mark()
    base = ["--office", OFFICE, "--counter", "platz-1", "--timeout", "3", "next"]
    assert counter_main(["--config", str(_hub_config_for(clients, tmp_path / "as-hub", "hub-1")), *base]) == 2
    assert "an account of the running hub" in capsys.readouterr().err
    # With a counter client's own account it gets through (nobody answers here: exit 3), the hub stays on.
    assert counter_main(["--config", str(_hub_config_for(clients, tmp_path / "as-cli", "platz-1-cli")), *base]) == 3
    index = hub.wait_for(lambda t, _p: t == topics.counter_command(OFFICE, "platz-1"), since)
    assert json.loads(hub.received()[index].payload)["op"] == "next"
    assert hub.disconnected is None


def test_wartemarke_counter_reports_a_command_the_broker_refuses_at_once(clients: OfficeBroker, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """platz-1's counter client may not command platz-2: mosquitto answers the publish with PUBACK 0x87
    (not authorized). The tool says so at once with its own exit code, instead of waiting out its
    timeout and telling the clerk the hub may have done it (review of issues 10/11, item 12)."""
    config = _hub_config_for(clients, tmp_path / "as-cli", "platz-1-cli")
    started = time.monotonic()
    code = counter_main(["--config", str(config), "--office", OFFICE, "--counter", "platz-2", "--timeout", "20",
                         "next"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 4, err
    assert elapsed < 10, f"took {elapsed:.1f} s: it waited for an answer that could never come"
    assert "the broker refused the command" in err and "Not authorized" in err and "platz-1-cli" in err, err
    assert "--request-id" not in err and "did not answer" not in err, err


# -- the optional bridge to a central broker -------------------------------------------------------

BRIDGE_USER = f"bridge-{OFFICE}"
CENTRAL_SPY = "test-central-spy"


@contextlib.contextmanager
def bridged(tmp_path: Path, **overrides: Any) -> Iterator[tuple[OfficeBroker, OfficeBroker, MqttProbe]]:
    """A central mosquitto and an office mosquitto bridged to it (both from the role's templates) and a
    spy on the central side that reads the office tree; yields (office, central, spy) once connected."""
    central_acl = (f"\n# test only\nuser {BRIDGE_USER}\ntopic readwrite {ROOT}/#\n"
                   f"topic write $SYS/broker/connection/{OFFICE}-central/state\n"
                   f"user {CENTRAL_SPY}\ntopic read {ROOT}/#\ntopic read $SYS/broker/connection/#\n")
    central = start_office_broker(tmp_path / "central", [{"name": "central-web", "role": "web", "offices": [OFFICE]}],
                                  extra_acl=central_acl)
    office: OfficeBroker | None = None
    try:
        spy = central.connect(CENTRAL_SPY)
        spy.subscribe([f"{ROOT}/#", "$SYS/broker/connection/#"])
        office = start_office_broker(
            tmp_path / "office", ca=central.ca,
            broker_bridge_enabled=True, broker_bridge_name=f"{OFFICE}-central",
            broker_bridge_address=f"localhost:{central.tls_port}", broker_bridge_cafile=str(central.ca.ca_cert),
            broker_bridge_username=BRIDGE_USER, broker_bridge_password=central.passwords[BRIDGE_USER], **overrides)
        assert f"connection {OFFICE}-central" in office.config
        spy.wait_for(lambda t, p: t == f"$SYS/broker/connection/{OFFICE}-central/state" and p == b"1", timeout=10.0)
        yield office, central, spy
    finally:
        central.close_probes()
        if office is not None:
            office.close_probes()
            office.broker.stop()
        central.broker.stop()


def bridge_subscribed(central: OfficeBroker) -> bool:
    """Whether the office's bridge subscribed to anything at the central broker: nothing can come in
    over a bridge that subscribed to nothing (the central broker sends a client only what it asked for)."""
    log = central.broker.log_path.read_text(encoding="utf-8", errors="replace")
    return f"Received SUBSCRIBE from {BRIDGE_USER}" in log


def test_the_default_bridge_carries_public_views_out_and_only_citizen_requests_in(tmp_path: Path) -> None:
    with bridged(tmp_path) as (office, central, spy):
        topic_lines = [line for line in office.config.splitlines() if line.startswith("topic ")]
        inbound = [line for line in topic_lines if line.split()[2] != "out"]
        assert inbound == [f"topic citizen/request in 1 {ROOT}/ {ROOT}/"], topic_lines  # docs/protocol.md §3.12
        hub = office.connect("hub-1")
        hub.subscribe([f"{ROOT}/counter/+/command", f"{ROOT}/command", f"{ROOT}/kiosk/+/ticket"], retained=False)
        kiosk = office.connect("kiosk-1")
        since = spy.mark()
        public = {topics.info(OFFICE), topics.queue(OFFICE), topics.history(OFFICE), TICKET_VIEW,
                  topics.device_status(OFFICE, "hub-1")}
        for topic in (*sorted(public), topics.calls(OFFICE), topics.kiosk_ack(OFFICE, "kiosk-1"),
                      topics.counter_state(OFFICE, "platz-1"), f"{ROOT}/supervisor/response/x"):
            assert allowed(hub.publish(topic, b'{"v":1}', retain="response" not in topic)), topic
        assert allowed(kiosk.publish(topics.kiosk_ticket(OFFICE, "kiosk-1"), b'{"v":1,"token":"SECRET"}'))
        assert allowed(kiosk.publish(topics.device_status(OFFICE, "kiosk-1"), b'{"v":1}', retain=True))
        mark = marker()
        assert allowed(hub.publish(topics.queue(OFFICE), mark, retain=True))
        assert topics_of(before_marker(spy, mark, since)) == public  # no ticket event, no token, no kiosk

        # From the central side: commands, a forged queue, a forged kiosk ticket — none may come in.
        central_web = central.connect("central-web")
        hub_since = hub.mark()
        for topic in (topics.counter_command(OFFICE, "platz-1"), topics.office_command(OFFICE)):
            assert allowed(central_web.publish(topic, b'{"v":1,"op":"next","id":"from-central"}'))
        mark = marker()  # a round trip out after them: the bridge is up and has passed on what it had
        assert allowed(hub.publish(topics.info(OFFICE), mark, retain=True))
        spy.wait_for(lambda _t, p: p == mark)
        assert hub.received(hub_since) == []
        # The one topic that comes in: a citizen request, with its properties; the answer goes out.
        hub.subscribe([topics.citizen_request(OFFICE)], retained=False)
        response = topics.citizen_response(OFFICE, "central")
        central_web.subscribe([response])
        wanted = marker()
        assert allowed(central_web.publish(topics.citizen_request(OFFICE), wanted,
                                           properties=request(response, b"corr")))
        index = hub.wait_for(lambda _t, p: p == wanted, timeout=10.0)
        assert hub.property(index, "ResponseTopic") == response and hub.property(index, "CorrelationData") == b"corr"
        answer = marker()
        assert allowed(hub.publish(response, answer, properties=reply(b"corr")))
        central_web.wait_for(lambda _t, p: p == answer, timeout=10.0)


def test_a_bridge_opted_in_to_commands_carries_them_in(tmp_path: Path) -> None:
    """The control for the test above: with broker_bridge_allow_unsafe and `in` topics, the same
    bridge subscribes at the central broker and a central command reaches the office hub."""
    topics_in = [{"topic": "counter/+/command", "direction": "in"},
                 {"topic": "counter/+/response/#", "direction": "out"}]
    with bridged(tmp_path, broker_bridge_allow_unsafe=True, broker_bridge_topics=topics_in) as (office, central, _spy):
        hub = office.connect("hub-1")
        hub.subscribe([f"{ROOT}/counter/+/command"])
        central_web = central.connect("central-web")
        response_topic = f"{ROOT}/counter/platz-1/response/central"
        central_web.subscribe([response_topic])
        command = marker()
        assert allowed(central_web.publish(topics.counter_command(OFFICE, "platz-1"), command,
                                           properties=request(response_topic, b"corr")))
        index = hub.wait_for(lambda _t, p: p == command, timeout=10.0)
        assert hub.property(index, "ResponseTopic") == response_topic  # a v5 bridge keeps the properties
        assert hub.property(index, "CorrelationData") == b"corr"
        assert bridge_subscribed(central)
        answer = marker()
        assert allowed(hub.publish(response_topic, answer, properties=reply(b"corr")))
        central_web.wait_for(lambda _t, p: p == answer, timeout=10.0)


@pytest.mark.parametrize(("bridged_topic", "message"), [
    ({"topic": "#", "direction": "both"}, "unless broker_bridge_allow_unsafe is true"),
    ({"topic": "kiosk/+/ticket"}, "only info, queue, calls, history, ticket/+ may be bridged"),
    ({"topic": "counter/+/command", "direction": "in"}, "unless broker_bridge_allow_unsafe is true"),
    ({"topic": "queue", "direction": "sideways"}, "direction must be out, in or both"),
])
def test_a_broader_bridge_is_an_explicit_opt_in(bridged_topic: dict[str, str], message: str) -> None:
    variables = {"offices": [{"id": OFFICE}], "devices": DEVICES, "broker_bridge_enabled": True,
                 "broker_bridge_topics": [{"topic": "info"}, bridged_topic]}
    with pytest.raises(jinja2.UndefinedError, match=re.escape(message)):
        render_broker_template("mosquitto.conf.j2", variables)
    if bridged_topic.get("direction") != "sideways":
        config = render_broker_template("mosquitto.conf.j2", {**variables, "broker_bridge_allow_unsafe": True})
        assert f"topic {bridged_topic['topic']} {bridged_topic.get('direction', 'out')} 1 " in config
    calls = render_broker_template("mosquitto.conf.j2", {**variables, "broker_bridge_topics": [{"topic": "calls"}]})
    assert f"topic calls out 1 {ROOT}/ {ROOT}/" in calls and f"topic device/hub-1/status out 1 {ROOT}/" in calls
