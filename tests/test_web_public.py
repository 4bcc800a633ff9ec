"""The public web pages over real HTTP: a real Hub with `[web]`, a real mosquitto, no mocks.

Tracking, the Ampel, history and open data, health and metrics, the security promises (no other
ticket's data, one 404 for every unknown token, rate-limited misses, no IPs in access logs) and a
public replica without the clerk and technician pages. Live updates are read from the event streams
with socket timeouts, never by sleeping.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import socket
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from devtools.broker import free_port
from process.clock import SystemClock
from process.config import ConfigError
from protocol import topics
from protocol.fields import encode_object
from protocol.wait_range import shown_range
from tests.web_harness import SseClient, WebHub, get, random_token, wait_until, write_web_hub_config
from web.app import WebServer
from web.config import load_replica_config

HEX64 = re.compile(r"[0-9a-fA-F]{64}")
ALLOWED_TICKET_FIELDS = {"office", "day", "label", "service", "state", "issued_at", "ahead", "expected_wait_min",
                         "wait_range_min",
                         "counter_name", "called_at", "recall", "grace_until", "stale", "stale_since"}


@pytest.fixture
def web(tmp_path, shared_broker, topic_office):
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port(),
                                  extra_web="miss_limit_per_min = 5\n")
    instance = WebHub.start(config, topic_office, shared_broker.port)
    yield instance
    instance.stop()


# -- tracking ----------------------------------------------------------------------------------------------

def test_the_tracking_page_shows_the_ticket_and_other_cases_redirect_to_it(web):
    event = web.issue("A")
    for path in (f"/T/{event.token}", f"/t/{event.token.lower()}", f"/T/{event.token.lower()}?lang=en"):
        moved = get(web.url + path)  # the QR code's upper-case /T/, a typed lower-case token: one canonical form
        assert moved.status == 301 and moved.body == b"", path
        assert moved.headers["location"] == f"/t/{event.token}" + ("?lang=en" if "?" in path else "")
    for path in (f"/t/{event.token}",):
        reply = get(web.url + path)
        assert reply.status == 200, path
        assert reply.headers["content-type"].startswith("text/html")
        assert reply.headers["cache-control"] == "no-store"
        assert reply.headers["referrer-policy"] == "same-origin"  # the tracking link never goes to other sites
        page = reply.text
        assert '<h1 id="ticket-label" class="label">A001</h1>' in page
        assert "Allgemeine Anliegen" in page and "Bürgerbüro Test" in page
        assert "Sie warten" in page and "Vor Ihnen: 0" in page
        assert 'role="status"' in page and '<html lang="de">' in page
        assert "http-equiv" not in page and "location.reload" not in page  # no timed reload (WCAG 2.2.1)
        assert '<noscript><p class="refresh-note">' in page and '<a class="refresh" href="">' in page
        assert '<meta name="robots" content="noindex, nofollow">' in page  # tracking pages stay out of search
        assert 'href="/datenschutz"' in page and 'href="/impressum"' in page and 'href="/barrierefreiheit"' in page
        assert len(reply.body) < 30 * 1024


def test_waiting_turns_into_called_on_the_event_stream(web):
    event = web.issue("A")
    assert get(f"{web.url}/t/{event.token.lower()}/events").status == 404  # streams: the canonical form only
    with SseClient(f"{web.url}/t/{event.token}/events") as stream:
        assert stream.status == 200 and stream.headers["content-type"].startswith("text/event-stream")
        name, first = stream.next_event()
        assert name == "status" and first["state"] == "waiting" and "Sie warten" in first["html"]
        answer = web.command("platz-2", "next")
        assert answer.ok and answer.label == "A001"
        called = stream.wait_for(lambda data: data["state"] == "called")
        assert "Bitte jetzt zu Platz 2" in called["html"] and 'class="called"' in called["html"]
    reply = get(f"{web.url}/t/{event.token}")  # and a reload shows the same
    assert "Bitte jetzt zu Platz 2" in reply.text


def test_recall_no_show_and_done_reach_the_tracking_page(web):
    event = web.issue("A")
    with SseClient(f"{web.url}/t/{event.token}/events") as stream:
        stream.next_event()
        web.command("platz-1", "next")
        called = stream.wait_for(lambda data: data["state"] == "called")
        assert called["recall"] == 0
        web.command("platz-1", "recall")  # the page alerts again on a recall: the event says it is one
        recalled = stream.wait_for(lambda data: data["state"] == "called" and data["recall"] == 1)
        assert "Bitte jetzt zu Platz 1" in recalled["html"]
        web.command("platz-1", "no_show")
        missed = stream.wait_for(lambda data: data["state"] == "no_show")
        assert "waren aber nicht da" in missed["html"] and re.search(r"bis \d\d:\d\d Uhr", missed["html"])
        answer = web.command("platz-1", "reactivate", label=event.label)
        assert answer.ok, answer
        stream.wait_for(lambda data: data["state"] in ("waiting", "called"))
        if web.mirror.tickets[topics.token_hash(event.token)][1].state == "waiting":
            web.command("platz-1", "next")
            stream.wait_for(lambda data: data["state"] == "called")
        web.command("platz-1", "done")
        done = stream.wait_for(lambda data: data["state"] == "done")
        assert "Ihr Anliegen ist erledigt" in done["html"]
    assert "Ihr Anliegen ist erledigt" in get(f"{web.url}/t/{event.token}").text


def test_the_tracking_api_returns_only_allowed_fields(web):
    event = web.issue("A")
    assert get(f"{web.url}/api/v1/tickets/{event.token.lower()}").status == 404  # the canonical form only
    reply = get(f"{web.url}/api/v1/tickets/{event.token}")
    assert reply.status == 200 and reply.headers["cache-control"] == "no-store"
    data = reply.json()
    assert set(data) <= ALLOWED_TICKET_FIELDS
    assert data["office"] == web.office and data["label"] == "A001" and data["state"] == "waiting"
    assert data["service"] == "A" and data["ahead"] == 0
    assert data["stale"] is False and data["stale_since"] is None  # the office's freshness (http.md §4.1)
    assert event.token not in reply.text and event.token.lower() not in reply.text
    assert not HEX64.search(reply.text)
    web.command("platz-3", "next")
    called = wait_until(lambda: (d := get(f"{web.url}/api/v1/tickets/{event.token}").json())["state"] == "called"
                        and d, what="the API to show the call")
    assert set(called) <= ALLOWED_TICKET_FIELDS and called["counter_name"] == "Platz 3"
    assert "counter" not in called  # the counter's internal id is not public; its name is


def test_no_public_response_contains_another_tickets_token_hash_or_label(web):
    mine, other = web.issue("A"), web.issue("P")
    answer = web.command("platz-1", "next")  # one of the two is called: their states differ
    called = topics.token_hash({mine.label: mine, other.label: other}[answer.label or ""].token)
    wait_until(lambda: web.mirror.tickets[called][1].state == "called", what="the call to be mirrored")
    secrets_of_other = [other.token, other.token.lower(), topics.token_hash(other.token), other.label, other.id]
    with SseClient(f"{web.url}/t/{mine.token}/events") as stream:
        _, first = stream.next_event()
        responses = {
            "page": get(f"{web.url}/t/{mine.token}").text,
            "page-en": get(f"{web.url}/t/{mine.token}?lang=en").text,
            "api": get(f"{web.url}/api/v1/tickets/{mine.token}").text,
            "events": json.dumps(first, ensure_ascii=False),
            "ampel": get(f"{web.url}/").text,
            "offices": get(f"{web.url}/api/v1/offices").text,
            "history": get(f"{web.url}/api/v1/offices/{web.office}/history").text,
            "metrics": get(f"{web.url}/metrics").text,
        }
    for name, body in responses.items():
        for secret in secrets_of_other:
            assert secret not in body, f"{name} shows the other ticket's {secret!r}"
        assert not HEX64.search(body), f"{name} contains a 64-hex string (a token hash?)"
        assert topics.token_hash(mine.token) not in body
    assert mine.label in responses["page"] and mine.label in responses["api"]


def test_unknown_tokens_get_one_identical_404(web):
    first, second = random_token(), random_token()
    pages = [get(f"{web.url}/t/{token}") for token in (first, second, "not-a-token")]
    assert [p.status for p in pages] == [404, 404, 404]
    assert pages[0].body == pages[1].body == pages[2].body
    assert "Wartemarke nicht gefunden" in pages[0].text
    assert first not in pages[0].text and second not in pages[1].text
    apis = [get(f"{web.url}/api/v1/tickets/{token}") for token in (first, second)]
    assert [a.status for a in apis] == [404, 404]
    assert apis[0].body == apis[1].body and apis[0].json() == {"error": "unknown or expired ticket"}


def test_repeated_misses_from_one_client_are_rate_limited(web):
    known = web.issue("A")
    for _ in range(5):  # miss_limit_per_min = 5
        assert get(f"{web.url}/t/{random_token()}").status == 404
    limited = get(f"{web.url}/t/{random_token()}")
    assert limited.status == 429 and limited.headers["retry-after"] == "60"
    assert "Bitte warten Sie eine Minute" in limited.text  # in the page's language: German by default …
    english = get(f"{web.url}/t/{random_token()}", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert english.status == 429 and "please wait a minute" in english.text  # … or the browser's
    assert "please wait a minute" in get(f"{web.url}/t/{random_token()}?lang=en").text
    assert get(f"{web.url}/api/v1/tickets/{random_token()}").status == 429
    assert get(f"{web.url}/t/{random_token()}/events").status == 429
    assert get(f"{web.url}/t/{known.token}").status == 200  # a real ticket is never blocked


def test_language_follows_accept_language_and_the_switch(web):
    event = web.issue("A")
    english = get(f"{web.url}/t/{event.token}", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"}).text
    assert '<html lang="en">' in english and "Your ticket" in english and "You are waiting" in english
    assert "General concerns" in english and 'href="?lang=de"' in english
    german = get(f"{web.url}/t/{event.token}?lang=de", headers={"Accept-Language": "en"}).text
    assert '<html lang="de">' in german and "Ihre Wartemarke" in german and 'href="?lang=en"' in german
    assert "Your ticket" in get(f"{web.url}/t/{event.token}?lang=en").text
    assert "Waiting times" in get(f"{web.url}/", headers={"Accept-Language": "en-US"}).text
    assert "Ticket not found" in get(f"{web.url}/t/{random_token()}?lang=en").text
    with SseClient(f"{web.url}/t/{event.token}/events?lang=en") as stream:
        _, first = stream.next_event()
        web.command("platz-1", "next")
        called = stream.wait_for(lambda data: data["state"] == "called")
    assert "You are waiting" in first["html"] and "Please go to Platz 1 now" in called["html"]


# -- the Ampel, history, open data ----------------------------------------------------------------------------

def test_the_ampel_shows_the_office_and_changes_live(web):
    page = get(f"{web.url}/").text
    assert f'id="office-{web.office}"' in page and "Bürgerbüro Test" in page and "(geöffnet)" in page
    assert "Allgemeine Anliegen" in page and "Abholung" in page and page.count("0 wartend") == 2
    assert "level-green" in page
    with SseClient(f"{web.url}/events/offices") as stream:
        name, current = stream.next_event()  # every office's current state first
        assert name == "office" and current["id"] == web.office and current["html"].count("0 wartend") == 2
        web.issue("A", wait=False)
        update = stream.wait_for(lambda data: data["id"] == web.office and "1 wartend" in data["html"])
    assert "Bürgerbüro Test" in update["html"] and "0 wartend" in update["html"]  # P still has nobody
    assert "1 wartend" in get(f"{web.url}/").text


def test_the_tracking_page_and_the_ampel_give_the_wait_as_a_range(web):
    """Issue 14: the hub's 10 %–90 % range, shown as "ca. 25–40 Min." (rounded outwards to 5 min)."""
    events = [web.issue("A") for _ in range(9)]  # three counters: the ninth waits for two rounds of cases
    view = get(f"{web.url}/api/v1/tickets/{events[-1].token}").json()
    low, high = view["wait_range_min"]
    assert low <= view["expected_wait_min"] <= high and high - low >= 5
    spread = shown_range([low, high])
    assert spread is not None and spread[0] <= low and spread[1] >= high and spread[1] % 5 == 0
    page = get(f"{web.url}/t/{events[-1].token}").text
    assert f"Voraussichtlich noch ca. {spread[0]}–{spread[1]} Minuten" in page
    english = get(f"{web.url}/t/{events[-1].token}?lang=en").text
    assert f"Expected wait: approx. {spread[0]}–{spread[1]} minutes" in english
    queue = wait_until(lambda: next(s for s in get(f"{web.url}/api/v1/offices").json()["offices"][0]["services"]
                                    if s["id"] == "A" and s["waiting"] == 9), what="nine waiting in the open data")
    ampel_range = shown_range(queue["wait_range_min"])
    assert ampel_range is not None
    assert f"ca. {ampel_range[0]}–{ampel_range[1]} Min." in get(f"{web.url}/").text


