"""The hub checks its own wait estimates (issue 14): what each ticket was told at issue is recorded
durably, today's figures per service go out with `queue`, the web exports them on /metrics, and the
day's summary keeps them for `wartemarke-hub stats --calibration`."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from devtools.broker import free_port
from devtools.hub_harness import issued, write_hub_config
from hub.calibration import calibration, todays_calibration
from hub.config import load_hub_config
from hub.engine import OfficeEngine, ToldWait
from protocol.messages import WaitCalibration
from tests.web_harness import WebHub, get, wait_until, write_web_hub_config

BERLIN = ZoneInfo("Europe/Berlin")


def told(wait: float, low: float, high: float) -> ToldWait:
    return ToldWait("A", wait, low, high)


def test_the_figures_of_told_against_actual_waits() -> None:
    pairs = [(told(20, 14, 28), 25.0), (told(30, 22, 40), 18.0), (told(2, 0, 4), 1.0), (told(12, 9, 16), 8.0)]
    c = calibration(pairs)
    assert c.called == 4
    assert c.median_abs_error_min == pytest.approx(4.5)  # |errors| 5, 12, 1, 4
    assert c.bias_min == pytest.approx((-5 + 12 + 1 + 4) / 4)
    assert c.called_before_share == pytest.approx(2 / 3)  # of the three told ≥ 5 min, two came earlier
    assert c.late_share == pytest.approx(1 / 4)  # one told 12 min too much
    assert c.below_range_share == pytest.approx(2 / 3)  # 18 < 22 and 8 < 9
    assert calibration([]).called == 0 and calibration([]).bias_min is None


def test_todays_calibration_uses_the_service_at_issue_and_only_called_tickets(tmp_path) -> None:
    config = load_hub_config(write_hub_config(tmp_path, 1883, "t-cal"))
    engine = OfficeEngine(config.offices[0], datetime(2026, 11, 24).date())
    clock = datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)
    for n in (1, 2):
        assert engine.ingest(issued(engine.day, f"A00{n}", n, at=clock), clock)
    first, second = (t.id for t in engine.waiting())
    assert engine.record_told(first, told(10, 6, 15)) and engine.record_told(second, told(20, 14, 28))
    assert not engine.record_told(first, told(99, 99, 99))  # what was told at issue stays
    assert not engine.record_told("no-such-ticket", told(1, 1, 1))
    engine.counter_command("platz-1", "next", {}, "r1", clock.replace(minute=12))
    figures = todays_calibration(engine)
    assert figures["A"].called == 1 and figures["A"].bias_min == pytest.approx(-2.0)
    assert figures["P"].called == 0


def test_the_told_waits_are_checked_on_metrics_and_survive_a_restart(tmp_path, shared_broker, topic_office):
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port())
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        events = [web.issue("A") for _ in range(3)]
        engine = web.hub.runtimes[topic_office].engine
        # the tracking API gives the range the page shows, around the told wait
        view = get(f"{web.url}/api/v1/tickets/{events[2].token}").json()
        low, high = view["wait_range_min"]
        assert low <= view["expected_wait_min"] <= high
        told_at_issue = wait_until(lambda: engine.told.get(events[0].id), what="A001's told wait on record")
        assert web.command("platz-1", "resume").ok and web.command("platz-1", "next").label == "A001"

        def published() -> WaitCalibration | None:
            queue = web.mirror.office(topic_office).queue  # parsed: on the contract
            a = queue.service("A") if queue is not None else None
            return a.calibration if a is not None else None

        figures = wait_until(published, what="the calibration in queue")
        ticket = engine.tickets[events[0].id]
        assert ticket.called_at is not None
        error = told_at_issue.wait_min - (ticket.called_at - ticket.issued_at).total_seconds() / 60
        assert figures.called == 1
        assert figures.bias_min == pytest.approx(round(error, 1))
        assert figures.median_abs_error_min == pytest.approx(round(abs(error), 1))
        metrics = get(f"{web.url}/metrics").text
        labels = f'office="{topic_office}",service="A"'
        assert f"wartemarke_eta_called_tickets{{{labels}}} 1" in metrics
        found = re.search(rf"^wartemarke_eta_bias_minutes\{{{re.escape(labels)}\}} (\S+)$", metrics, re.M)
        assert found is not None and float(found.group(1)) == pytest.approx(round(error, 1))
        assert "# TYPE wartemarke_eta_called_before_told_ratio gauge" in metrics
        before = dict(engine.told)
        assert len(before) == 3
    finally:
        web.stop()
    again = WebHub.start(config, topic_office, shared_broker.port)
    try:
        assert again.hub.runtimes[topic_office].engine.told == before  # replayed from the input log
    finally:
        again.stop()
