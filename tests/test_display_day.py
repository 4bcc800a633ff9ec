"""A display decides "today" by the live hub's day (docs/protocol.md §6), not by its own calendar: a
display whose clock is a day behind still shows the hub's calls (review of issues 10/11, item 6). Real
mosquitto, a real hub, the display's real loop with a wrong wall clock."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from devtools.hub_harness import issued, payload, write_hub_config
from hub.counter_cli import send_command
from protocol import topics
from protocol.messages import CommandRequest
from tests.display_harness import DisplayThread, write_display_config
from tests.fault_harness import OffsetClock, clerk_link, start_hub


@pytest.mark.parametrize("offset", [timedelta(days=-1), timedelta(days=1)], ids=["a-day-behind", "a-day-ahead"])
def test_a_display_with_a_wrong_clock_shows_the_live_hubs_calls(tmp_path, broker, topic_office, recorder_factory,
                                                                 offset):
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = start_hub(write_hub_config(tmp_path / "hub", broker.port, topic_office, counters=1), rec=rec)
    clerk = clerk_link(broker.port, topic_office)
    display = DisplayThread(write_display_config(tmp_path / "display", broker.port, topic_office),
                            clock=OffsetClock(offset, True))
    try:
        day = hub.runtimes[topic_office].engine.day
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(day, "A001", 1)))
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(day, "A002", 2)))
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 2)
        first = send_command(clerk, topic_office, "platz-1", CommandRequest(uuid.uuid4().hex, "next", {}), 10)
        assert first is not None and first.label == "A001"
        rec.wait_for_json(topics.calls(topic_office), lambda c: c["seq"] == 1)
        app = display.start()  # the retained calls of the hub's day: shown although the clock says otherwise
        assert display.wait(lambda a: a.board.calls_seq == 1 and a.board.queue is not None, 15), \
            "the display ignored the live hub's calls and queue"
        assert app.board.calls[0].label == "A001" and app.last_stale is None
        second = send_command(clerk, topic_office, "platz-1", CommandRequest(uuid.uuid4().hex, "next", {}), 10)
        assert second is not None and second.label == "A002"
        assert display.wait(lambda a: a.board.calls_seq == 2, 15)  # a live call is shown and announced
        assert [c.label for c in app.board.calls][:2] == ["A002", "A001"]
        assert display.wait(lambda a: len(display.announcer.announced) == 1, 15), app.board.pending
        assert [a.label for a in display.announcer.announced] == ["A002"]
    finally:
        display.stop()
        clerk.stop()
        hub.stop()
