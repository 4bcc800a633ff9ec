"""A floor for the goal lines: the clairvoyant Monte-Carlo oracle of the `eta` benchmark.

How good can a told wait be at all? For every ticket, right after it is issued, this oracle simulates
the rest of the day `PATHS` times from the engine's true state, knowing what no real estimator can:

- each day's **true handling-time distribution**: a case is drawn as the day's generator drew it (the
  service's shape — lognormal, gamma, Weibull, bimodal — with the mean at the day's pace when the
  ticket is served), so the oracle knows the day's pace, its drift and its shape, more than the
  formulas' day mean, but not the case itself;
- the clerks' **actual hours**: unplanned pauses, the registry outage, the clerk gone home sick;
- the **tickets that will be issued** later (times and services: the pickups that will overtake);
- the day's no-show rate and its people's patience (on the hot days), as the generator drew them;
- whether the people at the counters right now came (a no-show's call is over in `no_show_cost`).

What it does not know is the dice: how long each case still to come will take and who will have left.
Its told wait is the median of the simulated waits (its range the 10 % and 90 % quantiles). It plays by
the simulator's rules (devtools/eta/evaluate.py: clerks log in and out by their hours, finish the case at
a shift's end, `next` by hub/policy.py). The median of a ticket's wait given all of this minimises its
expected absolute error, so the oracle's median error is a floor no estimator should be expected to
beat by much; where even the oracle misses a goal line, the line asks for more than the dice allow.

    .venv/bin/python -m devtools.eta.oracle [--set committed|hard] [--paths 200]

About 3 min per set on the benchmark machine (pure Python; not part of `make bench`).
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from devtools.eta import draws, hard_days, scenarios
from devtools.eta.evaluate import ARRIVAL, CLOSE, FINISH, SETS, SHIFT_END, SHIFT_START, Replay
from devtools.eta.evaluate import at as clock_at
from devtools.eta.report import DayResult, Report
from devtools.eta.scenarios import Arrival, Scenario, base_name
from hub.office import CounterDef
from hub.policy import pick_by_wait
from hub.replay import overtaking

PATHS = 200
MAX_TRIES = 400  # draws for a case longer than the time it has been at the counter


def _truth(s: Scenario, pace: str) -> tuple[Callable[[random.Random, Arrival], float], float,
                                             tuple[float, float] | None]:
    """How the day's generator drew a case of a ticket (its service's shape, the mean at the day's pace
    when the ticket is served), the day's no-show rate and its people's patience (median, sigma).
    `pace`: "day" — the mean at the day's pace then (what the oracle knows); "mean" — the day's mean
    of the service all day (what the formulas know); "prior" — the configured prior all day."""
    name = base_name(s.name)
    hard = name in hard_days.KINDS
    spec = hard_days.KINDS[name] if hard else scenarios.SPECS[name]

    def mean(a: Arrival) -> float:
        if pace == "mean":
            return s.true_means[a.service]
        if pace == "prior":
            return s.services[a.service]
        return spec.means[a.service] * draws.interp(spec.pace, min(a.t + spec.pace_lag, spec.open_minutes))

    def draw(rng: random.Random, a: Arrival) -> float:
        if isinstance(spec, hard_days.Kind):
            return max(0.5, hard_days.draw(rng, spec.shapes[a.service], mean(a)))
        return max(0.5, draws.lognormal(rng, mean(a), spec.sigmas[a.service]))

    return draw, spec.no_show_rate, spec.patience if isinstance(spec, hard_days.Kind) else None


def _rates(s: Scenario) -> tuple[float, Callable[[float], float], dict[str, float]]:
    """The day's true arrival process as its generator drew it: the peak rate (tickets per minute), the
    rate at a minute, and each service's share."""
    spec: hard_days.Kind | scenarios.Spec
    name = base_name(s.name)
    spec = hard_days.KINDS[name] if name in hard_days.KINDS else scenarios.SPECS[name]
    step = 0.5
    weight = sum(draws.interp(spec.rate, (i + 0.5) * step) for i in range(int(s.issue_until / step))) * step
    scale = spec.expected_tickets / weight
    total = math.fsum(share for _, share in spec.mix)
    return (max(w for _, w in spec.rate) * scale, lambda t: draws.interp(spec.rate, t) * scale,
            {sid: share / total for sid, share in spec.mix})


@dataclass(frozen=True)
class _State:
    queues: dict[str, list[tuple[float, float, str]]]
    future: list[tuple[float, int, int, str]]
    busy: list[tuple[str, float, bool, Arrival]]
    on_shift: dict[str, bool]


@dataclass
class _Desk:
    counter: CounterDef
    on_shift: bool
    busy: bool


