"""Checks of the retained views only the web reads: a ticket's tracking state, a counter's state and
the history (docs/protocol.md §3.8, §3.9, §3.11).

The web keeps these as plain dicts (its pages and JSON read them as such); each check raises
`InvalidMessage` naming the field, so a view that breaks the contract is dropped before any page sees
it, like every other message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from protocol.fields import LABEL_RE, SERVICE_RE, Fields

TICKET_STATES = ("waiting", "called", "done", "no_show", "closed", "voided")
COUNTER_STATES = ("idle", "serving", "paused")
HH_MM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")


def _choice(f: Fields, name: str, choices: tuple[str, ...]) -> None:
    if f.text(name, max_len=40) not in choices:
        raise f.fail(name, f"must be one of {', '.join(choices)}")


def check_ticket_view(data: Mapping[str, Any]) -> None:
    f = Fields(data, "ticket")
    f.day()
    f.text("label", LABEL_RE)
    f.text("service", SERVICE_RE)
    f.time("issued_at")
    _choice(f, "state", TICKET_STATES)
    for name in ("ahead", "expected_wait_min", "recall"):
        f.opt_integer(name)
    if data.get("counter") is not None:
        f.slug("counter")
    f.opt_human("counter_name", 80)
    for name in ("called_at", "grace_until"):
        if data.get(name) is not None:
            f.time(name)


def check_counter_state(data: Mapping[str, Any]) -> None:
    f = Fields(data, "counter state")
    f.day()
    f.slug("counter")
    _choice(f, "state", COUNTER_STATES)
    if data.get("label") is not None:
        f.text("label", LABEL_RE)
    if data.get("service") is not None:
        f.text("service", SERVICE_RE)


def check_history(data: Mapping[str, Any]) -> None:
    f = Fields(data, "history")
    f.slug("office")
    f.integer("weeks", 0, 520)
    f.day("until")
    for cell in f.array("cells"):
        cf = Fields(cell if isinstance(cell, dict) else {}, "history.cells[]")
        for name, maxval in (("weekday", 6), ("hour", 23), ("typical_wait_min", 100000)):
            cf.integer(name, 0, maxval)
        per_day = cf.data.get("tickets_per_day")
        if isinstance(per_day, bool) or not isinstance(per_day, int | float) or not 0 <= per_day <= 1e6:
            raise cf.fail("tickets_per_day", "must be a number in 0..1000000")
    for weekday, ran in f.mapping("ran_out").items():
        rf = Fields(ran if isinstance(ran, dict) else {}, "history.ran_out[]")
        if weekday not in tuple("0123456"):
            raise f.fail("ran_out", f"has an invalid weekday {weekday!r}")
        rf.integer("days", 0, 1000)
        rf.integer("of_days", 0, 1000)
        rf.text("typical_time", HH_MM_RE)
