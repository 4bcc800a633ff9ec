"""Commands and retained state under faults, through a real mosquitto (killed with -9) and real hubs:
a command its requester gave up on never runs later, a retained command never runs at all, and after a
broker restart the hub's acks and calls never go backwards for a subscriber (docs/protocol.md §1, §3.6).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

from devtools.hub_harness import issued, payload, write_hub_config
from hub.app import Hub
from hub.config import load_hub_config
from hub.counter_cli import send_command
from process.clock import SystemClock
from protocol import topics
from protocol.fields import encode_object
from protocol.link import BrokerSettings
from protocol.messages import CommandAnswer, CommandRequest
from protocol.requests import request_properties
from tests.fault_harness import TcpProxy, clerk_link, never_backwards, retained, start_hub
from tests.test_broker_acl import OBSERVER, start_office_broker
from tests.web_harness import wait_until
from web.bridge import Bridge
from web.mirror import Mirror

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def hub_process(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hubprocess", "run", "--config", str(config)], cwd=REPO, env=ENV,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def counter_cli(config: Path, office: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.counter_cli", "--config", str(config), "--office", office,
                           "--counter", "platz-1", *args], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=60)


def bridge_command(port: int, office: str, op: str, timeout_s: float) -> CommandAnswer | None:
    """A command from the web's counter page, through web/bridge.py."""
    loop = asyncio.new_event_loop()
    bridge = Bridge(BrokerSettings(port=port), (office,), f"web-{uuid.uuid4().hex[:6]}", SystemClock(), Mirror(),
                    loop, internal=True)
    bridge.start()
    try:
        assert bridge.link.connected.wait(10)
        return loop.run_until_complete(bridge.command(office, "platz-1", CommandRequest(uuid.uuid4().hex, op),
                                                      timeout_s=timeout_s))
    finally:
        bridge.stop()
        loop.close()


def test_a_command_the_requester_gave_up_on_is_never_executed_later(tmp_path, broker, topic_office,
                                                                    recorder_factory):
    """Issue 11 item 6: the hub is down, `next` fails twice in the CLI (and once on the web's page);
    when the hub is back it must not call anyone for them. A request id can be repeated safely."""
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    config = write_hub_config(tmp_path, broker.port, topic_office, tick_s=0.5)
    hub = hub_process(config)
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"], timeout=20)
        day = json.loads(rec.wait_for(lambda t, p: t == topics.queue(topic_office))[1])["day"]
        for seq, label in ((1, "A001"), (2, "A002"), (3, "A003")):
            rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"),
                        payload(issued(date.fromisoformat(day), label, seq)))
        rec.wait_for_json(topics.queue(topic_office), lambda q: q["services"][0]["waiting"] == 3)
        hub.send_signal(signal.SIGKILL)  # its persistent session stays at the broker, subscriptions and all
        hub.wait(10)
        for _ in range(2):
            result = counter_cli(config, topic_office, "--timeout", "3", "next")
            assert result.returncode == 3, result.stderr
            assert "--request-id" in result.stderr
        assert bridge_command(broker.port, topic_office, "next", timeout_s=3) is None
        mark = rec.mark()
        hub = hub_process(config)
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"], since=mark,
                          timeout=20)
        clerk = clerk_link(broker.port, topic_office)
        try:  # a marker: whatever the broker still held for the hub was handed over before this answer
            answer = send_command(clerk, topic_office, "platz-2", CommandRequest(uuid.uuid4().hex, "pause"), 10)
            assert answer is not None and answer.ok
        finally:
            clerk.stop()
        calls = [json.loads(p)["seq"] for _, p in rec.messages(topics.calls(topic_office))]
        assert max(calls) == 0, "a command the clerk was told failed was executed later"
        state = json.loads(rec.messages(topics.counter_state(topic_office, "platz-1"))[-1][1])
        assert state["state"] == "idle"

        first = counter_cli(config, topic_office, "--request-id", "repeat-me-1", "next")
        again = counter_cli(config, topic_office, "--request-id", "repeat-me-1", "next")
        assert first.returncode == again.returncode == 0, first.stderr + again.stderr
        assert first.stdout == again.stdout and first.stdout.startswith("A001 → Platz 1")
        rec.wait_for_json(topics.calls(topic_office), lambda c: c["seq"] == 1)
        assert counter_cli(config, topic_office, "--request-id", "bad id!", "next").returncode == 2
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(15)
    calls = [json.loads(p)["seq"] for _, p in rec.messages(topics.calls(topic_office))]
    assert max(calls) == 1, "a repeated request id was executed twice"


