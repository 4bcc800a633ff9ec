"""The replay behind the wait estimate: the counters expected to work take the waiting tickets in
exactly the order `next` would (hub/policy.py), each ticket occupying its counter for the expected
cost of a call, until every waiting ticket has its call time — and how uncertain each call time is.

The replay runs on the *mean* path; every ticket's call time then gets its median and its 10 % / 90 %
quantiles from the cumulants of what lies before it (Cornish–Fisher):

- **the runs of cases before it.** A counter's run of tickets since it was last certainly free has a
  variance κ₂ and a third cumulant κ₃ (right-skewed: now and then one case takes very long). But the
  ticket is called by whichever counter frees first, so what counts is the office's pooled run: with c
  counters sharing the queue the k-th call comes after k cases spread over c counters, variance k·σ²/c²
  — the counter's own run (k/c cases) divided by c, and the skew by c² (the superposition of c renewal
  processes). Without the pooling the spread, and the median's skew correction −κ₃/6κ₂, would be c
  times too large and the told times too early.
- **the counter's start**: when a busy counter is free (the order statistics of the busy counters'
  remaining times, hub/handling.py) or when a paused clerk is back (hub/absence.py), with its spread;
- **today's pace**: if today's mean handling time is misjudged by its standard error, every case before
  the ticket is off in the same direction — a drift that grows with the wait and does not average out.

Pure: every function takes `now`; nothing reads a clock.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.engine import OfficeEngine, Ticket, TicketState
from hub.handling import OUTLIER_FACTOR, HandlingModel
from hub.office import CounterDef
from hub.policy import pick_by_wait

EARLY_ISSUE = timedelta(minutes=30)  # kiosks issue tickets this long before opening
ARRIVAL_WINDOW = timedelta(minutes=60)  # arrival rates are today's over the last hour …
MIN_RATE_SPAN = timedelta(minutes=20)  # … but over at least 20 minutes, so the first tickets are no rush
GRID = 40  # points of the grid on which the busy counters' free times are computed
Z90 = 1.2815515655446004  # the standard normal's 90 % quantile
MAX_SKEW = 2.0  # Cornish–Fisher holds for moderate skew; beyond, the correction is capped

#: What a call costs a counter: (service, minutes the ticket will have waited) → mean, variance, third
#: cumulant, and how far the mean moves if today's pace is misjudged by its standard error.
CostFn = Callable[[str, float], tuple[float, float, float, float]]


@dataclass(frozen=True)
class Told:
    """A ticket's call time: median and the 10 % / 90 % quantiles."""

    median: datetime
    low: datetime
    high: datetime


def first_free(busy: list[tuple[HandlingModel, float]]) -> list[tuple[float, float, float]]:
    """Minutes until the 1st, 2nd, … of these busy counters is free (ascending): median, 10 % and 90 %
    quantiles; each busy with a case of the given model served for the given minutes so far.

    Not each counter's own remaining time: the first of five busy counters is free much sooner than any
    one of them is on average. Computed on a grid: the number of counters free by `r` minutes is a sum
    of independent Bernoulli variables (its distribution by a small dynamic programme)."""
    cap = max(OUTLIER_FACTOR * m.mean for m, _ in busy)
    levels = (0.5, 0.1, 0.9)
    found: list[list[float | None]] = [[None, None, None] for _ in busy]
    count = len(busy)
    prev_r, prev_tail = 0.0, [0.0] * (count + 2)
    for k in range(1, GRID + 1):
        r = cap * (k / GRID) ** 2
        dist = [1.0]
        for model, elapsed in busy:
            p = 1.0 - model.still_busy(elapsed, r)
            q = 1.0 - p
            nxt = [0.0] * (len(dist) + 1)
            for n, x in enumerate(dist):
                nxt[n] += x * q
                nxt[n + 1] += x * p
            dist = nxt
        tail = [0.0] * (count + 2)  # tail[j] = P(at least j free)
        for n in range(count, -1, -1):
            tail[n] = tail[n + 1] + dist[n]
        for j in range(1, count + 1):
            row = found[j - 1]
            for i, level in enumerate(levels):
                if row[i] is None and tail[j] >= level:
                    low = prev_tail[j]
                    frac = (level - low) / (tail[j] - low) if tail[j] > low else 1.0
                    row[i] = prev_r + (r - prev_r) * frac
        if found[-1][2] is not None:
            break
        prev_r, prev_tail = r, tail
    return [(cap if a is None else a, cap if b is None else b, cap if c is None else c) for a, b, c in found]