class _World:
    """What the oracle knows of one day, fixed for all its simulations."""

    def __init__(self, replay: Replay, issued: set[str], pace: str, arrivals: str) -> None:
        self.s = replay.s
        self.counters = {c.id: c for c in replay.office.counters}
        self.draw, self.no_show_rate, self.patience = _truth(replay.s, pace)
        self.issued = issued  # arrivals that the kiosk will issue (the others were turned away)
        self.known_arrivals = arrivals == "known"
        self.peak, self.rate, self.mix = _rates(replay.s)
        self.overtaking = overtaking(replay.engine)  # only these services' new tickets can go ahead

    def future_tickets(self, rng: random.Random, now: float) -> list[tuple[float, int, int, str]]:
        """New tickets of the overtaking services from `now` on, drawn from the day's arrival process
        (events as the replay's: minute, ARRIVAL, seq, a name `~service~n`)."""
        found: list[tuple[float, int, int, str]] = []
        t = now
        while True:
            t += rng.expovariate(self.peak)
            if t >= self.s.issue_until:
                return found
            if rng.random() * self.peak < self.rate(t):
                u, service = rng.random(), ""
                for sid, share in self.mix.items():
                    service = sid
                    u -= share
                    if u < 0.0:
                        break
                if service in self.overtaking:
                    found.append((t, ARRIVAL, -len(found) - 1, f"~{service}~{len(found)}"))

    def handling(self, rng: random.Random, arrival: Arrival, more_than: float = 0.0) -> float:
        """A case of this ticket, longer than `more_than` (it has been at the counter so long)."""
        for _ in range(MAX_TRIES):
            x = self.draw(rng, arrival)
            if x > more_than:
                return x
        return more_than + self.draw(rng, arrival) / 4  # far beyond its kind: rare, and soon over

    def gone(self, rng: random.Random, waited: float) -> bool:
        if rng.random() < self.no_show_rate:
            return True
        if self.patience is None:
            return False
        median, sigma = self.patience
        return draws.lognormal(rng, median * math.exp(sigma * sigma / 2), sigma) < waited


