"""MqttLink against a real mosquitto: availability, safe dispatch, last will, outages and restarts.

Ordering used throughout: on every connect the link (re)subscribes *before* it publishes its online
status, and one client's packets reach the broker in order. So once a recorder has seen a status
published by the current connection, the link's subscriptions are in place at the broker.
"""

from __future__ import annotations

import json
import logging
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.broker import Broker, BrokerError, Recorder
from process.clock import FakeClock
from protocol import topics
from protocol.fields import decode_object, encode_object
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import DeviceStatus, QueueState, ServiceQueue

WAIT = 15.0
START = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent

RecorderFactory = Callable[..., Recorder]


@pytest.fixture
def make_link() -> Iterator[Callable[..., MqttLink]]:
    """`make_link(broker, office, device="kiosk-1", clock=..., health=...)`; stopped at teardown."""
    links: list[MqttLink] = []

    def make(broker: Broker, office: str, device: str = "kiosk-1", clock: FakeClock | None = None,
             health: Callable[[], dict[str, Any]] | None = None, role: str = "kiosk") -> MqttLink:
        settings = BrokerSettings(host=broker.host, port=broker.port, keepalive_s=10, reconnect_max_s=1)
        link = MqttLink(settings, office, device, role, "0.1.0", clock or FakeClock(START), health)
        links.append(link)
        return link

    yield make
    for link in links:
        link.stop()


def status(payload: bytes) -> DeviceStatus:
    return DeviceStatus.from_dict(decode_object(payload))


def is_status(online: bool, *, clean: bool | None = None, at: datetime | None = None
              ) -> Callable[[str, bytes], bool]:
    """Predicate on status payloads; `clean=False` matches only the bare last will (no version)."""

    def check(topic: str, payload: bytes) -> bool:
        if not topic.endswith("/status") or not payload:
            return False
        data = json.loads(payload)
        if data.get("online") is not online:
            return False
        if clean is not None and ("version" in data) is not clean:
            return False
        return at is None or data.get("at") == at.isoformat()

    return check


def queue_payload(waiting: int) -> bytes:
    state = QueueState(day=date(2026, 3, 29), at=START, services=(
        ServiceQueue(service="A", waiting=waiting, expected_wait_min=5 * waiting, issuing=True),))
    return encode_object(state.to_dict())


def queue_handler(sink: queue.Queue[QueueState]) -> Callable[[str, bytes], None]:
    def handle(topic: str, payload: bytes) -> None:
        sink.put(QueueState.from_dict(decode_object(payload)))

    return handle


@pytest.mark.parametrize("synced", [True, False])
def test_connect_publishes_retained_online_status(shared_broker: Broker, topic_office: str,
                                                  recorder_factory: RecorderFactory, make_link: Any,
                                                  synced: bool) -> None:
    status_topic = topics.device_status(topic_office, "kiosk-1")
    live = recorder_factory(shared_broker, [status_topic], retain_as_published=True)
    clock = FakeClock(START, synced=synced)
    health: dict[str, Any] = {"printer": "ok", "outbox": 0}
    link = make_link(shared_broker, topic_office, clock=clock, health=lambda: dict(health))
    link.start()
    assert link.connected.wait(WAIT)

    _, payload = live.wait_for(is_status(True))
    assert json.loads(payload)["v"] == 1
    got = status(payload)
    assert got == DeviceStatus(online=True, role="kiosk", version="0.1.0", at=START, clock_synced=synced,
                               health={"device": "kiosk-1", "printer": "ok", "outbox": 0})
    assert live.records()[0].retain is True

    # A late subscriber gets it from the broker's retained store.
    late = recorder_factory(shared_broker, [status_topic])
    _, retained = late.wait_for(is_status(True))
    assert status(retained) == got
    assert late.records()[0].retain is True

    # Fresh health on request.
    health["printer"] = "paper_low"
    clock.advance(30)
    link.publish_status()
    _, payload = live.wait_for(is_status(True, at=clock.now()))
    assert status(payload).health["printer"] == "paper_low"


