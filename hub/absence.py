"""When a paused counter is back: pause and absence lengths learned from the day.

A clerk who pauses during a shift is back after a pause — but what a pause is differs by office and by
day (a file fetched from the archive, a phone call, a registry system that is down), and a clerk away
far longer than any pause today is not "back in 30 minutes": they may have gone home sick while the
roster still lists them. So the estimate learns from the day:

- **what counts**: only time away *during the counter's shifts* (hub/office.py `hours`) — a lunch break
  in the roster is no pause, but coming back 10 minutes late from it is 10 minutes of one;
- **the curve**: a Kaplan–Meier curve (hub/survival.py) over today's ended pauses (exact), the pauses
  still going on at every counter (censored: they have lasted *at least* this long — five clerks away
  together is itself news), and a prior of pauses as offices know them (`PRIOR_PAUSES`);
- **the tail**: beyond the longest pause seen, the time still to come grows with the time already gone
  (Lindy: the median of what is still to come equals what is gone): a clerk away for an hour is
  expected back after another hour, not in a few minutes, and after two hours, not before four.

`back_in()` gives the median and the 10 % / 90 % quantiles of the minutes until the clerk is back;
the replay (hub/replay.py) starts the counter's lane at the median and carries the spread into the
range it tells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.engine import OfficeEngine
from hub.survival import Survival, Tail, kaplan_meier

PRIOR_PAUSES = (5.0, 10.0, 15.0, 20.0, 30.0)  # minutes: unplanned pauses as offices know them, one each
MIN_PAUSE = 0.5  # minutes away during a shift below this are no pause (a clerk logging out at its end)
TOGETHER = timedelta(minutes=5)  # clerks who stop this close together stop for one reason


@dataclass(frozen=True)
class BackIn:
    """Minutes until a paused clerk is back: median and the 10 % / 90 % quantiles."""

    median: float
    low: float
    high: float


def away_on_shift(engine: OfficeEngine, counter_id: str, start: datetime, end: datetime) -> float:
    """Minutes of [start, end) that fall into the counter's shifts today."""
    counter = engine.office.counter(counter_id)
    if counter is None or end <= start:
        return 0.0
    total = 0.0
    for a, b in engine.office.intervals_on(engine.day, counter.hours):
        overlap = (min(b, end) - max(a, start)).total_seconds() / 60
        total += max(overlap, 0.0)
    return total


def pause_curve(engine: OfficeEngine, now: datetime) -> Survival:
    """Today's pause lengths (on-shift minutes), ended and ongoing, with the prior. Clerks who stop
    together (within `TOGETHER` of each other: a system down, a staff meeting) stop for one reason:
    together they count as one pause."""
    found: list[tuple[datetime, float, bool]] = []  # (start, on-shift minutes, ended)
    for pause in engine.pauses:
        found.append((pause.start, away_on_shift(engine, pause.counter, pause.start, pause.end), True))
    for state in engine.counters.values():
        if state.paused and state.paused_at is not None:
            found.append((state.paused_at, away_on_shift(engine, state.id, state.paused_at, now), False))
    exact = [(x, 1.0) for x in PRIOR_PAUSES]
    censored: list[tuple[float, float]] = []
    for start, minutes, ended in found:
        if minutes < MIN_PAUSE:
            continue
        together = sum(abs(other - start) <= TOGETHER and m >= MIN_PAUSE for other, m, _ in found)
        (exact if ended else censored).append((minutes, 1.0 / together))
    longest = max(x for x, _ in exact + censored)
    return kaplan_meier(exact, censored, Tail.LINDY, scale=longest)


def back_in(curve: Survival, away_min: float) -> BackIn:
    """When a clerk away for `away_min` on-shift minutes so far is back (see the module docstring)."""
    return BackIn(curve.residual_quantile(away_min, 0.5), curve.residual_quantile(away_min, 0.1),
                  curve.residual_quantile(away_min, 0.9))
