"""The clerk's counter page: what it shows, and the commands it sends to the hub.

A command's request id comes from a hidden field written into the form when the page was rendered:
submitting the same rendering twice sends the same id, and the hub answers the repeat with its first
answer instead of calling a second ticket.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from protocol.fields import LABEL_RE, SERVICE_RE, SLUG_RE
from protocol.messages import TICKET_ID_RE, CommandAnswer, CommandRequest, OfficeInfo
from protocol.operations import ARG_MAX, ARGUMENTS, BY_NAME, COUNTER, OFFICE, OPERATIONS, Operation
from protocol.text import text_problem
from web.auth import SESSIONS, guarded, staff_page
from web.bridge import Bridge
from web.i18n import language, translator
from web.identity import hub_online
from web.keys import BRIDGE, MIRROR, SETTINGS
from web.malformed import read_form, read_json, text_field
from web.mirror import Mirror, as_published, office_name
from web.responses import clear_cookie, private_json, redirect, set_cookie
from web.sessions import FLASH_COOKIE, FLASH_LIFETIME_S, SESSION_COOKIE, Session
from web.streams import merged_stream
from web.templates_env import render

log = logging.getLogger("wartemarke.web.counter")

COMMAND_TIMEOUT = web.AppKey("counter_command_timeout_s", float)  # how long a command waits for the hub
COMMAND_TIMEOUT_S = 5.0
COUNTER_ROLES = ("clerk", "supervisor")
SHORTCUTS = {"next": "N", "recall": "R", "no_show": "X", "done": "D", "pause": "P", "resume": "P"}
# The page's forms follow protocol/operations.py: a button for each operation without arguments, a form
# per argument-taking one, and on the supervisor's part a button per service for an office operation
# whose one argument is the service (open/close issuing).
ARGLESS_OPS = tuple(op.name for op in OPERATIONS if op.scope == COUNTER and not op.args)
FIELDS = ("office", "counter", "op", "rid", *ARGUMENTS)  # what a command form or API call may carry
# The typed arguments, and the message when one is missing or malformed; the others are free text.
PATTERNS = {"label": (LABEL_RE, "msg_missing_label"), "service": (SERVICE_RE, "msg_missing_service")}


def _per_service(operation: Operation) -> bool:
    return operation.scope == OFFICE and operation.args == ("service",)


# -- what the counter page shows ----------------------------------------------------------------------

def _known_counter(mirror: Mirror, office: str, counter: str | None) -> bool:
    if not counter or not SLUG_RE.match(counter):
        return False
    info = mirror.office(office).info
    return info is None or not info.counters or info.counter(counter) is not None  # no info yet: the hub judges


def _service_names(info: OfficeInfo | None, lang: str) -> dict[str, str]:
    return info.service_names(lang) if info is not None else {}


def _counter_name(mirror: Mirror, office: str, counter: str) -> str:
    info = mirror.office(office).info
    definition = info.counter(counter) if info is not None else None
    return definition.name if definition is not None else counter


def _hub_warning(mirror: Mirror, office: str) -> str | None:
    if not mirror.mqtt_connected:
        return "counter_no_broker"
    office_mirror = mirror.office(office)
    if hub_online(office_mirror.devices, office_mirror.info) is False:  # the hub info names, no other device
        return "counter_hub_offline"
    return None


def _counter_view(mirror: Mirror, office: str, counter: str, lang: str) -> dict[str, Any]:
    office_mirror = mirror.office(office)
    info = office_mirror.info
    names = _service_names(info, lang)
    definition = info.counter(counter) if info is not None else None
    serves = set(definition.services) if definition is not None else set()
    counter_state = office_mirror.counters.get(counter)
    state = as_published(counter_state) if counter_state is not None else {"state": "unknown"}
    if state.get("service"):
        state["service_name"] = names.get(state["service"], state["service"])
    queue = office_mirror.queue
    rows = [(s.service, s) for s in queue.services] if queue is not None else [(s, None) for s in names]
    services = [{"id": service, "name": names.get(service, service),
                 "waiting": None if s is None else s.waiting,
                 "expected_wait_min": None if s is None else s.expected_wait_min,
                 "issuing": None if s is None else s.issuing, "reason": None if s is None else s.reason,
                 "yours": service in serves}
                for service, s in rows]
    return {"state": state, "services": services, "warning": _hub_warning(mirror, office),
            "announcement": info.announcement if info is not None else "",
            "office_name": info.name if info is not None else office,
            "counter_name": _counter_name(mirror, office, counter)}


def _rids(services: Iterable[str]) -> dict[str, str]:
    """A fresh request id for each form the page shows (keyed as `_form_key` names them)."""
    services = list(services)
    keys = [key for op in OPERATIONS for key in ([f"{op.name}:{s}" for s in services] if _per_service(op)
                                                 else [op.name])]
    return {key: uuid.uuid4().hex for key in keys}


def _form_key(operation: Operation, args: dict[str, str]) -> str | None:
    """The form a retry may reuse the request id of: only one whose arguments were fixed when the page was
    rendered (a button), never one whose arguments the clerk typed."""
    if not operation.args:
        return operation.name
    return f"{operation.name}:{args['service']}" if _per_service(operation) else None


def _read_args(operation: Operation, fields: dict[str, str]) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The operation's arguments from the form, normalised, or what is wrong (a message id and its error)."""
    args: dict[str, str] = {}
    for name in operation.args:
        if name in PATTERNS:
            pattern, message_id = PATTERNS[name]
            args[name] = fields[name].strip().upper()
            if not pattern.match(args[name]):
                return args, (message_id, "")
        else:
            args[name] = " ".join(fields[name].split())[:ARG_MAX]
            problem = text_problem(args[name], ARG_MAX)
            if problem is not None:  # what the hub would refuse (a control character, …): said before sending
                return args, ("msg_bad_text", problem)
    return args, None