def test_subscription_receives_and_invalid_payloads_are_dropped(
        shared_broker: Broker, topic_office: str, recorder_factory: RecorderFactory, make_link: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="wartemarke.link")
    queue_topic = topics.queue(topic_office)
    rec = recorder_factory(shared_broker, [topics.device_status(topic_office, "kiosk-1")])
    received: queue.Queue[QueueState] = queue.Queue()
    link = make_link(shared_broker, topic_office)
    link.subscribe(queue_topic, queue_handler(received))
    link.start()
    rec.wait_for(is_status(True))  # subscriptions are in place

    rec.publish(queue_topic, b"not json")
    rec.publish(queue_topic, encode_object({"day": "2026-03-29", "at": START.isoformat(), "services": "A"}))
    rec.publish(queue_topic, b'{"v":2,"day":"2026-03-29"}')
    rec.publish(queue_topic, queue_payload(4))

    got = received.get(timeout=WAIT)  # the valid message still arrives: the link survived
    assert got.service("A") == ServiceQueue(service="A", waiting=4, expected_wait_min=20, issuing=True)
    assert received.empty()
    assert link.invalid_messages == 3
    dropped = [r.getMessage() for r in caplog.records if r.name == "wartemarke.link"
               and r.getMessage().startswith(f"dropped invalid message on {queue_topic!r}")]
    assert len(dropped) == 1, "one line per sender and minute; the rest are counted (process/log_limit.py)"
    assert "not UTF-8 JSON" in dropped[0]
    assert link.connected.is_set()


def test_crashing_handler_is_contained_and_late_subscription_works(
        shared_broker: Broker, topic_office: str, recorder_factory: RecorderFactory, make_link: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="wartemarke.link")
    calls_topic = topics.calls(topic_office)
    queue_topic = topics.queue(topic_office)
    rec = recorder_factory(shared_broker, [topics.device_status(topic_office, "kiosk-1")])
    clock = FakeClock(START)
    link = make_link(shared_broker, topic_office, clock=clock)
    link.start()
    assert link.connected.wait(WAIT)
    rec.wait_for(is_status(True))

    def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("handler bug")

    received: queue.Queue[QueueState] = queue.Queue()
    link.subscribe(calls_topic, broken)          # subscribed while connected ...
    link.subscribe(queue_topic, queue_handler(received))
    clock.advance(1)
    link.publish_status()                        # ... and in place once this status is seen
    rec.wait_for(is_status(True, at=clock.now()))

    rec.publish(calls_topic, encode_object({"day": "2026-03-29", "seq": 1, "calls": []}))
    rec.publish(queue_topic, queue_payload(1))
    assert received.get(timeout=WAIT).services[0].waiting == 1
    assert link.invalid_messages == 1
    assert any(r.getMessage().startswith(f"handler for {calls_topic!r} failed; message dropped") and r.exc_info
               for r in caplog.records)


def test_wildcard_subscription_dispatches_to_matching_handlers(
        shared_broker: Broker, topic_office: str, recorder_factory: RecorderFactory,
        make_link: Any) -> None:
    rec = recorder_factory(shared_broker, [topics.device_status(topic_office, "hub")])
    seen: queue.Queue[tuple[str, bytes]] = queue.Queue()
    link = make_link(shared_broker, topic_office, device="hub", role="hub")
    link.subscribe(topics.kiosk_tickets(topic_office),
                   lambda t, p: seen.put((t, p)))
    link.start()
    rec.wait_for(is_status(True))
    for device in ("kiosk-1", "kiosk-2"):
        rec.publish(topics.kiosk_ticket(topic_office, device), device.encode())
    got = {seen.get(timeout=WAIT), seen.get(timeout=WAIT)}
    assert got == {(topics.kiosk_ticket(topic_office, "kiosk-1"), b"kiosk-1"),
                   (topics.kiosk_ticket(topic_office, "kiosk-2"), b"kiosk-2")}


