"""What the hub republishes: a tracking view only when what its page shows changes."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

from devtools.broker import Recorder
from devtools.hub_harness import issued, payload, write_hub_config
from hub.app import Hub
from hub.config import load_hub_config
from hub.counter_cli import send_command
from hub.views import as_shown
from process.clock import FakeClock
from protocol import topics
from protocol.messages import CommandRequest, TicketView
from tests.fault_harness import clerk_link

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def published_views(rec: Recorder, office: str) -> dict[str, list[dict[str, object]]]:
    views: dict[str, list[dict[str, object]]] = {}
    for record in rec.records(topics.tickets(office)):
        views.setdefault(record.topic, []).append(TicketView.from_dict(json.loads(record.payload)).to_dict())
    return views


def test_a_view_is_republished_when_its_page_would_change_and_only_then(tmp_path, shared_broker, recorder_factory,
                                                                       topic_office):
    """Time passing moves every waiting ticket's forecast to the minute; the page shows the range rounded to
    5 minutes (or the median), so most of those moves change nothing a citizen sees."""
    config = write_hub_config(tmp_path, shared_broker.port, topic_office, counters=1, tick_s=60)
    status = topics.device_status(topic_office, "hub-test")
    rec = recorder_factory(shared_broker, [topics.tickets(topic_office), status])
    clock = FakeClock(START)
    hub = Hub(load_hub_config(config), clock)
    hub.start()
    clerk = clerk_link(shared_broker.port, topic_office)
    try:
        rec.wait_for_json(status, lambda s: s["online"])
        day = hub.runtimes[topic_office].engine.day
        for n in range(1, 7):
            rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(day, f"A{n:03d}", n, at=START)))
        answer = send_command(clerk, topic_office, "platz-1", CommandRequest("next-0001", "next"))
        assert answer is not None and answer.ok  # A001 is served: the other five wait for that case to end
        for _ in range(40):  # twenty minutes, in steps of half a minute
            clock.advance(30)
            hub.tick()
            mark = rec.mark()
            hub.link.publish_status()  # after everything the tick published (one connection, QoS 1: in order)
            rec.wait_for_json(status, since=mark)
    finally:
        clerk.stop()
        hub.stop()
    views = published_views(rec, topic_office)
    assert len(views) == 6
    republished = 0
    for history in views.values():
        for before, after in itertools.pairwise(history):
            assert as_shown(before) != as_shown(after), f"republished without a visible change: {before} → {after}"
            republished += 1
    assert republished >= 6, "the views still follow the forecast as it becomes visible"
    waits = [v["expected_wait_min"] for history in views.values() for v in history if v["state"] == "waiting"]
    assert len(set(waits)) > republished // 2  # the published figures are the forecast's own, to the minute
    assert START + timedelta(minutes=20) == clock.now()
