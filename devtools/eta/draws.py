"""The random draws the simulated days are made of (devtools/eta/scenarios.py, hard_days.py, oracle.py):
piecewise-linear curves, normal and lognormal variates from `random()` alone (stable across Python
versions, so a seed keeps giving the same day), arrivals by thinning, and cutting pauses out of shifts.
"""

from __future__ import annotations

import itertools
import math
import random

Knots = tuple[tuple[float, float], ...]  # a piecewise-linear curve: (x, y) points in order of x


def interp(knots: Knots, x: float) -> float:
    """Piecewise-linear through the knots, constant beyond the ends; repeated x gives a step."""
    if x < knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if x < x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return knots[-1][1]


def normal(rng: random.Random) -> float:
    """A standard normal variate by Box–Muller from two `random()` draws (stable across versions)."""
    u1, u2 = rng.random(), rng.random()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    mu = math.log(mean) - sigma * sigma / 2.0
    return math.exp(mu + sigma * normal(rng))


def cut(intervals: tuple[tuple[float, float], ...], start: float, end: float) -> tuple[tuple[float, float], ...]:
    """The intervals without [start, end)."""
    out: list[tuple[float, float]] = []
    for a, b in intervals:
        if end <= a or start >= b:
            out.append((a, b))
            continue
        if a < start:
            out.append((a, start))
        if end < b:
            out.append((end, b))
    return tuple(out)


def arrival_times(rng: random.Random, rate: Knots, expected: float, until: float) -> list[float]:
    """Non-homogeneous Poisson arrivals on [0, until) by thinning, scaled to `expected` tickets."""
    step = 0.5
    steps = int(until / step)
    weight = sum(interp(rate, (i + 0.5) * step) for i in range(steps)) * step
    scale = expected / weight
    lam_max = max(w for _, w in rate) * scale
    times: list[float] = []
    t = 0.0
    while True:
        t += -math.log(1.0 - rng.random()) / lam_max
        if t >= until:
            return times
        if rng.random() * lam_max < interp(rate, t) * scale:
            r = round(t, 3)
            if r < until:
                times.append(r)


def pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    u = rng.random() * sum(share for _, share in mix)
    for service, share in mix:
        u -= share
        if u < 0:
            return service
    return mix[-1][0]
