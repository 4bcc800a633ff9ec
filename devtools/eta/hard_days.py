"""The second set of simulated office days for the `eta` benchmark: days the first set never imagined.

The 24 committed days of devtools/eta/scenarios.py all draw handling times from lognormals, have their
clerks log in exactly as the roster says and decide no-shows by a flat coin. An independent
evaluation (issue 14) found five situations where an estimator tuned on those days lets citizens down;
each kind of day here puts one of them in front of the estimator:

- `gamma-general`, `weibull-general`, `bimodal-general`: general-concern handling times that are not
  lognormal — gamma (shape 2), Weibull (shape 1.4), and a bimodal mix of quick questions and full
  cases behind one button;
- `crisis-morning`: a crowd at the door at opening and a daily quota for general concerns that is
  gone by mid-morning (many counters start at once, so the short cases finish first);
- `hot-day-leaving`: people leave when the wait grows (each has a patience; called later than that,
  they are a no-show), so the no-shows cluster on the long waits;
- `registry-outage`: the registry system is down for an hour or more and every clerk stops — an
  unplanned stop far longer than a pause, that the roster knows nothing of;
- `clerk-gone-sick`: a clerk goes home sick mid-morning and another does not come back from lunch,
  while the roster still expects them.

Every day also has unplanned short pauses (a clerk fetches a file, answers the phone: 0–2 per counter,
5–20 min) that are not in the roster, so an estimator can learn what a pause is today. As in
scenarios.py, a day is pure data drawn up front from `random.Random(seed)` (its `random()` primitive
only), so every estimator faces the same day; times are minutes since 8:00.

THE RULE of scenarios.py holds here too: these kinds, seeds and the generator were committed *before*
the estimator was changed for issue 14, and `tests/test_eta_scenarios.py` pins their fingerprint.
Never edit them; add new kinds with new seeds.

`python -m devtools.eta.hard_days` prints `describe()` of every day.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass

from devtools.eta.draws import Knots, arrival_times, cut, interp, lognormal, normal, pick
from devtools.eta.load import print_days
from devtools.eta.scenarios import Arrival, CounterPlan, Scenario, base_name, true_means


@dataclass(frozen=True)
class Handling:
    """The shape of a service's handling times: `kind` "lognormal" (a = sigma), "gamma" (a = shape),
    "weibull" (a = shape) or "bimodal": quick questions (share `quick_share`, mean `quick_mean`) and
    full cases, each gamma with shape a, together with the service's mean."""

    kind: str
    a: float
    quick_share: float = 0.0
    quick_mean: float = 0.0


def _gamma(rng: random.Random, shape: float, mean: float) -> float:
    """A gamma variate (Marsaglia–Tsang, shape ≥ 1) with this mean."""
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(rng)
        v = (1.0 + c * x) ** 3
        if v <= 0.0:
            continue
        u = 1.0 - rng.random()
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * mean / shape


def draw(rng: random.Random, shape: Handling, mean: float) -> float:
    """One handling time of this shape and mean."""
    if shape.kind == "lognormal":
        return lognormal(rng, mean, shape.a)
    if shape.kind == "gamma":
        return _gamma(rng, shape.a, mean)
    if shape.kind == "weibull":
        scale = mean / math.gamma(1.0 + 1.0 / shape.a)
        return float(scale * (-math.log(1.0 - rng.random())) ** (1.0 / shape.a))
    if shape.kind == "bimodal":
        full_mean = (mean - shape.quick_share * shape.quick_mean) / (1.0 - shape.quick_share)
        quick = rng.random() < shape.quick_share
        return _gamma(rng, shape.a, shape.quick_mean if quick else full_mean)
    raise ValueError(f"unknown handling shape {shape.kind!r}")


