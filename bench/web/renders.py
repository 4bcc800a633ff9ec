"""The per-client work of one event, in-process (no network): what each stream handler does for every
client and every update."""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.web.payloads import (
    MEASURED,
    OFFICES,
    history_payload,
    info_payload,
    new_token,
    queue_payload,
    ticket_payload,
)
from bench.web.replica import write_replica_config
from devtools.broker import free_port
from devtools.stats import median
from protocol import topics


@dataclass
class Renders:
    """Seconds per call, in-process: the per-client work of one event."""

    ampel_event: float = float("nan")
    ampel_svg: float = float("nan")
    ampel_bytes: int = 0
    ticket_event: float = float("nan")
    ticket_bytes: int = 0
    ticket_apply: float = float("nan")  # Mirror.apply of one ticket message (decode, store, notify)
    encode_only: float = float("nan")


def measure_renders(day: date, runs: int = 400) -> Renders:
    """The per-client work of one Ampel event and one tracking event, as the stream handlers do it."""
    from aiohttp.test_utils import make_mocked_request

    from web.app import create_app
    from web.config import load_replica_config
    from web.i18n import translator
    from web.mirror import Mirror
    from web.public import office_summary, ticket_context
    from web.svg import history_chart
    from web.templates_env import render

    mirror = Mirror()
    for n, (office, name) in enumerate(OFFICES):
        mirror.apply(topics.info(office), info_payload(name, day))
        mirror.apply(topics.history(office), history_payload(office, day, n))
        mirror.apply(topics.queue(office), queue_payload(day, 14 + n))
    token = new_token()
    mirror.apply(topics.ticket(MEASURED, topics.token_hash(token)), ticket_payload(day, "A042", "waiting"))
    with tempfile.TemporaryDirectory() as directory:  # the replica's own settings, as its config makes them
        settings = load_replica_config(write_replica_config(Path(directory), free_port(), 1883)).web
    app = create_app(settings, mirror)
    request = make_mocked_request("GET", "/events/offices", headers={"Accept-Language": "de"}, app=app)
    ticket_request = make_mocked_request("GET", f"/t/{token}/events", headers={"Accept-Language": "de"},
                                         match_info={"prefix": "t", "token": token}, app=app)
    lang, t = "de", translator("de")

    def ampel() -> str:  # web/public.py ampel_events → event(office_id)
        summary = office_summary(request, MEASURED, lang)
        summary["chart"] = history_chart(mirror.office(MEASURED).history, lang)
        html = render("office.html", lang=lang, t=t, office=summary)
        return json.dumps({"id": MEASURED, "html": html})

    def svg() -> str:
        return history_chart(mirror.office(MEASURED).history, lang)

    def ticket() -> str:  # web/public.py tracking_events → event()
        office, view = mirror.tickets[topics.token_hash(token)]
        html = render("ticket_status.html", lang=lang, t=t, **ticket_context(ticket_request, office, view))
        return json.dumps({"state": view.state, "recall": view.recall or 0, "html": html})

    prepared = ampel()
    ticket_topic = topics.ticket(MEASURED, topics.token_hash(token))
    ticket_message = ticket_payload(day, "A042", "waiting")

    def apply() -> None:  # what the loop does with each ticket message before any client sees it
        mirror.apply(ticket_topic, ticket_message)

    def encode() -> bytes:  # the floor: an event rendered once, only framed and encoded per client
        return f"event: office\ndata: {prepared}\n\n".encode()

    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(20):
        ampel(), svg(), ticket()
    for _ in range(runs):  # interleaved, so that noise hits all alike
        for name, fn in (("ampel", ampel), ("svg", svg), ("ticket", ticket), ("encode", encode), ("apply", apply)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return Renders(median(times["ampel"]), median(times["svg"]), len(encode()), median(times["ticket"]),
                   len(f"event: status\ndata: {ticket()}\n\n".encode()), median(times["apply"]),
                   median(times["encode"]))
