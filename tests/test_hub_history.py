"""The "when to come" history is built from daily aggregates only."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hub.history import WEEKS, build_history


def summary(day: date, wait: float | None, issued: int = 10, sold_out: str | None = None) -> dict[str, Any]:
    return {"day": day.isoformat(), "weekday": day.weekday(),
            "hours": [{"service": "A", "hour": 9, "issued": issued, "called": issued, "no_show": 0, "closed": 0,
                       "wait_min": {"p50": wait, "p90": wait}}],
            "handling": [], "sold_out": {"A": sold_out} if sold_out else {}}


def test_typical_wait_is_the_median_over_the_same_weekday_and_old_days_drop_out():
    today = date(2026, 11, 25)  # a Wednesday
    tuesdays = [today - timedelta(days=1 + 7 * k) for k in range(WEEKS + 2)]
    data = {d: summary(d, wait=10.0 * (k + 1), sold_out="2026-11-24T13:30:00+01:00" if k == 0 else None)
            for k, d in enumerate(tuesdays)}
    history = build_history("office", data, today)
    [cell] = history["cells"]
    assert (cell["weekday"], cell["hour"]) == (1, 9)
    assert cell["typical_wait_min"] == 45  # median of 10, 20, …, 80 (weeks beyond WEEKS are ignored)
    assert history["ran_out"] == {"1": {"days": 1, "of_days": WEEKS, "typical_time": "13:30"}}


def test_no_data_gives_an_empty_history_and_no_personal_data_ever():
    history = build_history("office", {}, date(2026, 11, 25))
    assert history["cells"] == [] and history["ran_out"] == {}
    assert "token" not in repr(build_history("office", {date(2026, 11, 24): summary(date(2026, 11, 24), 5.0)},
                                             date(2026, 11, 25)))