@dataclass(frozen=True)
class Kind:
    """The character of a kind of day; `generate` turns it plus a seed into a day."""

    description: str
    expected_tickets: float
    rate: Knots
    mix: tuple[tuple[str, float], ...]
    means: dict[str, float]  # true mean handling minutes per service
    shapes: dict[str, Handling]
    priors: dict[str, float]  # what the config states
    roster: tuple[CounterPlan, ...]  # the counters and their planned shifts
    no_show_rate: float = 0.04  # people who never come back, whatever the wait
    patience: tuple[float, float] | None = None  # (median, lognormal sigma) minutes people wait at most
    quotas: tuple[tuple[str, int], ...] = ()
    outage: tuple[tuple[float, float], tuple[float, float]] | None = None  # (start range, length range)
    gone: int = 0  # clerks who go home sick mid-morning (between 9:30 and 11:00)
    no_return_after_lunch: float = 0.0  # chance that another clerk does not come back from lunch
    pace: Knots = ((0.0, 1.0), (300.0, 1.0), (360.0, 1.05))
    pace_lag: float = 20.0
    open_minutes: float = 480.0
    no_show_cost: float = 1.5


def _ap(cid: str, *intervals: tuple[float, float]) -> CounterPlan:
    return CounterPlan(cid, ("A", "P"), tuple(intervals))


#: Planned shifts with staggered lunches (minutes since 8:00).
_FOUR = (_ap("platz-1", (0, 210), (240, 480)), _ap("platz-2", (0, 240), (270, 480)),
         _ap("platz-3", (0, 270), (300, 480)), _ap("platz-4", (0, 300), (330, 480)))
_FIVE = (*_FOUR, _ap("platz-5", (0, 240), (285, 420)))
_PICKUP = CounterPlan("abholung", ("P",), ((0, 240), (270, 480)))

_WEEKDAY: Knots = ((0, 1.7), (30, 1.5), (90, 1.35), (180, 1.0), (240, 0.6), (300, 0.7), (360, 0.95),
                   (420, 0.7), (450, 0.45))
_BUSY: Knots = ((0, 2.6), (45, 2.1), (120, 1.5), (180, 1.0), (240, 0.6), (300, 0.7), (360, 0.8), (450, 0.4))
_CROWD: Knots = ((0, 7.0), (20, 4.5), (60, 2.2), (120, 1.2), (180, 0.8), (240, 0.5), (300, 0.6), (420, 0.5),
                 (450, 0.3))
_LOGNORMAL_P = Handling("lognormal", 0.35)

