"""The city Ampel `/` and its embeddable form `/embed`: every office this web serves at a glance — sorted
by name or by wait, filtered by service, with "shorter wait nearby" (web/nearby.py) and "Stand HH:MM" for
an office whose data is stale (web/freshness.py) — live by server-sent events.

The query parameters are the form's fields, so all of it works without JavaScript: `service` (a service
id: only the offices offering it, and only that service), `sort` (`name`, the default, or `wait`),
`lang`. The page's script only reconnects its stream with the chosen parameters and orders the boxes
by the `key` each event carries; what is shown is decided here.

Each office's entry is rendered once per language, filter and state, however many people watch: the
entries are cached with the offices' mirror versions, and an office's fragment is rendered again only
when its own state or its suggestions changed.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from language.catalogue import LANGUAGES
from protocol.fields import SERVICE_RE
from protocol.messages import History
from web.freshness import local_time
from web.i18n import language, translator
from web.keys import MIRROR, SETTINGS
from web.nearby import shorter_nearby
from web.public import office_summary
from web.responses import page
from web.streams import stream
from web.svg import history_chart
from web.templates_env import render

SORTS = ("name", "wait")
NO_WAIT = 10**6  # sorts an office without a known wait after those with one
UNOFFERED = "-"  # the cache's one key for every service id no office offers (it shows the same: nothing)


@dataclass(frozen=True)
class Choice:
    """What the citizen asked for (`?service=…&sort=…`); anything unusable reads as the default."""

    service: str | None = None
    sort: str = "name"

    @classmethod
    def of(cls, request: web.Request) -> Choice:
        """A service id no office offers is UNOFFERED (it shows nothing): the Ampel's cache holds one entry
        for all of them, not one per id someone types (`?service=AAA`, `AAB`, … would fill the memory)."""
        service, sort = request.query.get("service", ""), request.query.get("sort", "name")
        chosen: str | None = None
        if SERVICE_RE.match(service):
            chosen = service if service in offered_ids(request) else UNOFFERED
        return cls(chosen, sort if sort in SORTS else "name")


@dataclass(frozen=True)
class Entry:
    """One office's box on the Ampel: its rendered fragment and the event that carries it."""

    id: str
    html: str
    shown: bool
    key: list[Any]  # the order by wait: [group, wait, name]
    name: str
    location: dict[str, Any] | None
    stale: bool
    box: dict[str, Any]  # what the fragment shows (the embedded table shows it too)
    event: str  # the stream's data: {"id", "html", "shown", "stale", "key", "name"}


def stand(summary: dict[str, Any], timezone: str | None) -> str | None:
    """"HH:MM" of a stale office's data in the office's time zone; None when current or unknown."""
    if not summary["stale"] or summary["stale_since"] is None:
        return None
    return local_time(datetime.fromisoformat(summary["stale_since"]), timezone)


def wait_key(summary: dict[str, Any], services: list[dict[str, Any]]) -> list[Any]:
    """Current offices with a known wait first (shortest of the shown services' expected waits), then open
    ones without one, then closed ones, then stale ones or those without data; by name within each."""
    name = str(summary["name"]).casefold()
    if summary["stale"] or not summary["services"]:
        return [3, NO_WAIT, name]
    if not summary["open"]:
        return [2, NO_WAIT, name]
    waits = [s["expected_wait_min"] for s in services
             if s["issuing"] and s["ampel"] != "closed" and s["expected_wait_min"] is not None]
    return [0, min(waits), name] if waits else [1, NO_WAIT, name]


