"""How long things take, from today's observations — some still running (censored) — and a prior.

Both handling times (hub/handling.py) and pauses (hub/absence.py) are estimated the same way: a
weighted Kaplan–Meier curve, distribution-free, over exact observations (a case that ended, a pause
that ended) and censored ones (a case still at the counter, a clerk still away: they have taken *at
least* this long). Counting the running ones is what keeps a morning's first estimate honest: when five
counters start at 8:00 the short cases finish first, and without the long ones still running the
curve would believe every case is short.

Beyond the longest observation the curve needs a tail, and the two quantities need different ones:

- `EXPONENTIAL`: handling times have a natural scale — a case that has run longer than any seen today
  is expected to need about another `scale` minutes (memoryless), not forever;
- `LINDY`: absences do not — a clerk away for twice as long as any pause today is likely away for good
  (gone home sick), so the time still to come grows with the time already gone (a log-logistic tail
  with shape 1: given `d` minutes away, the median of what is still to come is `scale + d`).

Pure functions of their inputs; all times in minutes.
"""

from __future__ import annotations

import bisect
import math
from enum import Enum


class Tail(Enum):
    EXPONENTIAL = "exponential"
    LINDY = "lindy"


class Survival:
    """A distribution of durations: point masses at `times` (ascending) plus a tail of mass
    `tail_mass` beyond `tail_start`."""

    __slots__ = ("_above", "masses", "scale", "tail", "tail_mass", "tail_start", "times")

    def __init__(self, times: tuple[float, ...], masses: tuple[float, ...], tail_mass: float, tail_start: float,
                 tail: Tail, scale: float) -> None:
        self.times, self.masses, self.tail_mass, self.tail_start = times, masses, tail_mass, tail_start
        self.tail = tail
        self.scale = scale  # the tail's scale (see the module docstring)
        above = [0.0] * (len(masses) + 1)  # above[i] = mass at times[i:]
        for i in range(len(masses) - 1, -1, -1):
            above[i] = above[i + 1] + masses[i]
        self._above = tuple(above)

    def _tail(self, beyond: float) -> float:
        """P(tail part > tail_start + beyond | in the tail)."""
        if beyond <= 0.0:
            return 1.0
        if self.tail is Tail.EXPONENTIAL:
            return math.exp(-beyond / self.scale)
        return self.scale / (self.scale + beyond)

    def survival(self, t: float) -> float:
        """P(duration > t)."""
        body = self._above[bisect.bisect_right(self.times, t)]
        if not self.tail_mass:
            return body
        return body + self.tail_mass * self._tail(t - self.tail_start)

    def still_running(self, elapsed: float, more: float) -> float:
        """P(it needs more than `more` further minutes | it has run `elapsed` minutes)."""
        if more <= 0.0:
            return 1.0
        before = self.survival(elapsed)
        if before <= 1e-12 or elapsed >= self.tail_start:  # beyond all observations: the tail decides
            start = max(elapsed, self.tail_start)
            if self.tail is Tail.EXPONENTIAL:
                return math.exp(-more / self.scale)
            return (self.scale + start - self.tail_start) / (self.scale + start - self.tail_start + more)
        return min(self.survival(elapsed + more) / before, 1.0)

    def residual_quantile(self, elapsed: float, p: float) -> float:
        """The further minutes by which it has ended with probability `p`, given `elapsed` so far."""
        target = 1.0 - p  # P(still running after r more) = target
        if elapsed >= self.tail_start or self.survival(elapsed) <= 1e-12:
            start = max(elapsed, self.tail_start) - self.tail_start
            if self.tail is Tail.EXPONENTIAL:
                return -self.scale * math.log(target)
            return (self.scale + start) * (1.0 - target) / target
        for t in self.times[bisect.bisect_right(self.times, elapsed):]:
            if self.still_running(elapsed, t - elapsed) <= target + 1e-12:
                return t - elapsed
        # it ends in the tail: S(tail_start + x) / S(elapsed) = target
        want = target * self.survival(elapsed) / self.tail_mass
        if self.tail is Tail.EXPONENTIAL:
            x = -self.scale * math.log(min(want, 1.0))
        else:
            x = self.scale * (1.0 - want) / want
        return self.tail_start + max(x, 0.0) - elapsed

    def moments(self) -> tuple[float, float, float]:
        """Mean, variance and third central moment (exponential tail only; a Lindy tail has none)."""
        raw = [math.fsum(m * t ** k for t, m in zip(self.times, self.masses, strict=True)) for k in (1, 2, 3)]
        if self.tail_mass > 0.0:
            s, a = self.tail_start, self.scale
            tail = (s + a, s * s + 2 * s * a + 2 * a * a, s ** 3 + 3 * s * s * a + 6 * s * a * a + 6 * a ** 3)
            raw = [r + self.tail_mass * x for r, x in zip(raw, tail, strict=True)]
        mean, second, third = raw
        var = max(second - mean * mean, 0.0)
        return mean, var, third - 3.0 * mean * second + 2.0 * mean ** 3


