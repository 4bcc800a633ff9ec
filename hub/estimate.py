"""Wait estimates and ticket availability, from what the office is doing now.

The estimator replays the office's near future: the counters that are staffed now (or, before anyone
has logged in, all configured counters) take the waiting tickets in exactly the order `next` would
(hub/policy.py), each service taking the mean of its recent handling times (blended with the
configured prior, so the first tickets of a day get a sensible estimate), a counter busy with a ticket
becoming free when that ticket is expected to be done, and no counter starting a ticket after its
shift ends. Unlike "people ahead × mean ÷ clerks", it knows which counters serve which service, that
pickups are fast and go through the fast lane, and that the office is slower today than usual.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.engine import OfficeEngine, Ticket
from hub.office import CounterDef
from hub.policy import pick_service

RECENT = 12  # handling times per service that count as "now"
PRIOR_WEIGHT = 3.0  # the configured prior counts like this many observed tickets
OUTLIER_FACTOR = 4.0  # a ticket that took longer than 4× the prior counts as 4× (a forgotten "done")
EARLY_ISSUE = timedelta(minutes=30)  # kiosks issue tickets this long before opening
TYPICAL_PAUSE = timedelta(minutes=30)  # a paused counter is expected back after this long


def mean_handling(engine: OfficeEngine, service: str) -> float:
    """Recent mean handling minutes of a service, blended with its configured prior."""
    defn = engine.office.service(service)
    prior = defn.prior_handling_min if defn else 10.0
    recent = [min(h.minutes, prior * OUTLIER_FACTOR) for h in reversed(engine.handled)
              if h.service == service and not h.no_show][:RECENT]
    return (prior * PRIOR_WEIGHT + sum(recent)) / (PRIOR_WEIGHT + len(recent))


def no_show_overhead(engine: OfficeEngine) -> float:
    """Expected minutes lost per call to people who left: today's no-show share × its cost."""
    shows = engine.handled[-100:]
    share = (sum(h.no_show for h in shows) + 0.05 * 10) / (len(shows) + 10)
    return share * engine.office.no_show_cost_min


@dataclass(frozen=True)
class Forecast:
    """When each waiting ticket is expected to be called, and what a new ticket would wait."""

    start: dict[str, datetime | None]  # ticket id → expected call time (None: not before closing)
    ahead: dict[str, int]
    new_wait_min: dict[str, float | None]  # service → expected wait of a ticket issued now


@dataclass
class _Lane:
    counter: CounterDef
    free_at: datetime
    shifts: list[tuple[datetime, datetime]]  # the counter's remaining shifts today, in order

    def next_start(self) -> datetime | None:
        """When the counter can start its next ticket, skipping breaks; None when its day is over."""
        while self.shifts:
            start, end = self.shifts[0]
            if self.free_at < end:
                return max(self.free_at, start)
            self.shifts.pop(0)
        return None


def _staffed(engine: OfficeEngine) -> list[CounterDef]:
    """Counters expected to work: all of them before anyone logged in today; later those logged in
    (paused ones come back), plus unseen ones for services nobody logged in covers."""
    counters = engine.office.counters
    seen = [c for c in counters if engine.counters[c.id].seen]
    if not seen:
        return list(counters)
    covered = {s for c in seen for s in c.services}
    return seen + [c for c in counters if not engine.counters[c.id].seen and not covered.issuperset(c.services)]


def _lanes(engine: OfficeEngine, now: datetime) -> list[_Lane]:
    office = engine.office
    lanes = []
    for counter in _staffed(engine):
        shifts = [(s, e) for s, e in office.intervals_on(engine.day, counter.hours) if e > now]
        state = engine.counters[counter.id]
        free_at = now
        if state.paused and state.last_active is not None:
            free_at = max(now, state.last_active + TYPICAL_PAUSE)
        elif state.current is not None:
            ticket = engine.tickets[state.current]
            expected = mean_handling(engine, ticket.service)
            elapsed = (now - (ticket.called_at or now)).total_seconds() / 60
            free_at = now + timedelta(minutes=max(expected - elapsed, 0.15 * expected))
        lanes.append(_Lane(counter, free_at, shifts))
    return lanes


def _simulate(engine: OfficeEngine, now: datetime, queue: list[Ticket]) -> dict[str, datetime | None]:
    """Expected call time of every ticket in `queue` (in queue order), by replaying `next`."""
    means = {s.id: mean_handling(engine, s.id) for s in engine.office.services}
    overhead = no_show_overhead(engine)
    pending: dict[str, list[Ticket]] = {}
    for ticket in queue:
        pending.setdefault(ticket.service, []).append(ticket)
    heads = {service: 0 for service in pending}
    start: dict[str, datetime | None] = {t.id: None for t in queue}
    heap: list[tuple[datetime, int, _Lane]] = []
    for i, lane in enumerate(_lanes(engine, now)):
        first = lane.next_start()
        if first is not None:
            heap.append((first, i, lane))
    heapq.heapify(heap)
    while heap:
        at, i, lane = heapq.heappop(heap)
        offer = {s: pending[s][heads[s]].queued_at for s in lane.counter.services
                 if s in pending and heads[s] < len(pending[s])}
        service = pick_service(lane.counter, offer, at)
        if service is None:
            continue
        ticket = pending[service][heads[service]]
        heads[service] += 1
        start[ticket.id] = at
        lane.free_at = at + timedelta(minutes=means[service] + overhead)
        following = lane.next_start()
        if following is not None:
            heapq.heappush(heap, (following, i, lane))
    return start


def forecast(engine: OfficeEngine, now: datetime) -> Forecast:
    queue = engine.waiting()
    start = _simulate(engine, now, queue)
    order = sorted(queue, key=lambda t: (start[t.id] or datetime.max.replace(tzinfo=now.tzinfo), t.queued_at))
    ahead = {t.id: i for i, t in enumerate(order)}
    new_wait: dict[str, float | None] = {}
    for service in engine.office.services:
        probe = Ticket("~probe", "~", service.id, 0, None, now, now, "~")
        at = _simulate(engine, now, [*queue, probe])["~probe"]
        new_wait[service.id] = None if at is None else max((at - now).total_seconds() / 60, 0.0)
    return Forecast(start, ahead, new_wait)


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
    at = fc.start.get(ticket.id)
    return None if at is None else round(max((at - now).total_seconds() / 60, 0.0))


