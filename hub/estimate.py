"""Wait estimates and ticket availability, from what the office is doing now.

The estimator replays the office's near future: the counters expected to work take the waiting
tickets in exactly the order `next` would (hub/policy.py), each ticket occupying its counter for the
service's handling time, until every waiting ticket has its call time. What it knows that "people
ahead × mean ÷ clerks" does not:

- **Which counters will work, and when.** Counters whose clerk is logged in, plus counters whose
  configured shift has not started yet (a clerk more than `LOGIN_GRACE` late for a shift is not counted
  on for it). A paused counter comes back at its next shift, or after `TYPICAL_PAUSE` when it paused in
  the middle of one. No counter starts a ticket after its shift ends, and a counter that serves only
  pickups does not help the general queue.
- **Handling times of today, per service.** A lognormal model fitted to the service's recent handling
  times (in log space, so one very long case moves it less than it would move an average), recent ones
  weighing more (half-life `HALF_LIFE`, so the estimate follows clerks getting slower after lunch or a
  slow IT system), blended with the configured prior (worth `PRIOR_WEIGHT` tickets) so the first tickets
  of a day get a sensible estimate.
- **The tickets being served.** When the busy counters will be free follows from how long each has
  been serving: a case that has run long is likely a long one. And the first of five busy counters is
  free much sooner than any one of them on average, so the replay starts from the order statistics of
  their free times, not from each one's mean.
- **No-shows.** A call to someone who left costs the counter `no_show_cost_min` instead of a handling
  time; today's no-show share (blended with a 5 % prior) weighs the two.
- **The fast lane.** A service a counter weighs higher than another (pickups, weight 3) overtakes
  tickets already waiting, including tickets not issued yet. So the replay adds the expected arrivals of
  such services at today's rate over the last `ARRIVAL_WINDOW`, for as far ahead as that window reaches:
  a general ticket's estimate includes the pickups that will be called before it.

The time told is the **median** wait, not the mean: handling times are right-skewed, so a run of
tickets usually takes a little less than its mean and now and then much more. Half of the people are
called earlier than told and half later, the errors people see are as small as they can be (the
median minimises the absolute error), and fewer come back too late than with the mean. The replay
gets it from the order statistics' medians for the busy counters and a Cornish–Fisher correction for
the tickets a counter takes after that (`_Lane`).

Pure: no clock reads and no I/O; every function takes `now`. `forecast()` runs after every event in a
hub: one replay for the waiting tickets plus one per service for a new ticket, about 2 ms at 100
waiting tickets.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.engine import OfficeEngine, Ticket, TicketState
from hub.office import CounterDef
from hub.policy import pick_service

RECENT = 40  # handling times per service looked at (older ones weigh little anyway)
PRIOR_WEIGHT = 3.0  # the configured prior counts like this many observed tickets
PRIOR_SIGMA = 0.5  # spread of handling times in log space before today's data (lognormal sigma)
HALF_LIFE = timedelta(minutes=60)  # a handling time observed an hour before the latest counts half
OUTLIER_FACTOR = 4.0  # a ticket that took longer than 4× the prior counts as 4× (a forgotten "done")
NO_SHOW_PRIOR, NO_SHOW_PRIOR_WEIGHT = 0.05, 10.0  # a 5 % no-show share, worth 10 calls
EARLY_ISSUE = timedelta(minutes=30)  # kiosks issue tickets this long before opening
TYPICAL_PAUSE = timedelta(minutes=30)  # a counter paused in the middle of its shift is back after this
LOGIN_GRACE = timedelta(minutes=15)  # a clerk this late for a shift is not expected for it any more
ARRIVAL_WINDOW = timedelta(minutes=60)  # arrival rates are today's over the last hour …
MIN_RATE_SPAN = timedelta(minutes=20)  # … but over at least 20 minutes, so the first tickets are no rush
GRID = 40  # points of the grid on which the busy counters' free times are computed


@dataclass(frozen=True)
class HandlingModel:
    """A service's handling time today: lognormal with this mean and log-space sigma (minutes)."""

    mean: float
    sigma: float

    def tail(self, minutes: float) -> float:
        """P(a ticket takes longer than `minutes`)."""
        if minutes <= 0.0:
            return 1.0
        s = max(self.sigma, 0.05)
        mu = math.log(self.mean) - s * s / 2.0
        return 0.5 * math.erfc((math.log(minutes) - mu) / (s * math.sqrt(2.0)))

    def remaining(self, elapsed: float) -> float:
        """Expected minutes still needed by a ticket that has been served for `elapsed` minutes."""
        if elapsed <= 0.0:
            return self.mean
        s = max(self.sigma, 0.05)
        mu = math.log(self.mean) - s * s / 2.0
        z = (math.log(elapsed) - mu) / s
        tail = 0.5 * math.erfc(z / math.sqrt(2.0))  # P(X > elapsed)
        if tail < 1e-12:
            left = self.mean * OUTLIER_FACTOR
        else:
            beyond = self.mean * 0.5 * math.erfc((z - s) / math.sqrt(2.0))  # E[X; X > elapsed]
            left = beyond / tail - elapsed
        return min(max(left, 0.1 * self.mean), OUTLIER_FACTOR * self.mean)

    def still_busy(self, elapsed: float, more: float) -> float:
        """P(a ticket served for `elapsed` minutes so far needs more than `more` further minutes)."""
        if more <= 0.0:
            return 1.0
        before = self.tail(elapsed)
        return min(self.tail(elapsed + more) / before, 1.0) if before > 0.0 else 0.0