def test_a_command_without_message_expiry_is_refused(tmp_path, broker, topic_office, recorder_factory):
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = start_hub(write_hub_config(tmp_path, broker.port, topic_office), rec)
    clerk = clerk_link(broker.port, topic_office)
    try:
        for n, expiry in enumerate((None, 3600)):
            response = topics.counter_response(topic_office, "platz-1", f"x{n}")
            request_id = uuid.uuid4().hex
            clerk.publish(topics.counter_command(topic_office, "platz-1"),
                          encode_object({"id": request_id, "op": "pause"}),
                          properties=request_properties(response, b"c", expiry))
            answer = rec.wait_for_json(response)
            assert not answer["ok"] and "message expiry" in answer["error"], answer
            # a readable request: the answer names it and its counter (docs/protocol.md §3.6, "Answer")
            assert answer.get("id") == request_id and answer.get("counter") == "platz-1", answer
        response = topics.counter_response(topic_office, "platz-1", "unreadable")
        clerk.publish(topics.counter_command(topic_office, "platz-1"), encode_object({"op": "pause"}),
                      properties=request_properties(response, b"c", 5))
        answer = rec.wait_for_json(response)  # no id to name: the request could not be read
        assert not answer["ok"] and "id" not in answer and answer.get("counter") == "platz-1", answer
        assert hub.runtimes[topic_office].engine.counters["platz-1"].paused is False
    finally:
        clerk.stop()
        hub.stop()


def test_a_retained_command_is_never_executed_and_expires_at_the_broker(tmp_path, broker, topic_office,
                                                                        recorder_factory):
    """Issue 10 finding 10: a counter client publishes `next` with the retain flag."""
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    config = write_hub_config(tmp_path, broker.port, topic_office)
    hub = start_hub(config, rec)
    clerk = clerk_link(broker.port, topic_office)
    command_topic = topics.counter_command(topic_office, "platz-1")
    try:
        day = hub.runtimes[topic_office].engine.day
        for seq, label in ((1, "A001"), (2, "A002")):
            rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(day, label, seq)))
        rec.wait_for_json(topics.queue(topic_office), lambda q: q["services"][0]["waiting"] == 2)
        response = topics.counter_response(topic_office, "platz-1", "r1")
        assert clerk.publish(command_topic, encode_object({"id": "retained-next-1", "op": "next"}), retain=True,
                             properties=request_properties(response, b"c", 6))
        for restart in (False, True):  # live, and again at a new subscription (a restarted hub)
            if restart:
                hub.stop()
                hub = start_hub(config, rec)
            answer = send_command(clerk, topic_office, "platz-2", CommandRequest(uuid.uuid4().hex, "resume"), 10)
            assert answer is not None and answer.ok  # a marker after the retained command
            assert hub.runtimes[topic_office].engine.calls_seq == 0, "a retained command was executed"
            assert hub.link.invalid_messages == 1  # dropped, logged and counted
        # Its message expiry (at most 60 s, or the hub refuses it anyway) applies to the retained copy too.
        wait_until(lambda: retained(broker, command_topic) == [], 15, "the broker to drop the expired command")
        assert not any(p and json.loads(p).get("id") == "retained-next-1" for _, p in rec.messages(response))
    finally:
        clerk.stop()
        hub.stop()


