"""`/account`: staff change their own password. The form asks for the current password (a stolen
session alone cannot take the account over) and is CSRF-protected like every POST; a wrong current
password counts as a failed login (web/auth.py's limits). The account directory (web/directory.py)
renews the account's stamp with the password: every other session of the account ends, this browser
gets a new one."""

from __future__ import annotations

import logging

from aiohttp import web

from web.auth import (
    DIRECTORY,
    SESSIONS,
    guarded,
    password_accepted,
    password_attempt,
    run_blocking,
    set_session,
    staff_page,
)
from web.directory import ROLES, Account
from web.malformed import read_form, text_field
from web.sessions import Session

log = logging.getLogger("wartemarke.web.account")


def _account_page(request: web.Request, session: Session, status: int = 200, error: str | None = None,
                  changed: bool = False) -> web.Response:
    return staff_page(request, "account.html", session, status=status, error=error, changed=changed,
                      min_length=request.app[DIRECTORY].min_password)


@guarded(ROLES)
async def account_page(request: web.Request, session: Session) -> web.StreamResponse:
    return _account_page(request, session)


@guarded(ROLES)
async def account_change(request: web.Request, session: Session) -> web.StreamResponse:
    form = await read_form(request)
    current, new = text_field(form, "current")[:1024], text_field(form, "new")[:1024]
    if new != text_field(form, "repeat")[:1024]:
        return _account_page(request, session, 400, "account_mismatch")
    if len(new) < request.app[DIRECTORY].min_password:
        return _account_page(request, session, 400, "account_short")
    refused = password_attempt(request, session.user)
    if refused is not None:
        response = _account_page(request, session, 429, "login_blocked")
        response.headers["Retry-After"] = refused.headers["Retry-After"]
        return response
    changed: Account | None = await run_blocking(request.app[DIRECTORY].change_password, session.user, current,
                                                  new)
    if changed is None:
        log.warning("%s: password not changed (the current password was wrong)", session.user)
        return _account_page(request, session, 403, "account_wrong")
    password_accepted(request, session.user)
    renewed = request.app[SESSIONS].new(changed.name, changed.role, changed.stamp).choose(session.office,
                                                                                          session.counter)
    response = _account_page(request, renewed, changed=True)
    set_session(response, request, renewed)
    log.info("%s changed their password; their other sessions have ended", session.user)
    return response
