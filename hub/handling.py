"""Handling times of today, per service: what the wait estimate (hub/estimate.py) assumes a case takes.

Distribution-free: a weighted Kaplan–Meier curve (hub/survival.py) over
- the service's cases finished today (exact observations; no-shows say nothing about handling),
- the cases at the counters right now (censored: they have taken *at least* this long — without them
  a morning's first estimate sees only the short cases, which finish first),
- the prior: `PRIOR_POINTS` pseudo-observations spread like a lognormal around the prior mean, worth
  `PRIOR_WEIGHT` cases — the configured `prior_handling_min`, or, once the hub has some, the office's
  own history for this weekday and hour (hub/priors.py, worth `HISTORY_WEIGHT`: it is the better guess).

Recent cases weigh more: a case started `HALF_LIFE` before the latest start counts half, so the model
follows clerks getting slower after lunch or a slow IT system. The prior's weight does not fade: it
weighs most early in the day, when today has said little, and little once the counters have been busy
for a while (at a steady pace four counters start some 30 cases in a half-life). Why 8 cases for the
configured prior: it is a guess off by some 25 % on a given day, and today's cases vary by some 70 %
among themselves, so it is worth about (0.7 / 0.25)² ≈ 8 of them; the office's history is off by less.
A prior that today's cases show to be far more off than that loses weight accordingly
(`prior_weight`).
That it keeps its weight all day also steadies the estimate where it matters most: a run of long
cases builds the queue and raises the estimate at the same time, and the next cases are ordinary
again, so an estimate that follows today alone tells the longest waits too much. (Letting the prior
fade like an old case, as a local-level model would, was measured: the median error of general
concerns with real waiting grew from 0.70× to 0.80× of the formula's and the late-returners from 9 to
14 %, docs/benchmarks.md.)

The model gives the mean, variance and third cumulant (for the replay's sums of cases), how sure it is
of today's mean (`rel_se`: a pace misjudged moves every later ticket together), and, for a case running
for some minutes already, the distribution of what it still needs — a case that has run long is likely
a long one. No shape is assumed for the body of the curve; its longest tenth (`TAIL_SHARE`) becomes an
exponential tail with those cases' mean excess (peaks over a threshold), so a case running longer than
most is expected to need what such cases needed beyond that point, not to end at the next data point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

from hub.engine import OfficeEngine
from hub.survival import Survival, Tail, kaplan_meier

PRIOR_WEIGHT = 8.0  # the configured prior counts like this many observed cases
HISTORY_WEIGHT = 16.0  # the office's own history for this weekday and hour
PRIOR_SIGMA = 0.6  # spread of the prior's pseudo-observations (log space): only their shape
PRIOR_POINTS = 8
HALF_LIFE = timedelta(minutes=60)  # a case started an hour before the latest start counts half
OUTLIER_FACTOR = 4.0  # a case longer than 4× the prior counts as 4× (a forgotten "done")
MAX_CASES = 60  # the most recent cases per service looked at (older ones weigh little anyway)
TAIL_SHARE = 0.1  # the longest tenth of the cases: an exponential tail with their mean excess
CV = 0.7  # how much cases of a service vary among themselves (sd / mean), for the prior's claimed error
CONFLICT = 4.0  # a prior off by more than 2 (= √4) times its claimed error loses weight


@dataclass(frozen=True)
class HandlingPrior:
    """What is known about a service's handling time before today's cases."""

    mean: float
    sigma: float = PRIOR_SIGMA  # log-space spread of its pseudo-observations
    weight: float = PRIOR_WEIGHT


class HandlingModel:
    """A service's handling time today (minutes)."""

    __slots__ = ("k3", "mean", "rel_se", "survival", "var")

    def __init__(self, survival: Survival, weight: float) -> None:
        self.survival = survival
        self.mean, self.var, self.k3 = survival.moments()
        # how well today's mean is known: the cases' spread over the square root of their weight
        self.rel_se = math.sqrt(self.var) / self.mean / math.sqrt(max(weight, 1.0)) if self.mean > 0 else 0.0

    def still_busy(self, elapsed: float, more: float) -> float:
        """P(a case served for `elapsed` minutes so far needs more than `more` further minutes)."""
        return self.survival.still_running(elapsed, more)

    def remaining(self, elapsed: float) -> float:
        """Median minutes still needed by a case served for `elapsed` minutes."""
        return self.survival.residual_quantile(elapsed, 0.5)

    def cost(self, no_show: float, no_show_cost: float) -> tuple[float, float, float]:
        """Mean, variance and third cumulant of what a call costs a counter when the person has left
        with probability `no_show` (then it costs `no_show_cost` minutes instead of a case)."""
        p, c = no_show, no_show_cost
        m2 = self.var + self.mean ** 2
        m3 = self.k3 + 3.0 * self.mean * self.var + self.mean ** 3
        mean = (1.0 - p) * self.mean + p * c
        second = (1.0 - p) * m2 + p * c * c
        third = (1.0 - p) * m3 + p * c ** 3
        return mean, max(second - mean * mean, 0.0), third - 3.0 * mean * second + 2.0 * mean ** 3


