"""How a wait range is shown to a citizen: "ca. 25–40 Min." on the tracking page, the Ampel and the
printed ticket, from the hub's `expected_wait_min` and `wait_range_min` (docs/protocol.md §3.4, §3.9).

The hub publishes the range as the 10 % and 90 % quantiles of the wait, to the minute. Shown to the
minute it would promise a precision it does not have, so the ends are rounded outwards to
`STEP` minutes once the range reaches `ROUND_FROM` minutes (27–41 → 25–45); a range narrower than
`MIN_WIDTH` minutes is not worth a range, and then the single (median) value is shown. Anything off the
contract (a range that is not two whole minutes, low ≤ high) shows no range. Pure.
"""

from __future__ import annotations

from typing import Any

STEP = 5
ROUND_FROM = 15
MIN_WIDTH = 5


def shown_range(spread: Any) -> tuple[int, int] | None:
    """The (low, high) minutes to show for a published `wait_range_min`, or None: show one value."""
    if not (isinstance(spread, list | tuple) and len(spread) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in spread)):
        return None
    low, high = spread
    if low < 0 or high < low or high - low < MIN_WIDTH:
        return None
    if high >= ROUND_FROM:
        low, high = low - low % STEP, high + (-high) % STEP
    return low, high
