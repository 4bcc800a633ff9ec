"""The public pages: tracking `/t/{token}`, the Ampel `/`, history and open data, `/healthz`, the static pages.

Everything here is served by public replicas and by the hub's own web: it reads the Mirror only.
A tracking page knows only its own ticket (looked up by the hash of the token) and no response ever
contains another ticket's token or hash.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from language.catalogue import LANGUAGES
from protocol.businessday import WEEKDAYS
from protocol.messages import TOKEN_RE, TicketView
from protocol.topics import token_hash
from web.auth import same_origin
from web.citizen import DONE, OPS, new_request_id, refusal_notice, request_id, send
from web.freshness import local_time
from web.i18n import chosen_language, language, translator, with_language
from web.keys import MIRROR, SETTINGS
from web.limits import MissLimiter, client_key, throttled
from web.mirror import as_published
from web.responses import page, redirect
from web.statement import easy_read_page, statement_page
from web.streams import STREAMS, Streams, end_streams, stream
from web.templates_env import render

# -- tracking ----------------------------------------------------------------------------------------
#
# One spelling only: `/t/{TOKEN}` with the token in upper case, as the kiosk prints it. The QR code's
# upper-case `/T/TOKEN` and a typed lower-case token are redirected to it; anything else (spaces, `%2F`,
# double slashes, …) is a plain 404. So nginx's location for event streams, its per-client limits, its
# cache and both access logs see one form, and no odd spelling reaches a lookup.

IN_PATH = TOKEN_RE.pattern.removeprefix("^").removesuffix(r"\Z")  # [A-Z2-7]{26,64}
ANY_CASE_IN_PATH = IN_PATH.replace("A-Z", "A-Za-z")
MISSES = web.AppKey("misses", MissLimiter)
PROGRESS_MIN = 10  # the tracking page's bar counts down at least this many people ahead


def _lookup(request: web.Request) -> tuple[str, TicketView] | None:
    """The ticket of the path's token, spelled the one way: aiohttp matches routes on the decoded path, so a
    percent-encoded letter (`/t/%43AIREE…`) would reach the ticket by a second spelling."""
    token = request.match_info["token"]
    if not TOKEN_RE.match(token) or request.rel_url.raw_path != request.rel_url.path:
        return None
    return request.app[MIRROR].tickets.get(token_hash(token))


def _too_many_misses(request: web.Request) -> web.Response | None:
    """A 429 for a client that guessed too many unknown tokens; otherwise count this miss."""
    if not request.app[MISSES].take(client_key(request)):
        return throttled(request, 429, "unknown tracking links refused: too many from one client",
                         translator(language(request, LANGUAGES))("too_many_unknown"), 60)  # in the page's language
    return None


def _not_found(request: web.Request) -> web.Response:
    return _too_many_misses(request) or page(request, "notfound.html", status=404, offered=LANGUAGES)


async def tracking_unknown(request: web.Request) -> web.Response:
    """Any other spelling under /t/ or /T/: the same "unknown ticket" page as an unknown token."""
    return _not_found(request)


async def tracking_api_unknown(request: web.Request) -> web.Response:
    return _too_many_misses(request) or web.json_response({"error": "unknown or expired ticket"}, status=404)


async def tracking_redirect(request: web.Request) -> web.Response:
    """`/T/TOKEN` (the QR code) or a lower-case token → the one canonical `/t/TOKEN`."""
    location = f"/t/{request.match_info['token'].upper()}"
    if request.query_string:
        location += f"?{request.query_string}"
    return web.Response(status=301, headers={"Location": location, "Cache-Control": "no-store",
                                             "Referrer-Policy": "same-origin"})


def ticket_context(request: web.Request, office: str, view: TicketView) -> dict[str, Any]:
    mirror = request.app[MIRROR]
    info = mirror.office(office).info
    lang = language(request, LANGUAGES)
    service = info.service(view.service) if info is not None else None
    ahead = view.ahead or 0
    grace = view.grace_until
    fresh = mirror.freshness(office)  # web/freshness.py: a stale office's ticket shows its "Stand"
    stand = local_time(fresh.since, info.timezone if info is not None else None) if fresh.since is not None else None
    return {"view": view, "office_name": info.name if info is not None else office, "stale": fresh.stale,
            "stand": stand, "service_name": service.named(lang) if service is not None else view.service,
            **progress(ahead, request.query),
            "grace_until": grace.strftime("%H:%M") if grace is not None else "",
            "op_urls": op_urls(request), "rid": new_request_id()}  # web/citizen.py's forms


def op_urls(request: web.Request) -> dict[str, str]:
    """Where the page's forms post (web/citizen.py): this ticket's path, with the language the reader chose,
    so the answer and the page after it speak it too."""
    token, chosen = request.match_info["token"], chosen_language(request)
    return {op: with_language(f"/t/{token}/{op}", chosen) for op in OPS}


def progress(ahead: int, query: Mapping[str, str]) -> dict[str, Any]:
    """The bar's scale: the most people ahead this page has seen, at least 10. Without script the page
    remembers it in its reload link (`?from=N`), so the bar moves with more than 10 ahead there too."""
    seen = query.get("from", "")
    start = max(PROGRESS_MIN, ahead, int(seen) if seen.isdigit() and len(seen) <= 4 else 0)
    again = {k: v for k, v in query.items() if k == "lang"} | ({"from": str(start)} if start > PROGRESS_MIN else {})
    return {"progress_max": start, "progress_value": start - min(ahead, start),
            "refresh_href": "?" + urlencode(again) if again else ""}


async def tracking_page(request: web.Request, notice: str | None = None, status: int = 200) -> web.Response:
    found = _lookup(request)
    if found is None:
        return _not_found(request)
    office, view = found
    token = request.match_info["token"]
    return page(request, "ticket.html", status, offered=LANGUAGES, **ticket_context(request, office, view),
                push_url=request.app[SETTINGS].push_url, ticket_hash=token_hash(token),
                page_url=with_language(f"/t/{token}", chosen_language(request)),  # a notification opens it
                notice=notice or DONE.get(request.query.get("done", "")))


async def tracking_operation(request: web.Request) -> web.Response:
    """POST `/t/{token}/postpone`, `/cancel` or `/rate` (web/citizen.py): 303 back to the page when the hub
    agreed, the page with the reason when it refused (409) or did not answer (503); 400 without the form's
    request id."""
    if not same_origin(request):
        return web.Response(status=403, text=translator(language(request, LANGUAGES))("citizen_forbidden") + "\n")
    found = _lookup(request)
    if found is None:
        return _not_found(request)
    rid = await request_id(request)
    if rid is None:
        return web.Response(status=400, text=translator(language(request, LANGUAGES))("citizen_no_request_id") + "\n")
    op = request.path.rsplit("/", 1)[1]
    answer = await send(request, found[0], op, request.match_info["token"], rid)
    if answer is not None and answer.ok:
        return redirect(with_language(f"/t/{request.match_info['token']}?done={op}", chosen_language(request)))
    return await tracking_page(request, refusal_notice(answer), 503 if answer is None else 409)


async def tracking_events(request: web.Request) -> web.StreamResponse:
    found = _lookup(request)
    if found is None:
        return _not_found(request)
    key = ("ticket", token_hash(request.match_info["token"]))
    lang = language(request, LANGUAGES)
    shared = (key, lang, chosen_language(request))  # the forms' URLs carry a chosen language (op_urls)

    def event(changed: str | None = None) -> str | None:
        current = _lookup(request)
        if current is None:
            request.app[STREAMS].shared.forget(shared)
            return None
        office, view = current
        mirror = request.app[MIRROR]
        stamp = (view, mirror.office(office).info, mirror.freshness(office))  # all that ticket_context reads
        return request.app[STREAMS].shared.get(shared, stamp, lambda: status_event(request, lang, office, view))

    return await stream(request, key, "status", event, per_key=True)


def status_event(request: web.Request, lang: str, office: str, view: TicketView) -> str:
    """A tracking stream's `status` event; rendered once per change for all streams of the ticket in `lang`
    (web/streams.py SharedEvents)."""
    html = render("ticket_status.html", lang=lang, t=translator(lang), **ticket_context(request, office, view))
    return json.dumps({"state": view.state, "recall": view.recall or 0, "html": html})


async def tracking_api(request: web.Request) -> web.Response:
    found = _lookup(request)
    if found is None:
        return await tracking_api_unknown(request)
    office, view = found
    allowed = ("day", "label", "service", "state", "issued_at", "ahead", "expected_wait_min", "wait_range_min",
               "counter_name", "called_at", "recall", "grace_until")
    data = view.to_dict()
    fresh = request.app[MIRROR].freshness(office)  # web/freshness.py: the same rule as the page's "Stand"
    return web.json_response({"office": office, **{k: data[k] for k in allowed if k in data}, "stale": fresh.stale,
                              "stale_since": fresh.since.isoformat() if fresh.since is not None else None},
                             headers={"Cache-Control": "no-store"})


# -- the Ampel's data (its pages: web/ampel.py), history, open data --------------------------------------

def office_summary(request: web.Request, office_id: str, lang: str) -> dict[str, Any]:
    mirror = request.app[MIRROR].office(office_id)
    info, queue = mirror.info, mirror.queue
    names = info.service_names(lang) if info is not None else {}
    services = [{"id": s.service, "name": names.get(s.service, s.service), "waiting": s.waiting,
                 "expected_wait_min": s.expected_wait_min,
                 "wait_range_min": list(s.wait_range_min) if s.wait_range_min is not None else None,
                 "issuing": s.issuing, "reason": s.reason, "ampel": s.ampel}
                for s in (queue.services if queue is not None else ())]
    is_open = any(s["ampel"] != "closed" for s in services)
    fresh = request.app[MIRROR].freshness(office_id)  # web/freshness.py
    return {"id": office_id, "name": info.name if info is not None else office_id, "open": is_open,
            "day": queue.day.isoformat() if queue is not None else None,
            "updated_at": queue.at.isoformat() if queue is not None else None, "stale": fresh.stale,
            "stale_since": fresh.since.isoformat() if fresh.since is not None else None,
            "location": info.location.to_dict() if info is not None and info.location is not None else None,
            "services": services}


CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=5"}


def open_data(request: web.Request) -> dict[str, str]:
    """The headers of every open-data answer: CORS, a short cache, and the licence (`Link: rel="license"`)."""
    return {**CORS, "Link": f'<{request.app[SETTINGS].licence_url}>; rel="license"'}


async def offices_api(request: web.Request) -> web.Response:
    lang, settings = language(request), request.app[SETTINGS]
    body = [office_summary(request, o, lang) for o in settings.offices]
    licence = {"name": settings.licence, "url": settings.licence_url}
    # The names follow Accept-Language: a cache (nginx's, a browser's) must keep one answer per language.
    return web.json_response({"licence": licence, "attribution": settings.attribution, "offices": body},
                             headers={**open_data(request), "Vary": "Accept-Language"})


async def api_unknown(request: web.Request) -> web.Response:
    """Any other path under /api/v1/ (`/api/v1/offices/`, a typo): JSON like every API answer, not text."""
    return web.json_response({"error": "not found"}, status=404, headers=CORS)


async def history_api(request: web.Request) -> web.Response:
    office_id = request.match_info["office"]
    if office_id not in request.app[SETTINGS].offices:
        return web.json_response({"error": "unknown office"}, status=404, headers=CORS)
    history = request.app[MIRROR].office(office_id).history
    headers = open_data(request)
    if request.query.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["office", "weekday", "hour", "typical_wait_min", "tickets_per_day",
                         "ran_out_days", "of_days", "ran_out_typical_time"])  # the last three: per weekday
        for cell in history.cells if history is not None else ():
            ran = history.ran_out.get(cell.weekday) if history is not None else None
            writer.writerow([office_id, WEEKDAYS[cell.weekday], cell.hour, cell.typical_wait_min,
                             cell.tickets_per_day, *(("", "", "") if ran is None else
                                                     (ran.days, ran.of_days, f"{ran.typical_time:%H:%M}"))])
        return web.Response(text=out.getvalue(), content_type="text/csv", headers=headers)
    body = as_published(history) if history is not None else {"office": office_id, "cells": [], "ran_out": {}}
    return web.json_response(body, headers=headers)


# -- operations ----------------------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    mirror = request.app[MIRROR]
    return web.json_response({"status": "ok", "mqtt_connected": mirror.mqtt_connected},
                             status=200 if mirror.mqtt_connected else 503)


STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {"sw.js": "text/javascript", "manifest.webmanifest": "application/manifest+json"}


async def static_file(request: web.Request) -> web.Response:
    """The service worker (at the root, so its scope covers every tracking page) and the web app manifest."""
    name = request.match_info.route.name or ""
    return web.Response(body=(STATIC / name).read_bytes(), content_type=STATIC_TYPES[name],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


async def static_page(request: web.Request) -> web.Response:
    return page(request, f"{request.match_info.route.name}.html")


def add_public_routes(app: web.Application) -> None:
    app[STREAMS] = Streams(app[SETTINGS].limits)
    app.on_shutdown.append(end_streams)
    app.router.add_get(f"/t/{{token:{IN_PATH}}}", tracking_page)
    app.router.add_get(f"/t/{{token:{IN_PATH}}}/events", tracking_events)
    for op in OPS:  # web/citizen.py
        app.router.add_post(f"/t/{{token:{IN_PATH}}}/{op}", tracking_operation)
    app.router.add_get(f"/{{prefix:[tT]}}/{{token:{ANY_CASE_IN_PATH}}}", tracking_redirect)
    app.router.add_get(r"/{prefix:[tT]}/{rest:.*}", tracking_unknown)
    app.router.add_get(f"/api/v1/tickets/{{token:{IN_PATH}}}", tracking_api)
    app.router.add_get(r"/api/v1/tickets/{rest:.*}", tracking_api_unknown)
    app.router.add_get("/api/v1/offices", offices_api)
    app.router.add_get("/api/v1/offices/{office}/history", history_api)
    app.router.add_get(r"/api/v1/{rest:.*}", api_unknown)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/sw.js", static_file, name="sw.js")
    app.router.add_get("/manifest.webmanifest", static_file, name="manifest.webmanifest")
    app.router.add_get("/barrierefreiheit", statement_page)
    app.router.add_get("/leichte-sprache", easy_read_page)
    app.router.add_get("/datenschutz", static_page, name="privacy")
    app.router.add_get("/impressum", static_page, name="imprint")
