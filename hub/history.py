"""The office's "when to come" history: recent weeks by weekday × hour, from the daily aggregates.

Citizens use it to pick a quiet office and hour; it is published retained on `…/history` and as open
data by the web. Built only from aggregates (hub/statistics.py), so it holds no per-ticket data. Hours
and times are the office's local ones: the aggregates keep hours local, and the time a service ran out
(stored as the hub's clock gave it, in UTC) is converted here.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from protocol.messages import History, HistoryCell, RanOut

WEEKS = 8


def build_history(office: str, summaries: dict[date, dict[str, Any]], today: date, tz: ZoneInfo) -> History:
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
            first = min(times).astimezone(tz)
            sold_out[weekday].append(first.hour * 60 + first.minute)
    cells = tuple(HistoryCell(wd, hour, round(statistics.median(values)),
                              round(float(statistics.mean(issued.get((wd, hour), [0]))), 1))
                  for (wd, hour), values in sorted(waits.items()))
    ran_out = {wd: RanOut(len(minutes), days_seen[wd], _clock(statistics.median(minutes)))
               for wd, minutes in sorted(sold_out.items())}
    return History(office=office, weeks=WEEKS, until=today, cells=cells, ran_out=ran_out)


def _clock(minutes: float) -> time:
    return time(int(minutes) // 60, int(minutes) % 60)
