"""Malformed requests get a short 400 and are counted, never a 500 with a traceback.

Bodies are read through `read_form` and `read_json`: invalid UTF-8, an unknown charset, a truncated
multipart body or JSON nested deeper than the parser's recursion limit raise `Malformed`, which the
`malformed_input` middleware answers with `400 malformed request: …`. aiohttp's own parser errors
(broken request lines and headers) are logged by its `aiohttp.server` logger with a traceback and the
client's address; `ServerLogFilter` turns them into a count (one line, no traceback, no address) and
takes the address out of its other lines too. An attacker sending garbage gets a Tally, not a journal.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from web.limits import THROTTLED, Tally

log = logging.getLogger("wartemarke.web.server")
READ_ERRORS = (ValueError, LookupError, RecursionError)  # incl. UnicodeDecodeError, json.JSONDecodeError


class Malformed(Exception):
    """A request body that cannot be read as what the route expects."""


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    try:
        return await request.post()
    except READ_ERRORS:
        raise Malformed("form data cannot be read (UTF-8 form fields or a complete multipart body expected)") from None


def text_field(form: MultiDictProxy[Any], name: str) -> str:
    """A form field as text; "" when it is missing or a file upload."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except READ_ERRORS:
        raise Malformed("JSON cannot be read (a UTF-8 JSON document, nested at most a few hundred levels)") from None


ROUTE = web.RequestKey("route", str)


@web.middleware
async def malformed_input(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    resource = request.match_info.route.resource
    request[ROUTE] = resource.canonical if resource is not None else "(no route)"
    try:
        return await handler(request)
    except Malformed as exc:
        request[THROTTLED] = "malformed"  # counted below, not access-logged one by one
        SERVER_LOG.tally.count(f"malformed requests refused with 400: {request.method} {request[ROUTE]}")
        return web.Response(status=400, text=f"malformed request: {exc}\n", headers={"Cache-Control": "no-store"})


def route_name(request: web.BaseRequest) -> str:
    """The route's template (`/t/{token}`), never the path as typed: a path may hold a tracking token in
    any spelling. Unmatched paths, and requests the parser refused, are `(no route)`."""
    return str(request.get(ROUTE, "(no route)"))


class ServerLogFilter(logging.Filter):
    """On `aiohttp.server`: parser errors become a count, and no line names the client's address."""

    def __init__(self) -> None:
        super().__init__()
        self.tally = Tally(log)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            self.tally.count(f"malformed requests refused with 400 by the HTTP parser: {type(exc).__name__}")
            return False
        if record.msg == "Error handling request from %s":  # the address is the argument
            record.msg, record.args = "Error handling a request", ()
        return True


SERVER_LOG = ServerLogFilter()


def install_server_log_filter() -> None:
    logger = logging.getLogger("aiohttp.server")
    if SERVER_LOG not in logger.filters:
        logger.addFilter(SERVER_LOG)