KINDS: dict[str, Kind] = {
    "gamma-general": Kind(
        description="General concerns with gamma-distributed handling times (shape 2: fewer very long "
                    "cases than a lognormal, more middling ones); a busy morning on four counters.",
        expected_tickets=165, rate=_BUSY, mix=(("A", 0.72), ("P", 0.28)), means={"A": 12.0, "P": 3.0},
        shapes={"A": Handling("gamma", 2.0), "P": _LOGNORMAL_P}, priors={"A": 10.0, "P": 3.5}, roster=_FOUR),
    "weibull-general": Kind(
        description="General concerns with Weibull handling times (shape 1.4); a pickup counter beside "
                    "four general counters, half the visitors only pick up.",
        expected_tickets=185, rate=_BUSY, mix=(("A", 0.55), ("P", 0.45)), means={"A": 12.5, "P": 2.8},
        shapes={"A": Handling("weibull", 1.4), "P": _LOGNORMAL_P}, priors={"A": 11.0, "P": 3.0},
        roster=(*_FOUR, _PICKUP)),
    "bimodal-general": Kind(
        description="One button for two kinds of general concerns: 45 % quick questions (about 3 min) and "
                    "full cases (about 18 min); a Monday-like morning on five counters.",
        expected_tickets=200, rate=_BUSY, mix=(("A", 0.75), ("P", 0.25)), means={"A": 11.5, "P": 3.0},
        shapes={"A": Handling("bimodal", 3.0, quick_share=0.45, quick_mean=3.0), "P": _LOGNORMAL_P},
        priors={"A": 10.0, "P": 3.0}, roster=_FIVE),
    "crisis-morning": Kind(
        description="A crowd at the door at opening (a deadline, a crisis): a daily quota of 100 general "
                    "tickets is gone by mid-morning; five counters start at once, so the short cases "
                    "finish first.",
        expected_tickets=200, rate=_CROWD, mix=(("A", 0.8), ("P", 0.2)), means={"A": 12.5, "P": 3.0},
        shapes={"A": Handling("lognormal", 0.75), "P": _LOGNORMAL_P}, priors={"A": 10.0, "P": 3.0},
        roster=_FIVE, quotas=(("A", 100),)),
    "hot-day-leaving": Kind(
        description="A hot day: people leave when the wait grows (patience: median 40 min), so the "
                    "no-shows cluster on the long waits; a busy morning on four counters.",
        expected_tickets=185, rate=_BUSY, mix=(("A", 0.75), ("P", 0.25)), means={"A": 11.5, "P": 3.0},
        shapes={"A": Handling("lognormal", 0.6), "P": _LOGNORMAL_P}, priors={"A": 10.0, "P": 3.0},
        roster=_FOUR, no_show_rate=0.03, patience=(40.0, 0.7)),
    "registry-outage": Kind(
        description="The registry system is down for 60-110 min in the morning: every clerk stops (an "
                    "unplanned stop the roster knows nothing of), then the backlog is worked off.",
        expected_tickets=160, rate=_WEEKDAY, mix=(("A", 0.72), ("P", 0.28)), means={"A": 11.0, "P": 3.0},
        shapes={"A": Handling("lognormal", 0.6), "P": _LOGNORMAL_P}, priors={"A": 10.0, "P": 3.0},
        roster=_FIVE, outage=((90.0, 160.0), (60.0, 110.0))),
    "clerk-gone-sick": Kind(
        description="A clerk goes home sick mid-morning and (on some days) another does not come back from "
                    "lunch; the roster still expects both.",
        expected_tickets=190, rate=_BUSY, mix=(("A", 0.72), ("P", 0.28)), means={"A": 11.5, "P": 3.0},
        shapes={"A": Handling("lognormal", 0.6), "P": _LOGNORMAL_P}, priors={"A": 10.0, "P": 3.0},
        roster=_FIVE, gone=1, no_return_after_lunch=0.6),
}

#: The committed (name, seed) list of the second set. Never edit; append.
HARD_SCENARIOS: tuple[tuple[str, int], ...] = (
    ("gamma-general", 260301),
    ("gamma-general#2", 260302),
    ("gamma-general#3", 260303),
    ("weibull-general", 260311),
    ("weibull-general#2", 260312),
    ("weibull-general#3", 260313),
    ("bimodal-general", 260321),
    ("bimodal-general#2", 260322),
    ("bimodal-general#3", 260323),
    ("crisis-morning", 260331),
    ("crisis-morning#2", 260332),
    ("crisis-morning#3", 260333),
    ("hot-day-leaving", 260341),
    ("hot-day-leaving#2", 260342),
    ("hot-day-leaving#3", 260343),
    ("registry-outage", 260351),
    ("registry-outage#2", 260352),
    ("registry-outage#3", 260353),
    ("clerk-gone-sick", 260361),
    ("clerk-gone-sick#2", 260362),
    ("clerk-gone-sick#3", 260363),
)


def kinds() -> list[str]:
    return list(KINDS)


def _uniform(rng: random.Random, span: tuple[float, float]) -> float:
    return span[0] + rng.random() * (span[1] - span[0])


