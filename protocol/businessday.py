"""Which business day it is, in the office's time zone — and when a device may move to the next.

The day changes at the office's reset time, which must lie outside the 02:00–03:00 hour that
daylight-saving time skips or repeats. While the hub (the office's authority, going by its own clock)
is live, a device uses the hub's day. Without it, a device never moves its day backwards and moves
forward only with a synced clock or when the hub's retained state already says it is that day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The keys of the office's weekdays, Monday first (`date.weekday()` indexes them): `info.hours`, hub.toml.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def reset_time_problem(reset: time) -> str | None:
    """Why `reset` cannot be the daily reset (None: it can); the config readers' check of `day_reset`."""
    if time(2, 0) <= reset < time(3, 0):
        return "the daily reset must lie outside 02:00–03:00 (the DST change-over hour)"
    return None


def local_business_day(now: datetime, tz: ZoneInfo, reset: time) -> date:
    """The business day that `now` belongs to: times before the reset count to the previous day."""
    local = now.astimezone(tz)
    day = local.date()
    if local.time() < reset:
        day -= timedelta(days=1)
    return day


def next_business_day(stored: date | None, candidate: date, clock_synced: bool, hub_day: date | None,
                      live_hub_day: date | None = None) -> date:
    """The day a device should use now.

    stored: the device's persisted day (None on first start); candidate: what its own clock says;
    hub_day: the newest `day` seen from the hub's retained messages, if any; live_hub_day: the day of a
    message the hub published just now (not a stored retained one). While the hub is live, its day is
    the day — backwards too: the hub refuses events of any other day, whatever a device's clock says.
    """
    if live_hub_day is not None:
        return live_hub_day
    if stored is None:
        if hub_day is None:
            return candidate
        return max(candidate, hub_day) if clock_synced else hub_day
    best = stored
    if clock_synced and candidate > best:
        best = candidate
    if hub_day is not None and hub_day > best:
        best = hub_day
    return best
