"""The office-network pages: login, the clerk's counter page, the technician's device page.

Only the hub's own web registers these routes (`create_app(..., internal=...)` from hub/app.py);
public replicas have none of them, not even a login form.

Routes (every one but the login form refuses a request without a valid session: pages redirect to
`/login`, event streams and APIs answer 401; a wrong role gets 403):

- `GET /login`, `POST /login`, `POST /logout`
- `GET /counter[?office=…&counter=…]` (clerk, supervisor) — a picker until office and counter are
  chosen; the choice is remembered in the session. `POST /counter/command` (form; Post/Redirect/Get
  with a signed flash cookie), `GET /counter/events?office=…&counter=…` (server-sent events)
- `GET /devices` (technician, supervisor), `GET /devices/events`
- `GET /api/internal/session` (who am I, and the CSRF token for API clients),
  `GET /api/internal/counter?office=…&counter=…`, `POST /api/internal/counter/command` (JSON; 503
  when the hub does not answer), `GET /api/internal/devices`

Every POST needs the session's CSRF token (form field `csrf` or header `X-CSRF-Token`) and, when the
browser sends an `Origin`, our own origin. A command's request id comes from a hidden field written
into the form when the page was rendered: submitting the same rendering twice sends the same id, and
the hub answers the repeat with its first answer instead of calling a second ticket. Nothing here
logs a client address or what was typed into a failed login.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from multidict import MultiDictProxy

from hub.accounts import ROLES, check_login
from hub.store import HubStore
from protocol.config import SLUG_RE
from protocol.fields import LABEL_RE, SERVICE_RE
from protocol.messages import COMMAND_OPS, OFFICE_OPS, TICKET_ID_RE, CommandRequest
from web.bridge import Bridge
from web.i18n import language
from web.i18n import translator as _untyped_translator
from web.keys import BRIDGE, MIRROR, SETTINGS
from web.mirror import Mirror
from web.public import MissLimiter, client_key, page, stream
from web.sessions import (
    FLASH_COOKIE,
    FLASH_LIFETIME_S,
    LOGIN_COOKIE,
    LOGIN_FORM_LIFETIME_S,
    SESSION_COOKIE,
    Session,
    Sessions,
)
from web.templates_env import render

log = logging.getLogger("wartemarke.web.internal")

STORE = web.AppKey("internal_store", HubStore)
SESSIONS = web.AppKey("internal_sessions", Sessions)
LOGIN_LIMITER = web.AppKey("internal_login_limiter", MissLimiter)
COMMAND_TIMEOUT = web.AppKey("internal_command_timeout_s", float)

LOGIN_FAILURES_PER_MIN = 5  # per client; a blocked client does not even cost a scrypt
COMMAND_TIMEOUT_S = 5.0
COUNTER_ROLES = ("clerk", "supervisor")
DEVICE_ROLES = ("technician", "supervisor")
HOME = {"clerk": "/counter", "supervisor": "/counter", "technician": "/devices"}
NEXT_ALLOWED = ("/counter", "/devices")
SHORTCUTS = {"next": "N", "recall": "R", "no_show": "X", "done": "D", "pause": "P", "resume": "P"}
ARGLESS_OPS = ("next", "recall", "no_show", "done", "pause", "resume")
FRAME_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
ROLE_ORDER = {"hub": 0, "web": 1, "kiosk": 2, "display": 3}

Handler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- helpers ------------------------------------------------------------------------------------------

def translator(lang: str) -> Callable[..., str]:
    t: Callable[..., str] = _untyped_translator(lang)
    return t


def _mirror(request: web.Request) -> Mirror:
    mirror: Mirror = request.app[MIRROR]
    return mirror


def _offices(request: web.Request) -> tuple[str, ...]:
    offices: tuple[str, ...] = request.app[SETTINGS].offices
    return offices


def _is_https(request: web.Request) -> bool:
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "") if request.app[SETTINGS].trust_forwarded else ""
    return proto.split(",")[0].strip().lower() == "https"


def _set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int,
                path: str = "/") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="Strict",
                        secure=_is_https(request))


def _clear_cookie(response: web.StreamResponse, request: web.Request, name: str, path: str = "/") -> None:
    response.del_cookie(name, path=path, httponly=True, samesite="Strict", secure=_is_https(request))


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _field(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _same_origin(request: web.Request) -> bool:
    """A browser's POST from another site: refused. No Origin (old browsers, API clients) passes."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    forwarded = request.headers.get("X-Forwarded-Host") if request.app[SETTINGS].trust_forwarded else None
    host = (forwarded or request.host).split(",")[0].strip().lower()
    return origin != "null" and urlsplit(origin).netloc.lower() == host


