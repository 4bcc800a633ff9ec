"""The citizens' pages in every language, over real HTTP (a real Hub with `[web]`, a real mosquitto): the
language chosen by `?lang=` or Accept-Language (q-values, never a guessed other language), a switch that
names each language in itself and works without JavaScript, Arabic right-to-left, the note on every page
of an unreviewed translation, and the pages that stay German and English saying so."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.broker import free_port
from language.catalogue import LANGUAGES, NATIVE_NAMES, translate
from protocol import topics
from protocol.fields import encode_object
from tests.test_web_citizen import SAME_SITE, post
from tests.test_web_public import HISTORY
from tests.web_harness import SseClient, WebHub, get, random_token, wait_until, write_web_hub_config
from web.i18n import with_language


@pytest.fixture
def web(tmp_path, shared_broker, topic_office):
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port(),
                                  extra_web='miss_limit_per_min = 2\npush_url = "https://push.example/push/v1"\n')
    instance = WebHub.start(config, topic_office, shared_broker.port)
    yield instance
    instance.stop()


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([a-z]+)"', page)
    assert found is not None
    return found.group(1)


def test_accept_language_picks_by_q_value_and_never_guesses_another_language(web):
    event = web.issue("A")
    url = f"{web.url}/t/{event.token}"
    cases = {
        "tr-TR,tr;q=0.9,en-US;q=0.8,en;q=0.7": "tr",  # a region is matched by its language
        "en;q=0.5, ar;q=0.9": "ar",  # by q-value, not by order
        "uk-UA": "uk",
        "ru": "de",  # Russian is not Ukrainian: nothing we have, so German
        "ru-RU,ru;q=0.9,uk;q=0.3": "uk",  # the next preference we do have
        "ar;q=0, en;q=0.1": "en",  # q=0: not acceptable
        "*": "de",
        "": "de",
        "tr;q=abc, en": "en",  # a broken q-value counts as 0
    }
    got = {header: html_lang(get(url, headers={"Accept-Language": header}).text) for header in cases}
    assert got == cases
    assert html_lang(get(url + "?lang=uk", headers={"Accept-Language": "ar"}).text) == "uk"  # the switch wins
    assert html_lang(get(url + "?lang=xx", headers={"Accept-Language": "tr"}).text) == "tr"


def test_the_tracking_page_in_turkish_ukrainian_and_arabic_with_the_machine_note(web):
    event = web.issue("A")
    for lang, title, waiting in (("tr", "Sıra numaranız", "Sırada bekliyorsunuz"),
                                 ("uk", "Ваш талон", "Ви в черзі"), ("ar", "رقم انتظارك", "أنت في الانتظار")):
        reply = get(f"{web.url}/t/{event.token}?lang={lang}")
        assert reply.status == 200
        page = reply.text
        assert title in page and waiting in page and translate(lang, "push_button") in page
        assert f'<p class="machine-note">{translate(lang, "machine_note")}</p>' in page  # said in that language
        assert translate(lang, "ahead", n=0) in page
    german = get(f"{web.url}/t/{event.token}?lang=de").text
    assert "machine-note" not in german and '<html lang="de">' in german
    arabic = get(f"{web.url}/t/{event.token}?lang=ar").text
    assert '<html lang="ar" dir="rtl">' in arabic
    assert '<h1 id="ticket-label" class="label" dir="ltr">A001</h1>' in arabic  # the label reads left to right


def test_the_language_switch_names_each_language_in_itself_and_is_plain_links(web):
    event = web.issue("A")
    for path in (f"/t/{event.token}", "/", f"/t/{random_token()}"):
        page = get(f"{web.url}{path}?lang=tr").text
        nav = page.split('<nav class="languages"', 1)[1].split("</nav>", 1)[0]
        assert 'aria-label="Dil"' in nav
        assert '<span aria-current="true">Türkçe</span>' in nav
        for lang in LANGUAGES:
            if lang != "tr":
                direction = ' dir="rtl"' if lang == "ar" else ""
                assert f'<a href="?lang={lang}" hreflang="{lang}" lang="{lang}"{direction}>{NATIVE_NAMES[lang]}</a>' \
                    in nav, (path, lang)
    assert [NATIVE_NAMES[lang] for lang in LANGUAGES] == ["Deutsch", "English", "Türkçe", "Українська", "العربية"]
    ampel = get(f"{web.url}/?service=A&sort=wait&lang=uk").text  # the switch keeps the Ampel's choices
    assert '<a href="?service=A&amp;sort=wait&amp;lang=ar" hreflang="ar" lang="ar" dir="rtl">العربية</a>' in ampel


@pytest.fixture
def history(web, recorder_factory, shared_broker):
    """Eight weeks of history for the office (the chart), retained while the test runs."""
    topic = topics.history(web.office)
    recorder = recorder_factory(shared_broker, [topic])
    recorder.publish(topic, encode_object({**HISTORY, "office": web.office}), retain=True)
    wait_until(lambda: web.mirror.office(web.office).history is not None
               and str(web.mirror.office(web.office).history.until) == HISTORY["until"], what="the history")
    yield
    recorder.clear_retained(topic)


def test_the_ampel_and_its_chart_in_every_language(web, history):
    for lang in ("tr", "uk", "ar"):
        reply = get(f"{web.url}/", headers={"Accept-Language": lang})
        assert reply.status == 200
        page = reply.text
        assert html_lang(page) == lang and translate(lang, "ampel_title") in page
        assert translate(lang, "chart_band_red") in page and translate(lang, "chart_caption") in page
        assert f">{translate(lang, 'weekday_mon')} 08:00 – 12 min<" in page
        assert translate(lang, "waiting_n", n=0) in page
        assert '<figure class="chart" dir="ltr">' in page  # hours run left to right in every language
    embed = get(f"{web.url}/embed?lang=ar").text
    assert '<html lang="ar" dir="rtl">' in embed and translate("ar", "embed_more") in embed
    assert f'<th scope="col">{translate("ar", "embed_office")}</th>' in embed and "Office" not in embed
    assert f'<p class="muted machine-note">{translate("ar", "machine_note")}</p>' in embed


def test_the_event_stream_speaks_the_pages_language(web):
    event = web.issue("A")
    with SseClient(f"{web.url}/t/{event.token}/events?lang=uk") as stream:
        assert "Ви в черзі" in stream.next_event()[1]["html"]
        web.command("platz-1", "next")
        assert "Будь ласка, пройдіть зараз до Platz 1" in stream.wait_for(lambda d: d["state"] == "called")["html"]


def test_pages_in_german_and_english_only_say_so_in_the_language_asked_for(web):
    for path in ("/datenschutz", "/impressum", "/barrierefreiheit", "/leichte-sprache"):
        reply = get(f"{web.url}{path}", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.8"})
        assert reply.status == 200, path
        page = reply.text
        assert html_lang(page) == "en", path  # the reader's next preference that the page has
        note = "Bu sayfa yalnızca Almanca ve İngilizce olarak mevcuttur."
        assert f'<p class="not-offered" lang="tr" dir="ltr">{note}</p>' in page, path
        arabic = get(f"{web.url}{path}?lang=ar").text
        assert html_lang(arabic) == "de" and 'lang="ar" dir="rtl">' + translate("ar", "only_de_en") in arabic
    assert "not-offered" not in get(f"{web.url}/datenschutz?lang=en").text


def test_staff_pages_stay_german_or_english_whatever_the_browser_asks(web):
    for header in ("ar", "tr-TR,tr;q=0.9", "uk,en;q=0.5"):
        reply = get(f"{web.url}/login", headers={"Accept-Language": header})
        assert reply.status == 200
        assert html_lang(reply.text) in ("de", "en")
    assert html_lang(get(f"{web.url}/login?lang=ar").text) == "de"
    assert html_lang(get(f"{web.url}/login", headers={"Accept-Language": "uk,en;q=0.5"}).text) == "en"


def test_the_too_many_unknown_links_answer_is_in_the_readers_language(web):
    statuses = []
    for _ in range(6):
        reply = get(f"{web.url}/t/{random_token()}", headers={"Accept-Language": "tr"})
        statuses.append(reply.status)
        if reply.status == 429:
            assert translate("tr", "too_many_unknown") in reply.text
            break
    assert statuses[-1] == 429, statuses


def internal_links(page: str) -> list[str]:
    """The page's links and form targets on this site (`/…`), the language switch and open data left out."""
    body = re.sub(r'<nav class="languages".*?</nav>', "", page, flags=re.S)
    found = re.findall(r'<a\b[^>]*?\bhref="(/[^"]*)"|<form method="post" action="(/[^"]*)"', body)
    return [unescape(href or action) for href, action in found if not (href or action).startswith("/api/")]


