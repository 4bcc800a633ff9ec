"""Wait estimates and ticket availability, from what the office is doing now.

The estimator replays the office's near future (hub/replay.py): the counters expected to work take the
waiting tickets in exactly the order `next` would (hub/policy.py), each ticket occupying its counter for
the expected cost of its call, until every waiting ticket has its call time. What it knows that
"people ahead × mean ÷ clerks" does not:

- **Which counters will work, and when.** Counters whose clerk is logged in, plus counters whose
  configured shift has not started yet (a clerk more than `LOGIN_GRACE` late for a shift is not counted
  on for it). A paused counter comes back at its next shift — or, when its clerk is away during a
  shift, after a pause as long as today's pauses are, and after much longer when the clerk has been
  away far beyond any pause today (hub/absence.py). No counter starts a ticket after its shift ends,
  and a counter that serves only pickups does not help the general queue.
- **Handling times of today, per service** (hub/handling.py): distribution-free, from today's cases —
  the ones still at the counters counted as lasting *at least* as long as they have — recent ones
  weighing more, blended with a prior that weighs most early in the day (the configured one, or the
  office's own history for this weekday and hour when the hub passes it in: hub/priors.py).
- **The tickets being served.** When the busy counters will be free follows from how long each has
  been serving, and the first of five busy counters is free much sooner than any one of them on
  average (the order statistics of their free times).
- **People who leave** (hub/leaving.py): a call to someone who has gone costs the counter
  `no_show_cost_min` instead of a case; the chance of that grows with the wait, learned from today's
  calls.
- **The fast lane.** A service a counter weighs higher than another (pickups, weight 3) overtakes
  tickets already waiting, including tickets not issued yet: the replay adds their expected arrivals.

What it tells is the **median** call time, not the mean — half of the people are called earlier and
half later, the errors people see are as small as they can be — and a **range**, the 10 % and 90 %
quantiles: from the pooled cumulants of the cases before each ticket, the busy counters' and absent
clerks' spread and the uncertainty of today's pace (hub/replay.py). The range is what the tracking
page and the ticket show ("ca. 25–40 Min.") and what a "your turn is near" message would start from.

Pure: no clock reads and no I/O; every function takes `now`. `forecast()` runs after every input in a
hub: one replay for the waiting tickets plus one per service for a new ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.absence import away_on_shift, back_in, pause_curve
from hub.engine import OfficeEngine, Ticket
from hub.handling import HandlingModel, HandlingPrior, handling_model
from hub.leaving import Leaving, leaving_model
from hub.office import CounterDef
from hub.priors import OfficePriors
from hub.replay import (
    EARLY_ISSUE,
    Z90,
    CostFn,
    Lane,
    arrival_rates,
    first_free,
    overtaking,
    simulate,
)
from hub.survival import Survival

LOGIN_GRACE = timedelta(minutes=15)  # a clerk this late for a shift is not expected for it any more


@dataclass(frozen=True)
class Forecast:
    """When each waiting ticket is expected to be called, and what a new ticket would wait."""

    start: dict[str, datetime | None]  # ticket id → median call time (None: not before closing)
    ahead: dict[str, int]
    new_wait_min: dict[str, float | None]  # service → median wait of a ticket issued now
    ranges: dict[str, tuple[datetime, datetime]]  # ticket id → 10 % and 90 % quantiles of its call time
    new_range_min: dict[str, tuple[float, float] | None]  # service → 10 % / 90 % quantiles of a new wait


def _lanes(engine: OfficeEngine, now: datetime, models: dict[str, HandlingModel], pauses: Survival) -> list[Lane]:
    """The counters expected to work from now on, each with when it can start its next ticket."""
    office, day = engine.office, engine.day
    lanes: list[Lane] = []
    absent: list[tuple[CounterDef, list[tuple[float, float]]]] = []
    busy: dict[tuple[str, ...], list[tuple[int, HandlingModel, float]]] = {}  # by counter profile
    grace = LOGIN_GRACE.total_seconds() / 60
    for counter in office.counters:
        shifts = [(_minutes_from(now, s), _minutes_from(now, e)) for s, e in office.intervals_on(day, counter.hours)
                  if e > now]
        state = engine.counters[counter.id]
        if not state.seen:
            # Nobody logged in here today: expected at a shift that has not started (or just started).
            coming = [(s, e) for s, e in shifts if s + grace >= 0.0]
            if coming:
                lanes.append(Lane(counter, 0.0, coming))
            else:
                absent.append((counter, shifts))
            continue
        lane = Lane(counter, 0.0, shifts)
        if state.paused:
            away = away_on_shift(engine, counter.id, state.paused_at or now, now)
            if away > 0.0 or any(s <= 0.0 < e for s, e in shifts):  # away while the roster expects them
                back = back_in(pauses, away)
                lane.anchor = back.median
                lane.anchor_var = ((back.high - back.low) / (2 * Z90)) ** 2
        elif state.current is not None:
            ticket = engine.tickets[state.current]
            model = models.get(ticket.service) or handling_model(engine, ticket.service, now)
            elapsed = (now - (ticket.called_at or now)).total_seconds() / 60
            if shifts:  # a clerk finishing the last ticket of the day takes no other: leave them out
                busy.setdefault(counter.services, []).append((len(lanes), model, elapsed))
        lanes.append(lane)
    for group in busy.values():
        group.sort(key=lambda b: b[1].remaining(b[2]))
        for (i, _, _), (median, low, high) in zip(group, first_free([(m, e) for _, m, e in group]), strict=True):
            lanes[i].anchor = median
            lanes[i].anchor_var = ((high - low) / (2 * Z90)) ** 2
    # A service no expected counter serves: count on the configured ones anyway rather than on nobody.
    covered = {s for lane in lanes for s in lane.counter.services}
    lanes += [Lane(c, 0.0, shifts) for c, shifts in absent if not covered.issuperset(c.services)]
    return lanes


def _minutes_from(now: datetime, at: datetime) -> float:
    return (at - now).total_seconds() / 60


def _cost(models: dict[str, HandlingModel], leaving: Leaving, no_show_cost: float) -> CostFn:
    """What a call of a service costs a counter after the ticket waited so long (hub/replay.py)."""
    table: dict[tuple[str, float], tuple[float, float, float, float]] = {}

    def cost(service: str, waited_min: float) -> tuple[float, float, float, float]:
        p = leaving.share(waited_min)
        found = table.get((service, p))
        if found is None:
            m = models[service]
            mean, k2, k3 = m.cost(p, no_show_cost)
            found = table[(service, p)] = (mean, k2, k3, (1.0 - p) * m.mean * m.rel_se)
        return found

    return cost


def _prior(engine: OfficeEngine, priors: OfficePriors | None, now: datetime, service: str) -> HandlingPrior | None:
    if priors is None:
        return None
    return priors.handling(engine.day.weekday(), now.astimezone(engine.office.timezone).hour, service)


def forecast(engine: OfficeEngine, now: datetime, priors: OfficePriors | None = None) -> Forecast:
    """The forecast for the waiting tickets and for a new ticket of each service (module docstring);
    `priors`: the office's own history, when the hub has some."""
    queue = engine.waiting()
    models = {s.id: handling_model(engine, s.id, now, _prior(engine, priors, now, s.id))
              for s in engine.office.services}
    cost = _cost(models, leaving_model(engine), engine.office.no_show_cost_min)
    rates = arrival_rates(engine, now, overtaking(engine))
    lanes = _lanes(engine, now, models, pause_curve(engine, now))
    told = simulate(engine, now, queue, lanes, cost, rates)
    start = {tid: None if t is None else t.median for tid, t in told.items()}
    ranges = {tid: (t.low, t.high) for tid, t in told.items() if t is not None}
    never = datetime.max.replace(tzinfo=now.tzinfo)
    order = sorted(queue, key=lambda t: (start[t.id] or never, t.queued_at))
    ahead = {t.id: i for i, t in enumerate(order)}
    new_wait: dict[str, float | None] = {}
    new_range: dict[str, tuple[float, float] | None] = {}
    for service in engine.office.services:
        probe = Ticket("~probe", "~", service.id, 0, None, now, now, "~")
        at = simulate(engine, now, [*queue, probe], lanes, cost, rates, only=probe.id)[probe.id]
        new_wait[service.id] = None if at is None else _minutes(at.median, now)
        new_range[service.id] = None if at is None else (_minutes(at.low, now), _minutes(at.high, now))
    return Forecast(start, ahead, new_wait, ranges, new_range)


