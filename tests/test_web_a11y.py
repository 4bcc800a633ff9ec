"""Accessibility in a real browser (Debian's Chromium via Playwright, against a real hub with its web and
a real mosquitto): axe-core on every page with no violation allowed, the counter page by keyboard
alone, what the tracking page tells a screen reader, and reflow at 320 px.

axe-core is the copy that the PyPI package axe-playwright-python ships (axe.min.js); it is injected
into each page as it is, and run with the WCAG 2.0/2.1 A and AA rules and Deque's best practices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from playwright.sync_api import expect

from devtools.broker import free_port
from hub.engine import TicketState
from protocol import topics
from protocol.fields import encode_object
from tests import test_web_browser
from tests.test_web_browser import ARGS, CHROMIUM, LIVE_MS, open_tracking, screenshot
from tests.web_harness import WebHub, wait_until, write_web_hub_config

browser = test_web_browser.browser  # the same Debian Chromium, one per module
AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
CLERK = ("clerk-anna", "clerk", "demo-password-123")
SUPERVISOR = ("sup-sara", "supervisor", "demo-password-456")
# Five weekdays × 07–18 h and a day whose tickets ran out: the real shape of the chart, 406 px wide at its size.
HISTORY = {"weeks": 8, "until": "2026-11-25",
           "cells": [{"weekday": d, "hour": h, "typical_wait_min": (d * 17 + h * 11) % 130, "tickets_per_day": 30.0}
                     for d in range(5) for h in range(7, 19)],
           "ran_out": {"0": {"days": 3, "of_days": 8, "typical_time": "11:40"}}}
# Records what the tracking page's live regions say (each text once it is set, in order).
LISTEN = """() => { window.__said = [];
  for (const id of ["say-polite", "say-now"]) {
    const region = document.getElementById(id);
    new MutationObserver(() => { const text = region.textContent.trim();
      if (text) window.__said.push([id, text]); })
      .observe(region, {childList: true, characterData: true, subtree: true});
  } }"""


@pytest.fixture
def office(tmp_path, shared_broker, recorder_factory, topic_office) -> Iterator[WebHub]:
    """A hub with its web, a clerk and a supervisor, and eight weeks of history for the chart."""
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port())
    web = WebHub.start(config, topic_office, shared_broker.port, users=(CLERK, SUPERVISOR))
    rec = recorder_factory(shared_broker, [topics.history(topic_office)])
    rec.publish(topics.history(topic_office), encode_object({**HISTORY, "office": topic_office}), retain=True)
    try:
        wait_until(lambda: (history := web.mirror.office(topic_office).history) is not None
                   and len(history.cells) == 60,
                   what="the web to mirror the history")
        yield web
    finally:
        rec.clear_retained(topics.history(topic_office))
        web.stop()


def new_page(browser: Any, width: int = 1280) -> Any:
    context = browser.new_context(locale="de-DE", viewport={"width": width, "height": 900})
    context.set_default_timeout(LIVE_MS)
    return context.new_page()


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page as it is now, with every <details> opened (hidden text counts too)."""
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})", AXE_RULES)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]]


def log_in(page: Any, web: WebHub, user: tuple[str, str, str], path: str) -> None:
    page.goto(f"{web.url}{path}")
    page.get_by_label("Benutzername").fill(user[0])
    page.get_by_label("Passwort").fill(user[2])
    with page.expect_navigation():
        page.get_by_role("button", name="Anmelden").click()


def focused(page: Any) -> str:
    """What has the keyboard focus: its id, or its form's id and its own tag."""
    return str(page.evaluate("""() => { const e = document.activeElement;
        return e.id || ((e.closest('form') || e.closest('details') || {}).id + ' ' + e.tagName.toLowerCase()); }"""))


