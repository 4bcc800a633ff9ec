"""The commands a clerk or supervisor can give, with their arguments: the one list the hub's engine
dispatches on, the command parser checks against, and the CLIs and the clerk's page offer
(docs/protocol.md §3.6).

A counter operation goes to `…/counter/{counter}/command` and acts on that counter; an office operation
goes to `…/command`. Every argument is text a person typed (≤ `ARG_MAX` characters, protocol/text.py's
rule); whether it names a real ticket or service is for the hub to answer.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTER = "counter"
OFFICE = "office"
CITIZEN = "citizen"  # a ticket holder's own request, authorised by the ticket's token (§3.12)
ARG_MAX = 300  # the announcement's limit; labels and services are far shorter
ARGUMENTS = {"label": "a ticket's label (A042)", "service": "a service id (A)",
             "text": "the announcement (may be empty)"}


@dataclass(frozen=True)
class Operation:
    name: str
    scope: str  # COUNTER or OFFICE: the topic it is sent on
    args: tuple[str, ...]  # required arguments (keys of ARGUMENTS), in the order a CLI takes them
    help: str


OPERATIONS = (
    Operation("next", COUNTER, (), "complete the current ticket (if any) and call the next one"),
    Operation("recall", COUNTER, (), "call the current ticket again"),
    Operation("no_show", COUNTER, (), "the current ticket's holder did not come"),
    Operation("reactivate", COUNTER, ("label",), "call a no-show who turned up within the grace period"),
    Operation("done", COUNTER, (), "the current ticket is served"),
    Operation("transfer", COUNTER, ("service",), "the current ticket waits again, in another service"),
    Operation("pause", COUNTER, (), "the counter is away (the current ticket is completed)"),
    Operation("resume", COUNTER, (), "the counter is back"),
    Operation("announce", OFFICE, ("text",), "set the announcement line (empty: clear it)"),
    Operation("open_service", OFFICE, ("service",), "resume issuing tickets for a service"),
    Operation("close_service", OFFICE, ("service",), "stop issuing tickets for a service"),
)
COUNTER_OPS = {op.name: op for op in OPERATIONS if op.scope == COUNTER}
OFFICE_OPS = {op.name: op for op in OPERATIONS if op.scope == OFFICE}
BY_NAME = {op.name: op for op in OPERATIONS}

# A ticket holder's operations on their own ticket (`…/citizen/request`, docs/protocol.md §3.12): not
# clerk operations, so they are kept out of OPERATIONS (the clerk's page offers exactly those).
CITIZEN_OPERATIONS = (
    Operation("postpone", CITIZEN, (), "move one's waiting ticket back by about 15 minutes' worth of places"),
    Operation("cancel", CITIZEN, (), "give up one's waiting ticket: the people behind move up"),
    Operation("rate", CITIZEN, (), "after being served: a score 1-5 and whether the concern was settled, once"),
)
CITIZEN_OPS = {op.name: op for op in CITIZEN_OPERATIONS}