def speaks(page: str, lang: str) -> bool:
    """The page is in `lang`, or (a page only in German and English) says so in `lang`."""
    return html_lang(page) == lang or f'<p class="not-offered" lang="{lang}"' in page


def test_a_chosen_language_holds_on_every_internal_link_and_never_carries_the_token(web):
    event = web.issue("A")
    start = [f"/t/{event.token}?lang=tr", "/?lang=tr", f"/t/{random_token()}?lang=tr"]
    seen, queue = set(start), list(start)
    while queue:  # every page reachable from the tracking page, the Ampel and the unknown-ticket page
        path = queue.pop()
        reply = get(f"{web.url}{path}")  # no Accept-Language: only the links can carry the choice
        assert reply.status == 200 or (path.startswith("/t/") and reply.status == 404), path
        assert speaks(reply.text, "tr"), path
        for link in internal_links(reply.text):
            query = parse_qs(urlsplit(link).query)
            assert query.get("lang") == ["tr"], (path, link)
            own_ticket = path.startswith(f"/t/{event.token}") and link.startswith(f"/t/{event.token}/")
            assert event.token not in link or own_ticket, (path, link)  # the token only in its own page's forms
            if not own_ticket and link not in seen:
                seen.add(link)
                queue.append(link)
    assert {urlsplit(p).path for p in seen} >= {"/", "/datenschutz", "/impressum", "/barrierefreiheit",
                                                 "/leichte-sprache"}
    # a language from the browser is not written into the links (except the easy-read page's own)
    for path in (f"/t/{event.token}", "/", "/barrierefreiheit"):
        page = get(f"{web.url}{path}", headers={"Accept-Language": "tr"}).text
        assert [link for link in internal_links(page) if "lang=" in link and "/leichte-sprache" not in link] == []


