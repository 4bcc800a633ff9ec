"""The office-network pages (login, counter, devices) against a real mosquitto, the hub's real process
(hub and web), and real HTTP: sessions, roles, CSRF, idempotent commands, "hub does not answer", live device
status, the login rate limit — and their absence from public replicas."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from devtools.broker import free_port
from hub.accounts import HubAccounts
from hub.store import HubStore
from notifier.api import KEY_PATH, SUBSCRIPTION_PATH
from process.clock import SystemClock
from protocol import topics
from protocol.fields import encode_object
from protocol.link import BrokerSettings
from protocol.messages import DeviceStatus
from tests.staff_harness import PASSWORD, Browser, Page, add_users, counter_path
from tests.web_harness import WebHub, wait_until
from web.app import WebServer, create_app
from web.config import WebSettings
from web.counter import COMMAND_TIMEOUT
from web.directory import ROLES
from web.internal import add_internal_routes
from web.mirror import Mirror

# -- fixtures (and `web_hub` in tests/conftest.py) --------------------------------------------------------------

def web_settings(office: str) -> WebSettings:
    return WebSettings(host="127.0.0.1", port=free_port(), public_url="http://127.0.0.1", offices=(office,),
                       operator="Test", privacy_url="/datenschutz", imprint_url="/impressum", access_log=False,
                       session_secret=secrets.token_bytes(32), miss_limit_per_min=20, trust_forwarded=False)


@pytest.fixture
def web_only(shared_broker: Any, topic_office: str, tmp_path: Path) -> Iterator[Callable[[bool], WebServer]]:
    """A web tier of its own (no hub on the broker for this office), with or without the internal pages."""
    started: list[WebServer] = []
    stores: list[HubStore] = []

    def start(internal: bool) -> WebServer:
        store_path = tmp_path / f"store-{len(started)}.sqlite3"
        add_users(store_path)
        store = HubStore(store_path)
        stores.append(store)

        def routes(app: Any) -> None:
            add_internal_routes(app, HubAccounts(store, ROLES))
            app[COMMAND_TIMEOUT] = 0.5  # nobody answers here: keep the test short

        server = WebServer(web_settings(topic_office), BrokerSettings(port=shared_broker.port), "web-test",
                           SystemClock(), internal=routes if internal else None)
        server.start()
        started.append(server)
        wait_until(lambda: server.mirror.mqtt_connected, what="the web's MQTT connection")
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        for store in stores:
            store.close()


def find_form(page: Page, **must: str) -> dict[str, str]:
    """The hidden and preset fields of the one form whose fields include `must`."""
    for form in re.findall(r"<form.*?</form>", page.text, re.S):
        fields = dict(re.findall(r'name="([a-z]+)" value="([^"]*)"', form))
        if all(fields.get(k) == v for k, v in must.items()):
            return fields
    raise AssertionError(f"no form with {must}")


def command_form(page: Page, op: str, **extra: str) -> dict[str, str]:
    form_id = f"form-{op}"
    form = {name: page.form_value(name, form_id) for name in ("csrf", "office", "counter", "op", "rid")}
    return {**form, **extra}


# -- tests ------------------------------------------------------------------------------------------------------

def test_internal_pages_refuse_without_session_and_with_the_wrong_role(web_hub: WebHub) -> None:
    anonymous, office = Browser(web_hub.port), web_hub.office
    for path in ("/counter", counter_path(office), "/devices"):
        page = anonymous.get(path)
        assert page.status == 303 and page.location.startswith("/login"), (path, page.status)
    for path in ("/counter/events?" + urlencode({"office": office, "counter": "platz-1"}), "/devices/events",
                 "/api/internal/counter?" + urlencode({"office": office, "counter": "platz-1"}),
                 "/api/internal/devices", "/api/internal/session"):
        assert anonymous.get(path).status == 401, path
    assert anonymous.get("/api/internal/devices").json() == {"error": "login required"}
    refused = anonymous.request("POST", "/api/internal/counter/command", body={"office": office, "op": "next"})
    assert refused.status == 401
    assert anonymous.post("/counter/command", {"office": office, "counter": "platz-1", "op": "next"}).status == 303
    forged = Browser(web_hub.port, cookies={"wm_session": "eyJ1IjoiY2xhcmEiLCJyIjoic3VwZXJ2aXNvciJ9.AAAA"})
    assert forged.get(counter_path(office)).status == 303

    technician = Browser(web_hub.port)
    login = technician.login("tina")
    assert login.status == 303 and login.location == "/devices"
    cookie = next(c for c in login.set_cookies if c.startswith("wm_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain http here
    assert "Max-Age=36000" in cookie
    assert technician.get(counter_path(office)).status == 403
    assert technician.get("/api/internal/counter?" + urlencode({"office": office, "counter": "platz-1"})).status \
        == 403
    assert technician.get("/counter/events?" + urlencode({"office": office, "counter": "platz-1"})).status == 403
    assert technician.get("/devices").status == 200

    clerk = Browser(web_hub.port)
    assert clerk.login("clara").location == "/counter"
    assert clerk.get("/devices").status == 403
    assert clerk.get("/api/internal/devices").status == 403
    assert clerk.get(counter_path(office)).status == 200
    assert web_hub.hub.runtimes[office].engine.calls_seq == 0


def test_every_post_needs_the_csrf_token_and_our_origin(web_hub: WebHub) -> None:
    office, clerk = web_hub.office, Browser(web_hub.port)
    web_hub.issue("A")
    assert clerk.post("/login", {"user": "clara", "password": PASSWORD}).status == 403  # no login-form token
    assert clerk.login("clara").status == 303
    page = clerk.get(counter_path(office))
    form = command_form(page, "next")
    assert clerk.post("/counter/command", {k: v for k, v in form.items() if k != "csrf"}).status == 403
    assert clerk.post("/counter/command", {**form, "csrf": "A" * 43}).status == 403
    assert clerk.post("/counter/command", form, headers={"Origin": "http://evil.example"}).status == 403
    assert clerk.post("/logout", {}).status == 403
    api = {"office": office, "counter": "platz-1", "op": "next"}
    assert clerk.request("POST", "/api/internal/counter/command", body=api).status == 403
    wrong = clerk.request("POST", "/api/internal/counter/command", body=api, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status == 403 and "CSRF" in wrong.json()["error"]
    assert web_hub.hub.runtimes[office].engine.calls_seq == 0  # nothing reached the hub

    other = Browser(web_hub.port)  # another session's token does not fit this session
    other.login("sven")
    assert other.post("/counter/command", form).status == 403

    own_origin = f"http://127.0.0.1:{web_hub.port}"
    done = clerk.post("/counter/command", form, headers={"Origin": own_origin})
    assert done.status == 303
    assert "A001 → Platz 1" in clerk.follow(done).text

    logout = clerk.post("/logout", {"csrf": form["csrf"]})
    assert logout.status == 303 and "wm_session" not in clerk.cookies
    assert clerk.get(counter_path(office)).status == 303


def test_next_calls_the_ticket_once_even_when_the_form_is_submitted_twice(web_hub: WebHub) -> None:
    office, clerk = web_hub.office, Browser(web_hub.port)
    engine = web_hub.hub.runtimes[office].engine
    first, second = web_hub.issue("A"), web_hub.issue("A")
    clerk.login("clara")
    page = clerk.get(counter_path(office))
    assert page.status == 200 and "Platz 1" in page.text
    assert 'id="form-next"' in page.text and 'data-shortcut="N"' in page.text
    assert "aria-keyshortcuts=" not in page.text  # single-key shortcuts are off until the clerk turns them on
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    form = command_form(page, "next")
    events = clerk.sse("/counter/events?" + urlencode({"office": office, "counter": "platz-1"}))
    with events:
        assert events.status == 200
        initial = events.wait_for(lambda d: "state" in d)
        assert initial["state"] == "idle"

        reply = clerk.post("/counter/command", form)
        assert reply.status == 303 and reply.location.startswith("/counter?")
        shown = clerk.follow(reply)
        assert f"{first.label} → Platz 1" in shown.text
        assert 'class="flash flash-ok"' in shown.text
        assert engine.calls_seq == 1

        again = clerk.post("/counter/command", form)  # the same rendering: the same request id
        assert f"{first.label} → Platz 1" in clerk.follow(again).text  # the hub's first answer again
        assert engine.calls_seq == 1
        assert [t.label for t in engine.waiting("A")] == [second.label]

        live = events.wait_for(lambda d: d.get("state") == "serving")
        assert first.label in live["status"]

    remembered = clerk.get("/counter")  # no query: the session remembers office and counter
    assert remembered.status == 200 and 'id="form-next"' in remembered.text and first.label in remembered.text
    assert command_form(remembered, "next")["rid"] != form["rid"]  # a fresh rendering, a fresh request id

    token = clerk.get("/api/internal/session").json()["csrf"]
    api = clerk.request("POST", "/api/internal/counter/command", headers={"X-CSRF-Token": token},
                        body={"office": office, "counter": "platz-1", "op": "next"})
    assert api.status == 200 and api.json()["answer"]["label"] == second.label
    assert api.json()["message"] == f"{second.label} → Platz 1"
    refused = clerk.request("POST", "/api/internal/counter/command", headers={"X-CSRF-Token": token},
                            body={"office": office, "counter": "platz-1", "op": "next"})
    assert refused.status == 200 and refused.json()["ok"] is False and "nobody is waiting" in refused.json()["message"]
    wait_until(lambda: web_hub.mirror.office(office).counters["platz-1"].state == "idle",
               what="the counter's retained state")  # the hub answers the clerk first, then publishes
    state = clerk.get("/api/internal/counter?" + urlencode({"office": office, "counter": "platz-1"})).json()
    assert state["counter_name"] == "Platz 1" and state["state"]["state"] == "idle"  # next completed A002


def test_a_refusal_and_the_supervisor_forms(web_hub: WebHub) -> None:
    office = web_hub.office
    clerk, boss = Browser(web_hub.port), Browser(web_hub.port)
    clerk.login("clara")
    page = clerk.get(counter_path(office))
    refused = clerk.follow(clerk.post("/counter/command", command_form(page, "done")))
    assert "Refused by the hub: no ticket is being served" in refused.text
    assert 'class="flash flash-refused"' in refused.text
    assert 'id="announce-text"' not in page.text  # the supervisor's forms are for supervisors
    announce = {**command_form(page, "next"), "op": "announce", "text": "Heute bis 12 Uhr"}
    assert clerk.post("/counter/command", announce).status == 403

    boss.login("sven")
    page = boss.get(counter_path(office))
    assert 'id="announce-text"' in page.text
    shown = boss.follow(boss.post("/counter/command", {**find_form(page, op="announce"), "text": "Heute bis 12 Uhr"}))
    assert "Announcement set" in shown.text
    wait_until(lambda: getattr(web_hub.mirror.office(office).info, "announcement", None) == "Heute bis 12 Uhr",
               what="the announcement in info")
    close = find_form(page, op="close_service", service="P")
    assert "Pickup: ticket issuing stopped" in boss.follow(boss.post("/counter/command", close)).text
    assert "P" in web_hub.hub.runtimes[office].engine.closed_services
    wait_until(lambda: not web_hub.mirror.office(office).queue.services[1].issuing, what="P closed in queue")
    assert "not issuing" in boss.get(counter_path(office)).text


def test_an_announcement_with_a_control_character_is_refused_before_it_is_sent(web_hub: WebHub) -> None:
    office = web_hub.office
    boss = Browser(web_hub.port)
    boss.login("sven")
    form = find_form(boss.get(counter_path(office)), op="announce")
    for text in ("Heute\x00 zu", "\x1b[2J", "\u202egeschlossen"):
        refused = boss.follow(boss.post("/counter/command", {**form, "text": text}))
        assert "This text cannot be shown" in refused.text and 'class="flash flash-invalid"' in refused.text
    assert web_hub.hub.runtimes[office].engine.announcement == ""
    shown = boss.follow(boss.post("/counter/command", {**form, "text": "Heute   bis\t12 Uhr"}))
    assert "Announcement set" in shown.text  # whitespace is folded, not refused
    assert web_hub.hub.runtimes[office].engine.announcement == "Heute bis 12 Uhr"


def test_a_hub_that_does_not_answer_is_reported_and_a_retry_reuses_the_request_id(
        web_only: Callable[[bool], WebServer], topic_office: str) -> None:
    server = web_only(True)
    clerk = Browser(server.settings.port)
    assert clerk.login("clara").status == 303
    page = clerk.get(counter_path(topic_office))
    assert page.status == 200
    form = command_form(page, "next")
    shown = clerk.follow(clerk.post("/counter/command", form))
    assert "hub does not answer" in shown.text and 'class="flash flash-silent"' in shown.text
    assert command_form(shown, "next")["rid"] == form["rid"]  # trying again cannot call a second ticket
    assert command_form(shown, "done")["rid"] != form["rid"]

    token = clerk.get("/api/internal/session").json()["csrf"]
    api = clerk.request("POST", "/api/internal/counter/command", headers={"X-CSRF-Token": token},
                        body={"office": topic_office, "counter": "platz-1", "op": "recall", "id": "retry-me-1"})
    assert api.status == 503 and api.json() == {"id": "retry-me-1", "ok": False, "error": "hub does not answer",
                                                "message": api.json()["message"]}


def test_the_device_page_shows_every_status_and_updates_live(web_hub: WebHub, recorder_factory: Any,
                                                              shared_broker: Any) -> None:
    office = web_hub.office
    publisher = recorder_factory(shared_broker, [])
    technician = Browser(web_hub.port)
    technician.login("tina")
    page = technician.get("/devices")
    assert page.status == 200 and "hub-test" in page.text  # the hub's own retained status
    kiosk = DeviceStatus(online=True, role="kiosk", version="9.8.7", at=datetime.now(UTC), clock_synced=False,
                         health={"device": "kiosk-7", "printer": {"online": True, "paper": "low", "detail": None},
                                 "outbox_pending": 3, "last_error": "cutter jammed", "hub_reachable": False})
    display = DeviceStatus(online=False, role="display")
    topic = topics.device_status(office, "kiosk-7")
    with technician.sse("/devices/events?lang=en") as events:
        assert events.status == 200
        publisher.publish(topic, encode_object(kiosk.to_dict()), retain=True)
        publisher.publish(topics.device_status(office, "display-2"), encode_object(display.to_dict()), retain=True)
        data = events.wait_for(lambda d: "display-2" in d["offices"].get(office, ""))
        html = data["offices"][office]
        assert "kiosk-7" in html and "9.8.7" in html and "cutter jammed" in html and "hub unreachable" in html
    page = technician.get("/devices")
    row = re.search(r'<tr id="device-[^"]*-kiosk-7">.*?</tr>', page.text, re.S)
    assert row
    assert "online" in row.group(0) and "low" in row.group(0) and ">3<" in row.group(0) and "NO" in row.group(0)
    assert "OFFLINE" in re.search(r'<tr id="device-[^"]*-display-2">.*?</tr>', page.text, re.S).group(0)  # type: ignore[union-attr]
    api = technician.get("/api/internal/devices").json()
    devices = next(o for o in api["offices"] if o["id"] == office)["devices"]
    assert devices["kiosk-7"]["outbox_pending"] == 3 and devices["display-2"]["online"] is False
    for device in ("kiosk-7", "display-2"):
        publisher.clear_retained(topics.device_status(office, device))


def test_failed_logins_are_rate_limited_and_no_address_is_logged(web_hub: WebHub,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wartemarke")
    browser = Browser(web_hub.port)
    for _ in range(5):
        failed = browser.login("clara", "wrong password!")
        assert failed.status == 401 and "Wrong user name or password" in failed.text
    blocked = browser.login("clara")  # even the right password: the client waits a minute
    assert blocked.status == 429 and blocked.headers["retry-after"] == "60"
    assert "wm_session" not in browser.cookies
    messages = [r.getMessage() for r in caplog.records]
    assert any("failed login" in m for m in messages)
    assert not any("127.0.0.1" in m or "wrong password" in m for m in messages)


def test_public_replicas_have_no_internal_pages(web_only: Callable[[bool], WebServer], topic_office: str) -> None:
    server = web_only(False)
    browser = Browser(server.settings.port)
    assert browser.get("/").status == 200
    for path in ("/login", "/counter", counter_path(topic_office), "/devices", "/counter/events", "/devices/events",
                 "/api/internal/session", "/api/internal/counter", "/api/internal/devices"):
        assert browser.get(path).status == 404, path
    for path in ("/login", "/logout", "/counter/command", "/api/internal/counter/command"):
        assert browser.post(path, {"user": "clara", "password": PASSWORD}).status == 404, path


def test_docs_http_md_names_every_route_the_web_registers_and_no_other(tmp_path: Path) -> None:
    """docs/http.md is the HTTP interface's reference: a route added or removed in the code must show there."""
    store = HubStore(tmp_path / "hub.sqlite3")
    try:
        app = create_app(web_settings("t-routes"), Mirror(),
                         internal=lambda app: add_internal_routes(app, HubAccounts(store, ROLES)))
        registered = {f"{route.method} {route.resource.canonical}" for route in app.router.routes()
                      if route.resource is not None and route.method != "HEAD"
                      and not re.search(r"\{(prefix|rest)\}", route.resource.canonical)}  # catch-alls: the 404s
    finally:
        store.close()
    text = (Path(__file__).resolve().parents[1] / "docs" / "http.md").read_text(encoding="utf-8")
    # The doc writes `GET /path` or lists a path in backticks; a query or `[?format=csv]` may follow.
    named = {path.replace("{TOKEN}", "{token}") for path in re.findall(r"`(?:GET |POST )?(/[^`?\[ ]*)", text)}
    paths = {route.split(" ", 1)[1] for route in registered}
    assert paths - named == set(), "routes missing from docs/http.md"
    notifier = {KEY_PATH, SUBSCRIPTION_PATH}  # the notifier's routes (notifier/api.py) are documented there too
    assert notifier <= named, "docs/http.md does not name the notifier's routes"
    archive = {"/api/v1/archive/", "/api/v1/archive/YYYY-MM-DD.csv"}  # §5: wartemarke-archive's, not the web's
    unknown = named - paths - notifier - archive - {"/T/…", "/t/"}
    assert unknown == set(), "docs/http.md names routes the web does not have"
