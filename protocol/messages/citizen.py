"""A ticket holder's request (`…/citizen/request`) and its refusal reasons, docs/protocol.md §3.12.

The request carries the tracking token itself: the broker shows the token's hash to every reader of
the ticket topics, so only the token proves that the sender holds the ticket. The answer is a
`CommandAnswer` whose `error`, when refused, is one of `CITIZEN_REFUSALS` (the page words it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.fields import TICKET_ID_RE, Fields, InvalidMessage
from protocol.operations import CITIZEN_OPS

# Why the hub refuses a citizen request (the `error` of its answer).
UNKNOWN_TICKET = "unknown_ticket"  # no ticket of today has this token (or it was voided)
CALLED = "called"  # the ticket is being served: too late to postpone or cancel
POSTPONED_TWICE = "postponed_twice"  # postponed twice already
NOBODY_BEHIND = "nobody_behind"  # nobody of its service waits behind it: moving back changes nothing
ENDED = "ended"  # done, no-show, closed or cancelled already
NOT_SERVED = "not_served"  # `rate` before the ticket is done (or for one that was never served)
RATED = "rated"  # `rate` again: one rating per ticket
TOO_MANY_REQUESTS = "too_many_requests"  # the ticket sent more requests today than a holder needs (not logged)
CITIZEN_REFUSALS = (UNKNOWN_TICKET, CALLED, POSTPONED_TWICE, NOBODY_BEHIND, ENDED, NOT_SERVED, RATED,
                    TOO_MANY_REQUESTS)
MAX_POSTPONES = 2


@dataclass(frozen=True)
class CitizenRequest:
    """`op` (postpone, cancel or rate) on the ticket of `token`; `id` makes a repeat get the first answer.
    `rate` carries `score` (1–5) and may carry `settled` (was the concern settled); no other op has them."""

    id: str
    op: str
    token: str
    score: int | None = None
    settled: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "op": self.op, "token": self.token}
        if self.op == "rate":
            data["score"] = self.score
            if self.settled is not None:
                data["settled"] = self.settled
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CitizenRequest:
        f = Fields(data, "citizen request")
        name = f.text("op", max_len=40)
        if name not in CITIZEN_OPS:
            raise f.fail("op", f"must be one of {', '.join(CITIZEN_OPS)}; got {name!r}")
        rate = name == "rate"
        return cls(id=f.text("id", TICKET_ID_RE), op=name, token=f.token("token"),
                   score=f.integer("score", 1, 5) if rate else None, settled=f.opt_flag("settled") if rate else None)

    def __post_init__(self) -> None:
        """The builder keeps the parser's rule: a rating has a score 1–5, nothing else has one."""
        if (self.op == "rate") != (self.score is not None) or (self.score is not None and not 1 <= self.score <= 5):
            raise InvalidMessage("citizen request: `rate` needs a score 1..5, other ops none")
        if self.op != "rate" and self.settled is not None:
            raise InvalidMessage("citizen request: only `rate` has `settled`")
