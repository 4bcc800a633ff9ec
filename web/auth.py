"""Who may use the staff pages: the session guard, CSRF, and the limits on password checks.

A request's session (a signed cookie, web/sessions.py) counts while its account, asked of the
account directory (web/directory.py) on every request, still has the role and the stamp the session
was made with, and the directory has not recorded its logout: a password or role change, the
account's removal or a logout ends it at once, and a restart does not bring it back. Every POST needs
the session's CSRF token (form field `csrf` or header `X-CSRF-Token`) and, when the browser sends an
`Origin`, our own origin. A password check is counted before it is made, per client address and per
account name, so concurrent guesses cannot slip past the limit; a browser that logged in as the user
before is not held to the per-account limit, so guessing cannot lock a clerk out. Nothing here logs a
client address or what was typed into a failed login.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from web.directory import AccountDirectory
from web.keys import SETTINGS
from web.limits import MissLimiter, client_key, throttled
from web.malformed import read_form, text_field
from web.responses import FRAME_HEADERS, is_https, page, private_json, redirect, set_cookie
from web.sessions import DEVICE_COOKIE, DEVICE_LIFETIME_S, SESSION_COOKIE, Session, Sessions

SESSIONS = web.AppKey("staff_sessions", Sessions)
DIRECTORY: web.AppKey[AccountDirectory] = web.AppKey("staff_accounts")
LOGIN_LIMITER = web.AppKey("staff_login_limiter", MissLimiter)  # per client address
ACCOUNT_LIMITER = web.AppKey("staff_account_limiter", MissLimiter)  # per account name typed

LOGIN_FAILURES_PER_MIN = 5  # per client; a blocked client does not even cost a scrypt
ACCOUNT_FAILURES_PER_MIN = 10  # per account name, from all clients together
HOME = {"clerk": "/counter", "supervisor": "/counter", "technician": "/devices"}
NEXT_ALLOWED = ("/counter", "/devices", "/account")

Handler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install_auth(app: web.Application, directory: AccountDirectory) -> None:
    """What the guard needs: the directory, this process's sessions and the password-check limits."""
    app[DIRECTORY] = directory
    app[SESSIONS] = Sessions(app[SETTINGS].session_secret)
    app[LOGIN_LIMITER] = MissLimiter(LOGIN_FAILURES_PER_MIN)
    app[ACCOUNT_LIMITER] = MissLimiter(ACCOUNT_FAILURES_PER_MIN)


async def run_blocking(function: Callable[..., Any], *args: Any) -> Any:
    """The account directory hashes passwords and reads a database: never on the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def authenticate(request: web.Request) -> Session | None:
    """The request's session while its account still has the role and the stamp it was made with."""
    session = request.app[SESSIONS].decode(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    directory = request.app[DIRECTORY]
    now, ended = await run_blocking(lambda: (directory.account(session.user), directory.session_ended(session.sid)))
    current = now is not None and (now.role, now.stamp) == (session.role, session.stamp)
    return session if current and not ended else None


def staff_page(request: web.Request, template: str, session: Session | None, status: int = 200,
               **context: Any) -> web.Response:
    """A staff page: with the session's CSRF token for its forms, never framed."""
    csrf = request.app[SESSIONS].csrf_token(session) if session is not None else ""
    response = page(request, template, status=status, session=session, csrf=csrf, **context)
    response.headers.update(FRAME_HEADERS)
    return response


def set_session(response: web.StreamResponse, request: web.Request, session: Session) -> None:
    """The session cookie, and the known-device cookie for the session's user (see password_attempt)."""
    sessions = request.app[SESSIONS]
    set_cookie(response, request, SESSION_COOKIE, sessions.encode(session), sessions.lifetime_s)
    set_cookie(response, request, DEVICE_COOKIE, sessions.device_token(session.user), DEVICE_LIFETIME_S)


def safe_next(target: str) -> str | None:
    """Only our own staff pages are redirect targets after a login (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or "\\" in target or parts.path not in NEXT_ALLOWED:
        return None
    return target


def same_origin(request: web.Request) -> bool:
    """A browser's POST from another site: refused. `Sec-Fetch-Site`, when sent, must say `same-origin` (or
    `none`: the user's own action), whatever `Origin` says — it also tells another scheme of this host
    apart; else `Origin`, when sent, must be this site: its scheme (`https` over TLS here or, behind our
    proxy, as X-Forwarded-Proto says — an `http://` page of this host is another origin, which a network
    attacker can serve) and its host. Neither (old browsers, API clients) passes."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    forwarded = request.headers.get("X-Forwarded-Host") if request.app[SETTINGS].trust_forwarded else None
    host = (forwarded or request.host).split(",")[0].strip().lower()
    scheme = "https" if is_https(request) else "http"
    try:
        parts = urlsplit(origin)
    except ValueError:  # `http://[x`: no origin at all
        return False
    return origin != "null" and parts.scheme.lower() == scheme and parts.netloc.lower() == host


# -- the guard ----------------------------------------------------------------------------------------

def guarded(roles: Iterable[str], kind: str = "page") -> Callable[[Handler], Route]:
    """Session, role and (for POST) CSRF checks. `kind`: "page" (redirects to the login), "api" (JSON
    errors) or "stream" (plain errors)."""
    allowed = tuple(roles)

    def decorate(handler: Handler) -> Route:
        async def guard(request: web.Request) -> web.StreamResponse:
            session = await authenticate(request)
            if session is None:
                if kind == "page":
                    target = request.path_qs if request.method == "GET" else request.path.rsplit("/", 1)[0]
                    query = urlencode({"next": target}) if safe_next(target) else ""
                    return redirect("/login" + (f"?{query}" if query else ""))
                if kind == "api":
                    return private_json({"error": "login required"}, status=401)
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
        return staff_page(request, "login.html", session, status=403, forbidden=reason,
                          home=HOME.get(session.role, "/login"))
    if kind == "api":
        return private_json({"error": "forbidden" if reason == "forbidden" else "CSRF token missing or wrong"},
                            status=403)
    return web.Response(status=403, text="forbidden\n")


async def _csrf_ok(request: web.Request, session: Session) -> bool:
    if not same_origin(request):
        return False
    token = request.headers.get("X-CSRF-Token")
    if token is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        token = text_field(await read_form(request), "csrf") or None
    return request.app[SESSIONS].check_csrf(session, token)


# -- password checks ------------------------------------------------------------------------------------

def password_attempt(request: web.Request, user: str) -> web.Response | None:
    """Count a password check before it is made, per client and per account name: concurrent guesses
    cannot all slip through before the first failure is recorded. A 429 when either is used up — except
    that a browser which logged in as this user before (its known-device cookie) is held only to its
    client's limit: guesses from elsewhere cannot lock a clerk out of her own PC."""
    client = client_key(request)
    known = request.app[SESSIONS].known_device(request.cookies.get(DEVICE_COOKIE), user)
    if request.app[LOGIN_LIMITER].blocked(client) or (
            not known and request.app[ACCOUNT_LIMITER].blocked(user.casefold())):
        return throttled(request, 429, "password checks refused: too many failures", "too many failed logins", 60)
    request.app[LOGIN_LIMITER].miss(client)
    request.app[ACCOUNT_LIMITER].miss(user.casefold())
    return None


def password_accepted(request: web.Request, user: str) -> None:
    """A right password: its attempt does not count as a failure."""
    request.app[LOGIN_LIMITER].give_back(client_key(request))
    request.app[ACCOUNT_LIMITER].give_back(user.casefold())