def _first_free(busy: list[tuple[HandlingModel, float]]) -> list[float]:
    """Median minutes until the 1st, 2nd, … of these busy counters is free (ascending), each busy
    with a ticket of the given handling model served for the given minutes so far.

    Not each counter's mean remaining time: the first of five busy counters is free much sooner than
    any one of them is on average, and waits are skewed, so the typical (median) wait is what a
    waiting person is told. Computed on a grid: the number of counters free by `r` minutes is a sum of
    independent Bernoulli variables (its distribution by a small dynamic programme)."""
    cap = max(OUTLIER_FACTOR * m.mean for m, _ in busy)
    result: list[float | None] = [None] * len(busy)
    prev_r, prev_tail = 0.0, [0.0] * (len(busy) + 1)
    for k in range(1, GRID + 1):
        r = cap * (k / GRID) ** 2
        dist = [1.0]
        for model, elapsed in busy:
            p = 1.0 - model.still_busy(elapsed, r)
            nxt = [0.0] * (len(dist) + 1)
            for n, q in enumerate(dist):
                nxt[n] += q * (1.0 - p)
                nxt[n + 1] += q * p
            dist = nxt
        tail = [0.0] * (len(busy) + 2)  # tail[j] = P(at least j free)
        for n in range(len(busy), -1, -1):
            tail[n] = tail[n + 1] + dist[n]
        for j in range(1, len(busy) + 1):
            if result[j - 1] is None and tail[j] >= 0.5:
                low = prev_tail[j]
                frac = (0.5 - low) / (tail[j] - low) if tail[j] > low else 1.0
                result[j - 1] = prev_r + (r - prev_r) * frac
        if result[-1] is not None:
            break
        prev_r, prev_tail = r, tail
    return [cap if v is None else v for v in result]


def handling_model(engine: OfficeEngine, service: str) -> HandlingModel:
    """Today's handling-time model of a service (see the module docstring)."""
    defn = engine.office.service(service)
    prior = max(defn.prior_handling_min if defn else 10.0, 0.1)
    mu0 = math.log(prior) - PRIOR_SIGMA * PRIOR_SIGMA / 2.0
    recent = []
    for h in reversed(engine.handled):
        if h.service == service and not h.no_show:
            recent.append(h)
            if len(recent) == RECENT:
                break
    if not recent:
        return HandlingModel(prior, PRIOR_SIGMA)
    latest = engine.handled[-1].finished_at
    half_life = HALF_LIFE.total_seconds()
    points = [(0.5 ** ((latest - h.finished_at).total_seconds() / half_life),
               math.log(min(max(h.minutes, 0.05), prior * OUTLIER_FACTOR))) for h in recent]
    total = PRIOR_WEIGHT + sum(w for w, _ in points)
    mu = (PRIOR_WEIGHT * mu0 + sum(w * x for w, x in points)) / total
    var = (PRIOR_WEIGHT * (PRIOR_SIGMA ** 2 + (mu0 - mu) ** 2) + sum(w * (x - mu) ** 2 for w, x in points)) / total
    return HandlingModel(math.exp(mu + var / 2.0), math.sqrt(var))


def mean_handling(engine: OfficeEngine, service: str) -> float:
    """Today's expected handling minutes of a service (recent times blended with its prior)."""
    return handling_model(engine, service).mean