def kaplan_meier(exact: list[tuple[float, float]], censored: list[tuple[float, float]], tail: Tail,
                 scale: float | None = None, tail_share: float = 0.0) -> Survival:
    """The weighted Kaplan–Meier curve of (minutes, weight) observations: `exact` ones ended after
    that long, `censored` ones have run that long and are still running. The mass left beyond the
    longest observation goes into the tail; the exponential tail's scale defaults to the mean of the
    rest (an unusually long case needs about another average case). With `tail_share`, the curve's top
    `tail_share` of mass becomes the exponential tail, its scale the mean excess of that mass over where
    it begins (see `_spliced`)."""
    events = sorted([(t, 0, w) for t, w in exact] + [(t, 1, w) for t, w in censored])  # exact first at ties
    at_risk = math.fsum(w for _, _, w in events)
    left = 1.0
    times: list[float] = []
    masses: list[float] = []
    for t, kind, w in events:
        if w <= 0.0:
            continue
        if kind == 0 and at_risk > 0.0:
            mass = left * min(w / at_risk, 1.0)
            left -= mass
            if times and times[-1] == t:
                masses[-1] += mass
            else:
                times.append(t)
                masses.append(mass)
        at_risk -= w
    left = max(left, 0.0)
    last = max((t for t, _, _ in events), default=0.0)
    if tail is Tail.EXPONENTIAL and tail_share > 0.0:
        spliced = _spliced(times, masses, left, last, tail_share)
        if spliced is not None:
            return spliced
    if scale is None:
        body = math.fsum(masses)
        scale = math.fsum(t * m for t, m in zip(times, masses, strict=True)) / body if body > 0 else 1.0
    return Survival(tuple(times), tuple(masses), left, last, tail, max(scale, 1e-3))


def _spliced(times: list[float], masses: list[float], left: float, last: float, share: float) -> Survival | None:
    """The curve with its top `share` of mass as an exponential tail (peaks-over-threshold): a handful
    of long cases cannot say what a case running longer than most needs, so from the threshold on the
    curve is an exponential with their mean excess, and its mean stays what it was. Only the body below
    the threshold is empirical. None when there is no such top (one point holds it all)."""
    above = left
    j = len(times) - 1
    while j >= 0 and above < share:  # the threshold: the highest point with at least `share` above it
        above += masses[j]
        j -= 1
    if j < 0 or above <= 0.0:
        return None
    u = times[j]
    excess = math.fsum(m * (t - u) for t, m in zip(times[j + 1:], masses[j + 1:], strict=True)) + left * (last - u)
    if above - left <= 1e-12 or excess <= 0.0:
        return None
    return Survival(tuple(times[:j + 1]), tuple(masses[:j + 1]), above, u, Tail.EXPONENTIAL,
                    excess / (above - left))