def test_the_offices_api_is_open_to_other_sites_and_cacheable(web):
    reply = get(f"{web.url}/api/v1/offices", headers={"Origin": "https://www.example.org"})
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.headers["cache-control"] == "public, max-age=5"
    [office] = reply.json()["offices"]
    assert office["id"] == web.office and office["name"] == "Bürgerbüro Test" and office["open"] is True
    assert {s["id"]: s["waiting"] for s in office["services"]} == {"A": 0, "P": 0}
    assert {s["ampel"] for s in office["services"]} <= {"green", "yellow", "red"}
    web.issue("A")
    web.issue("A")
    wait_until(lambda: get(f"{web.url}/api/v1/offices").json()["offices"][0]["services"][0]["waiting"] == 2,
               what="two waiting in the open data")
    english = get(f"{web.url}/api/v1/offices?lang=en").json()["offices"][0]
    assert english["services"][0]["name"] == "General concerns"


def test_the_open_data_names_its_licence(web):
    """Issue 13: documented fields and a licence line on the open data, not only on the archive."""
    default_url = "https://www.govdata.de/dl-de/by-2-0"
    reply = get(f"{web.url}/api/v1/offices")
    assert reply.json()["licence"] == {"name": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
                                       "url": default_url}
    assert reply.json()["attribution"] == "Stadt"  # the operator's name unless `attribution` says another
    for path in ("/api/v1/offices", f"/api/v1/offices/{web.office}/history",
                 f"/api/v1/offices/{web.office}/history?format=csv"):
        assert get(f"{web.url}{path}").headers["link"] == f'<{default_url}>; rel="license"', path


