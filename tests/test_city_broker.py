"""The city's central broker (deploy/roles/central) and office brokers bridged to it (deploy/roles/broker),
all started as real mosquittos from the rendered templates, with TLS from a generated city CA (issue 13).

Two offices: t-ost's broker is deliberately misconfigured to bridge t-west's topics out as well, as a
compromised or mis-edited office broker would: the central ACL must still keep each office's bridge
account to its own office. t-west's broker has the playbook's default bridge.

Absence is never waited for (tests/test_broker_acl.py explains the marker technique): after forbidden
messages an allowed marker follows on the same path, and the receiver must see the marker with nothing
forbidden before it.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pytest

from devtools.office_ca import make_office_ca
from protocol import topics
from tests.city_harness import (
    CITY,
    OBSERVER,
    REPLICAS,
    bridge_account,
    bridge_state_topic,
    central_accounts,
    start_central,
    start_city_office,
    wait_bridge_state,
    watch_central,
)
from tests.deploy_harness import NOT_AUTHORIZED, render_role_template
from tests.test_broker_acl import (
    OfficeBroker,
    acl_grants,
    allowed,
    before_marker,
    denied,
    marker,
    reply,
    request,
    topics_of,
)

OST, WEST, NORD = "t-ost", "t-west", "t-nord"
# t-nord has an account on the central broker but no office broker here: tests log in with its bridge
# account themselves (a probe with a running bridge's account would take over that bridge's connection,
# client ids being usernames, and the two would throw each other off).
HUBS = {**CITY, NORD: "nord-hub"}
FORGER = "test-forger"  # test only, on t-ost's broker: may publish t-west's topics there
FORGER_ACL = f"\n# test only\nuser {FORGER}\ntopic write wartemarke/v1/{WEST}/#\n"


def view(office: str, token: str = "CAIREEYUCULBOGAZDINRYHI6D4") -> str:
    return topics.ticket(office, topics.token_hash(token))


def public_views(office: str) -> set[str]:
    hub = HUBS[office]
    return {topics.info(office), topics.queue(office), topics.history(office), view(office),
            topics.device_status(office, hub)}


@dataclass
class City:
    central: OfficeBroker
    offices: dict[str, OfficeBroker]

    def close_probes(self) -> None:
        self.central.close_probes()
        for office in self.offices.values():
            office.close_probes()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    directory = tmp_path_factory.mktemp("city")
    ca = make_office_ca(directory / "city-ca", name="wartemarke city CA")
    central = start_central(directory / "central", ca, central_accounts(HUBS))
    offices: dict[str, OfficeBroker] = {}
    try:
        observer = watch_central(central)
        offices[OST] = start_city_office(directory / OST, OST, CITY[OST], central, extra_acl=FORGER_ACL,
                                         broker_bridge_offices=[OST, WEST])
        offices[WEST] = start_city_office(directory / WEST, WEST, CITY[WEST], central)
        for hub in CITY.values():
            wait_bridge_state(observer, hub, b"1")
        central.close_probes()
        yield City(central, offices)
    finally:
        for office in offices.values():
            office.close_probes()
            office.broker.stop()
        central.close_probes()
        central.broker.stop()


@pytest.fixture
def clients(city: City) -> Iterator[City]:
    try:
        yield city
    finally:
        city.close_probes()


# -- the rendered files ---------------------------------------------------------------------------

def test_the_central_acl_keeps_each_bridge_to_its_office_and_replicas_to_reading(city: City) -> None:
    grants = acl_grants(city.central.acl)
    assert set(grants) == {bridge_account(hub) for hub in HUBS.values()} | set(REPLICAS) | {"web-1-archive"}
    for office, hub in HUBS.items():
        r = topics.office_root(office)
        assert grants[bridge_account(hub)] == {
            f"write {r}/info", f"write {r}/queue", f"write {r}/history", f"write {r}/ticket/+",
            f"write {r}/device/{hub}/status", f"write $SYS/broker/connection/{bridge_account(hub)}/state",
            f"read {r}/citizen/request", f"write {r}/citizen/response/+"}  # docs/protocol.md §3.12
    for replica in REPLICAS:
        assert grants[replica] == {
            "read wartemarke/v1/+/info", "read wartemarke/v1/+/queue", "read wartemarke/v1/+/history",
            "read wartemarke/v1/+/ticket/+", "read wartemarke/v1/+/device/+/status",
            "read $SYS/broker/connection/+/state", f"write wartemarke/v1/+/device/{replica}/status",
            "write wartemarke/v1/+/citizen/request", "read wartemarke/v1/+/citizen/response/+"}


def test_the_central_config_is_hardened_and_sized(city: City) -> None:
    lines = city.central.config.splitlines()
    for line in ("per_listener_settings false", "allow_anonymous false", "allow_zero_length_clientid false",
                 "require_certificate false", "persistence false", "check_retain_source true",
                 "max_connections 1000", "max_queued_messages 50000"):
        assert line in lines, line
    listeners = [i for i, line in enumerate(lines) if line.startswith("listener ")]
    assert listeners == [lines.index(f"listener {city.central.tls_port} 127.0.0.1")]  # TLS only
    assert lines[listeners[0] + 1] == "use_username_as_clientid true"
    persistent = render_role_template("central", "mosquitto.conf.j2",
                                      {"accounts": [], "wartemarke_central_port": 8883, "central_persistence": True})
    assert "persistence true" in persistent.splitlines()


@pytest.mark.parametrize(("account", "message"), [
    ({"name": "web 1", "role": "replica"}, "not a slug"),
    ({"name": "x-bridge", "role": "bridge", "office": "t-ost", "hub": "x"}, "has two bridges"),
    ({"name": "web-1", "role": "replica"}, "listed twice"),
    ({"name": "web-9", "role": "hub"}, "unknown role"),
    ({"name": "y-bridge", "role": "bridge", "office": "Ost", "hub": "y"}, "not a slug"),
])
def test_the_central_acl_refuses_a_bad_inventory(account: dict[str, str], message: str) -> None:
    with pytest.raises(jinja2.UndefinedError, match=re.escape(message)):
        render_role_template("central", "acl.j2", {"accounts": [*central_accounts(), account]})


# -- authentication and TLS -----------------------------------------------------------------------

# paho 2.2 does not close the socket of a failed TLS handshake; it is collected with a ResourceWarning.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_anonymous_wrong_and_unverified_clients_are_refused(clients: City, tmp_path: Path) -> None:
    central = clients.central
    assert central.probe(None).connect().value == NOT_AUTHORIZED
    assert central.probe("web-1", password="wrong").connect().value == NOT_AUTHORIZED
    assert central.probe("web-1", password=central.passwords["web-2"]).connect().value == NOT_AUTHORIZED
    # An office's own devices have no account here (the hub, a kiosk): only bridges and replicas.
    assert central.probe(CITY[OST], password=central.passwords["web-1"]).connect().value == NOT_AUTHORIZED
    other = make_office_ca(tmp_path / "other-ca", name="an office CA")
    with pytest.raises(ssl.SSLCertVerificationError):
        central.probe("web-1", ca_file=other.ca_cert).connect()
    assert not central.probe("web-1").connect().is_failure


def test_a_bridge_account_publishes_only_its_own_offices_public_views(clients: City) -> None:
    central, hub = clients.central, HUBS[NORD]
    observer = central.connect(OBSERVER)
    observer.subscribe(["#"], retained=False)
    since = observer.mark()
    # The account itself, as anyone holding its password (or a compromised office broker) would use it.
    forger = central.connect(bridge_account(hub))
    r = topics.office_root(NORD)
    for topic in (topics.queue(WEST), topics.info(OST), view(WEST), topics.device_status(WEST, CITY[WEST]),
                  topics.kiosk_ticket(NORD, f"{hub}-kiosk"), topics.calls(NORD), topics.office_command(NORD),
                  topics.counter_command(NORD, "platz-1"), topics.counter_state(NORD, "platz-1"),
                  topics.kiosk_ack(NORD, f"{hub}-kiosk"), topics.device_status(NORD, "web-1"),
                  topics.device_status(NORD, f"{hub}-kiosk"), f"{r}/supervisor/response/x", f"{r}/other",
                  bridge_state_topic(CITY[WEST]), "$SYS/broker/connection/other/state"):
        assert denied(forger.publish(topic, b'{"v":1,"forged":true}', retain="response" not in topic)), topic
    for topic in sorted(public_views(NORD)):
        assert allowed(forger.publish(topic, b'{"v":1}', retain=True)), topic
    mark = marker()
    assert allowed(forger.publish(topics.queue(NORD), mark, retain=True))
    assert topics_of(before_marker(observer, mark, since)) == public_views(NORD)
    # It reads nothing, retained or live: the other offices' views are on the broker, a replica publishes.
    forger.subscribe(["#", f"{r}/#", "wartemarke/v1/+/queue", "$SYS/#"])
    replica = central.connect("web-1")
    assert allowed(replica.publish(topics.device_status(NORD, "web-1"), b'{"v":1}', retain=True))
    observer.wait_for(lambda t, _p: t == topics.device_status(NORD, "web-1"), since)
    assert allowed(forger.publish(topics.history(NORD), marker()))  # its PUBACK comes after any delivery
    assert forger.received() == []


def test_a_replica_reads_every_office_and_publishes_only_its_status(clients: City) -> None:
    central = clients.central
    for office, hub in CITY.items():  # through the offices' real bridges
        hub_client = clients.offices[office].connect(hub)
        for topic in sorted(public_views(office)):
            assert allowed(hub_client.publish(topic, json.dumps({"v": 1, "office": office}).encode(), retain=True))
    nord = central.connect(bridge_account(HUBS[NORD]))
    for topic in sorted(public_views(NORD)):
        assert allowed(nord.publish(topic, b'{"v":1}', retain=True))
    replica = central.connect("web-1")
    replica.subscribe(["#", "$SYS/broker/connection/+/state"])
    for topic in sorted(public_views(OST) | public_views(WEST) | public_views(NORD)):
        replica.wait_for(lambda t, _p, topic=topic: t == topic, timeout=10.0)  # type: ignore[misc]
    for hub in CITY.values():
        wait_bridge_state(replica, hub, b"1")  # the bridges' states too (the Ampel's "Stand", coming)

    observer = central.connect(OBSERVER)
    observer.subscribe(["#"], retained=False)
    since = observer.mark()
    for topic in (topics.queue(OST), topics.info(WEST), view(OST), topics.calls(OST),
                  topics.counter_command(OST, "platz-1"), topics.office_command(WEST),
                  topics.kiosk_ticket(OST, "kiosk-1"), topics.device_status(OST, CITY[OST]),
                  topics.device_status(WEST, "web-2"), bridge_state_topic(CITY[OST])):
        assert denied(replica.publish(topic, b'{"v":1,"forged":true}', retain=True)), topic
    for office in (OST, WEST):  # its status under any office it serves (web/bridge.py: the first one)
        assert allowed(replica.publish(topics.device_status(office, "web-1"), b'{"v":1}', retain=True))
    mark = marker()
    assert allowed(replica.publish(topics.device_status(WEST, "web-1"), mark, retain=True))
    assert topics_of(before_marker(observer, mark, since)) == {topics.device_status(o, "web-1") for o in (OST, WEST)}


# -- the real bridges ---------------------------------------------------------------------------------

def test_offices_bridge_their_public_views_and_no_ticket_event_or_command(clients: City) -> None:
    central = clients.central
    observer = watch_central(central)
    for office in (OST, WEST):
        wait_bridge_state(observer, CITY[office], b"1")
    since = observer.mark()
    for office, hub in CITY.items():
        broker = clients.offices[office]
        hub_client = broker.connect(hub)
        kiosk = broker.connect(f"{hub}-kiosk")
        for topic in sorted(public_views(office)):
            assert allowed(hub_client.publish(topic, b'{"v":1}', retain=True)), topic
        for topic in (topics.calls(office), topics.kiosk_ack(office, f"{hub}-kiosk"),
                      topics.counter_state(office, "platz-1")):
            assert allowed(hub_client.publish(topic, b'{"v":1,"office only":1}', retain=True)), topic
        assert allowed(kiosk.publish(topics.kiosk_ticket(office, f"{hub}-kiosk"),
                                     b'{"v":1,"token":"SECRETTOKENSECRETTOKENSECRE"}'))
        assert allowed(kiosk.publish(topics.device_status(office, f"{hub}-kiosk"), b'{"v":1}', retain=True))
        web = broker.connect(f"{hub}-web")
        assert allowed(web.publish(topics.counter_command(office, "platz-1"), b'{"v":1,"op":"next"}'))
        mark = marker()
        assert allowed(hub_client.publish(topics.queue(office), mark, retain=True))
        got = before_marker(observer, mark, since)
        assert topics_of([r for r in got if f"/{office}/" in r.topic]) == public_views(office), office
        assert not [r for r in got if b"SECRET" in r.payload or b"office only" in r.payload]


def test_an_office_broker_cannot_push_another_offices_topics_through_its_bridge(clients: City) -> None:
    """t-ost's broker bridges t-west's topics out too (broker_bridge_offices), and a local client publishes
    them there: the central broker refuses them from t-ost's bridge account."""
    assert f"topic queue out 1 wartemarke/v1/{WEST}/" in clients.offices[OST].config  # the misconfiguration
    observer = watch_central(clients.central)
    wait_bridge_state(observer, CITY[OST], b"1")
    since = observer.mark()
    forger = clients.offices[OST].connect(FORGER)
    forged = f'{{"v":1,"forged":"{uuid.uuid4().hex}"}}'.encode()
    for topic in (topics.queue(WEST), topics.info(WEST), view(WEST)):
        assert allowed(forger.publish(topic, forged, retain=True)), topic  # the office broker lets it through
    mark = marker()
    assert allowed(clients.offices[OST].connect(CITY[OST]).publish(topics.queue(OST), mark, retain=True))
    assert not [r for r in before_marker(observer, mark, since) if r.payload == forged]
    log = clients.central.broker.log_path.read_text(encoding="utf-8", errors="replace")
    assert re.search(rf"Denied PUBLISH from {bridge_account(CITY[OST])} .*'{re.escape(topics.queue(WEST))}'", log), \
        clients.central.broker.log_tail()


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_bridge_verifies_the_central_broker_against_the_city_ca(tmp_path: Path) -> None:
    """An office whose bridge trusts another CA never logs in (mosquitto logs the verification failure);
    the same office with the city CA does."""
    offices = {"t-sued": "sued-hub"}
    ca = make_office_ca(tmp_path / "city-ca", name="wartemarke city CA")
    central = start_central(tmp_path / "central", ca, central_accounts(offices))
    office: OfficeBroker | None = None
    try:
        impostor_ca = make_office_ca(tmp_path / "impostor-ca", name="another city CA")
        office = start_city_office(tmp_path / "sued", "t-sued", "sued-hub", central, cafile=impostor_ca.ca_cert)
        wait_for_log(office, "certificate verify failed")
        assert f"as {bridge_account('sued-hub')}" not in central.broker.log_path.read_text(encoding="utf-8")
        office.broker.stop()
        office = start_city_office(tmp_path / "sued-2", "t-sued", "sued-hub", central)
        observer = watch_central(central)
        wait_bridge_state(observer, "sued-hub", b"1")
    finally:
        if office is not None:
            office.close_probes()
            office.broker.stop()
        central.close_probes()
        central.broker.stop()