def _minutes(at: datetime, now: datetime) -> float:
    return max((at - now).total_seconds() / 60, 0.0)


def availability(engine: OfficeEngine, fc: Forecast, now: datetime) -> dict[str, tuple[bool, str | None]]:
    """Per service: can a ticket issued now still be served today? (issuing, reason when not)."""
    office, day = engine.office, engine.day
    intervals = office.intervals_on(day)
    closing = office.closing_time(day)
    result: dict[str, tuple[bool, str | None]] = {}
    for service in office.services:
        if closing is None or engine.closed_out or not any(s - EARLY_ISSUE <= now < e for s, e in intervals):
            result[service.id] = (False, "closed")
        elif service.id in engine.closed_services:
            result[service.id] = (False, "closed_by_office")
        elif service.daily_quota is not None and engine.issued_count.get(service.id, 0) >= service.daily_quota:
            result[service.id] = (False, "quota")
        else:
            wait = fc.new_wait_min[service.id]
            latest = closing - timedelta(minutes=office.closing_margin_min)
            ok = wait is not None and now + timedelta(minutes=wait) <= latest
            result[service.id] = (True, None) if ok else (False, "capacity")
    return result


def expected_wait_min(fc: Forecast, ticket: Ticket, now: datetime) -> int | None:
    """The median wait of a waiting ticket, whole minutes (None: not before closing)."""
    at = fc.start.get(ticket.id)
    return None if at is None else round(_minutes(at, now))


def wait_range_min(fc: Forecast, ticket: Ticket, now: datetime) -> tuple[int, int] | None:
    """The 10 % and 90 % quantiles of a waiting ticket's wait, whole minutes (None: no forecast)."""
    found = fc.ranges.get(ticket.id)
    return None if found is None else (round(_minutes(found[0], now)), round(_minutes(found[1], now)))
