"""A ticket holder's request (`…/citizen/request`) and its refusal reasons, docs/protocol.md §3.11.

The request carries the tracking token itself: the broker shows the token's hash to every reader of
the ticket topics, so only the token proves that the sender holds the ticket. The answer is a
`CommandAnswer` whose `error`, when refused, is one of `CITIZEN_REFUSALS` (the page words it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.fields import TICKET_ID_RE, TOKEN_RE, Fields
from protocol.operations import CITIZEN_OPS

# Why the hub refuses a citizen request (the `error` of its answer).
UNKNOWN_TICKET = "unknown_ticket"  # no ticket of today has this token (or it was voided)
CALLED = "called"  # the ticket is being served: too late to postpone or cancel
POSTPONED_TWICE = "postponed_twice"  # postponed twice already
NOBODY_BEHIND = "nobody_behind"  # nobody of its service waits behind it: moving back changes nothing
ENDED = "ended"  # done, no-show, closed or cancelled already
CITIZEN_REFUSALS = (UNKNOWN_TICKET, CALLED, POSTPONED_TWICE, NOBODY_BEHIND, ENDED)
MAX_POSTPONES = 2


@dataclass(frozen=True)
class CitizenRequest:
    """`op` (postpone or cancel) on the ticket of `token`; `id` makes a repeat get the first answer."""

    id: str
    op: str
    token: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "token": self.token}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CitizenRequest:
        f = Fields(data, "citizen request")
        name = f.text("op", max_len=40)
        if name not in CITIZEN_OPS:
            raise f.fail("op", f"must be one of {', '.join(CITIZEN_OPS)}; got {name!r}")
        return cls(id=f.text("id", TICKET_ID_RE), op=name, token=f.text("token", TOKEN_RE))
