"""The hub in one process against a real mosquitto and a real SQLite file."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devtools.hub_harness import issued, payload, write_hub_config
from hub.app import Hub
from hub.config import load_hub_config
from hub.counter_cli import send_command
from process.clock import FakeClock, SystemClock
from protocol import VERSION, topics
from protocol.businessday import WEEKDAYS
from protocol.link import MqttLink
from protocol.messages import CommandAnswer, CommandRequest

BERLIN = ZoneInfo("Europe/Berlin")


def start_hub(config_path, clock=None) -> Hub:
    hub = Hub(load_hub_config(config_path), clock or SystemClock(assume_synced=True))
    hub.start()
    return hub


@pytest.fixture
def office(shared_broker, recorder_factory, topic_office, tmp_path):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    config = write_hub_config(tmp_path, shared_broker.port, topic_office, counters=8)
    hub = start_hub(config)
    rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
    yield hub, rec, topic_office, config
    hub.stop()


def command(link, office, counter, op, request_id=None, **args):
    return send_command(link, office, counter, CommandRequest(request_id or uuid.uuid4().hex, op, args))


@pytest.fixture
def clerk(shared_broker, topic_office):
    from protocol.link import BrokerSettings

    link = MqttLink(BrokerSettings(port=shared_broker.port), topic_office, "clerk-test", "cli", VERSION,
                    SystemClock(), availability=False)
    link.start()
    yield link
    link.stop()


def today(hub, office):
    return hub.runtimes[office].engine.day


def test_events_are_acked_contiguously_after_commit_and_ingested_once(office):
    hub, rec, name, _ = office
    day = today(hub, name)
    first, second = issued(day, "A001", 1), issued(day, "A002", 2)
    rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(second))  # out of order: seq 2 first
    ack = rec.wait_for_json(topics.kiosk_ack(name, "kiosk-1"))
    assert ack["seq"] == 0 and ack["last"] == {"A": 2}  # 2 is ingested, but 1 is still missing
    rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(first))
    rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(first))  # re-sent: ingested once
    rec.wait_for_json(topics.kiosk_ack(name, "kiosk-1"), lambda a: a["seq"] == 2)
    queue = rec.wait_for_json(topics.queue(name), lambda q: q["services"][0]["waiting"] == 2)
    assert queue["day"] == day.isoformat() and queue["services"][0]["issuing"] is True
    assert [i.kind for i in hub.store.inputs(name, day) if i.kind == "ticket"] == ["ticket", "ticket"]


def test_next_calls_a_ticket_and_publishes_calls_ticket_and_counter_state(office, clerk):
    hub, rec, name, _ = office
    event = issued(today(hub, name), "A001", 1)
    rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(event))
    rec.wait_for_json(topics.kiosk_ack(name, "kiosk-1"), lambda a: a["seq"] == 1)
    answer = command(clerk, name, "platz-3", "next")
    assert answer == CommandAnswer(True, label="A001", service="A", counter="platz-3", id=answer.id)
    calls = rec.wait_for_json(topics.calls(name), lambda c: c["seq"] == 1)
    assert calls["calls"][0]["label"] == "A001" and calls["calls"][0]["counter_name"] == "Platz 3"
    view = rec.wait_for_json(topics.ticket(name, topics.token_hash(event.token)), lambda v: v["state"] == "called")
    assert view["counter_name"] == "Platz 3" and event.token.encode() not in json.dumps(view).encode()
    state = rec.wait_for_json(topics.counter_state(name, "platz-3"), lambda s: s["state"] == "serving")
    assert state["label"] == "A001"
    assert command(clerk, name, "platz-4", "next").error == "nobody is waiting"


def test_a_repeated_request_gets_the_first_answer(office, clerk):
    hub, rec, name, _ = office
    for n in (1, 2):
        rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(issued(today(hub, name), f"A00{n}", n)))
    rec.wait_for_json(topics.kiosk_ack(name, "kiosk-1"), lambda a: a["seq"] == 2)
    first = command(clerk, name, "platz-1", "next", request_id="same-request-1")
    again = command(clerk, name, "platz-1", "next", request_id="same-request-1")
    assert first == again and first.label == "A001"
    assert hub.runtimes[name].engine.calls_seq == 1


def test_eight_counters_pressing_next_at_once_never_call_the_same_ticket(office, shared_broker):
    hub, rec, name, _ = office
    day = today(hub, name)
    for n in range(1, 41):
        rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(issued(day, f"A{n:03d}", n)))
    rec.wait_for_json(topics.kiosk_ack(name, "kiosk-1"), lambda a: a["seq"] == 40, timeout=20)
    from protocol.link import BrokerSettings

    links = [MqttLink(BrokerSettings(port=shared_broker.port), name, f"clerk-{i}", "cli", VERSION, SystemClock(),
                      availability=False) for i in range(1, 9)]
    for link in links:
        link.start()
    try:
        called: list[str] = []
        for _ in range(5):
            barrier = threading.Barrier(8)
            answers: list[CommandAnswer | None] = []

            def press(i: int, barrier=barrier, answers=answers) -> None:
                assert links[i].connected.wait(10)
                barrier.wait()
                answers.append(command(links[i], name, f"platz-{i + 1}", "next"))

            threads = [threading.Thread(target=press, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert len(answers) == 8 and all(a and a.ok for a in answers), answers
            called += [a.label for a in answers if a is not None and a.label is not None]
    finally:
        for link in links:
            link.stop()
    assert len(called) == 40 and len(set(called)) == 40
    assert hub.runtimes[name].engine.calls_seq == 40


def test_malformed_input_is_dropped_and_the_hub_carries_on(office, clerk):
    hub, rec, name, _ = office
    rec.publish(topics.kiosk_ticket(name, "kiosk-1"), b"{not json")
    bad_service = issued(today(hub, name), "X001", 1)
    rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(bad_service))  # unknown service: acked, ignored
    rec.wait_for_json(topics.kiosk_ack(name, "kiosk-1"), lambda a: a["seq"] == 1)
    answer = send_command(clerk, name, "platz-1", CommandRequest("bad-op-1", "explode"))
    assert answer is not None and answer.ok is False and "field 'op'" in (answer.error or "")  # refused, logged
    assert command(clerk, name, "no-such-counter", "next").error == "unknown counter 'no-such-counter'"
    assert hub.link.invalid_messages >= 2
    assert hub.runtimes[name].engine.tickets == {}


def test_a_restarted_hub_replays_to_the_same_state_and_republishes(office, clerk, shared_broker):
    hub, rec, name, config = office
    day = today(hub, name)
    for n in range(1, 4):
        rec.publish(topics.kiosk_ticket(name, "kiosk-1"), payload(issued(day, f"A00{n}", n)))
    rec.wait_for_json(topics.kiosk_ack(name, "kiosk-1"), lambda a: a["seq"] == 3)
    assert command(clerk, name, "platz-1", "next").label == "A001"
    assert command(clerk, name, "platz-1", "no_show").ok
    assert command(clerk, name, "platz-2", "next").label == "A002"
    before = {t.label: (t.state, t.counter) for t in hub.runtimes[name].engine.tickets.values()}
    hub.stop()
    mark = rec.mark()
    again = start_hub(config)
    try:
        after = {t.label: (t.state, t.counter) for t in again.runtimes[name].engine.tickets.values()}
        assert after == before
        calls = rec.wait_for_json(topics.calls(name), since=mark)
        assert calls["seq"] == 2 and [c["label"] for c in calls["calls"]] == ["A002", "A001"]
        assert command(clerk, name, "platz-3", "next").label == "A003"
    finally:
        again.stop()
        hub.start = lambda: None  # the fixture stops the first hub again: harmless


def test_closing_time_closes_out_and_the_next_day_clears_tracking(shared_broker, recorder_factory, topic_office,
                                                                  tmp_path):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    hours = "\n".join(f'{d} = ["08:00-16:00"]' for d in WEEKDAYS)
    config = write_hub_config(tmp_path, shared_broker.port, topic_office, hours=hours, tick_s=60)
    clock = FakeClock(datetime(2026, 11, 24, 15, 30, tzinfo=BERLIN).astimezone(UTC))
    hub = start_hub(config, clock)
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
        event = issued(hub.runtimes[topic_office].engine.day, "A001", 1, at=clock.now())
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(event))
        ticket_topic = topics.ticket(topic_office, topics.token_hash(event.token))
        rec.wait_for_json(ticket_topic, lambda v: v["state"] == "waiting")
        clock.advance(31 * 60)  # 16:01: closing time
        hub.tick()
        rec.wait_for_json(ticket_topic, lambda v: v["state"] == "closed")
        queue = rec.wait_for_json(topics.queue(topic_office), lambda q: not q["services"][0]["issuing"])
        assert queue["services"][0]["reason"] == "closed"
        mark = rec.mark()
        clock.advance(13 * 3600)  # 05:01 the next morning (reset 04:00)
        hub.tick()
        rec.wait_for(lambda t, p: t == ticket_topic and p == b"", since=mark)  # tracking link expired
        queue = rec.wait_for_json(topics.queue(topic_office), lambda q: q["day"] == "2026-11-25", since=mark)
        assert queue["services"][0]["waiting"] == 0
        assert hub.store.inputs(topic_office, datetime(2026, 11, 24).date()) == []  # per-ticket data deleted
        stats = hub.store.daily_stats(topic_office)
        [summary] = stats.values()
        assert summary["hours"][0]["closed"] == 1 and "token" not in json.dumps(summary)
        history = rec.wait_for_json(topics.history(topic_office), lambda h: h["until"] == "2026-11-25", since=mark)
        assert history["cells"] == []  # the only ticket was never called: no wait to report
    finally:
        hub.stop()


def test_a_hub_started_after_midnight_shows_nothing_of_yesterday(shared_broker, recorder_factory, topic_office,
                                                                  tmp_path):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    config = write_hub_config(tmp_path, shared_broker.port, topic_office, tick_s=60)
    clock = FakeClock(datetime(2026, 11, 24, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    hub = start_hub(config, clock)
    rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
    rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"),
                payload(issued(hub.runtimes[topic_office].engine.day, "A001", 1, at=clock.now())))
    rec.wait_for_json(topics.queue(topic_office), lambda q: q["services"][0]["waiting"] == 1)
    hub.stop()
    clock.advance(timedelta(hours=18).total_seconds())  # 06:00 the next day
    mark = rec.mark()
    hub = start_hub(config, clock)
    try:
        queue = rec.wait_for_json(topics.queue(topic_office), since=mark)
        assert queue["day"] == "2026-11-25" and queue["services"][0]["waiting"] == 0
        calls = rec.wait_for_json(topics.calls(topic_office), since=mark)
        assert calls["day"] == "2026-11-25" and calls["calls"] == []
    finally:
        hub.stop()


def test_the_hub_answers_only_under_the_requesters_response_tree(office, clerk):
    from protocol.fields import encode_object
    from protocol.requests import request_properties

    _, rec, name, _ = office
    clerk.publish(topics.counter_command(name, "platz-1"), encode_object({"id": "hostile-reply-1", "op": "next"}),
                  properties=request_properties(topics.calls(name), b"x"))  # asks for the answer on `calls`
    assert command(clerk, name, "platz-1", "pause").ok  # a marker: the first request was processed before
    assert all(json.loads(p).get("id") != "hostile-reply-1" for _, p in rec.messages(topics.calls(name)) if p)