HISTORY = {
    "office": None, "weeks": 8, "until": "2026-11-25",
    "cells": [{"weekday": 0, "hour": 8, "typical_wait_min": 12, "tickets_per_day": 30.5},
              {"weekday": 0, "hour": 9, "typical_wait_min": 45, "tickets_per_day": 41.0},
              {"weekday": 3, "hour": 15, "typical_wait_min": 95, "tickets_per_day": 22.0}],
    "ran_out": {"0": {"days": 3, "of_days": 8, "typical_time": "11:40"}},
}


def test_history_as_json_csv_and_an_svg_chart_on_the_ampel(web, recorder_factory, shared_broker):
    history = {**HISTORY, "office": web.office}
    rec = recorder_factory(shared_broker, [topics.history(web.office)])
    rec.publish(topics.history(web.office), encode_object(history), retain=True)
    try:
        wait_until(lambda: str(getattr(web.mirror.office(web.office).history, "until", "")) == "2026-11-25",
                   what="the web to mirror the history")
        reply = get(f"{web.url}/api/v1/offices/{web.office}/history")
        assert reply.status == 200 and reply.headers["access-control-allow-origin"] == "*"
        assert reply.headers["cache-control"] == "public, max-age=5"
        data = reply.json()
        assert data["cells"] == history["cells"] and data["ran_out"] == history["ran_out"]
        table = get(f"{web.url}/api/v1/offices/{web.office}/history?format=csv")
        assert table.status == 200 and table.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(table.text)))
        assert rows[0][:5] == ["office", "weekday", "hour", "typical_wait_min", "tickets_per_day"]
        assert rows[1][:5] == [web.office, "mon", "8", "12", "30.5"]
        assert rows[3][:5] == [web.office, "thu", "15", "95", "22.0"]
        assert rows[1][5:] == ["3", "8", "11:40"] and rows[3][5:] == ["", "", ""]
        assert len(rows) == 4
        page = get(f"{web.url}/").text
        assert "<svg" in page and "Typische Wartezeit nach Wochentag und Stunde" in page
        assert "Mo 08:00 – 12 min" in page and "Do 15:00 – 95 min" in page
        assert "11:40" in page  # when tickets typically ran out on Mondays
        assert f'href="/api/v1/offices/{web.office}/history?format=csv"' in page
        assert "Mon 08:00 – 12 min" in get(f"{web.url}/?lang=en").text
        # not by colour alone: figures in the cells, a legend, and every value in a table (WCAG 1.4.1)
        assert 'font-weight="700">12</text>' in page and 'font-weight="700">95</text>' in page
        assert "bis 30 Min." in page and "31–90 Min." in page and "über 90 Min." in page
        assert '<th scope="row">08:00</th><td>12</td>' in page and '<th scope="row">15:00</th><td>–</td>' in page
        assert 'width="100%"' in page  # the chart scales with the page (reflow at 320 px)
        assert get(f"{web.url}/api/v1/offices/nowhere/history").status == 404
    finally:
        rec.clear_retained(topics.history(web.office))