@dataclass
class Lane:
    """A counter in the replay: when it is free on the mean path, and the cumulants of that time.
    Times are minutes from now (datetime arithmetic would make the replay several times slower)."""

    counter: CounterDef
    anchor: float  # when the counter is free (a busy case's median end, a clerk's median return) …
    shifts: list[tuple[float, float]]  # the counter's remaining shifts today, in order
    anchor_var: float = 0.0  # … the variance of that time (minutes²)
    work: float = 0.0  # … plus this many expected minutes of tickets replayed since
    k2: float = 0.0  # their variance
    k3: float = 0.0  # and third cumulant
    drift: float = 0.0  # how far their sum moves when today's pace is misjudged by its standard error
    fresh: bool = True  # no ticket replayed since the counter was (or will be) last free for certain

    def free_at(self) -> float:
        return self.anchor + self.work

    def next_start(self) -> float | None:
        """When the counter can start its next ticket, skipping breaks; None when its day is over."""
        free_at = self.anchor + self.work
        while self.shifts:
            start, end = self.shifts[0]
            if free_at < end:
                return max(free_at, start)
            self.shifts.pop(0)
        return None

    def on_shift(self, at: float) -> bool:
        return self.anchor <= at and any(s <= at < e for s, e in self.shifts)

    def told(self, at: float, pool: int) -> tuple[float, float, float]:
        """Median, 10 % and 90 % quantiles of the call time of a ticket this counter starts at `at` on
        the mean path, `pool` counters sharing the queue (see the module docstring)."""
        c = max(pool, 1)
        var = self.anchor_var + self.k2 / c + self.drift ** 2
        if var <= 1e-9:
            return at, at, at
        sd = math.sqrt(var)
        skew = max(-MAX_SKEW, min(MAX_SKEW, self.k3 / (c * c) / (var * sd))) / 6.0
        median = at + max(-sd * skew, -self.work / 2.0, -at)
        low = at + max(sd * (-Z90 + (Z90 * Z90 - 1.0) * skew), -at)
        high = at + sd * (Z90 + (Z90 * Z90 - 1.0) * skew)
        return median, min(low, median), max(high, median)

    def take(self, at: float, cost: tuple[float, float, float, float], pool: int = 1) -> None:
        """Start a ticket at `at`; after a wait (a break, nobody there) the run starts afresh.

        The first ticket of a run is credited `renewal_credit`: the mean path keeps the c counters of
        a pool in lock-step, real ones drift apart and call sooner (see there)."""
        if at > self.anchor + self.work:
            self.restart(at)
        self.work += cost[0]
        if self.fresh:
            self.work -= renewal_credit(cost[0], cost[1], pool)
            self.fresh = False
        self.k2 += cost[1]
        self.k3 += cost[2]
        self.drift += cost[3]

    def restart(self, at: float) -> None:
        """Start afresh at `at` (a shift after a break): the break absorbs the uncertainty of when the
        counter would have been free — all of it, unless that time might lie beyond the break (a clerk
        away for long may not be back for the next shift either): then its 90 % quantile stays."""
        sd = math.sqrt(self.anchor_var + self.k2 + self.drift ** 2)
        beyond = self.anchor + self.work + Z90 * sd - at
        self.idle_until(at)
        if beyond > 0.0:
            self.anchor_var = (beyond / Z90) ** 2

    def idle_until(self, at: float) -> None:
        self.anchor, self.anchor_var, self.work, self.k2, self.k3, self.drift = at, 0.0, 0.0, 0.0, 0.0, 0.0
        self.fresh = True

    def copy(self) -> Lane:
        return Lane(self.counter, self.anchor, list(self.shifts), self.anchor_var, self.work, self.k2, self.k3,
                    self.drift, self.fresh)


def renewal_credit(mean: float, var: float, pool: int) -> float:
    """Minutes by which a counter's run on the mean path is ahead of reality's, credited once per run.

    On the mean path a counter calls at its start and then every `mean` minutes, so c counters sharing
    a queue stay in lock-step and the n-th call comes when the counters' summed counts of calls reach n.
    Real counters are renewal processes: a counter starting afresh has made on average (t/m + (1 + CV²)/2)
    calls by t, CV²/2 more than the mean path's t/m + 1/2 — each run of cases drifts forward. And the
    pooled calls of c counters form a process of mean gap m/c whose n-th call is on average where its
    count reaches n − (1 − CV²)/2, CV²/2 less than on the mean path. Net: (c − 1)·CV²/2 calls more by
    any time, i.e. every later call m·CV²·(c − 1)/(2c) minutes sooner, shared as a credit of that much
    per counter (exact for one counter: none; checked against a Monte-Carlo queue)."""
    if mean <= 0.0 or pool <= 1:
        return 0.0
    return var / mean / 2.0 * (pool - 1) / pool


def overtaking(engine: OfficeEngine) -> set[str]:
    """Services that a counter weighs above another service it serves: their future tickets can be
    called before tickets already waiting, so the replay has to include them."""
    found = set()
    for counter in engine.office.counters:
        for s in counter.services:
            if any(counter.weight(s) > counter.weight(r) for r in counter.services if r != s):
                found.add(s)
    return found