def test_the_deployed_acl_cannot_refuse_the_retain_flag_and_the_hub_does_not_execute_it(tmp_path):
    """The broker role's real ACL and config (tests/test_broker_acl.py): mosquitto accepts a counter
    client's retained command (its ACL grants topics, not flags); the hub, with its own credentials,
    never executes it."""
    from tests.test_broker_acl import OFFICE

    office = start_office_broker(tmp_path / "broker")
    try:
        config = write_hub_config(tmp_path / "hub", office.local_port, OFFICE)
        credentials = f'username = "hub-1"\npassword = "{office.passwords["hub-1"]}"'
        text = config.read_text().replace('device = "hub-test"', 'device = "hub-1"').replace(
            "reconnect_max_s = 1", "reconnect_max_s = 1\n" + credentials)
        config.write_text(text)
        observer = office.connect(OBSERVER, tls=False)
        observer.subscribe([topics.office_tree(OFFICE)], retained=False)
        hub = Hub(load_hub_config(config), SystemClock(assume_synced=True))
        hub.start()
        try:
            observer.wait_for(lambda t, p: t == topics.device_status(OFFICE, "hub-1") and b'"online":true' in p,
                              timeout=10)
            cli = office.connect("platz-1-cli", tls=False)
            response = topics.counter_response(OFFICE, "platz-1", "z")
            code = cli.publish(topics.counter_command(OFFICE, "platz-1"),
                               encode_object({"id": "retained-pause-2", "op": "pause"}), retain=True,
                               properties=request_properties(response, b"c", 30))
            assert not code.is_failure, "mosquitto refused the retain flag after all: update the docs"
            wait_until(lambda: hub.link.invalid_messages == 1, 10, "the hub to drop the retained command")
            assert hub.runtimes[OFFICE].engine.counters["platz-1"].paused is False
        finally:
            hub.stop()
    finally:
        office.close_probes()
        office.broker.stop()


def test_after_a_broker_kill_the_hubs_acks_and_calls_never_go_backwards(tmp_path, broker, topic_office,
                                                                          recorder_factory):
    """Issue 11 item 5: the hub has unconfirmed acks and calls in flight when the broker dies; after the
    restart a subscriber must not see them arrive after the hub's fresh state."""
    proxy = TcpProxy(broker.port)  # the hub's way to the broker, so its publishes can be held back
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    config = write_hub_config(tmp_path, proxy.port, topic_office)
    hub = start_hub(config, rec)
    feeder = clerk_link(broker.port, topic_office)
    ack_topic, calls_topic = topics.kiosk_ack(topic_office, "kiosk-1"), topics.calls(topic_office)
    try:
        day = hub.runtimes[topic_office].engine.day
        seq = 0

        def ticket() -> None:
            nonlocal seq
            seq += 1
            event = issued(day, f"A{seq:03d}", seq)
            assert feeder.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(event))

        def call(counter: str) -> None:
            response = topics.counter_response(topic_office, counter, "feed")
            assert feeder.publish(topics.counter_command(topic_office, counter),
                                  encode_object({"id": uuid.uuid4().hex, "op": "next"}),
                                  properties=request_properties(response, b"c", 30))

        for _ in range(4):
            ticket()
        call("platz-1")
        rec.wait_for_json(ack_topic, lambda a: a["seq"] == 4)
        rec.wait_for_json(calls_topic, lambda c: c["seq"] == 1)
        proxy.hold_upstream()  # from now on nothing the hub publishes reaches the broker, or is confirmed
        for _ in range(10):
            ticket()
        call("platz-2")
        call("platz-3")
        engine = hub.runtimes[topic_office].engine
        wait_until(lambda: hub.store.acks(topic_office).get("kiosk-1") == 14 and engine.calls_seq == 3, 10,
                 "the hub to take the events and commands")
        proxy.accepting = False
        broker.kill()
        proxy.drop_all()
        broker.start()
        assert rec.wait_ready(10)  # the subscriber is back before the hub is let in
        mark = rec.mark()
        proxy.accepting = True
        rec.wait_for_json(ack_topic, lambda a: a["seq"] == 14, since=mark, timeout=20)
        ticket()  # answered after anything the hub re-sent on reconnecting
        rec.wait_for_json(ack_topic, lambda a: a["seq"] == 15, since=mark)
        acks = never_backwards(rec.records(ack_topic), lambda a: a["seq"])
        calls = never_backwards(rec.records(calls_topic), lambda c: c["seq"])
        assert acks[-1] == 15 and calls[-1] == 3
    finally:
        feeder.stop()
        hub.stop()
        proxy.close()