def tab_to(page: Any, what: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == what:
            return
    raise AssertionError(f"Tab never reached {what!r}")


def test_every_page_has_no_axe_violation(office, browser):
    web = office
    event = web.issue("A")
    web.issue("A")
    page = new_page(browser, width=412)
    try:
        page.set_content('<html lang="de"><body><main><img src="x.png"></main></body></html>')
        assert any(v.startswith("image-alt") for v in axe_violations(page))  # the check can fail
        public = {"tracking": f"/t/{event.token}", "tracking (en)": f"/t/{event.token}?lang=en", "Ampel": "/",
                  "Ampel (en)": "/?lang=en", "statement": "/barrierefreiheit",
                  "statement (en)": "/barrierefreiheit?lang=en", "Leichte Sprache": "/leichte-sprache",
                  "privacy": "/datenschutz", "imprint": "/impressum", "unknown ticket": "/t/" + "A" * 32,
                  "login": "/login", "tracking (ar)": f"/t/{event.token}?lang=ar", "Ampel (ar)": "/?lang=ar",
                  "tracking (tr)": f"/t/{event.token}?lang=tr", "Ampel (uk)": "/?lang=uk",
                  "privacy asked in Arabic": "/datenschutz?lang=ar"}
        found = {}
        for name, path in public.items():
            page.goto(f"{web.url}{path}")
            found[name] = axe_violations(page)
        web.command("platz-1", "next")
        page.goto(f"{web.url}/t/{event.token}")
        expect(page.locator("#status .called")).to_be_visible()
        found["tracking, called"] = axe_violations(page)
        page.goto(f"{web.url}/t/{event.token}?lang=ar")
        expect(page.locator("#status .called")).to_be_visible()
        found["tracking, called (ar)"] = axe_violations(page)
        log_in(page, web, SUPERVISOR, f"/counter?office={web.office}&counter=platz-1")
        staff = {"counter": f"/counter?office={web.office}&counter=platz-1",
                 "counter pick": "/counter?office=" + web.office, "devices": "/devices", "account": "/account"}
        for name, path in staff.items():
            page.goto(f"{web.url}{path}")
            found[name] = axe_violations(page)
        page.goto(f"{web.url}{staff['counter']}")
        page.locator("#form-next button").click()
        expect(page.locator("#result")).to_contain_text("→ Platz 1")  # with a result shown
        found["counter after a command"] = axe_violations(page)
        page.goto(f"{web.url}/t/{event.token}")  # served ("next" completed it): the rating after the visit
        expect(page.locator("form.rating")).to_be_visible()
        found["tracking, done: the rating"] = axe_violations(page)
    finally:
        page.context.close()
    assert {name: v for name, v in found.items() if v} == {}


def test_the_ampel_and_its_chart_reflow_at_320_px(office, browser):
    page = new_page(browser, width=320)
    try:
        page.goto(f"{office.url}/")
        page.locator("details summary").first.click()  # "when to come"
        page.locator(".chart-table summary").click()  # and its table
        expect(page.locator(".chart-table table")).to_be_visible()
        expect(page.locator(".legend")).to_contain_text("über 90 Min.")
        screenshot(page, "ampel-320.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= 320  # no sideways scrolling (WCAG 1.4.10)
        box = page.locator(".chart > svg").bounding_box()
        assert box["width"] <= 320
        cell = page.locator(".chart-table tbody tr").first  # 07:00: Mo … Fr, figures a keyboard reaches
        expect(cell.locator("th")).to_have_text("07:00")
        expect(cell.locator("td").first).to_have_text(str(7 * 11 % 130))
    finally:
        page.context.close()


def test_the_counter_by_keyboard_alone(office, browser):
    web = office
    engine = web.hub.runtimes[web.office].engine
    first, second, third = web.issue("A"), web.issue("A"), web.issue("A")
    page = new_page(browser)
    try:
        page.goto(f"{web.url}/counter?office={web.office}&counter=platz-1")  # → the login form, its field focused
        assert focused(page) == "user"
        page.keyboard.type(CLERK[0])
        page.keyboard.press("Tab")
        page.keyboard.type(CLERK[2])
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/counter\?.*counter=platz-1"))
        assert page.evaluate("window.__marker = 1") == 1

        tab_to(page, "form-next button")
        page.keyboard.press("Enter")
        expect(page.locator("#result")).to_have_text(f"{first.label} → Platz 1")  # announced (role=status) …
        assert focused(page) == "form-next button"  # … and the focus stays on the button used
        expect(page.locator("#status .ticket-label")).to_have_text(first.label)
        page.keyboard.press("Enter")  # a second press is a new command (a fresh request id), not a repeat
        expect(page.locator("#result")).to_have_text(f"{second.label} → Platz 1")
        assert focused(page) == "form-next button" and page.evaluate("window.__marker") == 1

        page.keyboard.press("x")  # single-key shortcuts are off: nothing happens (WCAG 2.1.4)
        page.keyboard.press("n")
        assert page.locator("#confirm-no_show").get_attribute("open") is None
        assert engine.tickets[_id(engine, second.label)].state is TicketState.CALLED

        tab_to(page, "confirm-no_show summary")  # no-show asks first
        page.keyboard.press("Enter")
        expect(page.locator("#confirm-no_show button")).to_be_visible()
        page.keyboard.press("Tab")
        assert focused(page) == "form-no_show button"
        assert engine.tickets[_id(engine, second.label)].state is TicketState.CALLED
        page.keyboard.press("Enter")
        expect(page.locator("#result")).to_have_text(f"{second.label}: nicht erschienen")
        assert focused(page) == "confirm-no_show summary"
        assert page.locator("#confirm-no_show").get_attribute("open") is None
        assert engine.tickets[_id(engine, second.label)].state is TicketState.NO_SHOW

        tab_to(page, "shortcuts")  # the clerk may turn the single keys on …
        page.keyboard.press("Space")
        expect(page.locator("#shortcut-help")).to_be_visible()
        page.locator("h1").click()  # (focus away from the switch: keys act on the page)
        page.keyboard.press("n")
        expect(page.locator("#result")).to_have_text(f"{third.label} → Platz 1")
        page.keyboard.press("x")  # … and X still asks before anyone is sent away
        assert focused(page) == "form-no_show button"
        assert engine.tickets[_id(engine, third.label)].state is TicketState.CALLED
        page.keyboard.press("Escape")
        assert focused(page) == "confirm-no_show summary"
        assert engine.tickets[_id(engine, third.label)].state is TicketState.CALLED
        assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    finally:
        page.context.close()


def _id(engine: Any, label: str) -> str:
    return str(next(t.id for t in engine.tickets.values() if t.label == label))


def test_the_tracking_page_announces_news_not_noise(office, browser):
    web = office
    web.issue("A")
    web.issue("A")
    ours = web.issue("A")
    page = new_page(browser, width=412)
    try:
        open_tracking(page, web, ours.token)
        status = page.locator("#status")
        assert status.get_attribute("aria-live") is None and status.get_attribute("role") is None
        page.evaluate(LISTEN)
        web.command("platz-1", "next")  # ahead 2 → 1: news
        expect(status).to_contain_text("Vor Ihnen: 1")
        page.wait_for_function("window.__said.length === 1")
        web.command("platz-1", "transfer", service="A")  # back in the queue, before us: ahead 2 again
        expect(status).to_contain_text("Vor Ihnen: 2")
        web.command("platz-1", "next")  # and 1 again: a count going back and forth is noise
        expect(status).to_contain_text("Vor Ihnen: 1")
        web.command("platz-2", "next")  # 0: news
        expect(status).to_contain_text("Vor Ihnen: 0")
        web.command("platz-3", "next")  # called: at once
        expect(page.locator("#status .called")).to_have_text("Bitte jetzt zu Platz 3")
        page.wait_for_function("window.__said.length === 3")
        said = page.evaluate("window.__said")
        assert [who for who, _ in said] == ["say-polite", "say-polite", "say-now"], said
        assert said[0][1].startswith("Vor Ihnen: 1") and said[1][1].startswith("Vor Ihnen: 0"), said
        assert said[2][1] == "Bitte jetzt zu Platz 3"
    finally:
        page.context.close()


def test_the_progress_bar_moves_with_more_than_ten_ahead(office, browser):
    web = office
    for _ in range(11):
        web.issue("A")
    ours = web.issue("A")
    page = new_page(browser, width=412)
    try:
        open_tracking(page, web, ours.token)
        expect(page.locator("#status")).to_contain_text("Vor Ihnen: 11")
        web.command("platz-1", "next")
        expect(page.locator("#status")).to_contain_text("Vor Ihnen: 10")
        web.command("platz-2", "next")
        expect(page.locator("#status")).to_contain_text("Vor Ihnen: 9")
        bar = page.evaluate("(() => { const p = document.querySelector('progress'); return [p.value, p.max]; })()")
        assert bar == [2, 11], bar  # two of the eleven ahead at first are gone
    finally:
        page.context.close()


def test_without_javascript_nothing_reloads_and_a_link_does(office, browser):
    web = office
    event = web.issue("A")
    # A browser with scripting off from the start (Playwright's java_script_enabled leaves <noscript> unrendered)
    no_script = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                            args=[*ARGS, "--blink-settings=scriptEnabled=false"])
    try:
        page = no_script.new_page(locale="de-DE")
        page.set_default_timeout(LIVE_MS)
        for path in (f"/t/{event.token}", "/"):
            page.goto(f"{web.url}{path}")
            note = page.locator(".refresh-note")  # (Playwright's text search skips <noscript>)
            expect(note).to_be_visible()
            expect(note).to_contain_text("Ohne JavaScript aktualisiert sich diese Seite nicht von selbst.")
            assert "http-equiv" not in page.content()
            with page.expect_navigation():
                note.locator("a").click()
            assert page.url == f"{web.url}{path}"
        page.goto(f"{web.url}/t/{event.token}")
        expect(page.locator(".live")).to_be_hidden()  # "updates by itself" is not claimed here
    finally:
        no_script.close()


# Where each character of `text` (its first occurrence under `selector`) is drawn: the x of its box, in order.
CHARACTER_XS = """([selector, text]) => {
  const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(text);
    if (at < 0) { continue; }
    const range = document.createRange(), xs = [];
    for (let k = 0; k < text.length; k++) {
      range.setStart(node, at + k); range.setEnd(node, at + k + 1); xs.push(range.getBoundingClientRect().x);
    }
    return xs;
  }
  return null; }"""


def character_xs(page: Any, selector: str, text: str) -> list[float]:
    xs = page.evaluate(CHARACTER_XS, [selector, text])
    assert xs is not None, f"{text!r} not under {selector}"
    return [float(x) for x in xs]


def test_arabic_pages_are_mirrored_while_labels_and_figures_read_left_to_right(office, browser):
    """dir=rtl on the Arabic pages: the header's and the footer's first items move to the right (German: left),
    while the ticket's label, a counter's name and the chart's hours stay left to right."""
    web = office
    event = web.issue("A")
    page = new_page(browser, width=412)
    try:
        boxes = {}
        for lang in ("de", "ar"):
            page.goto(f"{web.url}/t/{event.token}?lang={lang}")
            boxes[lang] = {name: page.locator(selector).first.bounding_box() for name, selector in
                           (("operator", "header strong"), ("switch", "header nav"), ("privacy", "footer a"),
                            ("imprint", "footer a >> nth=1"))}
        de, ar = boxes["de"], boxes["ar"]
        assert de["operator"]["x"] < de["switch"]["x"] and de["privacy"]["x"] < de["imprint"]["x"]
        assert ar["operator"]["x"] > ar["switch"]["x"] and ar["privacy"]["x"] > ar["imprint"]["x"]  # mirrored
        assert ar["operator"]["x"] + ar["operator"]["width"] > 412 - 40  # the start of a line is on the right
        label = character_xs(page, "#ticket-label", "A001")
        assert label == sorted(label) and label[0] < label[-1]  # "A001" reads left to right
        web.command("platz-1", "next")
        called = page.locator("#status .called")
        expect(called).to_contain_text("Platz 1")
        name = character_xs(page, "#status .called", "Platz 1")
        name = [x for x, ch in zip(name, "Platz 1", strict=True) if ch != " "]
        arabic = character_xs(page, "#status .called", "يرجى")
        assert name == sorted(name)  # the counter's name reads left to right inside the Arabic sentence
        assert max(name) < min(arabic)  # and comes at the sentence's end, its left
        screenshot(page, "tracking-ar.png")
        page.set_viewport_size({"width": 320, "height": 900})
        page.goto(f"{web.url}/?lang=ar")
        page.locator("details summary").first.click()
        hours = page.locator(".chart > svg text").all_text_contents()[:3]
        assert hours == ["07", "08", "09"]
        xs = [page.locator(".chart > svg text").nth(i).bounding_box()["x"] for i in range(3)]
        assert xs == sorted(xs)  # the hours run left to right, as in German
        band = character_xs(page, ".legend", "31–90")
        assert band[0] < band[-1]  # a range reads "31–90", not "90–31" (an isolate in the Arabic text)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320  # reflow in Arabic too
        screenshot(page, "ampel-ar-320.png")
    finally:
        page.context.close()
