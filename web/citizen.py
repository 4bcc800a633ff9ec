"""The tracking page's own operations (docs/http.md §2, docs/protocol.md §3.12): "Ich brauche mehr Zeit"
(postpone), "Ich komme nicht mehr" (cancel) and, after the visit, the rating (rate: a score 1–5 and
"Anliegen erledigt: ja/nein"), sent by this web server to the office's hub with the token and answered
by it.

Authorised by the token alone (the page has no session). CSRF: POST only, and a browser's POST from
another site is refused by its `Sec-Fetch-Site`/`Origin` (web/auth.py's `same_origin`) — no form token,
which would need a session to bind it to. A form carries a request id made when the page was rendered,
so sending the same form twice (a double tap, a reload) gets the first answer, not a second effect. A
POST without one (or with one that is not a request id) is refused with a 400: every form of the page has
one, and a fresh id made up here would turn each repeat of such a POST into a new request.
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from protocol.messages import CITIZEN_REFUSALS, TICKET_ID_RE, CitizenRequest, CommandAnswer
from protocol.messages.citizen import TOO_MANY_REQUESTS
from web.keys import BRIDGE
from web.malformed import read_form, text_field

log = logging.getLogger("wartemarke.web.citizen")
NO_SCORE = "no_score"  # a rating form sent without a score 1–5: not sent to the hub
OPS = ("postpone", "cancel", "rate")
DONE = {"postpone": "citizen_postponed", "cancel": "citizen_cancelled", "rate": "citizen_rated"}  # ?done=…
SCORES = {str(n): n for n in range(1, 6)}
SETTLED = {"yes": True, "no": False}


def new_request_id() -> str:
    """The request id a rendered form carries."""
    return uuid.uuid4().hex


async def request_id(request: web.Request) -> str | None:
    """The form's request id; None when the POST has none that is one (no body, no `rid`, a malformed one)."""
    rid = text_field(await read_form(request), "rid")
    return rid if TICKET_ID_RE.match(rid) else None


async def send(request: web.Request, office: str, op: str, token: str, rid: str) -> CommandAnswer | None:
    """Send the holder's request `rid` to the hub (through the broker): its answer, or None when there is none."""
    form = await read_form(request)
    score = SCORES.get(text_field(form, "score"))
    bridge = request.app[BRIDGE]
    if bridge is None:
        return None
    if op == "rate" and score is None:
        return CommandAnswer.refused(NO_SCORE)
    settled = SETTLED.get(text_field(form, "settled")) if op == "rate" else None
    citizen = CitizenRequest(rid, op, token, score if op == "rate" else None, settled)
    answer = await bridge.citizen(office, citizen)
    log.log(logging.DEBUG if answer is not None and answer.error == TOO_MANY_REQUESTS else logging.INFO,
            "%s: citizen %s (request %s) → %s", office, op, citizen.id,
            "no answer" if answer is None else "ok" if answer.ok else answer.error)
    return answer


def refusal_notice(answer: CommandAnswer | None) -> str:
    """The message id a refused (or unanswered) request is shown with, in the page's language."""
    if answer is None:
        return "citizen_unavailable"
    if answer.error == NO_SCORE:
        return "citizen_no_score"
    return f"citizen_refused_{answer.error}" if answer.error in CITIZEN_REFUSALS else "citizen_refused_other"