# -- operations ------------------------------------------------------------------------------------------------

def test_healthz_and_prometheus_metrics(web):
    health = get(f"{web.url}/healthz")
    assert health.status == 200 and health.json() == {"status": "ok", "mqtt_connected": True}
    web.issue("A")
    web.issue("P")
    wait_until(lambda: sum(s.waiting for s in web.mirror.office(web.office).queue.services) == 2,
               what="two waiting")
    with SseClient(f"{web.url}/t/{web.tokens[0]}/events") as stream:
        stream.next_event()
        reply = get(f"{web.url}/metrics")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert samples["wartemarke_web_sse_clients"] == "1"
    assert samples["wartemarke_web_mqtt_connected"] == "1"
    assert samples["wartemarke_tickets_tracked"] == "2"
    assert samples[f'wartemarke_waiting{{office="{web.office}",service="A"}}'] == "1"
    assert samples[f'wartemarke_waiting{{office="{web.office}",service="P"}}'] == "1"
    assert f'wartemarke_expected_wait_minutes{{office="{web.office}",service="A"}}' in samples
    assert int(samples["wartemarke_web_updates_total"]) > 0
    # the text format: a TYPE line before each family, and each family's samples in one group
    families: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("gauge", "counter") and name not in families
            families.append(name)
        elif line:
            family = line.split("{")[0].split(" ")[0]
            assert families and family == families[-1], f"{family} out of its group"


