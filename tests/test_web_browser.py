"""The pages in a real browser: Debian's headless Chromium driven by Playwright, against a real Hub
with `[web]`, a real mosquitto and a real in-process kiosk (mock pins) that prints the tickets.

Playwright never downloads a browser here: it starts /usr/bin/chromium. Screenshots go to
test-artifacts/ at the repository root.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from devtools.broker import free_port
from devtools.kiosk_harness import FAST_A, press, start_kiosk, write_config
from protocol import topics
from tests.web_harness import ARTIFACTS, WebHub, wait_until, write_web_hub_config

CHROMIUM = "/usr/bin/chromium"  # Debian's (deploy/install-debian-packages.sh); never a downloaded one
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LIVE_MS = 10_000  # how long a live update may take to show
VIBRATION_COUNTER = ("window.__vibrations = 0;"  # (evaluate() would call a function the expression ends with)
                     "navigator.vibrate = function () { window.__vibrations += 1; return true; }; 0")
CLERK = ("clerk-anna", "clerk", "demo-password-123")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run deploy/install-debian-packages.sh"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(locale="de-DE", viewport={"width": 412, "height": 860})  # a phone
    context.set_default_timeout(LIVE_MS)
    try:
        yield context.new_page()
    finally:
        context.close()  # before the hub stops: the event streams end with the browser


@pytest.fixture
def office(tmp_path, shared_broker, recorder_factory, topic_office):
    """A hub with its web, and a kiosk of the office that prints on a file printer."""
    rec = recorder_factory(shared_broker, [topics.kiosk_tickets(topic_office)])
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port())
    web = WebHub.start(config, topic_office, shared_broker.port, users=(CLERK,))
    kiosk = start_kiosk(write_config(tmp_path / "kiosk", shared_broker.port, topic_office, services=FAST_A))
    try:
        assert kiosk.ready.wait(10), "the kiosk did not start numbering"
        yield web, kiosk, rec
    finally:
        kiosk.stop()
        web.stop()


def print_ticket(web: WebHub, kiosk: Any, rec: Any, count: int) -> dict[str, Any]:
    """Press the kiosk's button; the printed ticket's event (with its token) once the web mirrors it."""
    press(kiosk, "A")
    assert kiosk.wait_handled(count, 10)
    event: dict[str, Any] = rec.wait_for_json(topics.kiosk_ticket(web.office, "kiosk-1"), lambda e: e["seq"] == count)
    key = topics.token_hash(event["token"])
    wait_until(lambda: key in web.mirror.tickets, what=f"the web to mirror {event['label']}")
    return event


def open_tracking(page: Any, web: WebHub, token: str, query: str = "") -> None:
    """Open the tracking page and wait until its event stream is connected."""
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/events") and r.status == 200):
        page.goto(f"{web.url}/t/{token}{query}")


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_printed_ticket_is_tracked_and_switches_to_called_without_reload(office, page):
    web, kiosk, rec = office
    event = print_ticket(web, kiosk, rec, 1)
    open_tracking(page, web, event["token"])
    expect(page.locator("#ticket-label")).to_have_text(event["label"])
    expect(page.locator("#status")).to_contain_text("Sie warten")
    expect(page.locator("#status")).to_contain_text("Vor Ihnen: 0")
    screenshot(page, "tracking-waiting.png")
    page.evaluate("window.__marker = 1")
    page.evaluate(VIBRATION_COUNTER)
    answer = web.command("platz-1", "next")
    assert answer.ok and answer.label == event["label"]
    expect(page.locator("#status .called")).to_have_text("Bitte jetzt zu Platz 1")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    expect(page).to_have_title(re.compile("^\u25b6"))  # the title flags the call (a background tab shows it)
    page.wait_for_function("window.__vibrations === 1")  # the phone vibrates (and beeps) once
    screenshot(page, "tracking-called.png")
    web.command("platz-1", "recall")
    page.wait_for_function("window.__vibrations === 2")  # a recall alerts again
    expect(page.locator("#status .called")).to_have_text("Bitte jetzt zu Platz 1")
    web.command("platz-1", "done")
    expect(page.locator("#status")).to_contain_text("Ihr Anliegen ist erledigt")
    expect(page).not_to_have_title(re.compile("^\u25b6"))
    assert page.evaluate("window.__marker") == 1 and page.evaluate("window.__vibrations") == 2


def test_the_tracking_page_in_english(office, page):
    web, kiosk, rec = office
    event = print_ticket(web, kiosk, rec, 1)
    open_tracking(page, web, event["token"], "?lang=en")
    expect(page.locator("#status")).to_contain_text("You are waiting")
    page.evaluate("window.__marker = 1")
    web.command("platz-2", "next")
    expect(page.locator("#status .called")).to_have_text("Please go to Platz 2 now")
    assert page.evaluate("window.__marker") == 1


def test_the_ampel_changes_live_when_a_ticket_is_printed(office, page):
    web, kiosk, rec = office
    with page.expect_response(lambda r: r.url.endswith("/events/offices") and r.status == 200):
        page.goto(f"{web.url}/")
    entry = page.locator(f"#office-{web.office}")
    general = entry.locator("li", has_text="Allgemeine Anliegen")
    expect(entry.locator("h2")).to_contain_text("Bürgerbüro Test")
    expect(general).to_contain_text("0 wartend")
    page.evaluate("window.__marker = 1")
    print_ticket(web, kiosk, rec, 1)
    expect(general).to_contain_text("1 wartend")
    print_ticket(web, kiosk, rec, 2)
    expect(general).to_contain_text("2 wartend")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    screenshot(page, "ampel.png")


def test_a_clerk_logs_in_and_calls_the_next_ticket_from_the_counter_page(office, browser, page):
    web, kiosk, rec = office
    event = print_ticket(web, kiosk, rec, 1)
    open_tracking(page, web, event["token"])
    page.evaluate("window.__marker = 1")
    clerk_context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    clerk_context.set_default_timeout(LIVE_MS)
    try:
        clerk = clerk_context.new_page()
        clerk.goto(f"{web.url}/counter?office={web.office}&counter=platz-1")
        expect(clerk).to_have_url(re.compile(r"/login\b"))  # strangers are sent to the login first
        clerk.get_by_label("Benutzername").fill(CLERK[0])
        clerk.get_by_label("Passwort").fill(CLERK[2])
        with clerk.expect_navigation():
            clerk.get_by_role("button", name="Anmelden").click()
        expect(clerk).to_have_url(re.compile(r"/counter\?.*counter=platz-1"))  # back where they wanted
        expect(clerk.locator("#status")).to_have_attribute("data-state", "idle")
        screenshot(clerk, "counter-before.png")
        clerk.get_by_role("button", name=re.compile("Nächste")).first.click()
        expect(clerk.locator("#status .ticket-label")).to_have_text(event["label"])
        screenshot(clerk, "counter-called.png")
    finally:
        clerk_context.close()
    expect(page.locator("#status .called")).to_have_text("Bitte jetzt zu Platz 1")
    assert page.evaluate("window.__marker") == 1, "the tracking page was reloaded"


def test_postpone_and_cancel_from_the_tracking_page_change_the_queue_the_clerk_sees(office, browser, page):
    """Issue 15: "Ich brauche mehr Zeit" and "Ich komme nicht mehr" on the citizen's phone, the counter page
    of a clerk beside it: the cancelled ticket leaves the queue at once, the postponed one is called after
    the one behind it and shown as "verschoben"; once served, one tap rates the visit."""
    web, _kiosk, _rec = office
    first, _second, third = (web.issue() for _ in range(3))
    clerk_context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    clerk_context.set_default_timeout(LIVE_MS)
    try:
        clerk = clerk_context.new_page()
        clerk.goto(f"{web.url}/login?next=/counter")
        clerk.get_by_label("Benutzername").fill(CLERK[0])
        clerk.get_by_label("Passwort").fill(CLERK[2])
        with clerk.expect_navigation():
            clerk.get_by_role("button", name="Anmelden").click()
        clerk.goto(f"{web.url}/counter?office={web.office}&counter=platz-1")
        waiting = clerk.locator("tr", has_text="Allgemeine Anliegen").locator("td.num")
        expect(waiting).to_have_text("3")

        open_tracking(page, web, first.token)
        with page.expect_navigation():
            page.get_by_role("button", name="Ich brauche mehr Zeit").click()
        expect(page.locator(".notice")).to_have_text("Ihre Nummer wurde nach hinten verschoben.")
        expect(page.locator("#status")).to_contain_text("Noch 1-mal möglich.")
        screenshot(page, "tracking-postponed.png")

        open_tracking(page, web, third.token)
        confirm = page.get_by_role("button", name="Ja, Wartemarke zurückgeben")
        expect(confirm).to_be_hidden()  # cannot be undone: one tap only opens the question
        page.get_by_text("Ich komme nicht mehr").click()
        expect(waiting).to_have_text("3")
        with page.expect_navigation():
            confirm.click()
        expect(page.locator("#status")).to_contain_text("Sie haben diese Wartemarke storniert.")
        expect(page.get_by_role("button", name="Ich brauche mehr Zeit")).to_have_count(0)
        expect(waiting).to_have_text("2")  # live, without a reload of the counter page

        next_button = clerk.get_by_role("button", name=re.compile("Nächste")).first
        next_button.click()
        expect(clerk.locator("#status .ticket-label")).not_to_have_text(first.label)  # it let the next go first
        expect(clerk.locator("#status .postponed")).to_have_count(0)
        next_button.click()
        expect(clerk.locator("#status .ticket-label")).to_have_text(first.label)
        expect(clerk.locator("#status .postponed")).to_have_text("(verschoben)")
        screenshot(clerk, "counter-postponed.png")
        open_tracking(page, web, first.token)
        clerk.get_by_role("button", name=re.compile("^Erledigt")).first.click()
        expect(page.locator("#status")).to_contain_text("Ihr Anliegen ist erledigt")  # live: the rating appears
        page.get_by_label("ja").check()
        screenshot(page, "tracking-rating.png")
        with page.expect_navigation():
            page.get_by_role("button", name="4 von 5").click()  # one tap
        expect(page.locator(".notice")).to_have_text("Vielen Dank für Ihre Bewertung!")
        expect(page.get_by_role("button", name="4 von 5")).to_have_count(0)  # once
        screenshot(page, "tracking-rated.png")
        expect(clerk.locator("#status .postponed")).to_have_count(0)
    finally:
        clerk_context.close()
    rated = wait_until(lambda: [(s.ratings.scores, s.ratings.settled_yes)
                                for s in web.mirror.office(web.office).queue.services if s.ratings],
                       what="the rating counted in the office's queue")
    assert rated == [((0, 0, 0, 1, 0), 1)]  # per service, anonymous