def test_overlapping_filters_get_each_delivery_in_subscription_order(
        shared_broker: Broker, topic_office: str, recorder_factory: RecorderFactory,
        make_link: Any) -> None:
    """The link matches a topic against all its filters in one walk (paho's MQTTMatcher): an exact filter,
    the same filter twice, `+` and `#` all get it, in the order they were subscribed; others do not.
    (mosquitto may deliver a copy per matching subscription: each copy goes to the same handlers.)"""
    rec = recorder_factory(shared_broker, [topics.device_status(topic_office, "hub")])
    seen: queue.Queue[tuple[str, str]] = queue.Queue()
    link = make_link(shared_broker, topic_office, device="hub", role="hub")
    wanted, other = topics.kiosk_ticket(topic_office, "kiosk-1"), topics.kiosk_ticket(topic_office, "kiosk-2")
    for name, topic_filter in (("all", topics.office_tree(topic_office)), ("exact", wanted),
                               ("plus", topics.kiosk_tickets(topic_office)), ("other", other), ("exact again", wanted)):
        link.subscribe(topic_filter, lambda t, p, name=name: seen.put((name, t)) if t in (wanted, other) else None)
    link.start()
    rec.wait_for(is_status(True))
    rec.publish(wanted, b"x")
    rec.publish(other, b"y")  # a marker: everything for `wanted` came before it
    got: list[tuple[str, str]] = []
    while ("other", other) not in got:
        got.append(seen.get(timeout=WAIT))
    names = [name for name, topic in got if topic == wanted]
    assert names and len(names) % 4 == 0, got
    assert names == ["all", "exact", "plus", "exact again"] * (len(names) // 4)


def test_link_publish(shared_broker: Broker, topic_office: str, recorder_factory: RecorderFactory,
                      make_link: Any) -> None:
    ack_topic = topics.kiosk_ack(topic_office, "kiosk-1")
    link = make_link(shared_broker, topic_office, device="hub", role="hub")
    assert link.publish(ack_topic, b"x") is False  # not started: the caller must retry later
    link.start()
    assert link.connected.wait(WAIT)
    assert link.publish(ack_topic, encode_object({"seq": 1, "day": "2026-03-29", "last": {"A": 1}}),
                        retain=True)
    rec = recorder_factory(shared_broker, [ack_topic])
    data = rec.wait_for_json(ack_topic)
    assert data == {"v": 1, "seq": 1, "day": "2026-03-29", "last": {"A": 1}}


def test_clean_stop_leaves_retained_offline(shared_broker: Broker, topic_office: str,
                                            recorder_factory: RecorderFactory, make_link: Any) -> None:
    status_topic = topics.device_status(topic_office, "display-1")
    live = recorder_factory(shared_broker, [status_topic])
    clock = FakeClock(START)
    link = make_link(shared_broker, topic_office, device="display-1", role="display", clock=clock)
    link.start()
    live.wait_for(is_status(True))
    clock.advance(60)
    link.stop()
    assert not link.connected.is_set()

    _, payload = live.wait_for(is_status(False))
    offline = status(payload)
    assert offline.online is False
    assert (offline.role, offline.version, offline.at) == ("display", "0.1.0", clock.now())
    assert offline.health == {"device": "display-1"}  # no stale health on an offline status

    late = recorder_factory(shared_broker, [status_topic])
    _, retained = late.wait_for(is_status(False))
    assert status(retained) == offline  # the explicit offline, not the bare will
    assert late.records()[0].retain is True


CHILD = textwrap.dedent("""
    import sys, threading
    from process.clock import SystemClock
    from protocol.link import BrokerSettings, MqttLink

    host, port, office = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    settings = BrokerSettings(host=host, port=port, keepalive_s=600)
    link = MqttLink(settings, office, "kiosk-9", "kiosk", "0.1.0", SystemClock(assume_synced=True))
    link.start()
    threading.Event().wait()
""")


def test_unclean_death_yields_last_will(shared_broker: Broker, topic_office: str,
                                        recorder_factory: RecorderFactory) -> None:
    status_topic = topics.device_status(topic_office, "kiosk-9")
    live = recorder_factory(shared_broker, [status_topic])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, shared_broker.host, str(shared_broker.port), topic_office],
        cwd=REPO, stdin=subprocess.DEVNULL,
    )
    try:
        _, payload = live.wait_for(is_status(True))
        assert status(payload).clock_synced is True
        mark = live.mark()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=WAIT) == -signal.SIGKILL
        # keepalive is 600 s: the will comes from the broker seeing the socket close, not a timeout.
        _, will = live.wait_for(is_status(False), since=mark)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert json.loads(will) == {"v": 1, "online": False, "role": "kiosk"}

    late = recorder_factory(shared_broker, [status_topic])
    _, retained = late.wait_for(is_status(False))
    assert retained == will


