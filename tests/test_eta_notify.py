""""Turn near" on a simulated day (devtools/eta/notify.py, the figures of docs/benchmarks.md): the
notifier's rule (the wait's 10 % quantile ≤ 15 min) tells people early enough, and notifying at the
median − 15 min, the obvious rule, does not — on the committed Monday rush."""

from __future__ import annotations

from devtools.eta.notify import measure
from devtools.eta.scenarios import all_scenarios
from devtools.stats import median


def test_the_low_quantile_tells_people_in_time_and_the_median_does_not() -> None:
    day = next(s for s in all_scenarios() if s.name == "monday-rush")
    figures = measure(day)
    ours, naive = figures["low ≤ 15"], figures["median − 15"]
    assert ours.n >= 50
    assert ours.late_share <= 0.05 and 15 <= median(ours.leads) <= 25
    assert naive.late_share >= 0.10, "the median rule is late for more than one in ten"
