"""The tracking page's own operations (docs/http.md §1, docs/protocol.md §3.12): "Ich brauche mehr Zeit"
(postpone) and "Ich komme nicht mehr" (cancel), sent by this web server to the office's hub with the
token and answered by it.

Authorised by the token alone (the page has no session). CSRF: POST only, and a browser's POST from
another site is refused by its `Sec-Fetch-Site`/`Origin` (web/auth.py's `same_origin`) — no form token,
which would need a session to bind it to. A form carries a request id made when the page was rendered,
so sending the same form twice (a double tap, a reload) gets the first answer, not a second effect.
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from protocol.messages import CITIZEN_REFUSALS, TICKET_ID_RE, CitizenRequest, CommandAnswer
from web.keys import BRIDGE
from web.malformed import read_form, text_field

log = logging.getLogger("wartemarke.web.citizen")
OPS = ("postpone", "cancel")
DONE = {"postpone": "citizen_postponed", "cancel": "citizen_cancelled"}  # ?done=… → the notice shown


def new_request_id() -> str:
    """The request id a rendered form carries."""
    return uuid.uuid4().hex


async def send(request: web.Request, office: str, op: str, token: str) -> CommandAnswer | None:
    """Send the holder's request to the hub (through the broker): its answer, or None when there is none."""
    rid = text_field(await read_form(request), "rid")
    bridge = request.app[BRIDGE]
    if bridge is None:
        return None
    citizen = CitizenRequest(rid if TICKET_ID_RE.match(rid) else new_request_id(), op, token)
    answer = await bridge.citizen(office, citizen)
    log.info("%s: citizen %s (request %s) → %s", office, op, citizen.id,
             "no answer" if answer is None else "ok" if answer.ok else answer.error)
    return answer


def refusal_notice(answer: CommandAnswer | None) -> str:
    """The message id a refused (or unanswered) request is shown with, in the page's language."""
    if answer is None:
        return "citizen_unavailable"
    return f"citizen_refused_{answer.error}" if answer.error in CITIZEN_REFUSALS else "citizen_refused_other"
