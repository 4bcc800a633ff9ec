"""The "when to come" history: built from the hub's own daily aggregates, published as the contract's
`History`, with the office's local hours and times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from devtools.hub_harness import issued, payload, write_hub_config
from hub.app import Hub
from hub.config import load_hub_config
from hub.engine import OfficeEngine
from hub.history import WEEKS, build_history
from hub.office import OfficeDef
from hub.statistics import day_summary
from process.clock import FakeClock
from protocol import topics
from protocol.fields import decode_object, encode_object
from protocol.messages import History, HistoryCell, RanOut

BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY = date(2026, 11, 24)  # winter: Berlin is UTC+1


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def test_the_time_tickets_ran_out_is_the_offices_local_time(tmp_path, shared_broker, recorder_factory,
                                                            topic_office):
    """Service A has a quota of two tickets; the second one, at 13:30 in Berlin (12:30 UTC), used it up.
    The next morning the hub publishes the history: tickets ran out on Tuesdays at 13:30, not 12:30."""
    config = write_hub_config(tmp_path, shared_broker.port, topic_office, tick_s=0.05)
    config.write_text(config.read_text("utf-8").replace("prior_handling_min = 10", "prior_handling_min = 10\n"
                                                        "daily_quota = 2"), encoding="utf-8")
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    clock = FakeClock(local(TUESDAY, 13, 20).astimezone(UTC))
    hub = Hub(load_hub_config(config), clock)
    hub.start()
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(TUESDAY, "A001", 1, at=clock.now())))
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 1)
        clock.set(local(TUESDAY, 13, 30).astimezone(UTC))
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"), payload(issued(TUESDAY, "A002", 2, at=clock.now())))
        rec.wait_for_json(topics.queue(topic_office), lambda q: q["services"][0]["reason"] == "quota")
        assert hub.runtimes[topic_office].engine.sold_out_at["A"] == local(TUESDAY, 13, 30)
        mark = rec.mark()
        clock.set(local(TUESDAY + timedelta(days=1), 9, 0).astimezone(UTC))  # the tick ends the day
        published = rec.wait_for_json(topics.history(topic_office), lambda h: h["until"] == "2026-11-25", since=mark)
    finally:
        hub.stop()
    history = History.from_dict(published)
    assert history.ran_out == {TUESDAY.weekday(): RanOut(days=1, of_days=1, typical_time=time(13, 30))}
    assert published["ran_out"] == {"1": {"days": 1, "of_days": 1, "typical_time": "13:30"}}
    assert history.to_dict() == {k: v for k, v in published.items() if k != "v"}  # the contract's own type


def a_tuesday(office: OfficeDef, day: date, wait_min: float) -> OfficeEngine:
    """A day with one ticket of A, issued at 9:00 local and called after `wait_min` minutes."""
    engine = OfficeEngine(office, day)
    event = issued(day, "A001", 1, at=local(day, 9).astimezone(UTC))
    engine.ingest(event, event.issued_at)
    engine.counter_command("platz-1", "next", {}, "req-00001", local(day, 9) + timedelta(minutes=wait_min))
    return engine


def an_office(tmp_path: Path) -> OfficeDef:
    return load_hub_config(write_hub_config(tmp_path, 1883, "office")).offices[0]


def test_typical_wait_is_the_median_over_the_same_weekday_and_old_days_drop_out(tmp_path):
    office, today = an_office(tmp_path), TUESDAY + timedelta(days=1)  # a Wednesday
    tuesdays = [TUESDAY - timedelta(days=7 * k) for k in range(WEEKS + 2)]
    summaries = {d: day_summary(a_tuesday(office, d, wait_min=10.0 * (k + 1))) for k, d in enumerate(tuesdays)}
    history = build_history("office", summaries, today, BERLIN)
    # the median of 10, 20, …, 80 (weeks beyond WEEKS are ignored), in the local hour the tickets were issued
    assert history.cells == (HistoryCell(weekday=1, hour=9, typical_wait_min=45, tickets_per_day=1.0),)
    assert history.ran_out == {} and history.until == today
    assert History.from_dict(decode_object(encode_object(history.to_dict()))) == history


def test_no_data_gives_an_empty_history_and_no_personal_data_ever(tmp_path):
    history = build_history("office", {}, TUESDAY, BERLIN)
    assert history.cells == () and history.ran_out == {}
    summary = day_summary(a_tuesday(an_office(tmp_path), TUESDAY, 5.0))
    published = repr(build_history("office", {TUESDAY: summary}, TUESDAY + timedelta(days=1), BERLIN).to_dict())
    assert "token" not in published and "A001" not in published