def _counters(rng: random.Random, kind: Kind) -> tuple[CounterPlan, ...]:
    """The counters as they actually work today: the roster minus unplanned stops and pauses."""
    actual = {c.id: c.open_intervals for c in kind.roster}
    ids = [c.id for c in kind.roster if "A" in c.services]
    if kind.outage is not None:
        start = round(_uniform(rng, kind.outage[0]), 1)
        length = round(_uniform(rng, kind.outage[1]), 1)
        actual = {cid: cut(iv, start, start + length) for cid, iv in actual.items()}
    for _ in range(kind.gone):
        cid = ids.pop(int(rng.random() * len(ids)))
        leaves = round(_uniform(rng, (90.0, 180.0)), 1)
        actual[cid] = cut(actual[cid], leaves, kind.open_minutes)
    if kind.no_return_after_lunch and rng.random() < kind.no_return_after_lunch:
        cid = ids.pop(int(rng.random() * len(ids)))
        back_from_lunch = actual[cid][1][0]  # the start of the second shift
        actual[cid] = cut(actual[cid], back_from_lunch, kind.open_minutes)
    plans = []
    for plan in kind.roster:
        intervals = actual[plan.id]
        for _ in range(int(rng.random() * 3)):  # 0-2 short unplanned pauses
            start = round(_uniform(rng, (30.0, kind.open_minutes - 60.0)), 1)
            length = round(_uniform(rng, (5.0, 20.0)), 1)
            if any(a < start and start + length < b for a, b in intervals):
                intervals = cut(intervals, start, start + length)
        roster = None if intervals == plan.open_intervals else plan.open_intervals
        plans.append(CounterPlan(plan.id, plan.services, intervals, roster))
    return tuple(plans)


def generate(name: str, seed: int) -> Scenario:
    """The day `name` (a kind, optionally with a "#n" suffix) drawn with `seed`."""
    kind = KINDS[base_name(name)]
    rng = random.Random(seed)
    issue_until = kind.open_minutes - 30.0
    counters = _counters(rng, kind)
    arrivals: list[Arrival] = []
    numbers: dict[str, int] = {}
    for t in arrival_times(rng, kind.rate, kind.expected_tickets, issue_until):
        service = pick(rng, kind.mix)
        pace = interp(kind.pace, min(t + kind.pace_lag, kind.open_minutes))
        handling = round(max(0.5, draw(rng, kind.shapes[service], kind.means[service] * pace)), 3)
        no_show = rng.random() < kind.no_show_rate
        patience = None
        if kind.patience is not None:
            patience = round(lognormal(rng, kind.patience[0] * math.exp(kind.patience[1] ** 2 / 2),
                                        kind.patience[1]), 3)
        numbers[service] = numbers.get(service, 0) + 1
        arrivals.append(Arrival(f"{service}{numbers[service]:03d}", t, service, handling, no_show, patience))
    return Scenario(
        name=name, seed=seed, open_minutes=kind.open_minutes, issue_until=issue_until,
        services=dict(kind.priors), true_means=true_means(arrivals, kind.means), no_show_cost=kind.no_show_cost,
        counters=counters, arrivals=tuple(arrivals), quotas=dict(kind.quotas), description=kind.description)


def hard_scenarios() -> list[Scenario]:
    """Every day of the second set, in `HARD_SCENARIOS` order."""
    return [generate(name, seed) for name, seed in HARD_SCENARIOS]


def fingerprint(scenarios: list[Scenario]) -> str:
    """A short hash of the days' content, including what the first set does not have (roster,
    patience, quotas)."""
    data = [
        [s.name, s.seed, s.open_minutes, s.issue_until, sorted(s.services.items()), s.no_show_cost,
         sorted(s.quotas.items()),
         [[c.id, list(c.services), [list(iv) for iv in c.open_intervals],
           None if c.roster is None else [list(iv) for iv in c.roster]] for c in s.counters],
         [[a.id, f"{a.t:.2f}", a.service, f"{a.handling:.2f}", a.no_show,
           None if a.patience is None else f"{a.patience:.2f}"] for a in s.arrivals]]
        for s in scenarios
    ]
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()[:16]


def main() -> None:
    print_days(hard_scenarios(), fingerprint, "days")


if __name__ == "__main__":
    main()
