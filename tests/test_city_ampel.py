"""The city Ampel (issue 13) on a real replica: three offices, each with its own real hub, on one real
mosquitto, and a public web (`WebServer`, real HTTP over TCP) that lists all three — sort and filter by
query parameters, "shorter wait nearby" for a red office and one out of tickets, "Stand HH:MM" when an
office's hub goes offline or the web loses its broker, `retry:` on the streams, and /embed.

Mitte is made red by its bands (green up to 1 min, yellow up to 2 min) and runs out of pickup (P) tickets
after one; Ost and West (about 2.3 and 2.0 km away) keep the default bands. The bridge's part of the
stale rule goes through the real city chain in tests/test_city_web.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from devtools.broker import Broker, free_port
from devtools.hub_harness import issued, payload, write_hub_config
from hub.app import Hub
from hub.config import load_hub_config
from process.clock import SystemClock
from process.config import ConfigError, load_toml
from protocol import VERSION, topics
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import Location
from tests import test_web_browser
from tests.test_web_a11y import axe_violations
from tests.test_web_browser import LIVE_MS, screenshot
from tests.web_harness import SseClient, get, random_token, wait_until
from web.ampel import AMPEL
from web.app import WebServer
from web.config import load_replica_config, read_web_settings

MITTE, OST, WEST = "t-mitte", "t-ost", "t-west"
PLACES = {MITTE: ("Bürgerbüro Mitte", 48.7758, 9.1829), OST: ("Bürgerbüro Ost", 48.7784, 9.2146),
          WEST: ("Bürgerbüro West", 48.7735, 9.1560)}
browser = test_web_browser.browser  # the fixture: Debian's Chromium through Playwright
RED_BANDS = "\n[offices.ampel]\ngreen_max_min = 1\nyellow_max_min = 2\n"


def hub_config(directory: Path, port: int, office: str) -> Path:
    name, latitude, longitude = PLACES[office]
    extra = f"latitude = {latitude}\nlongitude = {longitude}\n" + (RED_BANDS if office == MITTE else "")
    path = write_hub_config(directory, port, office, counters=1, extra_office=extra)
    text = path.read_text(encoding="utf-8").replace('device = "hub-test"', f'device = "{office}-hub"')
    text = text.replace('name = "Bürgerbüro Test"', f'name = "{name}"')
    if office == MITTE:  # one pickup ticket a day: then "no tickets left today"
        text = text.replace("prior_handling_min = 3", "prior_handling_min = 3\ndaily_quota = 1")
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Town:
    broker: Broker
    hubs: dict[str, Hub]
    configs: dict[str, Path]
    web: WebServer
    kiosk: MqttLink
    seq: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web.settings.port}"

    def issue(self, office: str, service: str = "A") -> str:
        """A kiosk's ticket event; returns its token once the web mirrors the ticket."""
        self.seq[office] = seq = self.seq.get(office, 0) + 1
        token = random_token()
        event = issued(self.hubs[office].runtimes[office].engine.day, f"{service}{seq:03d}", seq, token=token)
        self.kiosk.publish(topics.kiosk_ticket(office, "kiosk-1"), payload(event))
        key = topics.token_hash(token)
        wait_until(lambda: key in self.web.mirror.tickets, what="the web to mirror the ticket")
        return token

    def offices(self) -> dict[str, dict[str, Any]]:
        return {o["id"]: o for o in get(self.url + "/api/v1/offices").json()["offices"]}

    def service(self, office: str, service: str) -> dict[str, Any]:
        return next(s for s in self.offices()[office]["services"] if s["id"] == service)

    def restart_hub(self, office: str) -> None:
        self.hubs[office] = Hub(load_hub_config(self.configs[office]), SystemClock(assume_synced=True))
        self.hubs[office].start()


