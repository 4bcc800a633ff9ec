"""People who leave: the share of calls that find nobody, as a function of how long the ticket waited.

A call to someone who has gone costs the counter `no_show_cost_min` instead of a case, so the wait
estimate (hub/estimate.py) needs the chance of that for every ticket it replays. It is not a flat
share: on a hot day or after a long morning people give up when the wait grows, so the long waits end
in no-shows far more often than the short ones — and a flat recent average lags behind that and
spreads it over everyone.

The model: a share `p0` of people never come back whatever the wait, and the others give up at a
constant rate λ per minute of waiting (exponential patience — the abandonment of the Erlang-A
queue), so P(gone after w minutes) = 1 − (1 − p0)·e^(−λw). All we see of a person's patience is
whether they were still there when called after w minutes, so the two parameters come from two groups
of today's calls: those called within `SPLIT` minutes give p0, those called later give the share
gone at their mean wait, and λ is what leads from one to the other. Each group's share is shrunk
towards the prior (`PRIOR_SHARE`, worth `PSEUDO_CALLS` calls; the long group towards p0: without
evidence, leaving does not grow with the wait), so a handful of no-shows after long waits moves it
little, while a hot day's pattern shows within a few dozen calls. (An isotonic fit, free of any shape,
was tried first: its end blocks jump on two or three no-shows among the longest waits — on ordinary
days it promised 30 % leaving after an hour where 7 % was true.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.engine import OfficeEngine, TicketState

SPLIT = 15.0  # minutes: calls within this say how many never return; later ones, how leaving grows
PRIOR_SHARE = 0.05  # before today's calls: a 5 % no-show share, whatever the wait …
PSEUDO_CALLS = 10.0  # … worth ten calls in each group
BIN = 5.0  # the replay asks for the share in steps of this many minutes of wait
BINS = 36  # three hours; longer waits get the last bin's share
RECENT = 200  # today's most recent calls looked at


@dataclass(frozen=True)
class Leaving:
    """P(a call finds nobody | the ticket waited w minutes), per bin of the wait."""

    p0: float  # gone whatever the wait
    rate: float  # λ: the others give up at this rate per minute of waiting
    shares: tuple[float, ...]  # at each bin's middle

    def share(self, waited_min: float) -> float:
        return self.shares[min(max(int(waited_min / BIN), 0), BINS - 1)]


def fitted(p0: float, rate: float) -> Leaving:
    return Leaving(p0, rate, tuple(1.0 - (1.0 - p0) * math.exp(-rate * (b + 0.5) * BIN) for b in range(BINS)))


def leaving_model(engine: OfficeEngine) -> Leaving:
    """Today's leaving as a function of the wait (see the module docstring)."""
    calls = [t for t in engine.tickets.values()
             if t.called_at is not None and t.state in (TicketState.DONE, TicketState.NO_SHOW)]
    if len(calls) > RECENT:
        calls = sorted(calls, key=lambda t: t.called_at or t.issued_at)[-RECENT:]
    short_n = short_gone = long_n = long_gone = 0
    long_wait = 0.0
    for t in calls:
        assert t.called_at is not None
        waited = (t.called_at - t.issued_at).total_seconds() / 60
        gone = t.state == TicketState.NO_SHOW
        if waited < SPLIT:
            short_n, short_gone = short_n + 1, short_gone + gone
        else:
            long_n, long_gone, long_wait = long_n + 1, long_gone + gone, long_wait + waited
    p0 = (short_gone + PRIOR_SHARE * PSEUDO_CALLS) / (short_n + PSEUDO_CALLS)
    if not long_n:
        return fitted(p0, 0.0)
    p_long = (long_gone + p0 * PSEUDO_CALLS) / (long_n + PSEUDO_CALLS)
    rate = max(math.log((1.0 - p0) / (1.0 - p_long)) / (long_wait / long_n), 0.0) if p_long < 1.0 else 0.1
    return fitted(p0, rate)