def test_access_logs_hold_no_client_address(web, caplog):
    caplog.set_level(logging.INFO, logger="wartemarke.web.access")
    event = web.issue("A")
    assert get(f"{web.url}/t/{event.token}").status == 200
    assert get(f"{web.url}/", headers={"X-Forwarded-For": "203.0.113.9"}).status == 200
    records = wait_until(lambda: len(r := [x for x in caplog.records if x.name == "wartemarke.web.access"]) >= 2
                         and r, what="two access log lines")
    lines = [r.getMessage() for r in records]
    assert any(line.startswith("GET / 200") for line in lines)
    for line in lines:
        assert "127.0.0.1" not in line and "203.0.113.9" not in line
        assert event.token not in line and event.token.lower() not in line  # tokens outlive their day in logs


def raw_status(port: int, path: str) -> int:
    """A GET with the path exactly as given on the wire (http.client would reject or quote some)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1"))
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_one_spelling_of_a_tracking_link_and_no_token_in_the_log_for_any(web, caplog):
    caplog.set_level(logging.DEBUG)
    event = web.issue("A")
    token = event.token
    expected = {f"/t/{token}": 200, f"/T/{token}": 301, f"/t/{token.lower()}": 301, f"/t/%20{token}": 404,
                f"/t/{token}%20": 404, f"/t/{token[:10]}%2F{token[10:]}": 404, f"//t/{token}": 404,
                f"/t//{token}": 404, f"/t/{token}/": 404, f"/api/v1/tickets/%20{token}": 404,
                f"/api/v1/tickets/{token.lower()}": 404, f"/t/%20{token}/events": 404,
                f"/T/{token}/events": 404, f"/x/{token}": 404}
    for path, status in expected.items():  # odd spellings count as misses: the 6th is refused (miss limit 5)
        assert raw_status(web.port, path) in ((status,) if status != 404 else (404, 429)), path
    assert raw_status(web.port, f"/api/v1/tickets/{token}") == 200
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /t/{token} 200" in text and "GET /{prefix}/{token} 301" in text  # the access log, by route
    for part in (token, token.lower(), token[:10], token[10:], token[10:].lower()):
        assert part not in text


def test_static_pages_accessibility_privacy_imprint(web):
    statement = get(f"{web.url}/barrierefreiheit")
    assert statement.status == 200 and "Erklärung zur Barrierefreiheit" in statement.text and "BITV" in statement.text
    assert "Accessibility statement" in get(f"{web.url}/barrierefreiheit?lang=en").text
    assert "Datenschutz" in get(f"{web.url}/datenschutz").text
    assert get(f"{web.url}/impressum").status == 200
    # defaults: a self-assessment, partly compliant, no sign-language video yet (said as a limitation)
    assert "teilweise vereinbar" in statement.text and "Selbstbewertung" in statement.text
    assert "Gebärdensprache gibt es für dieses Angebot noch nicht" in statement.text
    assert '<a href="https://www.schlichtungsstelle-bgg.de">Schlichtungsstelle nach § 16' in statement.text
    easy = get(f"{web.url}/leichte-sprache")
    assert easy.status == 200 and "in Leichter Sprache" in easy.text and "Eine Wartemarke ist ein Zettel" in easy.text
    assert 'href="/leichte-sprache?lang=de"' in get(f"{web.url}/").text  # linked from every page


def test_the_accessibility_statement_takes_the_operators_facts(tmp_path, shared_broker, topic_office):
    """EU model statement / BITV 2.0 § 7: status, date and method, contact, arbitration body — also in English."""
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port(), extra_web="""
        [web.accessibility]
        contact = "barrierefrei@example.org"
        assessed = "2026-11-20"
        method = "external"
        status = "full"
        sign_language_url = "https://video.example.org/dgs"
    """)
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        de, en = (get(f"{web.url}/barrierefreiheit{q}").text for q in ("", "?lang=en"))
        assert "vollständig vereinbar" in de and "am 20.11.2026 erstellt" in de and "externe Stelle" in de
        assert '<a href="mailto:barrierefrei@example.org">barrierefrei@example.org</a>' in de
        assert "fully compliant" in en and "prepared on 2026-11-20" in en and "third party" in en
        assert '<a href="mailto:barrierefrei@example.org">' in en
        assert '<a href="https://www.schlichtungsstelle-bgg.de">arbitration body under § 16' in en
        assert "noch nicht" not in de and "no video in German Sign Language" not in en
        assert '<a href="https://video.example.org/dgs">Gebärdensprache (Video)</a>' in get(f"{web.url}/").text
    finally:
        web.stop()
    bad = tmp_path / "web.toml"
    bad.write_text('[replica]\ndevice = "web-1"\n[web]\noffices = ["o"]\n[web.accessibility]\nassessed = "20.11.2026"\n'
                   "[broker]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("key 'web.accessibility.assessed': must be a date")):
        load_replica_config(bad)


def test_the_wait_line_never_says_zero_minutes_while_someone_is_ahead(web, recorder_factory, shared_broker):
    rec = recorder_factory(shared_broker, [topics.tickets(web.office)])
    base = {"v": 1, "day": "2026-11-25", "label": "A009", "service": "A", "state": "waiting",
            "issued_at": "2026-11-25T09:00:00+01:00"}
    cases = {"soon": {**base, "ahead": 2, "expected_wait_min": 0}, "next": {**base, "ahead": 0, "expected_wait_min": 0},
             "no estimate": {**base, "ahead": 2}}
    tokens = {}
    for name, view in cases.items():
        tokens[name] = random_token()
        rec.publish(topics.ticket(web.office, topics.token_hash(tokens[name])), encode_object(view), retain=True)
    try:
        wait_until(lambda: all(topics.token_hash(t) in web.mirror.tickets for t in tokens.values()), what="the views")
        soon = get(f"{web.url}/t/{tokens['soon']}").text
        assert "Voraussichtlich in wenigen Minuten" in soon and "ca. 0 Minuten" not in soon  # two are still ahead
        assert "Voraussichtlich noch ca. 0 Minuten" in get(f"{web.url}/t/{tokens['next']}").text  # nobody ahead
        unknown = get(f"{web.url}/t/{tokens['no estimate']}")
        assert unknown.status == 200 and "Wartezeit derzeit unbekannt" in unknown.text
    finally:
        for token in tokens.values():
            rec.clear_retained(topics.ticket(web.office, topics.token_hash(token)))


# -- a public replica ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "key"), [
    ('session_secret_file = "secret"', "session_secret_file"),  # no logins on a replica
    ('broker_username = "web-1-web"', "broker_username"),  # its one account is [broker]'s
    ('device_roles = { hub-1 = "hub" }', "device_roles"),  # no device status on a replica
])
def test_a_replica_refuses_the_hub_webs_own_settings(tmp_path, line, key):
    """They used to be read and then ignored: a replica's operator would believe they did something."""
    path = tmp_path / "web.toml"
    path.write_text(f'[replica]\ndevice = "web-1"\n[web]\noffices = ["o"]\n{line}\n[broker]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: key 'web.{key}': is a setting of the hub's web")):
        load_replica_config(path)


@pytest.mark.parametrize(("line", "key", "why"), [
    ('operator = "Stadt\\u001b[2J"', "operator", "control"),  # reaches every page's footer
    ('operator = "' + "x" * 121 + '"', "operator", "at most 120"),
    ('privacy_url = "javascript:alert(1)"', "privacy_url", "a path on this site"),
    ('imprint_url = "https://example.org/\\nimpressum"', "imprint_url", "control"),
    ('imprint_url = "//evil.example/x"', "imprint_url", "a path on this site"),
    ('privacy_url = "/daten schutz"', "privacy_url", "without spaces"),
])
def test_the_footer_settings_follow_the_text_rule(tmp_path, line, key, why):
    """operator, privacy_url and imprint_url go on every page: bad text fails at start-up naming key and
    file (review of issue 10, item 10)."""
    path = tmp_path / "web.toml"
    path.write_text(f'[replica]\ndevice = "web-1"\n[web]\noffices = ["o"]\n{line}\n[broker]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: key 'web.{key}': ") + ".*" + re.escape(why)):
        load_replica_config(path)
    path.write_text('[replica]\ndevice = "web-1"\n[web]\noffices = ["o"]\noperator = "Stadt Mühlheim (Bürgeramt)"\n'
                    'privacy_url = "https://www.example.org/datenschutz?x=1"\nimprint_url = "/impressum"\n[broker]\n',
                    encoding="utf-8")
    assert load_replica_config(path).web.operator == "Stadt Mühlheim (Bürgeramt)"


def test_a_public_replica_serves_the_public_pages_only(web, tmp_path, shared_broker):
    port = free_port()
    path = tmp_path / "web.toml"
    path.write_text(textwrap.dedent(f"""
        [replica]
        device = "web-replica"

        [web]
        port = {port}
        offices = ["{web.office}"]
        operator = "Stadt Teststadt"

        [broker]
        host = "127.0.0.1"
        port = {shared_broker.port}
        reconnect_max_s = 1
    """), encoding="utf-8")
    config = load_replica_config(path)
    event = web.issue("A")
    replica = WebServer(config.web, config.broker, config.device, SystemClock(assume_synced=True))
    replica.start()
    try:
        key = topics.token_hash(event.token)
        wait_until(lambda: key in replica.mirror.tickets and replica.mirror.office(web.office).queue is not None,
                   what="the replica to mirror the office")
        base = f"http://127.0.0.1:{port}"
        ampel = get(f"{base}/")
        assert ampel.status == 200 and "Bürgerbüro Test" in ampel.text and "Stadt Teststadt" in ampel.text
        tracking = get(f"{base}/t/{event.token}")
        assert tracking.status == 200 and "A001" in tracking.text
        assert get(f"{base}/api/v1/tickets/{event.token}").json()["label"] == "A001"
        assert get(f"{base}/api/v1/offices").status == 200
        internal = ("/counter", f"/counter?office={web.office}&counter=platz-1", "/counter/events", "/devices",
                    "/devices/events", "/login", "/api/internal/session", "/api/internal/counter",
                    "/api/internal/devices")
        for path_ in internal:
            assert get(base + path_).status == 404, path_
        for path_ in ("/login", "/logout", "/counter/command", "/api/internal/counter/command"):
            assert get(base + path_, method="POST").status in (404, 405), path_
        assert get(f"{web.url}/login").status == 200  # while the hub's own web has them
        with SseClient(f"{base}/t/{event.token}/events") as stream:
            stream.next_event()
            web.command("platz-1", "next")
            called = stream.wait_for(lambda data: data["state"] == "called")
        assert "Bitte jetzt zu Platz 1" in called["html"]
    finally:
        replica.stop()


def example_hub_variables(overrides: dict[str, Any]) -> dict[str, Any]:
    """The example inventory's variables for its hub host (group_vars all + office), as the playbook sees them."""
    group_vars = Path(__file__).parent.parent / "deploy" / "inventory" / "example" / "group_vars"
    variables: dict[str, Any] = {}
    for name in ("all.yml", "office_mitte.yml"):
        variables.update(yaml.safe_load((group_vars / name).read_text(encoding="utf-8")))
    variables.update({"inventory_hostname": "mitte-hub", "ansible_managed": "test", "broker_local_port": 1883,
                      "groups": {"kiosk": [], "display": [], "hub": ["mitte-hub"]}, **overrides})
    return {**variables, "hostvars": {"mitte-hub": dict(variables)}}


def test_the_playbook_writes_the_statement_facts_from_group_vars() -> None:
    from tests.deploy_harness import render_role_template

    facts = {"contact": "barrierefreiheit@example.org", "sign_language_url": "https://video.example.org/dgs"}
    variables = {"inventory_hostname": "web-1", "wartemarke_city": False, "hostvars": {}, "groups": {},
                 "wartemarke_office": "buergerbuero-mitte", "wartemarke_broker_address": "broker.example.org",
                 "wartemarke_public_url": "https://warte.example.org", "wartemarke_operator": "Stadt",
                 "wartemarke_privacy_url": "/d", "wartemarke_imprint_url": "/i", "ansible_managed": "test"}
    assert "accessibility" not in tomllib.loads(render_role_template("web", "web.toml.j2", variables))["web"]
    config = tomllib.loads(render_role_template("web", "web.toml.j2", {**variables, "wartemarke_accessibility": facts}))
    assert config["web"]["accessibility"] == facts
    assert "embed_frame_ancestors" not in config["web"]  # the replica's default: any site may frame /embed
    framed = {"wartemarke_embed_frame_ancestors": ["https://www.stuttgart.de"]}
    replica = tomllib.loads(render_role_template("web", "web.toml.j2", {**variables, **framed}))
    hub = tomllib.loads(render_role_template("hub", "hub.toml.j2", example_hub_variables(framed)))
    assert replica["web"]["embed_frame_ancestors"] == hub["web"]["embed_frame_ancestors"] == ["https://www.stuttgart.de"]
    site = render_role_template("web", "nginx-wartemarke.conf.j2", {**variables, "web_tls_certificate": "/c",
                                                                     "web_tls_key": "/k"})
    assert '"/leichte-sprache"                    "/leichte-sprache";' in site  # logged by its name


def progress_bar(html: str) -> tuple[int, int, str]:
    """(value, max) of the tracking page's bar and the href of its no-script reload link."""
    bar = re.search(r'<progress max="(\d+)" value="(\d+)"', html)
    link = re.search(r'<a class="refresh" href="([^"]*)"', html)
    assert bar and link, html
    return int(bar.group(2)), int(bar.group(1)), link.group(1).replace("&amp;", "&")


def test_without_script_the_bar_moves_with_more_than_ten_ahead_through_its_reload_link(web):
    """No script, 11 ahead: the reload link remembers the scale (`?from=11`), so after two calls the
    reloaded page's bar shows 2 of 11 gone — not 0 of 10 (issue 16). Nonsense in `from` is ignored."""
    for _ in range(11):
        web.issue("A")
    ours = web.issue("A")
    assert progress_bar(get(f"{web.url}/t/{ours.token}?lang=en").text) == (0, 11, "?lang=en&from=11")
    web.command("platz-1", "next")
    web.command("platz-2", "next")
    wait_until(lambda: json.loads(get(f"{web.url}/api/v1/tickets/{ours.token}").body)["ahead"] == 9)
    assert progress_bar(get(f"{web.url}/t/{ours.token}?lang=en&from=11").text) == (2, 11, "?lang=en&from=11")
    for nonsense in ("abc", "-5", "99999999", "%00"):
        reply = get(f"{web.url}/t/{ours.token}?from={nonsense}")
        assert reply.status == 200 and progress_bar(reply.text)[:2] == (1, 10), nonsense  # 9 ahead of 10