def _take_flash(request: web.Request, session: Session) -> dict[str, Any] | None:
    flash = request.app[SESSIONS].decode_flash(request.cookies.get(FLASH_COOKIE))
    return flash if flash is not None and flash.get("sid") == session.sid else None


def _choice(request: web.Request, session: Session) -> tuple[str | None, str | None]:
    offices, mirror = request.app[SETTINGS].offices, request.app[MIRROR]
    if "office" in request.query:
        office, counter = request.query.get("office"), request.query.get("counter")
    else:
        office, counter = session.office, session.counter
    if office is None and len(offices) == 1:
        office = offices[0]
    if office not in offices:
        return None, None
    assert office is not None
    return office, counter if _known_counter(mirror, office, counter) else None


@guarded(COUNTER_ROLES)
async def counter_page(request: web.Request, session: Session) -> web.StreamResponse:
    office, counter = _choice(request, session)
    mirror, lang = request.app[MIRROR], language(request)
    flash = _take_flash(request, session)
    retry = (flash or {}).get("retry") or {}
    rids = {}
    if retry.get("office") == office and retry.get("counter") == (counter or ""):  # for this very form only
        rids = {str(retry.get("key")): str(retry.get("rid"))}
    info = mirror.office(office).info if office else None
    queue = mirror.office(office).queue if office else None
    names = _service_names(info, lang)
    common: dict[str, Any] = {
        "office": office, "flash": flash, "all_services": names, "rids": {**_rids(names), **rids},
        "announcement": info.announcement if info is not None else "",
        "issuing": {q.service: q for q in (queue.services if queue is not None else ())}}
    if office is None or counter is None:
        offices = [{"id": o, "name": office_name(mirror, o)} for o in request.app[SETTINGS].offices]
        response = staff_page(request, "counter_pick.html", session, offices=offices, counter="",
                              counters=info.counters if info is not None else (), **common)
    else:
        view = _counter_view(mirror, office, counter, lang)
        events = "/counter/events?" + urlencode({"office": office, "counter": counter, "lang": lang})
        response = staff_page(request, "counter.html", session, counter=counter, shortcuts=SHORTCUTS,
                              argless_ops=ARGLESS_OPS,
                              events_url=events, **common, **{k: v for k, v in view.items() if k != "announcement"})
    if flash is not None:
        clear_cookie(response, request, FLASH_COOKIE)
    if (office, counter) != (session.office, session.counter) and office is not None:
        sessions = request.app[SESSIONS]
        set_cookie(response, request, SESSION_COOKIE, sessions.encode(session.choose(office, counter)),
                   sessions.remaining_s(session))
    return response


