"""The office's "when to come" history: recent weeks by weekday × hour, from the daily aggregates.

Citizens use it to pick a quiet office and hour; it is published retained on `…/history` and as open
data by the web. Built only from aggregates (hub/statistics.py), so it holds no per-ticket data.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime
from typing import Any

WEEKS = 8


def build_history(office: str, summaries: dict[date, dict[str, Any]], today: date) -> dict[str, Any]:
    """Typical wait (median of the days' median waits) per weekday and hour, and when tickets ran out."""
    waits: dict[tuple[int, int], list[float]] = defaultdict(list)
    issued: dict[tuple[int, int], list[int]] = defaultdict(list)
    sold_out: dict[int, list[int]] = defaultdict(list)
    days_seen: dict[int, int] = defaultdict(int)
    for day, summary in summaries.items():
        if (today - day).days > WEEKS * 7 or day >= today:
            continue
        weekday = day.weekday()
        days_seen[weekday] += 1
        per_hour: dict[int, int] = defaultdict(int)
        for row in summary.get("hours", []):
            per_hour[row["hour"]] += row["issued"]
            if row["wait_min"]["p50"] is not None:
                waits[(weekday, row["hour"])].append(row["wait_min"]["p50"])
        for hour, count in per_hour.items():
            issued[(weekday, hour)].append(count)
        times = [datetime.fromisoformat(t) for t in summary.get("sold_out", {}).values()]
        if times:
            first = min(times)
            sold_out[weekday].append(first.hour * 60 + first.minute)
    cells = [{"weekday": wd, "hour": hour, "typical_wait_min": round(statistics.median(values)),
              "tickets_per_day": round(statistics.mean(issued.get((wd, hour), [0])), 1)}
             for (wd, hour), values in sorted(waits.items())]
    ran_out = {str(wd): {"days": len(minutes), "of_days": days_seen[wd],
                         "typical_time": f"{int(statistics.median(minutes)) // 60:02d}:"
                                         f"{int(statistics.median(minutes)) % 60:02d}"}
               for wd, minutes in sorted(sold_out.items())}
    return {"office": office, "weeks": WEEKS, "until": today.isoformat(), "cells": cells, "ran_out": ran_out}
