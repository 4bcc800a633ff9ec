"""Only the hub's clock dates a ticket (issue 11 item 3, review item 4): a kiosk whose clock is a month
ahead or 14 hours behind, printing beside a kiosk with a good clock while the hub is live, neither
blocks a service, jumps the queue nor lands in another hour's statistics (docs/protocol.md §4). Real
mosquitto, a real hub, two real kiosks — one with a wrong wall clock."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devtools.hub_harness import write_hub_config
from devtools.kiosk_harness import FAST_A, press, start_kiosk, write_config
from hub.counter_cli import send_command
from hub.statistics import day_summary
from protocol import topics
from protocol.messages import CommandRequest, DeviceStatus
from tests.fault_harness import OffsetClock, clerk_link, start_hub
from tests.web_harness import wait_until
from web.metrics import hub_samples


def numbering(index: int) -> str:
    return f"kiosk_count = 2\nkiosk_index = {index}"


@pytest.mark.parametrize("offset", [timedelta(days=30), timedelta(hours=-14)], ids=["30-days-ahead", "14-h-behind"])
def test_a_kiosk_with_a_wrong_clock_neither_jumps_the_queue_nor_dates_its_tickets(
        tmp_path, broker, topic_office, recorder_factory, caplog, offset):
    caplog.set_level(logging.INFO)
    rec = recorder_factory(broker, [topics.office_tree(topic_office)])
    hub = start_hub(write_hub_config(tmp_path / "hub", broker.port, topic_office, counters=1), rec=rec)
    clerk = clerk_link(broker.port, topic_office)
    good = start_kiosk(write_config(tmp_path / "k1", broker.port, topic_office, device="kiosk-1",
                                    numbering=numbering(0), services=FAST_A))
    wrong = start_kiosk(write_config(tmp_path / "k2", broker.port, topic_office, device="kiosk-2",
                                     numbering=numbering(1), services=FAST_A), clock=OffsetClock(offset, True))
    start = datetime.now(UTC)
    try:
        assert good.ready.wait(10) and wrong.ready.wait(10)
        for kiosk, device, seq in ((good, "kiosk-1", 1), (wrong, "kiosk-2", 1), (good, "kiosk-1", 2)):
            press(kiosk, "A")
            assert kiosk.wait_handled(seq, 10)
            ack = rec.wait_for_json(topics.kiosk_ack(topic_office, device), lambda a, s=seq: a["seq"] == s)
            assert not ack.get("refused"), "the kiosk follows the live hub's day"
            # the hub's live queue tells the wrong kiosk the office's day (docs/protocol.md §6)
            assert wait_until(lambda: wrong.current_day() == hub.runtimes[topic_office].engine.day, 10)
        end = datetime.now(UTC)
        engine = hub.runtimes[topic_office].engine
        arrival = [t.device for t in engine.waiting()]
        assert arrival == ["kiosk-1", "kiosk-2", "kiosk-1"], "the queue is in the order the hub received them"
        for ticket in engine.tickets.values():
            assert start - timedelta(seconds=1) <= ticket.issued_at <= end, \
                f"{ticket.label} of {ticket.device} dated {ticket.issued_at} by a kiosk's clock"
        labels = [t.label for t in engine.waiting()]
        called = [send_command(clerk, topic_office, "platz-1", CommandRequest(uuid.uuid4().hex, "next", {}),
                               timeout_s=10) for _ in labels]
        assert [a.label if a else None for a in called] == labels, "`next` calls in the order of arrival"
        hours = {row["hour"] for row in day_summary(engine)["hours"]}
        tz = engine.office.timezone
        assert hours <= {start.astimezone(tz).hour, end.astimezone(tz).hour}, "statistics by the hub's clock"
        status = rec.wait_for_json(topics.device_status(topic_office, "hub-test"),
                                   lambda s: "kiosk-2" in s.get("kiosk_clock_skew_s", {}))
        assert abs(status["kiosk_clock_skew_s"]["kiosk-2"] - offset.total_seconds()) < 30
        assert "kiosk-1" not in status["kiosk_clock_skew_s"]
        health = DeviceStatus.from_dict(status).health
        [line] = hub_samples(topic_office, "hub-test", health)["wartemarke_kiosk_clock_skew_seconds"]
        assert line.startswith(f'wartemarke_kiosk_clock_skew_seconds{{office="{topic_office}",device="kiosk-2"}} ')
        assert abs(float(line.split()[-1]) - offset.total_seconds()) < 30
        warnings = [r.message for r in caplog.records if "the clock of kiosk-2" in r.message]
        assert len(warnings) == 1, "logged once per kiosk"
    finally:
        good.stop()
        wrong.stop()
        clerk.stop()
        hub.stop()