def no_show_share(engine: OfficeEngine) -> float:
    """Today's share of calls that found nobody, blended with a prior."""
    shows = engine.handled[-100:]
    return (sum(h.no_show for h in shows) + NO_SHOW_PRIOR * NO_SHOW_PRIOR_WEIGHT) / (len(shows) + NO_SHOW_PRIOR_WEIGHT)


@dataclass(frozen=True)
class Forecast:
    """When each waiting ticket is expected to be called, and what a new ticket would wait."""

    start: dict[str, datetime | None]  # ticket id → expected call time (None: not before closing)
    ahead: dict[str, int]
    new_wait_min: dict[str, float | None]  # service → expected wait of a ticket issued now


@dataclass
class _Lane:
    """A counter in the replay. Its next free time is the *median* of a sum of handling times: their
    mean minus the Cornish–Fisher skew correction κ₃ / 6κ₂ (handling times are right-skewed, so half
    of the time a run of tickets takes less than its mean by about that much, whatever its length)."""

    counter: CounterDef
    anchor: datetime  # when the counter is (certainly, or by the median of its busy ticket) free …
    shifts: list[tuple[datetime, datetime]]  # the counter's remaining shifts today, in order
    work: float = 0.0  # … plus this many expected minutes of tickets replayed since
    k2: float = 0.0  # their variance
    k3: float = 0.0  # and third cumulant

    def free_at(self) -> datetime:
        skew = min(self.k3 / (6.0 * self.k2), self.work / 2.0) if self.k2 > 0.0 else 0.0
        return self.anchor + timedelta(minutes=self.work - skew)

    def next_start(self) -> datetime | None:
        """When the counter can start its next ticket, skipping breaks; None when its day is over."""
        free_at = self.free_at()
        while self.shifts:
            start, end = self.shifts[0]
            if free_at < end:
                return max(free_at, start)
            self.shifts.pop(0)
        return None

    def take(self, at: datetime, minutes: float, k2: float, k3: float) -> None:
        """Start a ticket at `at`; after a wait (a break, nobody there) the sum starts afresh."""
        if at > self.free_at():
            self.idle_until(at)
        self.work += minutes
        self.k2 += k2
        self.k3 += k3

    def idle_until(self, at: datetime) -> None:
        self.anchor, self.work, self.k2, self.k3 = at, 0.0, 0.0, 0.0

    def copy(self) -> _Lane:
        return _Lane(self.counter, self.anchor, list(self.shifts), self.work, self.k2, self.k3)


def _lanes(engine: OfficeEngine, now: datetime, models: dict[str, HandlingModel]) -> list[_Lane]:
    """The counters expected to work from now on, each with when it can start its next ticket."""
    office, day = engine.office, engine.day
    lanes: list[_Lane] = []
    absent: list[tuple[CounterDef, list[tuple[datetime, datetime]]]] = []
    busy: dict[tuple[str, ...], list[tuple[int, HandlingModel, float]]] = {}  # by counter profile
    for counter in office.counters:
        shifts = [(s, e) for s, e in office.intervals_on(day, counter.hours) if e > now]
        state = engine.counters[counter.id]
        if not state.seen:
            # Nobody logged in here today: expected at a shift that has not started (or just started).
            coming = [(s, e) for s, e in shifts if s + LOGIN_GRACE >= now]
            if coming:
                lanes.append(_Lane(counter, now, coming))
            else:
                absent.append((counter, shifts))
            continue
        free_at = now
        if state.paused:
            on_shift = any(s <= now < e for s, e in shifts)
            if on_shift and state.last_active is not None:
                free_at = max(now, state.last_active + TYPICAL_PAUSE)
        elif state.current is not None:
            ticket = engine.tickets[state.current]
            model = models.get(ticket.service) or handling_model(engine, ticket.service)
            elapsed = (now - (ticket.called_at or now)).total_seconds() / 60
            if shifts:  # a clerk finishing the last ticket of the day takes no other: leave them out
                busy.setdefault(counter.services, []).append((len(lanes), model, elapsed))
        lanes.append(_Lane(counter, free_at, shifts))
    for group in busy.values():
        group.sort(key=lambda b: b[1].remaining(b[2]))
        for (i, _, _), left in zip(group, _first_free([(m, e) for _, m, e in group]), strict=True):
            lanes[i].anchor = now + timedelta(minutes=left)
    # A service no expected counter serves: count on the configured ones anyway rather than on nobody.
    covered = {s for lane in lanes for s in lane.counter.services}
    lanes += [_Lane(c, now, shifts) for c, shifts in absent if not covered.issuperset(c.services)]
    return lanes