def arrival_rates(engine: OfficeEngine, now: datetime, services: set[str]) -> dict[str, float]:
    """Tickets per minute of each service issued recently today."""
    if not services:
        return {}
    intervals = engine.office.intervals_on(engine.day)
    if not intervals:
        return {}
    since = max(now - ARRIVAL_WINDOW, intervals[0][0] - EARLY_ISSUE)
    span = max((now - since).total_seconds() / 60, MIN_RATE_SPAN.total_seconds() / 60)
    counts = dict.fromkeys(services, 0)
    for ticket in engine.tickets.values():
        if ticket.service in counts and since < ticket.issued_at <= now \
                and ticket.state != TicketState.VOIDED:
            counts[ticket.service] += 1
    return {s: n / span for s, n in counts.items() if n}


class _Queue:
    """One service's tickets in call order: the waiting ones, then (for overtaking services) the
    expected future arrivals, evenly spaced at today's recent rate until `until` (minutes from now)."""

    def __init__(self, tickets: list[Ticket], now: datetime, rate: float, until: float) -> None:
        self.tickets = tickets
        self.queued = [(t.queued_at - now).total_seconds() / 60 for t in tickets]
        self.issued_at = [(t.issued_at - now).total_seconds() / 60 for t in tickets]
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.until = until
        self.next = 0

    def head(self) -> float | None:
        """Queue time of the next ticket to be called (possibly in the future), None when none left."""
        if self.next < len(self.tickets):
            return self.queued[self.next]
        if not self.gap:
            return None
        at = (self.next - len(self.tickets) + 0.5) * self.gap
        return at if at < self.until else None

    def issued(self) -> float:
        """When the next ticket was (or will be) issued: its wait runs from then."""
        if self.next < len(self.tickets):
            return self.issued_at[self.next]
        return self.head() or 0.0

    def pop(self) -> Ticket | None:
        self.next += 1
        return self.tickets[self.next - 1] if self.next <= len(self.tickets) else None


def simulate(engine: OfficeEngine, now: datetime, queue: list[Ticket], lanes: list[Lane], cost: CostFn,
             rates: dict[str, float], only: str | None = None) -> dict[str, Told | None]:
    """When every ticket in `queue` (in queue order) is called, by replaying `next` (with `only`: just
    that ticket, the replay stops once it is called)."""
    closing = engine.office.closing_time(engine.day) or now
    by_service: dict[str, list[Ticket]] = {s.id: [] for s in engine.office.services}
    for ticket in queue:
        by_service.setdefault(ticket.service, []).append(ticket)
    # the last hour says something about the next, not more
    horizon = min((closing - now).total_seconds() / 60, ARRIVAL_WINDOW.total_seconds() / 60)
    queues = {s: _Queue(tickets, now, rates.get(s, 0.0), horizon) for s, tickets in by_service.items()}
    found: dict[str, tuple[float, float, float] | None] = {t.id: None for t in queue
                                                           if only is None or t.id == only}
    left = len(found)
    heap: list[tuple[float, int, Lane]] = []
    for i, template in enumerate(lanes):
        lane = template.copy()
        first = lane.next_start()
        if first is not None:
            heap.append((first, i, lane))
    heapq.heapify(heap)
    while heap and left:
        at, i, lane = heapq.heappop(heap)
        offer: dict[str, float] = {}  # service → seconds its head ticket has waited
        upcoming: float | None = None
        for s in lane.counter.services:
            head = queues[s].head() if s in queues else None
            if head is None:
                continue
            if head <= at:
                offer[s] = (at - head) * 60.0
            elif upcoming is None or head < upcoming:
                upcoming = head
        service = pick_by_wait(lane.counter, offer)
        if service is None:
            if upcoming is None:
                continue  # nothing more for this counter today
            lane.idle_until(upcoming)  # idle until the next expected arrival it serves
        else:
            waited = at - queues[service].issued()
            if at > lane.free_at():  # after a break or idling: the run starts afresh
                lane.restart(at)
            called = queues[service].pop()
            told_id = called.id if called is not None and called.id in found else None
            pool = 1  # counters sharing the queue: needed for a told time and a run's first case only
            if told_id is not None or lane.fresh:
                pool = sum(service in other.counter.services and other.on_shift(at) for other in lanes)
            if told_id is not None:
                found[told_id] = lane.told(at, pool)
                left -= 1
            lane.take(at, cost(service, waited), pool)
        following = lane.next_start()
        if following is not None:
            heapq.heappush(heap, (following, i, lane))
    return {tid: None if t is None else Told(*(now + timedelta(minutes=x) for x in t)) for tid, t in found.items()}
