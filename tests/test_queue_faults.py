"""The queue's guarantees under faults, one per test, through a real mosquitto, a real hub and real kiosks
(docs/protocol.md §4, §6, §7): labels never repeat after a transfer and a replaced kiosk, a lost ack is
sent again, only the hub's clock decides the day, and an ended day's tracking links are gone.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devtools.broker import Recorder
from devtools.hub_harness import issued, payload, write_hub_config
from devtools.kiosk_harness import FAST_A, press, printed_files, start_kiosk, write_config
from hub.counter_cli import send_command
from hub.statistics import day_summary
from process.clock import FakeClock
from protocol import topics
from protocol.link import MqttLink
from protocol.messages import CommandRequest
from tests.fault_harness import OffsetClock, clerk_link, retained, start_hub, start_replica
from tests.test_kiosk_crash import FAST_SERVICES
from tests.web_harness import get, random_token, wait_until

BERLIN = ZoneInfo("Europe/Berlin")


def command(link: MqttLink, office: str, counter: str, op: str, **args):
    answer = send_command(link, office, counter, CommandRequest(uuid.uuid4().hex, op, args), timeout_s=10)
    assert answer is not None, f"the hub did not answer {op}"
    return answer


def labels(folder) -> list[str]:
    return [p.name.split("-", 1)[1].removesuffix(".escpos") for p in printed_files(folder)]


def test_a_transfer_never_makes_a_replacement_kiosk_issue_a_label_again(tmp_path, broker, topic_office,
                                                                         recorder_factory):
    """Issue 11 items 1 and 7: `ack.last` and the statistics count by the service a number was issued for."""
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = start_hub(write_hub_config(tmp_path / "hub", broker.port, topic_office, counters=1), rec=rec)
    clerk = clerk_link(broker.port, topic_office)
    config = write_config(tmp_path / "kiosk", broker.port, topic_office, services=FAST_SERVICES)
    kiosk = start_kiosk(config)
    try:
        assert kiosk.ready.wait(10)
        for n in range(1, 4):
            press(kiosk, "A")
            assert kiosk.wait_handled(n, 10)
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 3)
        assert [command(clerk, topic_office, "platz-1", "next").label for _ in range(3)] == ["A001", "A002", "A003"]
        assert command(clerk, topic_office, "platz-1", "transfer", service="P").ok
        mark = rec.mark()
        press(kiosk, "P")  # the running kiosk: P001, not P004
        assert kiosk.wait_handled(4, 10)
        ack = rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 4, since=mark)
        assert ack["last"] == {"A": 3, "P": 1}, "ack.last counts by the service a number was issued for"
        kiosk.stop()
        shutil.rmtree(tmp_path / "kiosk" / "state")  # the SD card dies: same device id, empty state
        kiosk = start_kiosk(config)
        assert kiosk.ready.wait(10)
        press(kiosk, "A")
        press(kiosk, "P")
        assert kiosk.wait_handled(2, 10)
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 6)
        summary = day_summary(hub.runtimes[topic_office].engine)
    finally:
        kiosk.stop()
        clerk.stop()
        hub.stop()
    printed = labels(tmp_path / "kiosk")
    assert printed == ["A001", "A002", "A003", "P001", "A004", "P002"], "a label was handed out twice"
    issued_per_service: dict[str, int] = {}
    for row in summary["hours"]:
        issued_per_service[row["service"]] = issued_per_service.get(row["service"], 0) + row["issued"]
        assert row["transferred"] == (1 if row["service"] == "A" else 0)
    assert issued_per_service == {"A": 4, "P": 2}, "statistics count what the kiosks printed"


def test_a_re_sent_event_gets_its_ack_again_when_the_first_one_was_lost(tmp_path, broker, topic_office,
                                                                       recorder_factory):
    """Issue 11 item 2: the hub still remembers the event, the kiosk never got the ack."""
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    config = write_config(tmp_path / "kiosk", broker.port, topic_office, services=FAST_A)
    kiosk = start_kiosk(config)  # no hub yet: a new kiosk starts numbering on its own after resume_wait_s
    try:
        assert kiosk.ready.wait(10)
        press(kiosk, "A")
        assert kiosk.wait_handled(1, 10)
        _, event = rec.wait_for(lambda t, p: t == topics.kiosk_ticket(topic_office, "kiosk-1"))
    finally:
        kiosk.stop()
    hub = start_hub(write_hub_config(tmp_path / "hub", broker.port, topic_office), rec=rec)
    try:
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), event)  # it reached the hub ...
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 1)
        # ... but its ack never reaches the kiosk: neither the retained copy nor the one queued for its session
        rec.clear_retained(topics.kiosk_ack(topic_office, "kiosk-1"))
        Recorder(broker.host, broker.port, [], client_id=f"wm-{topic_office}-kiosk-1").close()  # clean start
        mark = rec.mark()
        kiosk = start_kiosk(config)  # re-sends seq 1 after connecting
        try:
            status = rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                                       lambda s: s.get("outbox_pending") == 0, since=mark, timeout=20)
            assert status["acked_seq"] == 1
        finally:
            kiosk.stop()
        assert len(hub.runtimes[topic_office].engine.tickets) == 1  # ingested once
    finally:
        hub.stop()


def test_an_event_of_another_day_is_refused_and_never_moves_the_hubs_day(tmp_path, broker, topic_office,
                                                                           recorder_factory, caplog):
    """Issue 11 item 3, by the contract: a month ahead, a year behind; each refused, counted and acked."""
    caplog.set_level(logging.INFO)
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = start_hub(write_hub_config(tmp_path / "hub", broker.port, topic_office), rec=rec)
    try:
        day = hub.runtimes[topic_office].engine.day
        for seq, label in ((1, "A001"), (2, "A002")):
            rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(day, label, seq)))
        rec.wait_for_json(topics.queue(topic_office), lambda q: q["services"][0]["waiting"] == 2)
        ahead = issued(day + timedelta(days=30), "A001", 1, device="kiosk-9")
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-9"), payload(ahead))
        ack = rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-9"), lambda a: a["seq"] == 1)
        assert ack["day"] == day.isoformat() and ack["refused"] == 1 and ack["last"] == {}
        behind = issued(day - timedelta(days=365), "A003", 2, device="kiosk-9")
        mark = rec.mark()
        for _ in range(2):  # re-sent: counted once, acked again
            rec.publish(topics.kiosk_ticket(topic_office, "kiosk-9"), payload(behind))
            ack = rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-9"), lambda a: a["seq"] == 2, since=mark)
            mark = rec.mark()
        assert ack["refused"] == 2
        hub.tick()
        queue = json.loads(rec.messages(topics.queue(topic_office))[-1][1])
        assert queue["day"] == day.isoformat() and queue["services"][0]["waiting"] == 2, "the day did not move"
        assert hub.runtimes[topic_office].engine.day == day and len(hub.runtimes[topic_office].engine.tickets) == 2
        status = rec.wait_for_json(topics.device_status(topic_office, "hub-test"),
                                   lambda s: s.get("refused_events") == 2)
        assert status["online"]
        refusals = [r.message for r in caplog.records if "REFUSED" in r.message]
        assert len(refusals) == 2 and str(day + timedelta(days=30)) in refusals[0]
    finally:
        hub.stop()
    hub = start_hub(tmp_path / "hub" / "hub.toml")  # the refusals are part of the day's durable log
    try:
        assert hub.runtimes[topic_office].engine.refused_count("kiosk-9") == 2
    finally:
        hub.stop()


@pytest.mark.parametrize(("offset", "synced"), [(timedelta(days=30), True), (timedelta(days=-365), False)],
                         ids=["a-month-ahead", "a-year-behind"])
def test_a_kiosk_with_a_wrong_clock_gets_its_tickets_refused_shows_it_and_follows_the_hubs_day(
        tmp_path, broker, topic_office, recorder_factory, offset, synced):
    """Issue 11 item 3, with a real kiosk whose clock is wrong: it prints while the hub is away."""
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub_config = write_hub_config(tmp_path / "hub", broker.port, topic_office)
    kiosk = start_kiosk(write_config(tmp_path / "kiosk", broker.port, topic_office, services=FAST_A),
                        clock=OffsetClock(offset, synced))
    hub = None
    try:
        assert kiosk.ready.wait(10)  # no hub: a new kiosk starts numbering after resume_wait_s
        press(kiosk, "A")
        assert kiosk.wait_handled(1, 10)
        wrong_day = json.loads(rec.wait_for(lambda t, p: t.endswith("/kiosk/kiosk-1/ticket"))[1])["day"]
        hub = start_hub(hub_config)
        day = hub.runtimes[topic_office].engine.day
        assert wrong_day != day.isoformat()
        status = rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                                   lambda s: s.get("hub_refused") == 1 and s.get("outbox_pending") == 0, timeout=20)
        assert "refused 1 ticket" in status["last_error"] and status["day"] == day.isoformat()
        press(kiosk, "A")  # the kiosk now issues for the hub's day
        assert kiosk.wait_handled(2, 10)
        queue = rec.wait_for_json(topics.queue(topic_office), lambda q: q["services"][0]["waiting"] == 1, timeout=20)
        assert queue["day"] == day.isoformat()
        assert hub.runtimes[topic_office].engine.day == day, "a kiosk's clock never moves the hub's day"
        [ticket] = hub.runtimes[topic_office].engine.tickets.values()
        assert ticket.label == "A001"  # the first number of the hub's day
    finally:
        kiosk.stop()
        if hub is not None:
            hub.stop()


@pytest.mark.parametrize("broker_down_at_start", [True, False], ids=["broker-down", "broker-up"])
def test_a_hub_off_across_the_day_change_clears_yesterdays_links(tmp_path, broker_factory, topic_office,
                                                                  recorder_factory, broker_down_at_start):
    """Issue 11 items 3 and 4: whatever the order of start-up, the ended day's tracking topics are cleared
    once the broker accepts it, and the web answers yesterday's links with 404."""
    broker = broker_factory(persistence=True)  # keeps retained messages (and sessions) across its restart
    config = write_hub_config(tmp_path / "hub", broker.port, topic_office, tick_s=60)
    clock = FakeClock(datetime(2026, 11, 24, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    replica, base = start_replica(tmp_path / "web", topic_office, broker.port)
    hub = start_hub(config, rec, clock)
    try:
        tokens = [random_token() for _ in range(3)]
        for seq, token in enumerate(tokens, 1):
            rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"),
                        payload(issued(hub.runtimes[topic_office].engine.day, f"A{seq:03d}", seq, at=clock.now(),
                                       token=token)))
        def page_is(token: str, status: int) -> bool:
            return get(f"{base}/t/{token}").status == status

        for token in tokens:
            wait_until(functools.partial(page_is, token, 200), 10, "the tracking page")
        hub.stop()
        clock.advance(timedelta(hours=18).total_seconds())  # 06:00 the next day
        if broker_down_at_start:
            broker.stop()  # a clean stop: the broker saves its retained messages
            hub = start_hub(config, clock=clock)  # rolls the day before any connection
            broker.start()
        else:
            broker.restart()
            hub = start_hub(config, clock=clock)
        wait_until(lambda: retained(broker, topics.tickets(topic_office)) == [], 20,
                 "the broker to drop yesterday's tracking topics")
        for token in tokens:
            wait_until(functools.partial(page_is, token, 404), 20, "yesterday's link to be gone")
        assert get(f"{base}/api/v1/tickets/{tokens[0]}").status == 404
    finally:
        hub.stop()
        replica.stop()


def test_a_web_that_missed_the_clearing_still_forgets_yesterdays_tickets_when_the_day_moves_on():
    """A replica whose broker lost its session (and so the clearing messages) while it was away."""
    from web.mirror import Mirror

    mirror = Mirror()
    view = {"v": 1, "day": "2026-11-24", "label": "A001", "service": "A", "state": "waiting",
            "issued_at": "2026-11-24T09:00:00+01:00"}
    ticket_topic = topics.ticket("t-mirror", topics.token_hash("CAIREEYUCULBOGAZDINRYHI6D4"))
    mirror.apply(ticket_topic, json.dumps(view).encode())
    mirror.apply(topics.queue("t-mirror"), json.dumps({"v": 1, "day": "2026-11-24", "at": "2026-11-24T09:01:00+01:00",
                                                      "services": []}).encode())
    assert len(mirror.tickets) == 1
    mirror.apply(topics.queue("t-mirror"), json.dumps({"v": 1, "day": "2026-11-25", "at": "2026-11-25T07:00:00+01:00",
                                                      "services": []}).encode())
    assert mirror.tickets == {}


def test_a_live_hubs_day_is_the_kiosks_day_and_without_it_the_day_never_goes_back():
    from datetime import date

    from kiosk.hubview import HubView

    hub = HubView(max_age_s=180)
    today, ahead = date(2026, 11, 25), date(2026, 12, 25)
    assert hub.day(ahead, ahead, True, mono=0.0) == ahead  # nothing heard: the kiosk's own (synced) clock
    hub.heard(today, live=False, mono=0.0)  # a retained message: maybe a dead hub's last word
    assert hub.day(ahead, ahead, True, mono=1.0) == ahead
    hub.heard(today, live=True, mono=10.0)  # the hub published just now: it decides, backwards too
    assert hub.day(ahead, ahead, True, mono=11.0) == today
    assert hub.day(ahead, ahead, True, mono=10.0 + 181) == ahead  # silent too long: own rules again