def wait_for_log(broker: OfficeBroker, text: str, timeout: float = 30.0) -> None:
    """Until mosquitto's log holds `text` (checked ten times a second)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while text not in broker.broker.log_path.read_text(encoding="utf-8", errors="replace"):
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{broker.broker.log_tail()}"
        pause.wait(0.1)


def test_after_a_central_restart_the_bridges_bring_the_current_state_back(tmp_path: Path) -> None:
    """No persistence on the central broker: after a restart it holds nothing until the bridges reconnect
    and send the offices' retained views again — the current ones: a ticket view cleared meanwhile stays
    gone. An office broker that dies leaves its bridge's will `0` at the central broker."""
    ca = make_office_ca(tmp_path / "city-ca", name="wartemarke city CA")
    central = start_central(tmp_path / "central", ca, central_accounts())
    offices: dict[str, OfficeBroker] = {}
    try:
        offices = {office: start_city_office(tmp_path / office, office, hub, central) for office, hub in CITY.items()}
        observer = watch_central(central)
        hubs = {office: offices[office].connect(hub) for office, hub in CITY.items()}
        for office in CITY:
            wait_bridge_state(observer, CITY[office], b"1")
            assert allowed(hubs[office].publish(topics.queue(office), b'{"v":1,"before":1}', retain=True))
        assert allowed(hubs[OST].publish(view(OST), b'{"v":1,"gone":"later"}', retain=True))
        assert allowed(hubs[OST].publish(topics.info(OST), b'{"v":1,"kept":1}', retain=True))  # not sent again
        observer.wait_for(lambda t, _p: t == view(OST))

        offices[WEST].broker.kill()  # the office's broker dies: the central broker publishes the bridge's will
        wait_bridge_state(observer, CITY[WEST], b"0")
        central.close_probes()

        central.broker.stop()
        assert allowed(hubs[OST].publish(view(OST), b"", retain=True))  # cleared while the central is down
        assert allowed(hubs[OST].publish(topics.queue(OST), b'{"v":1,"during":1}', retain=True))
        central.broker.start()
        observer = watch_central(central)
        wait_bridge_state(observer, CITY[OST], b"1", timeout=90.0)
        fresh = f'{{"v":1,"after":"{uuid.uuid4().hex}"}}'.encode()
        assert allowed(hubs[OST].publish(topics.history(OST), fresh, retain=True))
        index = observer.wait_for(lambda _t, p: p == fresh, timeout=30.0)
        got = observer.received(0, index)
        assert (topics.queue(OST), b'{"v":1,"during":1}') in [(r.topic, r.payload) for r in got]
        assert [r.payload for r in got if r.topic == view(OST)] in ([], [b""])  # at most the clear itself
        late = central.connect(OBSERVER, client_id=f"late-{uuid.uuid4().hex[:6]}")
        late.subscribe([view(OST), topics.info(OST), topics.history(OST)])  # retained ones, in the filters' order
        index = late.wait_for(lambda t, _p: t == topics.history(OST))
        # The info published before the restart came back with the bridge (retained views are sent again on
        # every connect); the view cleared at the office meanwhile is not held by the central broker.
        assert [(r.topic, r.payload) for r in late.received(0, index)] == [(topics.info(OST), b'{"v":1,"kept":1}')]
        assert not [r for r in got if f"/{WEST}/" in r.topic]  # t-west's bridge is down: nothing of it
    finally:
        for broker in offices.values():
            broker.close_probes()
            broker.broker.stop()
        central.close_probes()
        central.broker.stop()


