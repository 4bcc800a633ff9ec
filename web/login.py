"""The staff's login and logout, and `GET /api/internal/session` (who am I, and the CSRF token for API
clients).

The login form, before any session exists, is protected by a double-submit token (web/sessions.py);
after a login the browser goes where `next` asked, if that is one of our staff pages (web/auth.py),
else to the role's home page.
"""

from __future__ import annotations

import logging

from aiohttp import web

from protocol.fields import account_name_problem
from web.auth import (
    DIRECTORY,
    HOME,
    SESSIONS,
    authenticate,
    guarded,
    password_accepted,
    password_attempt,
    run_blocking,
    safe_next,
    same_origin,
    set_session,
    staff_page,
)
from web.directory import ROLES, Account
from web.limits import TALLY
from web.malformed import read_form, text_field
from web.responses import clear_cookie, private_json, redirect, set_cookie
from web.sessions import FLASH_COOKIE, LOGIN_COOKIE, LOGIN_FORM_LIFETIME_S, SESSION_COOKIE, Session

log = logging.getLogger("wartemarke.web.login")


def _login_page(request: web.Request, status: int = 200, error: str | None = None, next_url: str = "",
                session: Session | None = None) -> web.Response:
    nonce, token = request.app[SESSIONS].login_nonce()
    response = staff_page(request, "login.html", session, status=status, error=error, login_token=token,
                          next_url=safe_next(next_url) or "", forbidden=None)
    set_cookie(response, request, LOGIN_COOKIE, nonce, LOGIN_FORM_LIFETIME_S, path="/login")
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request, next_url=request.query.get("next", ""), session=await authenticate(request))


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    next_url = text_field(form, "next")
    sessions = request.app[SESSIONS]
    if not same_origin(request) or not sessions.check_login_token(request.cookies.get(LOGIN_COOKIE),
                                                                   text_field(form, "token")):
        return _login_page(request, 403, "login_form_expired", next_url)
    user, password = text_field(form, "user").strip()[:64], text_field(form, "password")[:1024]
    refused = password_attempt(request, user)
    if refused is not None:
        response = _login_page(request, 429, "login_blocked", next_url)
        response.headers["Retry-After"] = refused.headers["Retry-After"]
        return response
    found: Account | None = None
    if password and account_name_problem(user) is None:  # no account has another name (hub/accounts.py)
        found = await run_blocking(request.app[DIRECTORY].check_login, user, password)
    if found is None:
        # Neither the client's address nor what was typed; counted, so a flood of guesses from many
        # addresses is one line a minute.
        request.app[TALLY].count("failed logins")
        return _login_page(request, 401, "login_failed", next_url)
    password_accepted(request, user)
    response = redirect(safe_next(next_url) or HOME.get(found.role, "/login"))
    set_session(response, request, sessions.new(found.name, found.role, found.stamp))
    clear_cookie(response, request, LOGIN_COOKIE, path="/login")
    log.info("%s logged in (%s)", user, found.role)
    return response


@guarded(ROLES)
async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    await run_blocking(request.app[DIRECTORY].end_session, session.sid, session.expires)
    response = redirect("/login")
    clear_cookie(response, request, SESSION_COOKIE)
    clear_cookie(response, request, FLASH_COOKIE)
    log.info("%s logged out", session.user)
    return response


@guarded(ROLES, "api")
async def session_api(request: web.Request, session: Session) -> web.StreamResponse:
    return private_json({"user": session.user, "role": session.role, "expires": session.expires,
                         "csrf": request.app[SESSIONS].csrf_token(session)})