def test_start_while_broker_down_connects_later(broker: Broker, topic_office: str,
                                                recorder_factory: RecorderFactory, make_link: Any) -> None:
    broker.stop()
    received: queue.Queue[QueueState] = queue.Queue()
    link = make_link(broker, topic_office)
    link.subscribe(topics.queue(topic_office), queue_handler(received))
    link.start()  # must not raise
    assert not link.connected.is_set()
    assert link.publish(topics.queue(topic_office), b"x") is False

    broker.start()
    assert link.connected.wait(WAIT)
    rec = recorder_factory(broker, [topics.device_status(topic_office, "kiosk-1")])
    rec.wait_for(is_status(True))
    rec.publish(topics.queue(topic_office), queue_payload(2))
    assert received.get(timeout=WAIT).services[0].waiting == 2


@pytest.mark.parametrize("kill", [False, True], ids=["stop", "kill"])
def test_resubscribes_after_broker_restart(broker: Broker, topic_office: str,
                                           recorder_factory: RecorderFactory, make_link: Any,
                                           kill: bool) -> None:
    changes: list[bool] = []
    changed = threading.Condition()

    def on_change(connected: bool) -> None:
        with changed:
            changes.append(connected)
            changed.notify_all()

    received: queue.Queue[QueueState] = queue.Queue()
    link = make_link(broker, topic_office)
    link.on_connection_change(on_change)
    link.subscribe(topics.queue(topic_office), queue_handler(received))
    link.start()
    rec = recorder_factory(broker, [topics.device_status(topic_office, "kiosk-1")])
    rec.wait_for(is_status(True))
    rec.publish(topics.queue(topic_office), queue_payload(1))
    assert received.get(timeout=WAIT).services[0].waiting == 1

    mark = rec.mark()
    broker.restart(kill=kill)  # no persistence: sessions, subscriptions and retained state are gone
    with changed:
        assert changed.wait_for(lambda: changes == [True, False, True], WAIT), changes
    assert link.connected.is_set()
    rec.wait_for(is_status(True), since=mark)  # the new connection's status: re-subscribed by now
    rec.publish(topics.queue(topic_office), queue_payload(7))
    assert received.get(timeout=WAIT).services[0].waiting == 7
    assert link.invalid_messages == 0


# -- the test broker itself --------------------------------------------------------------------


def test_broker_restart_keeps_port_and_failed_start_reports_log(broker: Broker, tmp_path: Path) -> None:
    port = broker.port
    broker.restart()
    assert (broker.port, broker.running) == (port, True)
    clash = Broker(tmp_path / "clash", port=port)
    with pytest.raises(BrokerError, match=r"(?s)exited with code .*mosquitto\.(log|out)"):
        clash.start()
    assert not clash.running
    broker.kill()
    assert not broker.running


def test_persistent_broker_keeps_retained_messages(broker_factory: Callable[..., Broker],
                                                   recorder_factory: RecorderFactory,
                                                   topic_office: str) -> None:
    persistent = broker_factory(persistence=True)
    topic = topics.info(topic_office)
    with Recorder(persistent.host, persistent.port, []) as publisher:
        publisher.publish(topic, b'{"v":1}', retain=True)
    persistent.restart()
    assert (persistent.persistence_dir / "mosquitto.db").exists()
    rec = recorder_factory(persistent, [topic])
    assert rec.wait_for(lambda t, p: True) == (topic, b'{"v":1}')



def test_invalid_messages_are_logged_once_per_sender_and_interval_with_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    """process/log_limit.py: the first case of a sender at once, the rest as one summary line per sender
    when the interval ends (a timer writes it, also when the flood has stopped)."""
    import threading

    from process.log_limit import OTHERS, LogLimiter

    caplog.set_level(logging.WARNING, logger="wartemarke.test")
    limiter = LogLimiter(logging.getLogger("wartemarke.test"), interval_s=0.3, max_keys=3)
    for n in range(2000):
        limiter.warn("kiosk-2", "bad message %d", n)
    for sender in ("a", "b", "c", "d", "e"):  # more senders than told apart
        limiter.warn(sender, "bad message from %s", sender)
    done = threading.Event()
    assert not done.wait(0.6)  # the interval ends; the timer writes the summaries
    lines = [r.getMessage() for r in caplog.records if r.name == "wartemarke.test"]
    assert lines[0].startswith("bad message 0 [further cases from kiosk-2 are counted")
    summaries = sorted(line.split(" in the last")[0] for line in lines if "more like it" in line)
    assert summaries == ["1999 more like it from kiosk-2", f"2 more like it from {OTHERS}"]
    assert len(lines) == 1 + 2 + 1 + 2  # kiosk-2, a, b, OTHERS (c first), and two summaries
