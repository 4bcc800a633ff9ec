"""The clerk's page offers the contract's operations (protocol/operations.py), not a list of its own: each
form on the page names an operation, carries the fields of that operation's arguments and a request id;
the buttons without a field are exactly the counter operations without arguments. Through the hub's real
process and real HTTP (the `web_hub` fixture).

Only the clerk's operations: a ticket holder's (`CITIZEN_OPERATIONS`: postpone, cancel, rate) are sent by the
tracking page with the ticket's token, never by a clerk, so they are kept out of `OPERATIONS` and no form
here may offer them (`BY_NAME` does not know them)."""

from __future__ import annotations

import re

from protocol.operations import ARGUMENTS, BY_NAME, COUNTER, OFFICE, OPERATIONS
from tests.staff_harness import Browser, counter_path
from tests.web_harness import WebHub
from web.counter import FIELDS


def forms(html: str) -> list[set[str]]:
    """The field names of each command form on a page, `op=…` included as a name."""
    found = []
    for form in re.findall(r'<form method="post" action="/counter/command.*?</form>', html, re.S):
        names = set(re.findall(r'name="([a-z_]+)"', form))
        ops = re.findall(r'name="op" value="([a-z_]+)"', form)
        assert len(ops) == 1, form
        assert re.search(r'name="rid" value="[0-9a-f]{32}"', form), f"a form without its request id: {form}"
        found.append(names | {f"op={ops[0]}"})
    return found


def test_the_counter_page_offers_the_contracts_operations_with_their_arguments(web_hub: WebHub) -> None:
    boss = Browser(web_hub.port)
    boss.login("sven")
    page = boss.get(counter_path(web_hub.office))
    assert page.status == 200
    offered: dict[str, list[set[str]]] = {}
    for fields in forms(page.text):
        op = next(f[3:] for f in fields if f.startswith("op="))
        assert op in BY_NAME, f"the page offers {op!r}, which protocol/operations.py does not know"
        assert {"csrf", "office", "rid"} <= fields
        assert set(BY_NAME[op].args) <= fields, f"the form of {op!r} lacks an argument"
        offered.setdefault(op, []).append(fields)
    assert set(offered) == {op.name for op in OPERATIONS if op.scope in (COUNTER, OFFICE)}
    buttons = {op for op, all_fields in offered.items()
               if any(not fields & set(ARGUMENTS) for fields in all_fields)}
    assert buttons == {op.name for op in OPERATIONS if op.scope == COUNTER and not op.args}


def test_a_command_may_carry_every_argument_of_the_contract() -> None:
    assert set(ARGUMENTS) <= set(FIELDS)