def test_the_ticket_holders_forms_keep_the_chosen_language_to_the_page_after(web):
    event = web.issue("A")
    web.issue("A")  # someone behind: postponing moves the ticket
    page = get(f"{web.url}/t/{event.token}?lang=uk").text
    action = re.search(r'<form method="post" action="([^"]+/postpone[^"]*)"', page)
    assert action is not None and unescape(action.group(1)) == f"/t/{event.token}/postpone?lang=uk"
    rid = re.search(r'name="rid" value="([^"]+-postpone)"', page)
    assert rid is not None
    reply = post(web, unescape(action.group(1)), {"rid": rid.group(1)}, SAME_SITE)
    assert reply.status == 303 and reply.headers["location"] == f"/t/{event.token}?done=postpone&lang=uk"
    after = get(f"{web.url}{reply.headers['location']}").text
    assert html_lang(after) == "uk" and translate("uk", "citizen_postponed") in after
    with SseClient(f"{web.url}/t/{event.token}/events?lang=uk") as stream:  # the live update's forms too
        assert f'action="/t/{event.token}/cancel?lang=uk"' in stream.next_event()[1]["html"]
    with SseClient(f"{web.url}/t/{event.token}/events", headers={"Accept-Language": "uk"}) as stream:
        assert f'action="/t/{event.token}/cancel"' in stream.next_event()[1]["html"]


@pytest.mark.parametrize(("url", "lang", "expected"), [
    ("/barrierefreiheit", "tr", "/barrierefreiheit?lang=tr"),
    ("/dgs/video?part=1#start", "uk", "/dgs/video?part=1&lang=uk#start"),  # an operator's own path, e.g. its video
    ("/leichte-sprache?lang=de", "ar", "/leichte-sprache?lang=ar"),  # the reader's choice replaces a default
    ("/barrierefreiheit", None, "/barrierefreiheit"),  # nothing chosen: the browser decides on the next page too
    ("https://www.example.org/datenschutz", "tr", "https://www.example.org/datenschutz"),  # another site
    ("//evil.example/x", "tr", "//evil.example/x"),
])
def test_with_language_touches_only_links_to_this_site(url: str, lang: str | None, expected: str) -> None:
    assert with_language(url, lang) == expected
