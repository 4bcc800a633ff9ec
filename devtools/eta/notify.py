"""When to send "your turn is near" (issue 15): the committed and the hard days replayed through a real
`OfficeEngine`, with a notifier watching every ticket's view as the hub publishes it.

    .venv/bin/python -m devtools.eta.notify [--markdown] [--set committed|hard] [--scenario NAME ...]

After every input and every simulated minute the hub's forecast is taken and each waiting ticket's
view (`hub/views.ticket_view`) is "published" when what a page shows of it changes (`hub/views.as_shown`,
as the hub's publisher does): the notifier sees only those views, as the real one does. For every
ticket that asked for "15 min before", each policy notes the first minute its rule holds on the view:

- **median − 15**: the median wait (`expected_wait_min`) is at most 15 min;
- **low ≤ 15** (notifier/rules.py, what `wartemarke-notifier` does): the 10 % quantile
  (`wait_range_min[0]`) is at most 15 min;
- **low ≤ 20**: the same with five minutes more, for comparison.

A ticket whose rule never held before it was called is notified by the call itself (lead 0). *Late*: called
less than 10 min after the notification (someone who comes back when told arrives after the call);
*lead*: call − notification. Counted over the tickets that were called and had been told a wait of at
least 30 min when they drew the ticket: the people for whom leaving makes sense.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from devtools.eta.evaluate import SETS, Replay, at
from devtools.eta.scenarios import Scenario
from devtools.stats import median
from hub.engine import TicketState
from hub.estimate import forecast
from hub.views import as_shown, ticket_view
from notifier.rules import is_near
from protocol.messages import TicketView

CHECK = 6  # an event kind of our own after Replay's: the notifier's look at the views, every minute
LATE_MIN = 10.0
LEAVE_MIN = 30.0  # told at least this long: people who would leave and come back
POLICIES: dict[str, Callable[[TicketView], bool]] = {
    "median − 15": lambda v: v.expected_wait_min is not None and v.expected_wait_min <= 15,
    "low ≤ 15": lambda v: is_near(v, "15min"),
    "low ≤ 20": lambda v: v.wait_range_min is not None and v.wait_range_min[0] <= 20,
}


class NotifyReplay(Replay):
    """A scenario day with a notifier watching the published ticket views."""

    def __init__(self, s: Scenario) -> None:
        super().__init__(s)
        self.shown: dict[str, dict[str, Any]] = {}  # ticket id → what its page shows (last published)
        self.notified: dict[str, dict[str, float]] = {name: {} for name in POLICIES}
        minute = 0.0
        while minute < s.open_minutes:
            self._push(minute, CHECK, "")
            minute += 1.0

    def step(self, minute: float, kind: int, ref: str) -> None:
        if kind != CHECK:
            super().step(minute, kind, ref)
        self._watch(minute)

    def _watch(self, minute: float) -> None:
        now = at(self.day, minute)
        fc = forecast(self.engine, now, self.priors)
        for ticket in self.engine.tickets.values():
            if ticket.state != TicketState.WAITING:
                continue
            view = ticket_view(self.engine, ticket, fc, now)
            shown = as_shown(view.to_dict())
            if shown == self.shown.get(ticket.id):
                continue  # not republished: the notifier sees nothing new
            self.shown[ticket.id] = shown
            for name, rule in POLICIES.items():
                if ticket.id not in self.notified[name] and rule(view):
                    self.notified[name][ticket.id] = minute


@dataclass
class PolicyFigures:
    n: int = 0
    late: int = 0
    leads: list[float] = field(default_factory=list)

    @property
    def late_share(self) -> float:
        return self.late / self.n if self.n else 0.0


def measure(s: Scenario) -> dict[str, PolicyFigures]:
    replay = NotifyReplay(s)
    result = replay.run()
    figures = {name: PolicyFigures() for name in POLICIES}
    for outcome in result.outcomes:
        if outcome.actual is None or outcome.ours < LEAVE_MIN:
            continue
        called = outcome.issued + outcome.actual
        ticket_id = f"sim-{outcome.id}"
        for name, fig in figures.items():
            lead = called - replay.notified[name].get(ticket_id, called)
            fig.n += 1
            fig.late += lead < LATE_MIN
            fig.leads.append(lead)
    return figures


def table(rows: Sequence[tuple[str, dict[str, PolicyFigures]]], markdown: bool) -> str:
    names = list(POLICIES)
    head = ["scenario", "n"] + [f"{name}: late / median lead" for name in names]
    lines = []
    for label, figures in rows:
        n = next(iter(figures.values())).n
        cells = [f"{f.late_share:.1%} / {median(f.leads):.0f} min" if f.n else "–" for f in figures.values()]
        lines.append([label, str(n), *cells])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *lines])


def pooled(figures: Sequence[dict[str, PolicyFigures]]) -> dict[str, PolicyFigures]:
    total = {name: PolicyFigures() for name in POLICIES}
    for day in figures:
        for name, fig in day.items():
            total[name].n += fig.n
            total[name].late += fig.late
            total[name].leads += fig.leads
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.eta.notify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--set", choices=("committed", "hard"), action="append")
    parser.add_argument("--scenario", action="append")
    args = parser.parse_args(argv)
    for title, make in SETS:
        if args.set and title.split()[0] not in args.set:
            continue
        scenarios = [s for s in make() if not args.scenario or s.name in args.scenario]
        if not scenarios:
            continue
        rows = [(s.name, measure(s)) for s in scenarios]
        rows.append((f"all {title}", pooled([figures for _, figures in rows])))
        print(f"Turn near, {title} (tickets told ≥ {LEAVE_MIN:.0f} min, asked for 15 min before)")
        print(table(rows, args.markdown))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