def write_replica(directory: Path, broker_port: int, web_port: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "web.toml"
    path.write_text(f"""
[replica]
device = "web-1"

[web]
port = {web_port}
public_url = "https://warte.example.org"
offices = ["{MITTE}", "{OST}", "{WEST}"]
embed_frame_ancestors = ["https://www.example.org", "'self'"]

[broker]
host = "127.0.0.1"
port = {broker_port}
reconnect_max_s = 1
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    directory = tmp_path_factory.mktemp("town")
    broker = Broker(directory / "broker")
    broker.start()
    hubs: dict[str, Hub] = {}
    configs = {office: hub_config(directory / office, broker.port, office) for office in PLACES}
    web: WebServer | None = None
    kiosk = MqttLink(BrokerSettings(port=broker.port, reconnect_max_s=1), MITTE, "kiosk-1", "kiosk", VERSION,
                     SystemClock(), availability=False)
    try:
        for office, path in configs.items():
            hubs[office] = Hub(load_hub_config(path), SystemClock(assume_synced=True))
            hubs[office].start()
        replica = load_replica_config(write_replica(directory / "web", broker.port, free_port()))
        web = WebServer(replica.web, replica.broker, replica.device, SystemClock())
        web.start()
        kiosk.start()
        assert kiosk.connected.wait(10)
        town = Town(broker, hubs, configs, web, kiosk)
        wait_until(lambda: all(not o["stale"] and o["services"] for o in town.offices().values()),
                   what="the web to mirror all three offices")
        yield town
    finally:
        kiosk.stop()
        if web is not None:
            web.stop()
        for hub in hubs.values():
            hub.stop()
        broker.stop()


def boxes(html: str) -> list[str]:
    """The office boxes of an Ampel page in their order, hidden ones marked with a trailing '!'."""
    return [m.group(1) + ("!" if m.group(2) else "")
            for m in re.finditer(r'<section class="office[^"]*" id="office-([a-z0-9-]+)"[^>]*?( hidden)?>', html)]


def make_mitte_red(town: Town) -> None:
    while town.service(MITTE, "A")["ampel"] != "red":
        town.issue(MITTE)
    if town.service(MITTE, "P")["issuing"]:
        town.issue(MITTE, "P")
    wait_until(lambda: not town.service(MITTE, "P")["issuing"], what="Mitte to run out of pickup tickets")


# -- the page without JavaScript: query parameters ---------------------------------------------------

def test_the_ampel_lists_every_office_sorted_by_name_or_wait(town: Town) -> None:
    make_mitte_red(town)
    by_name = get(town.url + "/").text
    assert boxes(by_name) == [MITTE, OST, WEST]  # Bürgerbüro Mitte, Ost, West
    by_wait = get(town.url + "/?sort=wait").text
    order = boxes(by_wait)
    assert order[-1] == MITTE and sorted(order[:2]) == [OST, WEST]  # Mitte has the longest wait
    assert 'value="wait" checked' in by_wait and "<form" in by_wait  # the form shows the choice
    odd = get(town.url + "/?sort=%3Cscript%3E&service=..%2F")  # unusable choices read as the defaults
    main = odd.text.split("<main")[1].split("</main>")[0]
    assert odd.status == 200 and boxes(odd.text) == [MITTE, OST, WEST] and "<script>" not in main


def test_a_service_filter_keeps_that_service_only(town: Town) -> None:
    html = get(town.url + "/?service=P").text
    assert boxes(html) == [MITTE, OST, WEST]  # all three offer pickup
    assert "Allgemeine Anliegen" not in html.split('id="offices"')[1] and "Abholung" in html
    none = get(town.url + "/?service=ZZ").text
    assert boxes(none) == [f"{o}!" for o in (MITTE, OST, WEST)]
    assert '<p id="none-offers" class="muted">' in none  # shown: nobody offers it


def test_a_red_office_and_one_out_of_tickets_suggest_the_nearest_shorter_waits(town: Town) -> None:
    make_mitte_red(town)
    html = get(town.url + "/?lang=en").text
    mitte = html.split('id="office-t-mitte"')[1].split("</section>")[0]
    general, pickup = mitte.split("General concerns")[1].split("Pickup")
    west, ost = general.index("Bürgerbüro West (2.0 km)"), general.index("Bürgerbüro Ost (2.3 km)")
    assert west < ost  # the nearest first
    saving = re.search(r"Bürgerbüro West \(2\.0 km\): approx\. \d+ min, (\d+) min shorter", general)
    assert saving is not None and int(saving.group(1)) >= 10
    assert "No more tickets today" in pickup and "Bürgerbüro West (2.0 km): approx." in pickup
    for other in (OST, WEST):  # green offices need no suggestion
        assert "Shorter wait nearby" not in html.split(f'id="office-{other}"')[1].split("</section>")[0]


# -- staleness ---------------------------------------------------------------------------------------

def test_an_office_whose_hub_goes_offline_shows_its_stand_in_grey(town: Town) -> None:
    token = town.issue(OST)
    town.hubs[OST].stop()  # a clean stop: the hub says offline (retained) before it goes
    try:
        wait_until(lambda: town.offices()[OST]["stale"], what="Ost to be stale")
        ost = town.offices()[OST]
        assert ost["stale_since"] is not None and not town.offices()[WEST]["stale"]
        html = get(town.url + "/").text
        box = html.split(f'id="office-{OST}"')[1].split("</section>")[0]
        hhmm = re.search(r"Stand (\d\d:\d\d)", box)
        assert hhmm and "level-stale" in box and "level-green" not in box and "level-yellow" not in box
        assert 'class="office stale"' in html.split(f'id="office-{OST}"')[0].rsplit("<section", 1)[1]
        ticket = get(town.url + f"/t/{token}").text
        assert f"Stand {hhmm.group(1)}: Diese Angaben sind nicht aktuell." in ticket
    finally:
        town.restart_hub(OST)
    wait_until(lambda: not town.offices()[OST]["stale"], what="Ost to be current again")
    assert "Stand" not in get(town.url + f"/t/{token}").text


def test_without_its_broker_the_web_shows_every_office_stale_until_each_is_confirmed(town: Town) -> None:
    with SseClient(town.url + "/events/offices") as stream:
        current = [stream.next_event()[1] for _ in PLACES]
        assert not any(e["stale"] for e in current)
        town.broker.kill()  # the web and every hub lose the broker at once
        try:
            stale = stream.wait_for(lambda e: e["stale"] and e["id"] == WEST)
            assert "level-stale" in stale["html"]
            wait_until(lambda: all(o["stale"] for o in town.offices().values()), what="every office stale")
        finally:
            town.broker.start()
        stream.wait_for(lambda e: not e["stale"] and e["id"] == WEST, limit=200)
    wait_until(lambda: not any(o["stale"] for o in town.offices().values()), timeout=30,
               what="every office current again once its queue came back")


# -- streams, open data, embedding ---------------------------------------------------------------------

def test_event_streams_start_with_a_retry_delay(town: Town) -> None:
    with SseClient(town.url + "/events/offices?service=P") as stream:
        assert stream.response.readline() == b"retry: 2000\n"
        assert stream.response.readline() == b"\n"
        name, data = stream.next_event()
        assert name == "office" and set(data) == {"id", "html", "shown", "stale", "key", "name"}


def test_open_data_says_where_each_office_is_and_whether_its_data_is_current(town: Town) -> None:
    reply = get(town.url + "/api/v1/offices")
    offices = reply.json()["offices"]
    assert [o["id"] for o in offices] == [MITTE, OST, WEST]  # the configured order
    mitte = offices[0]
    assert mitte["location"] == {"latitude": 48.7758, "longitude": 9.1829}
    assert mitte["stale"] is False and mitte["stale_since"] is None and mitte["updated_at"]


def test_the_embeddable_ampel_may_be_framed_by_the_configured_sites_only(town: Town) -> None:
    reply = get(town.url + "/embed?service=A&lang=en")
    assert reply.status == 200
    assert reply.headers["content-security-policy"] == "frame-ancestors https://www.example.org 'self'"
    assert "x-frame-options" not in reply.headers
    assert reply.text.count('<tr><th scope="row"') == 3
    assert "General concerns" in reply.text and "Pickup" not in reply.text
    assert 'href="https://warte.example.org/?service=A&amp;lang=en" target="_blank"' in reply.text
    assert "EventSource" not in reply.text  # a frame on every page of the city's site holds no stream


def test_embed_frame_ancestors_are_checked_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "web.toml"
    path.write_text('[web]\nembed_frame_ancestors = ["javascript:alert(1)"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="embed_frame_ancestors"):
        read_web_settings(load_toml(path).get_section("web"), ("t-ost",))


def test_the_open_data_licence_is_checked_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "web.toml"
    path.write_text('[web]\nlicence_url = "javascript:alert(1)"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="licence_url"):
        read_web_settings(load_toml(path).get_section("web"), ("t-ost",))
    path.write_text('[web]\nlicence = "CC BY 4.0"\nlicence_url = "https://creativecommons.org/licenses/by/4.0/"\n'
                    'operator = "Stadt Ost"\n', encoding="utf-8")
    settings = read_web_settings(load_toml(path).get_section("web"), ("t-ost",))
    assert (settings.licence, settings.licence_url, settings.attribution) == \
        ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/", "Stadt Ost")


def test_office_coordinates_go_together_and_are_published(tmp_path: Path, town: Town) -> None:
    path = hub_config(tmp_path, 1883, OST)
    path.write_text(path.read_text(encoding="utf-8").replace("longitude = 9.2146\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match="latitude"):
        load_hub_config(path)
    info = town.web.mirror.office(WEST).info
    assert info is not None and info.location == Location(48.7735, 9.156) and info.hub == f"{WEST}-hub"


# -- in a real browser (Debian's Chromium through Playwright) ------------------------------------------

@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="de-DE", viewport={"width": 412, "height": 860})
    context.set_default_timeout(LIVE_MS)
    try:
        yield context
    finally:
        context.close()


def order(page: Any) -> list[str]:
    """The ids of the visible office boxes, top to bottom."""
    ids: list[str] = page.eval_on_selector_all(
        "#offices > section", "boxes => boxes.filter(b => !b.hidden).map(b => b.id.slice(7))")
    return ids


def open_ampel(page: Any, url: str) -> None:
    with page.expect_response(lambda r: "/events/offices" in r.url and r.status == 200):
        page.goto(url)


def test_sorting_and_filtering_in_the_browser_without_a_reload(town: Town, phone: Any) -> None:
    make_mitte_red(town)
    page = phone.new_page()
    open_ampel(page, town.url + "/")
    expect(page.locator("#office-t-mitte .nearby").first).to_contain_text("Bürgerbüro West (2,0 km)")
    assert order(page) == [MITTE, OST, WEST]
    page.evaluate("window.__marker = 1")
    page.locator("input[name=sort][value=wait]").check()
    page.wait_for_function("document.querySelector('#offices > section:last-child').id === 'office-t-mitte'")
    page.locator("#service").select_option("P")
    expect(page).to_have_url(re.compile(r"\?service=P&sort=wait$"))
    expect(page.locator("#offices")).not_to_contain_text("Allgemeine Anliegen")
    expect(page.locator("#office-t-mitte")).to_contain_text("Heute keine Wartemarken mehr")
    page.locator("#service").select_option("")
    expect(page.locator("#offices")).to_contain_text("Allgemeine Anliegen")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    screenshot(page, "city-ampel.png")


def test_sorting_and_filtering_without_javascript(town: Town, browser: Any) -> None:
    context = browser.new_context(locale="de-DE", java_script_enabled=False)
    context.set_default_timeout(LIVE_MS)
    try:
        make_mitte_red(town)
        page = context.new_page()
        page.goto(town.url + "/")
        page.locator("#service").select_option("P")
        page.locator("input[name=sort][value=wait]").check()
        page.locator("#controls button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/\?service=P&sort=wait$"))
        assert order(page)[-1] == MITTE
        expect(page.locator("#offices")).not_to_contain_text("Allgemeine Anliegen")
    finally:
        context.close()


def test_near_me_sorts_by_distance_in_the_browser_and_sends_no_location(town: Town, browser: Any) -> None:
    context = browser.new_context(locale="de-DE", geolocation={"latitude": 48.7790, "longitude": 9.2200},
                                  permissions=["geolocation"])  # just east of Ost
    context.set_default_timeout(LIVE_MS)
    sent: list[str] = []
    context.on("request", lambda r: sent.append(r.url + (r.post_data or "")))
    try:
        page = context.new_page()
        open_ampel(page, town.url + "/")
        page.locator("#near-me").click()
        page.wait_for_function("document.querySelector('#offices > section').id === 'office-t-ost'")
        assert order(page) == [OST, MITTE, WEST]
        expect(page.locator("#office-t-ost .dist")).to_have_text(re.compile(r"^· 0,4 km$"))
        assert sent and not [u for u in sent if "48.77" in u or "9.22" in u], sent
        assert "oder Dritte gesendet" in get(town.url + "/datenschutz").text  # and the page says so
    finally:
        context.close()


def test_near_me_without_a_location_says_so_on_the_button_and_to_a_screen_reader(town: Town, browser: Any) -> None:
    context = browser.new_context(locale="de-DE")  # no geolocation permission: the browser refuses
    context.set_default_timeout(LIVE_MS)
    try:
        page = context.new_page()
        open_ampel(page, town.url + "/")
        page.locator("#near-me").click()
        expect(page.locator("#near-me")).to_have_text("Standort nicht verfügbar.")
        expect(page.locator("#say-polite")).to_have_text("Standort nicht verfügbar.")
        assert order(page) == [MITTE, OST, WEST]  # still by name
    finally:
        context.close()


def test_a_stale_office_turns_grey_live(town: Town, phone: Any) -> None:
    page = phone.new_page()
    open_ampel(page, town.url + "/")
    west = page.locator("#office-t-west")
    expect(west.locator(".level-green").first).to_be_visible()
    town.hubs[WEST].stop()
    try:
        expect(west).to_have_class(re.compile(r"\bstale\b"))
        expect(west.locator(".stand")).to_contain_text(re.compile(r"Stand \d\d:\d\d"))
        expect(west.locator(".level-green")).to_have_count(0)
        screenshot(page, "city-ampel-stale.png")
    finally:
        town.restart_hub(WEST)
    expect(west).not_to_have_class(re.compile(r"\bstale\b"))
    expect(west.locator(".level-green").first).to_be_visible()


def test_a_page_refused_a_stream_reconnects_with_back_off(town: Town, phone: Any, tmp_path: Path) -> None:
    """A non-200 answer (here: the server's stream limit, 503) makes EventSource give up; the page's script
    opens the stream again (1 s, 2 s, …) and is live once there is room."""
    path = write_replica(tmp_path, town.broker.port, free_port())
    path.write_text(path.read_text(encoding="utf-8").replace('offices = [', 'max_streams = 1\noffices = ['),
                    encoding="utf-8")
    replica = load_replica_config(path)
    web = WebServer(replica.web, replica.broker, "web-2", SystemClock())
    web.start()
    try:
        url = f"http://127.0.0.1:{replica.web.port}/"
        wait_until(lambda: not get(url + "api/v1/offices").json()["offices"][2]["stale"], what="the second web")
        first = phone.new_page()
        open_ampel(first, url)
        second = phone.new_page()
        with second.expect_response(lambda r: "/events/offices" in r.url and r.status == 503):
            second.goto(url)
        with second.expect_response(lambda r: "/events/offices" in r.url and r.status == 503):
            pass  # it tries again by itself
        first.close()  # room for one stream
        with second.expect_response(lambda r: "/events/offices" in r.url and r.status == 200, timeout=20_000):
            pass
        waiting = second.locator("#office-t-west li", has_text="Allgemeine Anliegen")
        count = int(re.search(r"(\d+) wartend", waiting.inner_text()).group(1))  # type: ignore[union-attr]
        town.issue(WEST)
        expect(waiting).to_contain_text(f"{count + 1} wartend")  # live again
    finally:
        phone.close()
        web.stop()


# -- accessibility (WCAG 2.1 AA) of the city Ampel in Chromium --------------------------------------------

# Records what the Ampel's polite live region says (each text once it is set, in order).
LISTEN = """() => { window.__said = []; const region = document.getElementById("say-polite");
  new MutationObserver(() => { const text = region.textContent.trim(); if (text) window.__said.push(text); })
    .observe(region, {childList: true, characterData: true, subtree: true}); }"""


def test_the_city_ampel_is_accessible_with_a_red_office_and_a_stale_one(town: Town, phone: Any) -> None:
    """axe-core with no violation while Mitte is red with "shorter wait nearby" and West is grey with its
    "Stand"; the controls and the suggestions are reached by keyboard and named."""
    make_mitte_red(town)
    page = phone.new_page()
    open_ampel(page, town.url + "/")
    west = page.locator("#office-t-west")
    town.hubs[WEST].stop()
    try:
        expect(west.locator(".stand")).to_contain_text(re.compile(r"Stand \d\d:\d\d"))
        expect(page.locator("#office-t-mitte .nearby").first).to_be_visible()
        assert axe_violations(page) == []
        page.keyboard.press("Tab")  # the language links come first; then the form and the suggestions
        reached: list[str] = []
        for _ in range(40):
            page.keyboard.press("Tab")
            reached.append(str(page.evaluate("""() => { const e = document.activeElement;
                return e.tagName.toLowerCase() + ':' + (e.id || e.name || e.getAttribute('href')); }""")))
        assert "select:service" in reached and "input:sort" in reached and "a:#office-t-ost" in reached, reached
        assert page.get_by_role("combobox", name="Anliegen").count() == 1
        assert page.get_by_role("radio", name="nach Wartezeit").count() == 1
        assert page.get_by_role("button", name="Anzeigen").count() == 1
        expect(page.get_by_role("link", name=re.compile(r"^Bürgerbüro Ost \(2,3 km\)")).first).to_be_visible()
        assert page.get_by_role("region", name="Bürgerbüro West").count() == 1  # each box named by its office
        for lang in ("en", "ar"):  # right to left too
            open_ampel(page, town.url + f"/?lang={lang}")
            expect(page.locator("#office-t-west .level-stale").first).to_be_visible()
            assert axe_violations(page) == [], lang
    finally:
        town.restart_hub(WEST)
    expect(west).not_to_have_class(re.compile(r"\bstale\b"))


def test_the_city_ampel_announces_an_office_going_stale_and_back_politely(town: Town, phone: Any) -> None:
    """A screen reader hears news — an office's Ampel level or its "Stand" changed — through a polite live
    region; a wait moving by a minute or a new filter is not news."""
    page = phone.new_page()
    open_ampel(page, town.url + "/")
    region = page.locator("#say-polite")
    assert region.get_attribute("role") == "status" and region.get_attribute("aria-live") in (None, "polite")
    page.evaluate(LISTEN)
    page.locator("#service").select_option("P")  # a filter: the boxes change, nothing to announce
    expect(page.locator("#offices")).not_to_contain_text("Allgemeine Anliegen")
    waiting = page.locator("#office-t-west li", has_text="Abholung")
    count = int(re.search(r"(\d+) wartend", waiting.inner_text()).group(1))  # type: ignore[union-attr]
    town.issue(WEST, "P")  # one more waiting, still green: not news
    expect(waiting).to_contain_text(f"{count + 1} wartend")
    town.hubs[OST].stop()
    try:
        page.wait_for_function("window.__said.length === 1")
        said = page.evaluate("window.__said")
        assert re.match(r"^Bürgerbüro Ost: Stand \d\d:\d\d", said[0]), said
    finally:
        town.restart_hub(OST)
    page.wait_for_function("window.__said.length === 2")
    said = page.evaluate("window.__said")
    assert said[1] == "Bürgerbüro Ost: Abholung – kurze Wartezeit", said  # the filter's one service, current


def test_service_ids_nobody_offers_do_not_fill_the_replicas_memory(town: Town) -> None:
    """`?service=` takes any 1–3 capital letters (18,278 ids × 5 languages): each id that no office
    offers used to get its own rendering of every office, kept for good — a few thousand requests and a
    replica of 23 offices holds gigabytes. They all show the same (nothing), so they share one."""
    get(town.url + "/?service=A")
    held = len(town.web.app[AMPEL])
    for letters in ("QQ", "QR", "QS", "XYZ", "ZZZ", "Q", "ZZ"):
        html = get(town.url + f"/?service={letters}").text
        assert boxes(html) == [f"{o}!" for o in (MITTE, OST, WEST)]  # still: nobody offers it
        assert '<p id="none-offers" class="muted">' in html
        with SseClient(town.url + f"/events/offices?service={letters}") as stream:
            assert not stream.next_event()[1]["shown"]
    assert len(town.web.app[AMPEL]) <= held + 1 + len(PLACES), "a rendering per unknown service id"


def test_the_embeddable_ampel_is_accessible_and_never_reloads_itself(town: Town, phone: Any) -> None:
    """/embed in a frame on the city's site: axe-core with no violation (a timed reload is a WCAG 2.2.1
    failure, F41); it keeps itself current in place, without a stream."""
    make_mitte_red(town)
    page = phone.new_page()
    page.clock.install()  # the page's timers run on a clock the test moves
    page.goto(town.url + "/embed?lang=de&service=A")
    found = axe_violations(page)
    assert found == [], "\n".join(found)
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    west = page.locator("tr", has_text="Bürgerbüro West")
    expect(west.locator(".level-green")).to_have_count(1)
    page.evaluate("window.__marker = 1")
    town.hubs[WEST].stop()
    try:
        wait_until(lambda: town.offices()[WEST]["stale"], what="West to be stale")
        with page.expect_response(lambda r: "/embed" in r.url and r.status == 200):
            page.clock.run_for(61_000)
        expect(west.locator(".level-stale")).to_contain_text(re.compile(r"Stand \d\d:\d\d"))
        assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    finally:
        town.restart_hub(WEST)
    wait_until(lambda: not town.offices()[WEST]["stale"], what="West to be current again")


# -- hostile input on the public city endpoints ----------------------------------------------------------

HOSTILE = ["/?sort=%00&service=%ff%fe", "/?sort=wait&sort=name&service=A&service=P", "/?lang=../../etc",
           "/?lang=%0d%0aSet-Cookie:x=1", "/?service[]=A", "/embed?service=%C0%AF&sort=%", "/embed?%=%&lang=ar",
           "/embed/", "/events/offices/", "/api/v1/offices?lang=xx", "/api/v1/offices/", "/api/v1/unknown",
           "/api/v1/offices/t-mitte", "/api/v1/offices/t-mitte/history/", "/api/v1/offices/..%2f..%2fetc/history",
           "/api/v1/offices/" + "x" * 4000 + "/history", "/api/v1/offices/%00/history?format=csv",
           "/api/v1/offices/t-mitte/history?format=xml", "/api/v1/archive/..%2f..%2fetc%2fpasswd",
           "/api/v1/tickets/%2e%2e", "/t/%2e%2e/events", "/%2e%2e/%2e%2e/etc/passwd", "/.git/config", "/%",
           "/?" + "a=1&" * 1800]


def test_hostile_urls_get_a_clear_answer_and_leave_no_trace(town: Town, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Query strings, odd paths and methods on the city replica: never a 5xx or a traceback, nothing of the
    server's files in an answer; every answer under /api/ is JSON (http.md §1), also for a path it has not."""
    caplog.set_level(logging.DEBUG)
    token = town.issue(WEST)
    internal = str(Path(__file__).resolve().parents[1])
    for path in [*HOSTILE, f"/t/{token}/x?{'b=2&' * 100}"]:
        for method in ("GET", "HEAD", "OPTIONS"):
            reply = get(town.url + path, method=method)
            assert reply.status < 500 and b"Traceback" not in reply.body, (method, path, reply.status)
            assert internal.encode() not in reply.body and b"/etc/passwd" not in reply.body.replace(b"%2f", b"/")
            if path.startswith("/api/") and method == "GET" and reply.status != 400:
                assert reply.headers["content-type"].startswith("application/json"), (path, reply.text[:80])
                assert "error" in reply.json() or reply.status == 200, path
    assert get(town.url + "/api/v1/offices/").json() == {"error": "not found"}
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert token not in logged and "Traceback" not in logged and internal not in logged
