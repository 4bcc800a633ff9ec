"""A ticket holder's requests (docs/protocol.md §3.12) to the hub through a real mosquitto: accepted,
refused, idempotent, and durable across a `kill -9` of the hub's process after its answer."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import date
from typing import Any

import pytest

from devtools.hub_harness import issued, payload, write_hub_config
from hub.counter_cli import send_command
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import CitizenRequest, CommandAnswer, CommandRequest
from protocol.requests import Requester
from tests.test_hub import start_hub
from tests.test_hub_crash import start_hub_process

TOKENS = ["CAIREEYUCULBOGAZDINRYHI6D" + c for c in "ABCDEFGH"]


class Holder:
    """What a web server does for a tracking page: citizen requests on a link of its own."""

    def __init__(self, port: int, office: str) -> None:
        self.office = office
        self.link = MqttLink(BrokerSettings(port=port), office, f"web-{uuid.uuid4().hex[:6]}", "web", VERSION,
                             SystemClock(), availability=False)
        self.requester = Requester(self.link)
        self.requester.listen_citizen(office)
        self.link.start()
        assert self.link.connected.wait(10)

    def ask(self, op: str, token: str, request_id: str | None = None) -> CommandAnswer:
        request = CitizenRequest(request_id or uuid.uuid4().hex, op, token)
        answer = asyncio.run(self.requester.citizen_async(self.office, request, timeout_s=10))
        assert answer is not None, "the hub did not answer"
        assert answer.id == request.id
        return answer


def issue(rec, office: str, day, count: int) -> None:
    for seq in range(1, count + 1):
        event = issued(day, f"A{seq:03d}", seq, token=TOKENS[seq - 1])
        rec.publish(topics.kiosk_ticket(office, "kiosk-1"), payload(event))
    rec.wait_for_json(topics.kiosk_ack(office, "kiosk-1"), lambda a: a["seq"] == count)


def view(rec, office: str, n: int, predicate, since: int = 0) -> dict[str, Any]:
    topic = topics.ticket(office, topics.token_hash(TOKENS[n - 1]))
    found: dict[str, Any] = rec.wait_for_json(topic, predicate, since=since, timeout=15)
    return found


@pytest.fixture
def holder(shared_broker, topic_office):
    client = Holder(shared_broker.port, topic_office)
    yield client
    client.link.stop()


@pytest.fixture
def office_hub(shared_broker, recorder_factory, topic_office, tmp_path):
    """A hub with one counter, online, and a recorder of its office's topics: (rec, hub)."""
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    hub = start_hub(write_hub_config(tmp_path, shared_broker.port, topic_office, counters=1))
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
        yield rec, hub
    finally:
        hub.stop()


def test_postpone_and_cancel_change_the_queue_at_once_and_refusals_say_why(shared_broker, office_hub, topic_office,
                                                                           holder):
    rec, hub = office_hub
    office, day = topic_office, hub.runtimes[topic_office].engine.day
    issue(rec, office, day, 6)
    view(rec, office, 1, lambda v: v["state"] == "waiting" and v["ahead"] == 0)

    first = holder.ask("postpone", TOKENS[0], "req-postpone-1")
    assert (first.ok, first.label, first.service) == (True, "A001", "A")
    moved = view(rec, office, 1, lambda v: v.get("postponed") == 1)
    assert moved["state"] == "waiting" and moved["ahead"] >= 1
    ahead_before = moved["ahead"]
    assert holder.ask("postpone", TOKENS[0], "req-postpone-1") == first  # a repeat: one effect
    assert hub.runtimes[office].engine.tickets and \
        [t.postponed for t in hub.runtimes[office].engine.tickets.values() if t.label == "A001"] == [1]

    cancelled = holder.ask("cancel", TOKENS[1], "req-cancel-2")
    assert (cancelled.ok, cancelled.label) == (True, "A002")
    assert view(rec, office, 2, lambda v: v["state"] == "cancelled")
    rec.wait_for_json(topics.queue(office), lambda q: q["services"][0]["waiting"] == 5)
    view(rec, office, 1, lambda v: v.get("ahead") == ahead_before - 1)  # A002 was before it: moves up at once
    assert holder.ask("cancel", TOKENS[1], "req-cancel-2") == cancelled

    assert holder.ask("cancel", TOKENS[1]).error == "ended"
    assert holder.ask("postpone", TOKENS[7]).error == "unknown_ticket"
    assert holder.ask("postpone", TOKENS[0]).ok
    assert holder.ask("postpone", TOKENS[0]).error == "postponed_twice"
    clerk = MqttLink(BrokerSettings(port=shared_broker.port), office, "clerk-citizen", "cli", VERSION,
                     SystemClock(), availability=False)
    clerk.start()
    try:
        call = send_command(clerk, office, "platz-1", CommandRequest(uuid.uuid4().hex, "next"))
        assert call is not None and call.label == "A003"
    finally:
        clerk.stop()
    for op in ("postpone", "cancel"):
        assert holder.ask(op, TOKENS[2]).error == "called"
    # every request for a ticket of today is in the input log (refusals too: a repeat after a restart gets
    # the same answer), the unknown token's is not; by the token's hash, never the token
    logged = [i for i in hub.store.inputs(office, day) if i.kind == "citizen"]
    assert len(logged) == 7 and not any(token in repr(logged) for token in TOKENS)


def test_a_request_without_expiry_is_answered_refused_and_changes_nothing(office_hub, topic_office, holder):
    rec, hub = office_hub
    issue(rec, topic_office, hub.runtimes[topic_office].engine.day, 2)
    rec.publish(topics.citizen_request(topic_office), b'{"v": 1, "id": "req-000001", "op": "cancel", "token": "'
                + TOKENS[0].encode() + b'"}')  # no response topic, no expiry: dropped
    assert holder.ask("cancel", TOKENS[1]).ok  # the next request is carried out in order after it
    assert [t.state.value for t in hub.runtimes[topic_office].engine.tickets.values()
            if t.label == "A001"] == ["waiting"]


def test_kill_9_after_the_answer_loses_nothing(broker, recorder_factory, topic_office, tmp_path):
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    config = write_hub_config(tmp_path / "hub", broker.port, topic_office, counters=1)
    hub = start_hub_process(config)
    holder = Holder(broker.port, topic_office)
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"], timeout=20)
        queue = rec.wait_for_json(topics.queue(topic_office))
        issue(rec, topic_office, date.fromisoformat(queue["day"]), 4)
        postponed = holder.ask("postpone", TOKENS[0], "req-before-kill-1")
        cancelled = holder.ask("cancel", TOKENS[1], "req-before-kill-2")
        assert postponed.ok and cancelled.ok
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        mark = rec.mark()
        hub = start_hub_process(config)
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"], since=mark,
                          timeout=20)
        assert view(rec, topic_office, 2, lambda v: True, since=mark)["state"] == "cancelled"
        assert view(rec, topic_office, 1, lambda v: True, since=mark).get("postponed") == 1
        # the replayed hub still knows the requests: a repeat gets the first answer, not a second move
        assert holder.ask("postpone", TOKENS[0], "req-before-kill-1") == postponed
        assert holder.ask("cancel", TOKENS[1], "req-before-kill-2") == cancelled
        rec.wait_for_json(topics.queue(topic_office), lambda q: q["services"][0]["waiting"] == 3, since=mark)
    finally:
        holder.link.stop()
        hub.send_signal(signal.SIGTERM)
        hub.wait(15)