def test_a_citizen_request_comes_in_only_to_its_own_office_and_its_answer_goes_out(clients: City) -> None:
    """A tracking page's postpone/cancel (docs/protocol.md §3.12): a replica's request crosses t-west's real
    bridge in, with its MQTT v5 properties, and the hub's answer comes back out. A bridge account reads
    only its own office's request topic, so t-ost's bridge (misconfigured to bridge t-west too) never
    carries t-west's requests, which hold tracking tokens."""
    central = clients.central
    nord = central.connect(bridge_account(HUBS[NORD]))  # as t-nord's bridge (or its password's thief) would
    nord.subscribe([topics.citizen_request(WEST), topics.citizen_request(NORD), "wartemarke/v1/+/citizen/#"],
                   retained=False)
    hub = clients.offices[WEST].connect(CITY[WEST])
    hub.subscribe([topics.citizen_request(WEST)], retained=False)
    replica = central.connect("web-1")
    tag = uuid.uuid4().hex[:12]
    replica.subscribe([topics.citizen_response(WEST, tag)])
    hub_since, nord_since = hub.mark(), nord.mark()
    secret = b'{"v":1,"token":"SECRET' + marker() + b'"}'
    assert allowed(replica.publish(topics.citizen_request(WEST), secret,
                                   properties=request(topics.citizen_response(WEST, tag), b"corr")))
    index = hub.wait_for(lambda _t, p: p == secret, hub_since, timeout=10.0)
    assert hub.property(index, "ResponseTopic") == topics.citizen_response(WEST, tag)
    assert hub.property(index, "CorrelationData") == b"corr"
    answer = marker()
    assert allowed(hub.publish(topics.citizen_response(WEST, tag), answer, properties=reply(b"corr")))
    got = replica.wait_for(lambda _t, p: p == answer, timeout=10.0)
    assert replica.property(got, "CorrelationData") == b"corr"
    mark = marker()  # the account may read its own office's requests: the marker arrives, the secret must not
    assert allowed(replica.publish(topics.citizen_request(NORD), mark))
    assert before_marker(nord, mark, nord_since) == []
    assert denied(replica.publish(topics.citizen_response(WEST, "x"), b'{"v":1}'))
    assert denied(nord.publish(topics.citizen_request(WEST), b'{"v":1}'))