# -- commands -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    status: int  # for the JSON API: 200, 400, 403 or 503
    kind: str  # "ok" | "refused" | "silent" | "invalid"
    text: str
    rid: str
    answer: CommandAnswer | None = None
    retry_key: str | None = None  # the form whose request id a retry should reuse


def _describe(op: str, args: dict[str, Any], answer: CommandAnswer, counter_name: str, names: dict[str, str],
              lang: str) -> str:
    t = translator(lang)
    if not answer.ok:
        return t("msg_refused", error=answer.error or "?")
    label = answer.label or ""
    service = str(answer.service or args.get("service") or "")
    service_name = names.get(service, service)
    if op in ("next", "reactivate"):
        return t("msg_called", label=label, counter=counter_name)
    if op == "recall":
        return t("msg_recalled", label=label, counter=counter_name)
    if op in ("done", "no_show"):
        return t(f"msg_{op}", label=label)
    if op == "transfer":
        return t("msg_transfer", label=label, service=service_name)
    if op in ("pause", "resume"):
        return t(f"msg_{op}", counter=counter_name)
    if op == "announce":
        return t("msg_announce" if args.get("text") else "msg_announce_cleared")
    return t(f"msg_{op}", service=service_name)


class Rejected(Exception):
    """A malformed command request (a tampered form, a wrong API call): no flash, an HTTP error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _command(request: web.Request, session: Session, fields: dict[str, str]) -> Outcome:
    """Validate, send to the hub, describe the answer; raises Rejected when the request is malformed."""
    office, op, lang, mirror = fields["office"], fields["op"], language(request), request.app[MIRROR]
    rid = fields["rid"] if TICKET_ID_RE.match(fields["rid"]) else uuid.uuid4().hex
    t = translator(lang)
    operation = BY_NAME.get(op)
    if office not in request.app[SETTINGS].offices or operation is None:
        raise Rejected(400, "unknown office or operation")
    counter: str | None = None
    if operation.scope == OFFICE:
        if session.role != "supervisor":
            raise Rejected(403, "forbidden: office commands are for supervisors")
    else:
        counter = fields["counter"]
        if not _known_counter(mirror, office, counter):
            raise Rejected(400, "unknown counter")
    args, wrong = _read_args(operation, fields)
    if wrong is not None:
        message_id, error = wrong
        return Outcome(400, "invalid", t(message_id, error=error), rid)
    retry_key = _form_key(operation, args)
    bridge: Bridge | None = request.app[BRIDGE]
    answer = None
    if bridge is not None:
        answer = await bridge.command(office, counter, CommandRequest(rid, op, args),
                                      timeout_s=request.app[COMMAND_TIMEOUT])
    log.info("%s: %s %s by %s → %s", office, counter or "office", op, session.user,
             "no answer" if answer is None else "ok" if answer.ok else "refused")
    if answer is None:
        return Outcome(503, "silent", t("msg_silent"), rid, None, retry_key)
    info = mirror.office(office).info
    text = _describe(op, args, answer, _counter_name(mirror, office, counter or ""), _service_names(info, lang), lang)
    return Outcome(200, "ok" if answer.ok else "refused", text, rid, answer)


@guarded(COUNTER_ROLES)
async def counter_command_form(request: web.Request, session: Session) -> web.StreamResponse:
    form = await read_form(request)
    fields = {k: text_field(form, k) for k in FIELDS}
    try:
        outcome = await _command(request, session, fields)
    except Rejected as exc:
        return web.Response(status=exc.status, text=f"{exc}\n")
    # op: the page puts focus back on the button used (and points it at the result) when it loads again
    flash: dict[str, Any] = {"sid": session.sid, "kind": outcome.kind, "text": outcome.text, "op": fields["op"]}
    query = {"office": fields["office"], "lang": language(request)}
    if _known_counter(request.app[MIRROR], fields["office"], fields["counter"]):
        query["counter"] = fields["counter"]
    if outcome.kind == "silent" and outcome.retry_key is not None:
        flash["retry"] = {"office": fields["office"], "counter": query.get("counter", ""), "key": outcome.retry_key,
                          "rid": outcome.rid}
    response = redirect("/counter?" + urlencode(query))
    set_cookie(response, request, FLASH_COOKIE, request.app[SESSIONS].encode_flash(flash), FLASH_LIFETIME_S)
    return response


@guarded(COUNTER_ROLES, "api")
async def counter_command_api(request: web.Request, session: Session) -> web.StreamResponse:
    body = await read_json(request)
    if not isinstance(body, dict):
        return private_json({"error": "a JSON object is needed"}, status=400)
    names = {"rid": "id"}
    fields = {k: v if isinstance(v := body.get(names.get(k, k)), str) else ""
              for k in FIELDS}
    try:
        outcome = await _command(request, session, fields)
    except Rejected as exc:
        return private_json({"error": str(exc)}, status=exc.status)
    if outcome.kind == "silent":
        return private_json({"id": outcome.rid, "ok": False, "error": "hub does not answer",
                             "message": outcome.text}, status=503)
    if outcome.kind == "invalid":
        return private_json({"id": outcome.rid, "ok": False, "error": outcome.text}, status=400)
    return private_json({"id": outcome.rid, "ok": bool(outcome.answer and outcome.answer.ok),
                         "answer": outcome.answer.to_dict() if outcome.answer else None, "message": outcome.text})


def _query_choice(request: web.Request) -> tuple[str, str] | None:
    office, counter = request.query.get("office", ""), request.query.get("counter", "")
    if office not in request.app[SETTINGS].offices or not _known_counter(request.app[MIRROR], office, counter):
        return None
    return office, counter


@guarded(COUNTER_ROLES, "api")
async def counter_api(request: web.Request, session: Session) -> web.StreamResponse:
    choice = _query_choice(request)
    if choice is None:
        return private_json({"error": "unknown office or counter"}, status=404)
    office, counter = choice
    mirror = request.app[MIRROR]
    view = _counter_view(mirror, office, counter, language(request))
    calls = mirror.office(office).calls
    return private_json({"office": office, "counter": counter, **view,
                         "calls": as_published(calls) if calls is not None else None})


@guarded(COUNTER_ROLES, "stream")
async def counter_events(request: web.Request, session: Session) -> web.StreamResponse:
    choice = _query_choice(request)
    if choice is None:
        return web.Response(status=404, text="unknown office or counter\n")
    office, counter = choice
    lang, mirror = language(request), request.app[MIRROR]
    t = translator(lang)
    last: list[str] = []

    def event(changed: str | None) -> str | None:
        view = _counter_view(mirror, office, counter, lang)
        data = json.dumps({"state": view["state"].get("state"),
                           "status": render("counter_status.html", lang=lang, t=t, **view),
                           "queue": render("counter_queue.html", lang=lang, t=t, **view)})
        if last and last[0] == data:
            return None
        last[:] = [data]
        return data

    keys = [("counter", office, counter), ("office", office),
            *(("devices", o) for o in request.app[SETTINGS].offices)]
    return await merged_stream(request, keys, "counter", event)


