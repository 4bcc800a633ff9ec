"""People who leave: the share of calls that find nobody, as a function of how long the ticket waited.

A call to someone who has gone costs the counter `no_show_cost_min` instead of a case, so the wait
estimate (hub/estimate.py) needs the chance of that for every ticket it replays. It is not a flat
share: on a hot day or after a long morning people give up when the wait grows, so the long waits end
in no-shows far more often than the short ones — and a flat recent average lags behind that and
spreads it over everyone.

Distribution-free: all we see of a person's patience is whether they were still there when called
after w minutes ("current status" data), and the best estimate of P(gone by w) from such data that
assumes nothing but that it grows with w is the isotonic regression of the no-show indicators ordered
by the wait (pool adjacent violators). Today's calls go into `BIN`-minute bins of the wait, each bin
up to the longest wait seen also holding `PSEUDO_CALLS` pseudo-calls at the prior share `PRIOR_SHARE`:
where today has many calls they decide, where it has few the prior does. A wait longer than any seen
today gets the longest waits' share (never less: leaving does not get rarer with the wait); before any
call, the prior share holds for every wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.engine import OfficeEngine, TicketState

BIN = 5.0  # minutes of wait per bin
BINS = 36  # three hours; longer waits fall into the last bin
PRIOR_SHARE = 0.05  # before today's calls: a 5 % no-show share, whatever the wait …
PSEUDO_CALLS = 0.5  # … worth half a call per bin (18 calls over three hours of waits)
RECENT = 200  # today's most recent calls looked at


@dataclass(frozen=True)
class Leaving:
    """P(a call finds nobody | the ticket waited w minutes), per bin of the wait."""

    shares: tuple[float, ...]  # one per bin, non-decreasing

    def share(self, waited_min: float) -> float:
        return self.shares[min(max(int(waited_min / BIN), 0), BINS - 1)]


def _monotone(values: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence closest to `values` in weighted least squares (pool adjacent
    violators)."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, w, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for v, _, n in blocks:
        out += [v] * int(n)
    return out


def leaving_model(engine: OfficeEngine) -> Leaving:
    """Today's no-show share by the wait (see the module docstring)."""
    calls = [t for t in engine.tickets.values()
             if t.called_at is not None and t.state in (TicketState.DONE, TicketState.NO_SHOW)]
    if len(calls) > RECENT:
        calls = sorted(calls, key=lambda t: t.called_at or t.issued_at)[-RECENT:]
    bins = [min(max(int((t.called_at - t.issued_at).total_seconds() / 60 / BIN), 0), BINS - 1)
            for t in calls if t.called_at is not None]
    last = max(bins, default=0)
    n = [PSEUDO_CALLS] * (last + 1)
    left = [PSEUDO_CALLS * PRIOR_SHARE] * (last + 1)
    for b, t in zip(bins, calls, strict=True):
        n[b] += 1
        left[b] += t.state == TicketState.NO_SHOW
    shares = _monotone([k / m for k, m in zip(left, n, strict=True)], n)
    return Leaving(tuple(shares + [shares[-1]] * (BINS - len(shares))))