class AmpelCache:
    """The Ampel's entries per (language, service filter), with the mirror versions they were made from."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str | None], tuple[Hashable, list[Entry]]] = {}
        self._entries: dict[tuple[str, str, str | None], tuple[Hashable, Entry]] = {}
        self._charts: dict[tuple[str, str], tuple[Any, str]] = {}

    def entries(self, request: web.Request, lang: str, service: str | None) -> list[Entry]:
        mirror, offices = request.app[MIRROR], request.app[SETTINGS].offices
        versions = tuple(mirror.version(o) for o in offices)
        model = self._models.get((lang, service))
        if model is not None and model[0] == versions:
            return model[1]
        summaries = [office_summary(request, o, lang) for o in offices]
        entries = [self._entry(request, summaries, summary, lang, service) for summary in summaries]
        self._models[(lang, service)] = (versions, entries)
        return entries

    def _entry(self, request: web.Request, summaries: list[dict[str, Any]], summary: dict[str, Any], lang: str,
               service: str | None) -> Entry:
        office = summary["id"]
        services = [dict(s) for s in summary["services"] if service is None or s["id"] == service]
        for s in services:
            s["nearby"] = [n.to_dict() for n in shorter_nearby(summaries, office, s["id"])]
        version = (request.app[MIRROR].version(office), json.dumps([s["nearby"] for s in services]))
        cached = self._entries.get((office, lang, service))
        if cached is not None and cached[0] == version:
            return cached[1]
        mirror = request.app[MIRROR].office(office)
        shown = service is None or bool(services)
        box = {**summary, "services": services, "chart": self._chart(office, mirror.history, lang),
               "stand": stand(summary, mirror.info.timezone if mirror.info is not None else None)}
        html = render("office.html", lang=lang, t=translator(lang), office=box)
        key, name = wait_key(summary, services), str(summary["name"])
        event = json.dumps({"id": office, "html": html, "shown": shown, "stale": summary["stale"], "key": key,
                            "name": name})
        entry = Entry(office, html, shown, key, name, summary["location"], summary["stale"], box, event)
        self._entries[(office, lang, service)] = (version, entry)
        return entry

    def __len__(self) -> int:
        """How many renderings are held: bounded by languages × offered services, whatever is asked."""
        return len(self._models) + len(self._entries)

    def _chart(self, office: str, history: History | None, lang: str) -> str:
        cached = self._charts.get((office, lang))
        if cached is None or cached[0] is not history:  # the mirror replaces the object with every update
            cached = (history, history_chart(history, lang))
            self._charts[(office, lang)] = cached
        return cached[1]


AMPEL = web.AppKey("ampel", AmpelCache)


def offered_ids(request: web.Request) -> set[str]:
    """The ids of the services some office of this web offers (as its `info` says)."""
    ids: set[str] = set()
    for office in request.app[SETTINGS].offices:
        info = request.app[MIRROR].office(office).info
        if info is not None:
            ids.update(s.id for s in info.services)
    return ids


def services_offered(request: web.Request, lang: str) -> list[tuple[str, str]]:
    """(id, name) of every service some office offers, for the filter; the first office's name for an id."""
    names: dict[str, str] = {}
    for office in request.app[SETTINGS].offices:
        info = request.app[MIRROR].office(office).info
        for service_id, name in (info.service_names(lang) if info is not None else {}).items():
            names.setdefault(service_id, name)
    return sorted(names.items(), key=lambda item: item[1].casefold())


def ordered(entries: list[Entry], sort: str) -> list[Entry]:
    if sort == "wait":
        return sorted(entries, key=lambda e: e.key)
    return sorted(entries, key=lambda e: (e.name.casefold(), e.id))


async def ampel_page(request: web.Request) -> web.Response:
    return _ampel(request, "ampel.html")


async def embed_page(request: web.Request) -> web.Response:
    """The Ampel for the city's website, in an `<iframe>` (docs/http.md): no header, footer or stream."""
    response = _ampel(request, "embed.html")
    ancestors = " ".join(request.app[SETTINGS].embed_frame_ancestors)
    response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    return response


def _ampel(request: web.Request, template: str) -> web.Response:
    lang, choice = language(request, LANGUAGES), Choice.of(request)
    entries = ordered(request.app[AMPEL].entries(request, lang, choice.service), choice.sort)
    return page(request, template, offered=LANGUAGES, entries=entries, choice=choice,
                services=services_offered(request, lang),
                explicit_lang=request.query.get("lang") in LANGUAGES, public_url=request.app[SETTINGS].public_url,
                query=f"?{request.query_string}" if request.query_string else "")


async def ampel_events(request: web.Request) -> web.StreamResponse:
    """Event `office` per office at once, then per office whose entry changed (its own state or its
    suggestions); `?service=` as the page's."""
    lang, choice, cache = language(request, LANGUAGES), Choice.of(request), request.app[AMPEL]
    sent: dict[str, str] = {}

    def changed(_office: str | None = None) -> list[str]:
        out = []
        for entry in cache.entries(request, lang, choice.service):
            event = entry.event
            if sent.get(entry.id) != event:
                sent[entry.id] = event
                out.append(event)
        return out

    return await stream(request, ("offices",), "office", changed, changed)


def add_ampel_routes(app: web.Application) -> None:
    app[AMPEL] = AmpelCache()
    app.router.add_get("/", ampel_page)
    app.router.add_get("/embed", embed_page)
    app.router.add_get("/events/offices", ampel_events)