def _current_role(store: HubStore, user: str) -> str | None:
    """The account's role now (it may have been removed or changed since the login)."""
    with store.lock:
        row = store.db.execute("SELECT role FROM users WHERE name = ?", (user,)).fetchone()
    return None if row is None else str(row[0])


async def _authenticate(request: web.Request) -> Session | None:
    session = request.app[SESSIONS].decode(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    role = await asyncio.get_running_loop().run_in_executor(None, _current_role, request.app[STORE], session.user)
    return session if role == session.role else None


def _internal_page(request: web.Request, template: str, session: Session | None, status: int = 200,
                   **context: Any) -> web.Response:
    csrf = request.app[SESSIONS].csrf_token(session) if session is not None else ""
    response = page(request, template, status=status, session=session, csrf=csrf, **context)
    response.headers.update(FRAME_HEADERS)
    return response


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store", **FRAME_HEADERS})


def _safe_next(target: str) -> str | None:
    """Only our own internal pages are redirect targets after a login (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or "\\" in target or parts.path not in NEXT_ALLOWED:
        return None
    return target


# -- the guard ----------------------------------------------------------------------------------------

def guarded(roles: Iterable[str], kind: str = "page") -> Callable[[Handler], Route]:
    """Session, role and (for POST) CSRF checks. `kind`: "page" (redirects to the login), "api" (JSON
    errors) or "stream" (plain errors)."""
    allowed = tuple(roles)

    def decorate(handler: Handler) -> Route:
        async def guard(request: web.Request) -> web.StreamResponse:
            session = await _authenticate(request)
            if session is None:
                if kind == "page":
                    target = request.path_qs if request.method == "GET" else request.path.rsplit("/", 1)[0]
                    query = urlencode({"next": target}) if _safe_next(target) else ""
                    return _redirect("/login" + (f"?{query}" if query else ""))
                if kind == "api":
                    return _json({"error": "login required"}, status=401)
                return web.Response(status=401, text="login required\n")
            if session.role not in allowed:
                return _refuse(request, session, kind, "forbidden")
            if request.method == "POST" and not await _csrf_ok(request, session):
                return _refuse(request, session, kind, "csrf_failed")
            return await handler(request, session)

        guard.__name__ = handler.__name__
        return guard

    return decorate


def _refuse(request: web.Request, session: Session, kind: str, reason: str) -> web.Response:
    if kind == "page":
        return _internal_page(request, "login.html", session, status=403, forbidden=reason,
                              home=HOME.get(session.role, "/login"))
    if kind == "api":
        return _json({"error": "forbidden" if reason == "forbidden" else "CSRF token missing or wrong"}, status=403)
    return web.Response(status=403, text="forbidden\n")


async def _csrf_ok(request: web.Request, session: Session) -> bool:
    if not _same_origin(request):
        return False
    token = request.headers.get("X-CSRF-Token")
    if token is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        token = _field(await request.post(), "csrf") or None
    return request.app[SESSIONS].check_csrf(session, token)


# -- login and logout -----------------------------------------------------------------------------------

def _login_page(request: web.Request, status: int = 200, error: str | None = None, next_url: str = "",
                session: Session | None = None) -> web.Response:
    nonce, token = request.app[SESSIONS].login_nonce()
    response = _internal_page(request, "login.html", session, status=status, error=error, login_token=token,
                              next_url=_safe_next(next_url) or "", forbidden=None)
    _set_cookie(response, request, LOGIN_COOKIE, nonce, LOGIN_FORM_LIFETIME_S, path="/login")
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request, next_url=request.query.get("next", ""), session=await _authenticate(request))


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    next_url = _field(form, "next")
    sessions = request.app[SESSIONS]
    if not _same_origin(request) or not sessions.check_login_token(request.cookies.get(LOGIN_COOKIE),
                                                                    _field(form, "token")):
        return _login_page(request, 403, "login_form_expired", next_url)
    limiter, client = request.app[LOGIN_LIMITER], client_key(request)
    if limiter.blocked(client):
        response = _login_page(request, 429, "login_blocked", next_url)
        response.headers["Retry-After"] = "60"
        return response
    user, password = _field(form, "user").strip()[:64], _field(form, "password")[:1024]
    role = None
    if user and password:
        role = await asyncio.get_running_loop().run_in_executor(None, check_login, request.app[STORE], user,
                                                                password)
    if role is None:
        limiter.miss(client)
        log.warning("failed login")  # neither the client's address nor what was typed
        return _login_page(request, 401, "login_failed", next_url)
    session = sessions.new(user, role)
    response = _redirect(_safe_next(next_url) or HOME.get(role, "/login"))
    _set_cookie(response, request, SESSION_COOKIE, sessions.encode(session), sessions.lifetime_s)
    _clear_cookie(response, request, LOGIN_COOKIE, path="/login")
    log.info("%s logged in (%s)", user, role)
    return response


@guarded(ROLES)
async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    request.app[SESSIONS].revoke(session)
    response = _redirect("/login")
    _clear_cookie(response, request, SESSION_COOKIE)
    _clear_cookie(response, request, FLASH_COOKIE)
    log.info("%s logged out", session.user)
    return response


@guarded(ROLES, "api")
async def session_api(request: web.Request, session: Session) -> web.StreamResponse:
    return _json({"user": session.user, "role": session.role, "expires": session.expires,
                  "csrf": request.app[SESSIONS].csrf_token(session)})


# -- what the counter page shows ----------------------------------------------------------------------

def _known_counter(mirror: Mirror, office: str, counter: str | None) -> bool:
    if not counter or not SLUG_RE.match(counter):
        return False
    counters = (mirror.office(office).info or {}).get("counters") or []
    return not counters or any(c.get("id") == counter for c in counters)  # no info yet: the hub judges


def _service_names(info: dict[str, Any], lang: str) -> dict[str, str]:
    return {s.get("id", ""): s.get("name", {}).get(lang, s.get("id", "")) for s in info.get("services", [])}


def _counter_name(mirror: Mirror, office: str, counter: str) -> str:
    counters = (mirror.office(office).info or {}).get("counters") or []
    return next((str(c.get("name", counter)) for c in counters if c.get("id") == counter), counter)


def _hub_warning(mirror: Mirror) -> str | None:
    if not mirror.mqtt_connected:
        return "counter_no_broker"
    hubs = [d for o in mirror.offices.values() for d in o.devices.values() if d.get("role") == "hub"]
    if hubs and not any(d.get("online") for d in hubs):
        return "counter_hub_offline"
    return None


def _counter_view(mirror: Mirror, office: str, counter: str, lang: str) -> dict[str, Any]:
    office_mirror = mirror.office(office)
    info = office_mirror.info or {}
    names = _service_names(info, lang)
    definition: dict[str, Any] = next((c for c in info.get("counters", []) if c.get("id") == counter), {})
    serves = set(definition.get("services", []))
    state = dict(office_mirror.counters.get(counter) or {"state": "unknown"})
    if state.get("service"):
        state["service_name"] = names.get(state["service"], state["service"])
    queue = (office_mirror.queue or {}).get("services")
    if queue is None:
        queue = [{"service": s, "waiting": None, "expected_wait_min": None, "issuing": None} for s in names]
    services = [{"id": s.get("service"), "name": names.get(s.get("service", ""), s.get("service")),
                 "waiting": s.get("waiting"), "expected_wait_min": s.get("expected_wait_min"),
                 "issuing": s.get("issuing"), "reason": s.get("reason"), "yours": s.get("service") in serves}
                for s in queue]
    return {"state": state, "services": services, "warning": _hub_warning(mirror),
            "announcement": info.get("announcement", ""), "office_name": info.get("name", office),
            "counter_name": _counter_name(mirror, office, counter)}


def _rids(services: Iterable[str]) -> dict[str, str]:
    keys = [*COMMAND_OPS, "announce"] + [f"{op}:{s}" for s in services for op in ("open_service", "close_service")]
    return {key: uuid.uuid4().hex for key in keys}


def _take_flash(request: web.Request, session: Session) -> dict[str, Any] | None:
    flash = request.app[SESSIONS].decode_flash(request.cookies.get(FLASH_COOKIE))
    return flash if flash is not None and flash.get("sid") == session.sid else None


def _choice(request: web.Request, session: Session) -> tuple[str | None, str | None]:
    offices, mirror = _offices(request), _mirror(request)
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
    mirror, lang = _mirror(request), language(request)
    flash = _take_flash(request, session)
    retry = (flash or {}).get("retry") or {}
    rids = {}
    if retry.get("office") == office and retry.get("counter") == (counter or ""):  # for this very form only
        rids = {str(retry.get("key")): str(retry.get("rid"))}
    info = (mirror.office(office).info or {}) if office else {}
    queue = (mirror.office(office).queue or {}) if office else {}
    names = _service_names(info, lang)
    common = {"office": office, "flash": flash, "all_services": names, "rids": {**_rids(names), **rids},
              "announcement": info.get("announcement", ""),
              "issuing": {q.get("service"): q for q in queue.get("services", [])}}
    if office is None or counter is None:
        offices = [{"id": o, "name": (mirror.office(o).info or {}).get("name", o)} for o in _offices(request)]
        response = _internal_page(request, "counter_pick.html", session, offices=offices, counter="",
                                  counters=info.get("counters", []), **common)
    else:
        view = _counter_view(mirror, office, counter, lang)
        events = "/counter/events?" + urlencode({"office": office, "counter": counter, "lang": lang})
        response = _internal_page(request, "counter.html", session, counter=counter, shortcuts=SHORTCUTS,
                                  events_url=events, **common, **{k: v for k, v in view.items() if k != "announcement"})
    if flash is not None:
        _clear_cookie(response, request, FLASH_COOKIE)
    if (office, counter) != (session.office, session.counter) and office is not None:
        sessions = request.app[SESSIONS]
        _set_cookie(response, request, SESSION_COOKIE, sessions.encode(session.choose(office, counter)),
                    sessions.remaining_s(session))
    return response


# -- commands -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    status: int  # for the JSON API: 200, 400, 403 or 503
    kind: str  # "ok" | "refused" | "silent" | "invalid"
    text: str
    rid: str
    answer: dict[str, Any] | None = None
    retry_key: str | None = None  # the form whose request id a retry should reuse


def _describe(op: str, args: dict[str, Any], answer: dict[str, Any], counter_name: str, names: dict[str, str],
              lang: str) -> str:
    t = translator(lang)
    if not answer.get("ok"):
        return t("msg_refused", error=str(answer.get("error", "?")))
    label = str(answer.get("label", ""))
    service = str(answer.get("service") or args.get("service") or "")
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
    office, op, lang, mirror = fields["office"], fields["op"], language(request), _mirror(request)
    rid = fields["rid"] if TICKET_ID_RE.match(fields["rid"]) else uuid.uuid4().hex
    t = translator(lang)
    if office not in _offices(request) or op not in COMMAND_OPS + OFFICE_OPS:
        raise Rejected(400, "unknown office or operation")
    counter: str | None = None
    if op in OFFICE_OPS:
        if session.role != "supervisor":
            raise Rejected(403, "forbidden: office commands are for supervisors")
    else:
        counter = fields["counter"]
        if not _known_counter(mirror, office, counter):
            raise Rejected(400, "unknown counter")
    args: dict[str, Any] = {}
    if op == "reactivate":
        args["label"] = fields["label"].strip().upper()
        if not LABEL_RE.match(args["label"]):
            return Outcome(400, "invalid", t("msg_missing_label"), rid)
    if op in ("transfer", "open_service", "close_service"):
        args["service"] = fields["service"].strip().upper()
        if not SERVICE_RE.match(args["service"]):
            return Outcome(400, "invalid", t("msg_missing_service"), rid)
    if op == "announce":
        args["text"] = " ".join(fields["text"].split())[:300]
    retry_key = None  # a retry may reuse the request id only where the form's arguments are fixed
    if op in ARGLESS_OPS:
        retry_key = op
    elif op in ("open_service", "close_service"):
        retry_key = f"{op}:{args['service']}"
    bridge: Bridge | None = request.app[BRIDGE]
    answer = None
    if bridge is not None:
        answer = await bridge.command(office, counter, CommandRequest(rid, op, args),
                                      timeout_s=request.app[COMMAND_TIMEOUT])
    log.info("%s: %s %s by %s → %s", office, counter or "office", op, session.user,
             "no answer" if answer is None else "ok" if answer.get("ok") else "refused")
    if answer is None:
        return Outcome(503, "silent", t("msg_silent"), rid, None, retry_key)
    info = mirror.office(office).info or {}
    text = _describe(op, args, answer, _counter_name(mirror, office, counter or ""), _service_names(info, lang), lang)
    return Outcome(200, "ok" if answer.get("ok") else "refused", text, rid, answer)


@guarded(COUNTER_ROLES)
async def counter_command_form(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    fields = {k: _field(form, k) for k in ("office", "counter", "op", "rid", "label", "service", "text")}
    try:
        outcome = await _command(request, session, fields)
    except Rejected as exc:
        return web.Response(status=exc.status, text=f"{exc}\n")
    flash: dict[str, Any] = {"sid": session.sid, "kind": outcome.kind, "text": outcome.text}
    query = {"office": fields["office"], "lang": language(request)}
    if _known_counter(_mirror(request), fields["office"], fields["counter"]):
        query["counter"] = fields["counter"]
    if outcome.kind == "silent" and outcome.retry_key is not None:
        flash["retry"] = {"office": fields["office"], "counter": query.get("counter", ""), "key": outcome.retry_key,
                          "rid": outcome.rid}
    response = _redirect("/counter?" + urlencode(query))
    _set_cookie(response, request, FLASH_COOKIE, request.app[SESSIONS].encode_flash(flash),
                FLASH_LIFETIME_S)
    return response


@guarded(COUNTER_ROLES, "api")
async def counter_command_api(request: web.Request, session: Session) -> web.StreamResponse:
    try:
        body = await request.json()
    except ValueError:
        return _json({"error": "a JSON object is needed"}, status=400)
    if not isinstance(body, dict):
        return _json({"error": "a JSON object is needed"}, status=400)
    names = {"rid": "id"}
    fields = {k: v if isinstance(v := body.get(names.get(k, k)), str) else ""
              for k in ("office", "counter", "op", "rid", "label", "service", "text")}
    try:
        outcome = await _command(request, session, fields)
    except Rejected as exc:
        return _json({"error": str(exc)}, status=exc.status)
    if outcome.kind == "silent":
        return _json({"id": outcome.rid, "ok": False, "error": "hub does not answer", "message": outcome.text},
                     status=503)
    if outcome.kind == "invalid":
        return _json({"id": outcome.rid, "ok": False, "error": outcome.text}, status=400)
    return _json({"id": outcome.rid, "ok": bool(outcome.answer and outcome.answer.get("ok")),
                  "answer": outcome.answer, "message": outcome.text})


def _query_choice(request: web.Request) -> tuple[str, str] | None:
    office, counter = request.query.get("office", ""), request.query.get("counter", "")
    if office not in _offices(request) or not _known_counter(_mirror(request), office, counter):
        return None
    return office, counter


@guarded(COUNTER_ROLES, "api")
async def counter_api(request: web.Request, session: Session) -> web.StreamResponse:
    choice = _query_choice(request)
    if choice is None:
        return _json({"error": "unknown office or counter"}, status=404)
    office, counter = choice
    view = _counter_view(_mirror(request), office, counter, language(request))
    return _json({"office": office, "counter": counter, **view, "calls": _mirror(request).office(office).calls})


@guarded(COUNTER_ROLES, "stream")
async def counter_events(request: web.Request, session: Session) -> web.StreamResponse:
    choice = _query_choice(request)
    if choice is None:
        return web.Response(status=404, text="unknown office or counter\n")
    office, counter = choice
    lang, mirror = language(request), _mirror(request)
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

    keys = [("counter", office, counter), ("office", office), *(("devices", o) for o in _offices(request))]
    return await _merged_stream(request, keys, "counter", event)


async def _merged_stream(request: web.Request, keys: list[tuple[str, ...]], name: str,
                         make: Callable[[str | None], str | None]) -> web.StreamResponse:
    """web.public.stream over several mirror keys: each key's changes are forwarded to one private key."""
    mirror = _mirror(request)
    own = ("internal-stream", uuid.uuid4().hex)

    async def forward(key: tuple[str, ...], queue: asyncio.Queue[str]) -> None:
        while True:
            await queue.get()
            mirror.notify(own, "/".join(key))

    queues = [(key, mirror.subscribe(key)) for key in keys]
    tasks = [asyncio.create_task(forward(key, queue)) for key, queue in queues]
    try:
        return await stream(request, own, name, make)
    finally:
        for task in tasks:
            task.cancel()
        for key, queue in queues:
            mirror.unsubscribe(key, queue)


# -- devices ----------------------------------------------------------------------------------------------

def _local_time(value: Any, tz: str | None) -> str:
    if not isinstance(value, str):
        return ""
    try:
        moment = datetime.fromisoformat(value)
        if tz:
            moment = moment.astimezone(ZoneInfo(tz))
    except (ValueError, ZoneInfoNotFoundError):
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _device_row(device_id: str, status: dict[str, Any], tz: str | None, lang: str) -> dict[str, Any]:
    t = translator(lang)
    notes: list[str] = []
    printer = status.get("printer") if isinstance(status.get("printer"), dict) else None
    printer_text, printer_problem = None, False
    if printer is not None:
        paper = str(printer.get("paper", "?"))
        printer_problem = not printer.get("online", True) or paper in ("out", "low")
        printer_text = ("online" if printer.get("online", True) else t("devices_printer_offline")) + f", {paper}"
        if printer.get("detail"):
            printer_text += f" ({printer['detail']})"
    if status.get("last_error"):
        notes.append(str(status["last_error"]))
    if status.get("role") == "display" and status.get("stale"):
        notes.append(t("devices_stale", reason=status["stale"]))
    if status.get("role") == "kiosk" and status.get("hub_reachable") is False:
        notes.append(t("devices_hub_unreachable"))
    outbox = status.get("outbox_pending")
    return {"id": str(status.get("device") or device_id), "role": str(status.get("role", "?")),
            "online": bool(status.get("online")), "seen": _local_time(status.get("at"), tz),
            "version": status.get("version") or "", "clock_synced": status.get("clock_synced"),
            "printer": printer_text, "printer_problem": printer_problem,
            "outbox": outbox if isinstance(outbox, int) else None, "notes": notes}


def _devices_office(mirror: Mirror, office: str, lang: str) -> dict[str, Any]:
    office_mirror = mirror.office(office)
    info = office_mirror.info or {}
    rows = [_device_row(d, s, info.get("timezone"), lang) for d, s in office_mirror.devices.items()]
    rows.sort(key=lambda r: (ROLE_ORDER.get(r["role"], 9), r["id"]))
    return {"id": office, "name": info.get("name", office), "devices": rows}


@guarded(DEVICE_ROLES)
async def devices_page(request: web.Request, session: Session) -> web.StreamResponse:
    lang, mirror = language(request), _mirror(request)
    offices = [_devices_office(mirror, o, lang) for o in _offices(request)]
    return _internal_page(request, "devices.html", session, offices=offices,
                          events_url="/devices/events?" + urlencode({"lang": lang}))


@guarded(DEVICE_ROLES, "stream")
async def devices_events(request: web.Request, session: Session) -> web.StreamResponse:
    lang, mirror, offices = language(request), _mirror(request), _offices(request)
    t = translator(lang)
    sent: dict[str, str] = {}

    def event(changed: str | None) -> str | None:
        changes = {}
        for office in offices:
            html = render("devices_office.html", lang=lang, t=t, office=_devices_office(mirror, office, lang))
            if sent.get(office) != html:
                changes[office] = sent[office] = html
        return json.dumps({"offices": changes}) if changes else None

    return await _merged_stream(request, [("devices", o) for o in offices], "devices", event)


@guarded(DEVICE_ROLES, "api")
async def devices_api(request: web.Request, session: Session) -> web.StreamResponse:
    mirror = _mirror(request)
    return _json({"offices": [{"id": o, "name": (mirror.office(o).info or {}).get("name", o),
                               "devices": mirror.office(o).devices} for o in _offices(request)]})


# -- wiring ------------------------------------------------------------------------------------------------

def add_internal_routes(app: web.Application, store: HubStore) -> None:
    """The clerk, supervisor and technician pages; called by the hub's web only."""
    app[STORE] = store
    app[SESSIONS] = Sessions(app[SETTINGS].session_secret)
    app[LOGIN_LIMITER] = MissLimiter(LOGIN_FAILURES_PER_MIN)
    app[COMMAND_TIMEOUT] = COMMAND_TIMEOUT_S
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/counter", counter_page)
    app.router.add_post("/counter/command", counter_command_form)
    app.router.add_get("/counter/events", counter_events)
    app.router.add_get("/devices", devices_page)
    app.router.add_get("/devices/events", devices_events)
    app.router.add_get("/api/internal/session", session_api)
    app.router.add_get("/api/internal/counter", counter_api)
    app.router.add_post("/api/internal/counter/command", counter_command_api)
    app.router.add_get("/api/internal/devices", devices_api)
