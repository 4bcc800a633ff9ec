"""The staff pages, wired: login (web/login.py), `/account` (web/account.py), the counter page
(web/counter.py) and the device page (web/devices.py), behind the guard of web/auth.py.

Only the hub's own web registers these routes (hubprocess/app.py hands in the hub's accounts);
public replicas have none of them, not even a login form.

Routes (every one but the login form refuses a request without a valid session: pages redirect to
`/login`, event streams and APIs answer 401; a wrong role gets 403):

- `GET /login`, `POST /login`, `POST /logout`; `GET /account`, `POST /account` (change your own
  password)
- `GET /counter[?office=…&counter=…]` (clerk, supervisor) — a picker until office and counter are
  chosen; the choice is remembered in the session. `POST /counter/command` (form; Post/Redirect/Get
  with a signed flash cookie), `GET /counter/events?office=…&counter=…` (server-sent events)
- `GET /devices` (technician, supervisor), `GET /devices/events`
- `GET /api/internal/session` (who am I, and the CSRF token for API clients),
  `GET /api/internal/counter?office=…&counter=…`, `POST /api/internal/counter/command` (JSON; 503
  when the hub does not answer), `GET /api/internal/devices`
"""

from __future__ import annotations

from aiohttp import web

from web.account import account_change, account_page
from web.auth import install_auth
from web.counter import (
    COMMAND_TIMEOUT,
    COMMAND_TIMEOUT_S,
    counter_api,
    counter_command_api,
    counter_command_form,
    counter_events,
    counter_page,
)
from web.devices import devices_api, devices_events, devices_page
from web.directory import AccountDirectory
from web.login import login, login_form, logout, session_api


def add_internal_routes(app: web.Application, directory: AccountDirectory) -> None:
    """The clerk, supervisor and technician pages, with `directory` as the source of accounts."""
    install_auth(app, directory)
    app[COMMAND_TIMEOUT] = COMMAND_TIMEOUT_S
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/account", account_page)
    app.router.add_post("/account", account_change)
    app.router.add_get("/counter", counter_page)
    app.router.add_post("/counter/command", counter_command_form)
    app.router.add_get("/counter/events", counter_events)
    app.router.add_get("/devices", devices_page)
    app.router.add_get("/devices/events", devices_events)
    app.router.add_get("/api/internal/session", session_api)
    app.router.add_get("/api/internal/counter", counter_api)
    app.router.add_post("/api/internal/counter/command", counter_command_api)
    app.router.add_get("/api/internal/devices", devices_api)
