"""What the office-network pages share: the session guard, CSRF, login and logout.

The pages themselves are web/counter.py (clerks, supervisors) and web/devices.py (technicians); the
whole set is wired by web/internal.py:

Only the hub's own web registers these routes (`create_app(..., internal=...)` from hub/app.py);
public replicas have none of them, not even a login form.

Routes (every one but the login form refuses a request without a valid session: pages redirect to
`/login`, event streams and APIs answer 401; a wrong role gets 403):

- `GET /login`, `POST /login`, `POST /logout`; `GET /account`, `POST /account` (web/account.py: change
  your own password)
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
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from hub.accounts import ROLES, Account, account, check_login
from hub.store import HubStore
from web.i18n import translator as _untyped_translator
from web.keys import MIRROR, SETTINGS
from web.limits import TALLY, MissLimiter, client_key, throttled
from web.malformed import read_form
from web.mirror import Mirror
from web.public import page
from web.sessions import (
    FLASH_COOKIE,
    LOGIN_COOKIE,
    LOGIN_FORM_LIFETIME_S,
    SESSION_COOKIE,
    Session,
    Sessions,
)
from web.streams import stream

log = logging.getLogger("wartemarke.web.internal")

STORE = web.AppKey("internal_store", HubStore)
SESSIONS = web.AppKey("internal_sessions", Sessions)
LOGIN_LIMITER = web.AppKey("internal_login_limiter", MissLimiter)  # per client address
ACCOUNT_LIMITER = web.AppKey("internal_account_limiter", MissLimiter)  # per account name typed
COMMAND_TIMEOUT = web.AppKey("internal_command_timeout_s", float)

LOGIN_FAILURES_PER_MIN = 5  # per client; a blocked client does not even cost a scrypt
ACCOUNT_FAILURES_PER_MIN = 10  # per account name, from all clients together
COMMAND_TIMEOUT_S = 5.0
COUNTER_ROLES = ("clerk", "supervisor")
DEVICE_ROLES = ("technician", "supervisor")
HOME = {"clerk": "/counter", "supervisor": "/counter", "technician": "/devices"}
NEXT_ALLOWED = ("/counter", "/devices", "/account")
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


async def _authenticate(request: web.Request) -> Session | None:
    """The request's session while its account still has the role and the stamp it was made with (a
    password or role change, or the account's removal, ends it at once)."""
    session = request.app[SESSIONS].decode(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    now = await asyncio.get_running_loop().run_in_executor(None, account, request.app[STORE], session.user)
    return session if now is not None and (now.role, now.stamp) == (session.role, session.stamp) else None


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
        token = _field(await read_form(request), "csrf") or None
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


def password_attempt(request: web.Request, user: str) -> web.Response | None:
    """Count a password check before it is made, per client and per account name: concurrent guesses
    cannot all slip through before the first failure is recorded. A 429 when either is used up."""
    client = client_key(request)
    if request.app[LOGIN_LIMITER].blocked(client) or request.app[ACCOUNT_LIMITER].blocked(user.casefold()):
        return throttled(request, 429, "password checks refused: too many failures", "too many failed logins", 60)
    request.app[LOGIN_LIMITER].miss(client)
    request.app[ACCOUNT_LIMITER].miss(user.casefold())
    return None


def password_accepted(request: web.Request, user: str) -> None:
    """A right password: its attempt does not count as a failure."""
    request.app[LOGIN_LIMITER].give_back(client_key(request))
    request.app[ACCOUNT_LIMITER].give_back(user.casefold())


async def run_blocking(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def set_session(response: web.StreamResponse, request: web.Request, session: Session) -> None:
    sessions = request.app[SESSIONS]
    _set_cookie(response, request, SESSION_COOKIE, sessions.encode(session), sessions.lifetime_s)


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    next_url = _field(form, "next")
    sessions = request.app[SESSIONS]
    if not _same_origin(request) or not sessions.check_login_token(request.cookies.get(LOGIN_COOKIE),
                                                                    _field(form, "token")):
        return _login_page(request, 403, "login_form_expired", next_url)
    user, password = _field(form, "user").strip()[:64], _field(form, "password")[:1024]
    refused = password_attempt(request, user)
    if refused is not None:
        response = _login_page(request, 429, "login_blocked", next_url)
        response.headers["Retry-After"] = refused.headers["Retry-After"]
        return response
    found: Account | None = None
    if user and password:
        found = await run_blocking(check_login, request.app[STORE], user, password)
    if found is None:
        # Neither the client's address nor what was typed; counted, so a flood of guesses from many
        # addresses is one line a minute.
        request.app[TALLY].count("failed logins")
        return _login_page(request, 401, "login_failed", next_url)
    password_accepted(request, user)
    response = _redirect(_safe_next(next_url) or HOME.get(found.role, "/login"))
    set_session(response, request, sessions.new(found.name, found.role, found.stamp))
    _clear_cookie(response, request, LOGIN_COOKIE, path="/login")
    log.info("%s logged in (%s)", user, found.role)
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
        return await stream(request, own, name, make, staff=True)
    finally:
        for task in tasks:
            task.cancel()
        for key, queue in queues:
            mirror.unsubscribe(key, queue)