_QUANTILES = tuple(NormalDist().inv_cdf((i + 0.5) / PRIOR_POINTS) for i in range(PRIOR_POINTS))


def prior_points(prior: HandlingPrior) -> list[float]:
    """The prior as pseudo-observations: quantiles of a lognormal with its spread, scaled to its mean."""
    points = [math.exp(prior.sigma * z) for z in _QUANTILES]
    scale = prior.mean * len(points) / math.fsum(points)
    return [x * scale for x in points]


def configured_prior(engine: OfficeEngine, service: str) -> HandlingPrior:
    defn = engine.office.service(service)
    return HandlingPrior(max(defn.prior_handling_min if defn else 10.0, 0.1), PRIOR_SIGMA, PRIOR_WEIGHT)


def handling_model(engine: OfficeEngine, service: str, now: datetime | None = None,
                   prior: HandlingPrior | None = None) -> HandlingModel:
    """Today's handling-time model of a service (see the module docstring)."""
    prior = prior or configured_prior(engine, service)
    cap = OUTLIER_FACTOR * prior.mean
    cases: list[tuple[datetime, float, bool]] = []  # (started, minutes, finished)
    for h in reversed(engine.handled):
        if h.service == service and not h.no_show:
            cases.append((h.finished_at - timedelta(minutes=h.minutes), h.minutes, True))
            if len(cases) == MAX_CASES:
                break
    for state in engine.counters.values():
        ticket = engine.tickets.get(state.current) if state.current else None
        if ticket is not None and ticket.service == service and ticket.called_at is not None:
            at = now if now is not None else max((h.finished_at for h in engine.handled), default=ticket.called_at)
            cases.append((ticket.called_at, max((at - ticket.called_at).total_seconds() / 60, 0.0), False))
    half_life = HALF_LIFE.total_seconds()
    latest = max((started for started, _, _ in cases), default=None)
    data: list[tuple[float, float]] = []
    censored: list[tuple[float, float]] = []
    for started, minutes, finished in cases:
        assert latest is not None
        w = 0.5 ** ((latest - started).total_seconds() / half_life)
        (data if finished else censored).append((min(max(minutes, 0.05), cap), w))
    weight = prior_weight(prior, data)
    exact = [(x, weight / PRIOR_POINTS) for x in prior_points(prior)] + data
    return HandlingModel(kaplan_meier(exact, censored, Tail.EXPONENTIAL, tail_share=TAIL_SHARE),
                         weight + math.fsum(w for _, w in data))


def prior_weight(prior: HandlingPrior, data: list[tuple[float, float]]) -> float:
    """The prior's weight against today's finished cases (minutes, weight). A prior worth n₀ cases
    claims that today's mean lies within about CV / √n₀ of it (CV: how much cases vary among
    themselves). When today's cases say clearly otherwise — their mean further off than that claim
    and their own uncertainty together allow — the prior was wrong for this day, and it counts only
    as much as its error shows it is worth (empirical Bayes): a day of 20-minute cases in an office
    configured for 10 is not told 14 all day because it has only one counter."""
    total = math.fsum(w for _, w in data)
    if total < 1.0:
        return prior.weight
    mean = math.fsum(x * w for x, w in data) / total
    typical = (CV * prior.mean) ** 2  # how much cases vary among themselves, squared
    spread = max(math.fsum(w * (x - mean) ** 2 for x, w in data) / total, typical)
    claimed = typical / prior.weight  # the prior's claimed error of today's mean, squared
    off = (mean - prior.mean) ** 2 - spread / total  # how far off it is, beyond today's own noise
    # Off by more than twice its claimed error (a "2σ" conflict): it counts as much as it is worth.
    return prior.weight * min(1.0, CONFLICT * claimed / off) if off > 0.0 else prior.weight


def mean_handling(engine: OfficeEngine, service: str, now: datetime | None = None) -> float:
    """Today's expected handling minutes of a service (recent cases blended with its prior)."""
    return handling_model(engine, service, now).mean