class OracleReplay(Replay):
    """The benchmark's replay of a day; after every issue, the oracle's told wait for that ticket."""

    def __init__(self, s: Scenario, issued: set[str], paths: int, seed: int, pace: str = "day",
                 arrivals: str = "known") -> None:
        super().__init__(s)
        self.world = _World(self, issued, pace, arrivals)
        self.paths = paths
        self.rng = random.Random(seed)
        self.told: dict[str, tuple[float, float, float]] = {}  # ticket id → median, 10 %, 90 % of its wait

    def _arrive(self, arrival: Arrival, ticket_id: str, minute: float, now: datetime) -> None:
        super()._arrive(arrival, ticket_id, minute, now)
        ticket = self.engine.tickets.get(ticket_id)
        if ticket is None:
            return  # turned away
        if ticket.called_at is not None:
            self.told[ticket_id] = (0.0, 0.0, 0.0)
            return
        state = self._state(minute)
        waits = sorted(self._simulate(ticket_id, minute, state) for _ in range(self.paths))
        n = len(waits)
        self.told[ticket_id] = (waits[n // 2] if n % 2 else (waits[n // 2 - 1] + waits[n // 2]) / 2,
                                waits[n // 10], waits[(9 * n) // 10])

    def _state(self, minute: float) -> _State:
        """The queues (per service: queued minute, issued minute, ticket id), the known future events and
        the cases at the counters (desk, minutes served so far, the person did not come)."""
        origin = clock_at(self.day, 0.0)

        def since_opening(at: datetime | None) -> float:
            assert at is not None
            return (at - origin).total_seconds() / 60

        queues: dict[str, list[tuple[float, float, str]]] = {sid: [] for sid in self.s.services}
        for t in self.engine.waiting():
            queues[t.service].append((since_opening(t.queued_at), since_opening(t.issued_at), t.id))
        future = [e for e in self.events if e[1] in (SHIFT_START, SHIFT_END, CLOSE)
                  or (e[1] == ARRIVAL and e[3] in self.world.issued and self.world.known_arrivals)]
        busy = [(desk_id, minute - since_opening(self.engine.tickets[desk.busy].called_at),
                 self.outcomes[desk.busy].no_show, self.arrivals[desk.busy])
                for desk_id, desk in self.desks.items() if desk.busy is not None]
        on_shift = {desk_id: desk.on_shift for desk_id, desk in self.desks.items()}
        return _State(queues, future, busy, on_shift)

    def _simulate(self, target: str, now: float, state: _State) -> float:
        """One path of the rest of the day: minutes until `target` is called (inf: not today)."""
        rng, world = self.rng, self.world
        queues = {sid: list(q) for sid, q in state.queues.items()}
        heads = dict.fromkeys(queues, 0)
        events = list(state.future)
        drawn: dict[str, Arrival] = {}  # tickets of the arrival process (not the day's own)
        if not world.known_arrivals:
            events += world.future_tickets(rng, now)
        seq = len(self.events) + 10 ** 6
        desks = {desk_id: _Desk(world.counters[desk_id], on, False) for desk_id, on in state.on_shift.items()}
        for desk_id, elapsed, no_show, arrival in state.busy:
            desks[desk_id].busy = True
            if no_show:
                left = max(self.s.no_show_cost - elapsed, 0.0)
            else:
                left = world.handling(rng, arrival, elapsed) - elapsed
            seq += 1
            events.append((now + left, FINISH, seq, desk_id))
        heapq.heapify(events)

        def call(desk_id: str, at: float) -> float | None:
            nonlocal seq
            desk = desks[desk_id]
            offer = {}
            for sid in desk.counter.services:
                q, k = queues.get(sid), heads.get(sid, 0)
                if q is not None and k < len(q):
                    offer[sid] = (at - q[k][0]) * 60.0
            service = pick_by_wait(desk.counter, offer)
            if service is None:
                return None
            _, issued, ticket_id = queues[service][heads[service]]
            heads[service] += 1
            if ticket_id == target:
                return at - issued
            desk.busy = True
            arrival = self.arrivals.get(ticket_id) or drawn[ticket_id]
            cost = self.s.no_show_cost if world.gone(rng, at - issued) else world.handling(rng, arrival)
            seq += 1
            heapq.heappush(events, (at + cost, FINISH, seq, desk_id))
            return None

        while events:
            at, kind, _, ref = heapq.heappop(events)
            if kind == CLOSE:
                return math.inf
            if kind == ARRIVAL:
                a = self.arrivals.get(ref) or drawn.setdefault(ref, Arrival(ref, at, ref.split("~")[1], 0.0, False))
                queues[a.service].append((at, at, ref))
                for desk_id, desk in desks.items():
                    if desk.on_shift and not desk.busy:
                        found = call(desk_id, at)
                        if found is not None:
                            return found
                continue
            desk = desks[ref]
            if kind == SHIFT_START:
                desk.on_shift = True
            elif kind == SHIFT_END:
                desk.on_shift = False
            else:
                desk.busy = False
            if desk.on_shift and not desk.busy:
                found = call(ref, at)
                if found is not None:
                    return found
        return math.inf


def oracle_report(days: Sequence[Scenario], title: str, paths: int = PATHS, pace: str = "day",
                  arrivals: str = "known") -> tuple[Report, Report]:
    """The benchmark's report of these days (our estimator), and the same tickets with the oracle's told
    waits in place of ours (`ours` columns; the formulas' columns unchanged)."""
    started = clock.perf_counter()
    ours: list[DayResult] = []
    oracle: list[DayResult] = []
    for n, s in enumerate(days):
        plain = Replay(s).run()
        issued = {o.id for o in plain.outcomes}
        replay = OracleReplay(s, {f"sim-{i}" for i in issued}, paths, 1000 + n, pace, arrivals)
        result = replay.run()
        ours.append(plain)
        for o in result.outcomes:
            median, low, high = replay.told[f"sim-{o.id}"]
            closing = max(s.open_minutes - o.issued, 0.0)
            o.ours, o.low, o.high = min(median, closing), min(low, closing), min(high, closing)
            o.ours_none = math.isinf(median)
        oracle.append(result)
    seconds = clock.perf_counter() - started
    knows = {"day": "", "mean": ", handling: the day's mean only", "prior": ", handling: the configured prior only"}
    what = "clairvoyant oracle" if arrivals == "known" else "oracle (arrival rates, not the tickets)"
    return Report(title, ours, seconds), Report(f"{title}, {what}{knows[pace]}", oracle, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.eta.oracle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--set", choices=("committed", "hard"), action="append")
    parser.add_argument("--paths", type=int, default=PATHS)
    parser.add_argument("--pace", choices=("day", "mean", "prior"), default="day",
                        help="what the oracle knows of handling times: the day's pace (default), the day's "
                             "mean, the configured prior")
    parser.add_argument("--arrivals", choices=("known", "rate"), default="known",
                        help="the tickets that will be issued (default) or only the day's arrival rates")
    args = parser.parse_args(argv)
    for title, make in SETS:
        if args.set and title.split()[0] not in args.set:
            continue
        ours, oracle = oracle_report(make(), title, args.paths, args.pace, args.arrivals)
        print(ours.goal_text(args.markdown))
        print()
        print(oracle.goal_text(args.markdown))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
