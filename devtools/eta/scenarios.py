"""Simulated office days for the `eta` benchmark: the committed scenarios and their seeds.

A *scenario* is one simulated day of a Stuttgart-style Bürgerbüro, as pure data: when the office is
open, which counters exist and when a clerk is logged in at each (shift start and end, staggered lunch
breaks as gaps, short pauses, a clerk leaving early), and every ticket of the day (`Arrival`): the
minute it is issued, its service (`A` general concerns, `P` ID card / passport pickup, `K` vehicle
matters in one scenario), its true handling time and whether the person has left before being called
(`no_show`: calling them costs the counter `no_show_cost` minutes). Times are minutes since opening
(8:00). Nothing here simulates the queue: an engine or a simulator replays the day and decides who is
called when; an estimator predicts each ticket's wait at issue and the benchmark compares the
prediction with the wait the replay produces.

Why the handling times are drawn up front: every estimator and every calling policy must face the
*same* day — the same people arriving at the same minutes with the same concerns and the same
durations — so that differences in the results come from the estimator, not from the dice. So each
ticket's handling time is drawn at generation time. Handling times are lognormal (general concerns
with a heavy tail) and their mean drifts during the day (clerks slower after lunch, an IT outage making
everything 40 % slower for an hour). The drift is evaluated at the issue minute plus a typical wait
(`Spec.pace_lag`), i.e. roughly when the ticket will be served, since it describes the clerks' pace.

Arrivals are a non-homogeneous Poisson process (by thinning) with a piecewise-linear rate: a queue at
the door at opening, a morning peak, a lunch dip, an afternoon hump (on the long Thursday the evening
after work). `services` holds the prior mean handling minutes a config would state — deliberately not
the truth; `true_means` holds the day's actual mean handling time per service over the tickets that
are served (no-shows excluded), which is what the Munich/Berlin baseline
(people ahead × mean handling time ÷ clerks logged in) is given, its best case.

Only `random.Random(seed)` drives the draws, and only its `random()` primitive (normal variates by
Box–Muller here, not `random.gauss`/`normalvariate`), so a scenario is the same on every machine and
Python version. Times and durations are rounded to 1/1000 minute.

THE RULE: these scenarios and seeds (`SCENARIOS`, the `SPECS` table and the generator) were fixed and
committed *before* the estimator was tuned. Do not change them afterwards — not a seed, not a rate, not
a counter — or the benchmark measures how well the estimator was fitted to its test. To cover a new
situation, add a new scenario (new name, new seeds) and say so in the benchmark notes;
`tests/test_eta_scenarios.py` pins a fingerprint of the committed set to catch accidental changes.

`python -m devtools.eta.scenarios` prints `describe()` (devtools/eta/load.py) of every scenario: tickets
per service, counters, offered work against counter capacity per hour.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field

from devtools.eta.draws import Knots, arrival_times, cut, interp, lognormal, pick
from devtools.eta.load import print_days


@dataclass(frozen=True)
class CounterPlan:
    """A counter and when a clerk is logged in at it."""

    id: str  # slug, e.g. "platz-1"
    services: tuple[str, ...]  # served services in priority order, e.g. ("A", "P"); ("P",) = pickup counter
    open_intervals: tuple[tuple[float, float], ...]  # [start, end) minutes; gaps are breaks; sorted
    # The shifts the office's roster (the hub's config) states, when they differ from when a clerk is
    # actually logged in (an unplanned stop, a clerk gone home sick); None: the same as open_intervals.
    roster: tuple[tuple[float, float], ...] | None = None

    @property
    def planned(self) -> tuple[tuple[float, float], ...]:
        """The shifts a hub config would state for this counter."""
        return self.roster if self.roster is not None else self.open_intervals


@dataclass(frozen=True)
class Arrival:
    """One ticket of the day, with everything the day holds for it decided up front."""

    id: str  # unique within the scenario, e.g. "A042"
    t: float  # minute the ticket is issued, 0 <= t < issue_until
    service: str
    handling: float  # true handling minutes if served
    no_show: bool  # left before being called: calling costs the counter `no_show_cost` minutes
    # Minutes this person waits before giving up and leaving (decided by the replay: called later than
    # this, they are a no-show); None: stays however long it takes.
    patience: float | None = None


@dataclass(frozen=True)
class Scenario:
    """One simulated office day (see the module docstring)."""

    name: str
    seed: int
    open_minutes: float  # office open duration; counters may work until then
    issue_until: float  # tickets are issued in [0, issue_until)
    services: dict[str, float]  # prior mean handling minutes per service (what a config would state)
    true_means: dict[str, float]  # the day's actual mean handling per service (served tickets)
    no_show_cost: float  # minutes a counter loses calling a no-show
    counters: tuple[CounterPlan, ...]
    arrivals: tuple[Arrival, ...]  # sorted by t
    quotas: dict[str, int] = field(default_factory=dict)  # daily ticket quota per service (config)
    description: str = ""
    overloaded: bool = False  # offered work exceeds capacity on purpose (the office would stop issuing)




@dataclass(frozen=True)
class Spec:
    """The character of a scenario; `generate` turns it plus a seed into a day."""

    description: str
    open_minutes: float
    expected_tickets: float  # expected number of tickets (the Poisson process is scaled to it)
    rate: Knots  # relative arrival rate over the day, piecewise linear (minute, weight)
    mix: tuple[tuple[str, float], ...]  # share of each service
    means: dict[str, float]  # true mean handling minutes per service at pace 1.0
    sigmas: dict[str, float]  # lognormal sigma per service
    priors: dict[str, float]  # what the config states (Scenario.services)
    counters: tuple[CounterPlan, ...]
    no_show_rate: float
    pace: Knots = ((0.0, 1.0),)  # handling-time multiplier over the day, piecewise linear (steps allowed)
    pace_lag: float = 20.0  # the pace is read at issue minute + this (roughly when the ticket is served)
    no_show_cost: float = 1.5
    issue_stop_before_close: float = 30.0
    pause_probability: float = 0.4  # chance per counter of one extra 10-minute pause in the morning
    overloaded: bool = False  # offered work exceeds capacity on purpose (the office would stop issuing)


def _counter(cid: str, services: str, *intervals: tuple[float, float]) -> CounterPlan:
    return CounterPlan(cid, tuple(services), tuple(intervals))


# Clock minutes since 8:00.
_H8, _H10, _H1030, _H1130, _H12, _H1230, _H1245, _H13, _H1330, _H14, _H1430, _H15, _H16, _H18 = (
    0.0, 120.0, 150.0, 210.0, 240.0, 270.0, 285.0, 300.0, 330.0, 360.0, 390.0, 420.0, 480.0, 600.0)

#: An ordinary weekday: people waiting at the door, a morning peak, a lunch dip, an afternoon hump.
_WEEKDAY: Knots = ((0, 1.7), (30, 1.5), (90, 1.35), (180, 1.0), (240, 0.6), (300, 0.7), (360, 0.95),
                   (420, 0.7), (450, 0.45))
#: Monday after a weekend: a long line at opening and a heavy morning, a calm afternoon.
_MONDAY: Knots = ((0, 3.0), (45, 2.4), (120, 1.6), (180, 1.0), (240, 0.6), (300, 0.65), (360, 0.75),
                  (450, 0.4))
#: Long Thursday (8:00-18:00): moderate day, the evening after work is the busiest time.
_THURSDAY: Knots = ((0, 1.2), (120, 1.0), (240, 0.6), (300, 0.75), (420, 1.3), (480, 1.6), (570, 0.7))
#: A small office: mornings busy, afternoons quiet.
_SMALL: Knots = ((0, 1.6), (120, 1.25), (240, 0.8), (300, 0.6), (450, 0.4))

_GENERAL_PICKUP = (("A", 0.72), ("P", 0.28))
_SIG = {"A": 0.6, "P": 0.35, "K": 0.45}

SPECS: dict[str, Spec] = {
    "steady-tuesday": Spec(
        description="An ordinary Tuesday: four general counters with staggered lunches, one clerk leaves "
                    "at 14:30; waits stay short to moderate.",
        open_minutes=_H16, expected_tickets=135, rate=_WEEKDAY, mix=_GENERAL_PICKUP,
        means={"A": 11.5, "P": 3.0}, sigmas=_SIG, priors={"A": 10.0, "P": 3.5},
        pace=((0, 1.0), (300, 1.0), (360, 1.08)), no_show_rate=0.05,
        counters=(
            _counter("platz-1", "AP", (_H8, _H1130), (_H12, _H16)),
            _counter("platz-2", "AP", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-3", "AP", (_H8, _H1230), (_H13, _H16)),
            _counter("platz-4", "AP", (_H8, _H13), (_H1330, _H1430)),
        )),
    "monday-rush": Spec(
        description="Monday after a weekend: a line at the door and a heavy morning build the queue up to "
                    "an hour or more; the afternoon drains it.",
        open_minutes=_H16, expected_tickets=180, rate=_MONDAY, mix=(("A", 0.75), ("P", 0.25)),
        means={"A": 12.0, "P": 3.2}, sigmas=_SIG, priors={"A": 10.0, "P": 3.0},
        pace=((0, 1.0), (300, 1.0), (360, 1.05)), no_show_rate=0.07,
        counters=(
            _counter("platz-1", "AP", (_H8, _H1130), (_H12, _H16)),
            _counter("platz-2", "AP", (_H8, _H1130), (_H12, _H16)),
            _counter("platz-3", "AP", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-4", "AP", (_H8, _H1230), (_H13, _H16)),
            _counter("platz-5", "AP", (_H8, _H13), (_H1330, _H15)),
        )),
    "long-thursday": Spec(
        description="Long Thursday 8:00-18:00 with an early and a late shift and a vehicle counter (K, "
                    "which also takes general concerns); the evening after work is the peak.",
        open_minutes=_H18, expected_tickets=195, rate=_THURSDAY, mix=(("A", 0.62), ("P", 0.30), ("K", 0.08)),
        means={"A": 11.0, "P": 3.0, "K": 22.0}, sigmas=_SIG, priors={"A": 10.0, "P": 3.0, "K": 25.0},
        pace=((0, 1.0), (480, 1.0), (600, 1.1)), no_show_rate=0.04,
        counters=(
            _counter("platz-1", "AP", (_H8, _H12), (_H1230, _H1430)),
            _counter("platz-2", "AP", (_H8, _H1230), (_H13, _H16)),
            _counter("platz-3", "AP", (_H10, _H1330), (_H14, _H18)),
            _counter("platz-4", "AP", (_H1030, _H14), (_H1430, _H18)),
            _counter("platz-5", "KA", (_H8, _H12), (_H1245, _H18)),
            _counter("platz-6", "AP", (_H13, _H18)),
        )),
    "understaffed-flu": Spec(
        description="Flu season, two of five clerks missing: an ordinary weekday's demand on three "
                    "counters. Explicitly OVERLOADED — the office would stop issuing tickets.",
        open_minutes=_H16, expected_tickets=165, rate=_WEEKDAY, mix=_GENERAL_PICKUP,
        means={"A": 12.0, "P": 3.0}, sigmas=_SIG, priors={"A": 10.0, "P": 3.0},
        no_show_rate=0.08, overloaded=True,
        counters=(
            _counter("platz-1", "AP", (_H8, _H1130), (_H12, _H16)),
            _counter("platz-3", "AP", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-5", "AP", (_H8, _H1230), (_H13, _H16)),
        )),
    "slow-afternoon-drift": Spec(
        description="Clerks get slower after lunch (handling +45 % by 15:30) and the fourth clerk works "
                    "mornings only; the prior is the morning pace, so estimates from it run short.",
        open_minutes=_H16, expected_tickets=155, rate=_WEEKDAY, mix=_GENERAL_PICKUP,
        means={"A": 10.5, "P": 2.8}, sigmas=_SIG, priors={"A": 10.5, "P": 3.0},
        pace=((0, 1.0), (270, 1.0), (450, 1.45)), no_show_rate=0.05,
        counters=(
            _counter("platz-1", "AP", (_H8, _H1130), (_H12, _H16)),
            _counter("platz-2", "AP", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-3", "AP", (_H8, _H1230), (_H13, _H16)),
            _counter("platz-4", "AP", (_H8, _H12)),
        )),
    "it-outage-hour": Spec(
        description="The registry system is slow 10:30-11:30: everything takes 40 % longer for an hour, "
                    "then the pace returns.",
        open_minutes=_H16, expected_tickets=150, rate=_WEEKDAY, mix=_GENERAL_PICKUP,
        means={"A": 11.0, "P": 3.0}, sigmas=_SIG, priors={"A": 10.0, "P": 3.5},
        pace=((0, 1.0), (_H1030, 1.0), (_H1030, 1.4), (_H1130, 1.4), (_H1130, 1.0)), no_show_rate=0.05,
        counters=(
            _counter("platz-1", "AP", (_H8, _H1130), (_H12, _H16)),
            _counter("platz-2", "AP", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-3", "AP", (_H8, _H1230), (_H13, _H16)),
            _counter("platz-4", "AP", (_H10, _H13), (_H1330, _H1430)),
        )),
    "pickup-heavy-fast-lane": Spec(
        description="Half the visitors only pick up a passport: a dedicated pickup counter (P only) keeps "
                    "them fast while the general queue builds on three counters.",
        open_minutes=_H16, expected_tickets=195, rate=_WEEKDAY, mix=(("A", 0.5), ("P", 0.5)),
        means={"A": 11.0, "P": 2.6}, sigmas=_SIG, priors={"A": 12.0, "P": 3.0},
        pace=((0, 1.0), (300, 1.0), (360, 1.06)), no_show_rate=0.04,
        counters=(
            _counter("platz-1", "P", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-2", "AP", (_H8, _H1130), (_H12, _H16)),
            _counter("platz-3", "AP", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-4", "AP", (_H8, _H1230), (_H13, _H16)),
        )),
    "small-office-two-counters": Spec(
        description="A district office with two counters; the second clerk leaves at 14:00, so the "
                    "afternoon runs on one counter and every long case is felt.",
        open_minutes=_H16, expected_tickets=72, rate=_SMALL, mix=(("A", 0.7), ("P", 0.3)),
        means={"A": 10.0, "P": 3.0}, sigmas=_SIG, priors={"A": 9.0, "P": 3.0},
        no_show_rate=0.03,
        counters=(
            _counter("platz-1", "AP", (_H8, _H12), (_H1230, _H16)),
            _counter("platz-2", "AP", (_H8, _H14)),
        )),
}

#: The committed (name, seed) list: each named scenario with its fixed seed, plus extra seeds ("#2",
#: "#3") of the same character so that the evaluation is not a single sample. Never edit; append.
SCENARIOS: tuple[tuple[str, int], ...] = (
    ("steady-tuesday", 240903),
    ("steady-tuesday#2", 240910),
    ("steady-tuesday#3", 240917),
    ("monday-rush", 240902),
    ("monday-rush#2", 240909),
    ("monday-rush#3", 240916),
    ("long-thursday", 240905),
    ("long-thursday#2", 240912),
    ("long-thursday#3", 240919),
    ("understaffed-flu", 250113),
    ("understaffed-flu#2", 250114),
    ("understaffed-flu#3", 250115),
    ("slow-afternoon-drift", 241008),
    ("slow-afternoon-drift#2", 241015),
    ("slow-afternoon-drift#3", 241022),
    ("it-outage-hour", 241106),
    ("it-outage-hour#2", 241113),
    ("it-outage-hour#3", 241120),
    ("pickup-heavy-fast-lane", 250701),
    ("pickup-heavy-fast-lane#2", 250708),
    ("pickup-heavy-fast-lane#3", 250715),
    ("small-office-two-counters", 241203),
    ("small-office-two-counters#2", 241210),
    ("small-office-two-counters#3", 241217),
)


def base_name(name: str) -> str:
    """The character of a scenario name: "monday-rush#2" → "monday-rush"."""
    return name.split("#", 1)[0]


def description(name: str) -> str:
    return SPECS[base_name(name)].description


def is_overloaded(name: str) -> bool:
    """True for the scenario whose offered work exceeds capacity on purpose."""
    return SPECS[base_name(name)].overloaded


def generate(name: str, seed: int) -> Scenario:
    """The day `name` (a key of the spec table, optionally with a "#n" suffix) drawn with `seed`."""
    spec = SPECS[base_name(name)]
    rng = random.Random(seed)
    issue_until = spec.open_minutes - spec.issue_stop_before_close

    counters: list[CounterPlan] = []
    for plan in spec.counters:
        intervals = plan.open_intervals
        if rng.random() < spec.pause_probability:
            start = round(60.0 + rng.random() * 120.0, 1)
            intervals = cut(intervals, start, start + 10.0)
        counters.append(CounterPlan(plan.id, plan.services, intervals))

    arrivals: list[Arrival] = []
    numbers: dict[str, int] = {}
    for t in arrival_times(rng, spec.rate, spec.expected_tickets, issue_until):
        service = pick(rng, spec.mix)
        pace = interp(spec.pace, min(t + spec.pace_lag, spec.open_minutes))
        handling = round(max(0.5, lognormal(rng, spec.means[service] * pace, spec.sigmas[service])), 3)
        no_show = rng.random() < spec.no_show_rate
        numbers[service] = numbers.get(service, 0) + 1
        arrivals.append(Arrival(f"{service}{numbers[service]:03d}", t, service, handling, no_show))

    return Scenario(
        name=name,
        seed=seed,
        open_minutes=spec.open_minutes,
        issue_until=issue_until,
        services=dict(spec.priors),
        true_means=true_means(arrivals, spec.means),
        no_show_cost=spec.no_show_cost,
        counters=tuple(counters),
        arrivals=tuple(arrivals),
        description=spec.description,
        overloaded=spec.overloaded,
    )


def true_means(arrivals: tuple[Arrival, ...] | list[Arrival], fallback: dict[str, float]) -> dict[str, float]:
    """Mean handling per service over the served (not no-show) arrivals; `fallback` where there are none."""
    out: dict[str, float] = {}
    for service, default in fallback.items():
        served = [a.handling for a in arrivals if a.service == service and not a.no_show]
        out[service] = round(math.fsum(served) / len(served), 3) if served else default
    return out


def all_scenarios() -> list[Scenario]:
    """Every committed scenario, in `SCENARIOS` order."""
    return [generate(name, seed) for name, seed in SCENARIOS]


def fingerprint(scenarios: list[Scenario]) -> str:
    """A short hash of the scenarios' content (times to 1/100 minute), to pin the committed set."""
    data = [
        [s.name, s.seed, s.open_minutes, s.issue_until, sorted(s.services.items()), s.no_show_cost,
         [[c.id, list(c.services), [list(iv) for iv in c.open_intervals]] for c in s.counters],
         [[a.id, f"{a.t:.2f}", a.service, f"{a.handling:.2f}", a.no_show] for a in s.arrivals]]
        for s in scenarios
    ]
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()[:16]


def main() -> None:
    print_days(all_scenarios(), fingerprint, "scenarios")


if __name__ == "__main__":
    main()
