"""What to tell a subscriber, from the ticket's view alone: pure, no MQTT, no SQL, no clock.

Every notification has a **key** that names the event it is about (`near` or, once postponed, `near:<n>`,
`called:<called_at>:<recall>`,
`no_show:<grace_until>`, `closed`). The notifier records a key before it sends and never records it twice,
so a view that arrives again (after a reconnect, a restart, a republish) sends nothing new: exactly one
notification per ticket and event (docs/protocol.md §8).

"Turn near" is decided from the low end of the wait's range (the 10 % quantile, `wait_range_min[0]`), not
from the median: measured in docs/benchmarks.md ("Turn near"), people told at the median come back late
far more often.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from language.catalogue import translate
from protocol.messages import TicketView

#: What a citizen can choose on the tracking page: minutes before the turn, or places before it.
CHOICES = {"15min": ("minutes", 15), "30min": ("minutes", 30), "5places": ("places", 5)}
DEFAULT_CHOICE = "15min"
ENDED = ("done", "closed", "voided", "cancelled")  # the ticket is over: its subscription goes (after "closed" is sent)
TTL_S = {"near": 900, "called": 600, "recalled": 600, "no_show": 900, "closed": 3600}  # stale after


@dataclass(frozen=True)
class Notification:
    key: str  # unique per ticket and event: recorded once, sent once
    kind: str  # near, called, recalled, no_show, closed
    title: str
    body: str

    @property
    def ttl_s(self) -> int:
        return TTL_S[self.kind]


def is_near(view: TicketView, choice: str) -> bool:
    """The citizen's threshold is reached: the wait's low quantile (or, with no range, the median) is at or
    below the chosen minutes, or at most the chosen number of people are ahead."""
    unit, amount = CHOICES[choice]
    if unit == "places":
        return view.ahead is not None and view.ahead <= amount
    low = view.wait_range_min[0] if view.wait_range_min is not None else view.expected_wait_min
    return low is not None and low <= amount


def due(view: TicketView, choice: str, lang: str) -> Notification | None:
    """The notification this view calls for (whether it was already sent is the store's business)."""
    state = view.state
    if state == "waiting":
        if not is_near(view, choice):
            return None
        # A ticket its holder moved back is near a second time, later: a new event (the key counts the moves).
        return _make(f"near:{view.postponed}" if view.postponed else "near", "near", lang, label=view.label)
    if state == "called" and view.called_at is not None:
        recall = view.recall or 0
        kind = "recalled" if recall else "called"
        return _make(f"called:{view.called_at.isoformat()}:{recall}", kind, lang, label=view.label,
                     counter=view.counter_name or view.counter or "")
    if state == "no_show" and view.grace_until is not None:
        return _make(f"no_show:{view.grace_until.isoformat()}", "no_show", lang, label=view.label,
                     until=view.grace_until.strftime("%H:%M"))
    if state == "closed":
        return _make("closed", "closed", lang, label=view.label)
    return None


def ended(view: TicketView | None, now: datetime) -> bool:
    """The ticket is over for good: its subscription may go (a no-show only when its grace is over)."""
    if view is None or view.state in ENDED:
        return True
    return view.state == "no_show" and view.grace_until is not None and now > view.grace_until


def _make(key: str, kind: str, lang: str, **params: str) -> Notification:
    return Notification(key, kind, translate(lang, f"push_{kind}_title", **params),
                        translate(lang, f"push_{kind}_body", **params))