def _overtaking(engine: OfficeEngine) -> set[str]:
    """Services that a counter weighs above another service it serves: their future tickets can be
    called before tickets already waiting, so the replay has to include them."""
    found = set()
    for counter in engine.office.counters:
        for s in counter.services:
            if any(counter.weight(s) > counter.weight(r) for r in counter.services if r != s):
                found.add(s)
    return found


def _arrival_rates(engine: OfficeEngine, now: datetime, services: set[str]) -> dict[str, float]:
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
    expected future arrivals, evenly spaced at today's recent rate until `until`."""

    def __init__(self, tickets: list[Ticket], now: datetime, rate: float, until: datetime) -> None:
        self.tickets = tickets
        self.now = now
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.until = until
        self.next = 0

    def head(self) -> datetime | None:
        """Queue time of the next ticket to be called (possibly in the future), None when none left."""
        if self.next < len(self.tickets):
            return self.tickets[self.next].queued_at
        if not self.gap:
            return None
        k = self.next - len(self.tickets)
        at = self.now + timedelta(minutes=(k + 0.5) * self.gap)
        return at if at < self.until else None

    def pop(self) -> Ticket | None:
        self.next += 1
        return self.tickets[self.next - 1] if self.next <= len(self.tickets) else None


def _simulate(engine: OfficeEngine, now: datetime, queue: list[Ticket], lanes: list[_Lane],
              cost: dict[str, tuple[float, float, float]], rates: dict[str, float]) -> dict[str, datetime | None]:
    """Expected call time of every ticket in `queue` (in queue order), by replaying `next`."""
    closing = engine.office.closing_time(engine.day) or now
    by_service: dict[str, list[Ticket]] = {s.id: [] for s in engine.office.services}
    for ticket in queue:
        by_service.setdefault(ticket.service, []).append(ticket)
    horizon = min(closing, now + ARRIVAL_WINDOW)  # the last hour says something about the next, not more
    queues = {s: _Queue(tickets, now, rates.get(s, 0.0), horizon) for s, tickets in by_service.items()}
    start: dict[str, datetime | None] = {t.id: None for t in queue}
    left = len(queue)
    heap: list[tuple[datetime, int, _Lane]] = []
    for i, template in enumerate(lanes):
        lane = template.copy()
        first = lane.next_start()
        if first is not None:
            heap.append((first, i, lane))
    heapq.heapify(heap)
    while heap and left:
        at, i, lane = heapq.heappop(heap)
        offer: dict[str, datetime] = {}
        upcoming: datetime | None = None
        for s in lane.counter.services:
            head = queues[s].head() if s in queues else None
            if head is None:
                continue
            if head <= at:
                offer[s] = head
            elif upcoming is None or head < upcoming:
                upcoming = head
        service = pick_service(lane.counter, offer, at)
        if service is None:
            if upcoming is None:
                continue  # nothing more for this counter today
            lane.idle_until(upcoming)  # idle until the next expected arrival it serves
        else:
            called = queues[service].pop()
            if called is not None:
                start[called.id] = at
                left -= 1
            lane.take(at, *cost[service])
        following = lane.next_start()
        if following is not None:
            heapq.heappush(heap, (following, i, lane))
    return start


def forecast(engine: OfficeEngine, now: datetime) -> Forecast:
    queue = engine.waiting()
    models = {s.id: handling_model(engine, s.id) for s in engine.office.services}
    share = no_show_share(engine)
    cost: dict[str, tuple[float, float, float]] = {}
    for sid, m in models.items():
        spread = math.exp(m.sigma * m.sigma) - 1.0
        k2 = (1.0 - share) * m.mean ** 2 * spread
        k3 = (1.0 - share) * m.mean ** 3 * spread ** 2 * (spread + 3.0)
        cost[sid] = ((1.0 - share) * m.mean + share * engine.office.no_show_cost_min, k2, k3)
    rates = _arrival_rates(engine, now, _overtaking(engine))
    lanes = _lanes(engine, now, models)
    start = _simulate(engine, now, queue, lanes, cost, rates)
    never = datetime.max.replace(tzinfo=now.tzinfo)
    order = sorted(queue, key=lambda t: (start[t.id] or never, t.queued_at))
    ahead = {t.id: i for i, t in enumerate(order)}
    new_wait: dict[str, float | None] = {}
    for service in engine.office.services:
        probe = Ticket("~probe", "~", service.id, 0, None, now, now, "~")
        at = _simulate(engine, now, [*queue, probe], lanes, cost, rates)["~probe"]
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
