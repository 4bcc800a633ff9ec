"""The texts people read and hear (language/): one gettext catalogue per language with the same message ids
and the same named parameters (the staff pages' only in German and English), and every id the apps and the
page templates name exists in each catalogue."""

from __future__ import annotations

import re
import shutil
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from language import catalogue as catalogue_module
from language.catalogue import (
    COMPLETE_LANGUAGES,
    LANGUAGES,
    catalogue,
    catalogue_path,
    machine_note,
    staff_only,
    translate,
    translator,
)
from protocol.businessday import WEEKDAYS

ROOT = Path(__file__).resolve().parent.parent
# t("id", …), view.say("id", …), bilingual("id"), translate(lang, "id", …), and the board's captions
QUOTED_ID = r"""["']([a-z0-9_]+)["'](?=\s*[,)])"""  # a whole argument, not a prefix ("role_" ~ role)
PY_ID = re.compile(r"(?:\bt\(|\.say\(|\bbilingual\(|\btranslate\([^,()]+,\s*)" + QUOTED_ID + r'|"(board_[a-z_]+)"')
TEMPLATE_ID = re.compile(r"\bt\(\s*" + QUOTED_ID)


def parameters(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def used_ids() -> dict[str, set[str]]:
    """Message id → the files that name it literally."""
    found: dict[str, set[str]] = {}
    sources = [(p, PY_ID) for app in ("kiosk", "display", "web", "hub") for p in (ROOT / app).rglob("*.py")]
    sources += [(p, TEMPLATE_ID) for p in (ROOT / "web" / "templates").glob("*.html")]
    for path, pattern in sources:
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(next(g for g in match.groups() if g), set()).add(path.relative_to(ROOT).as_posix())
    for key in WEEKDAYS:  # the board's date line: "weekday_" + the contract's weekday key
        found.setdefault(f"weekday_{key}", set()).add("display/render.py")
    return found


def test_every_id_the_apps_and_templates_name_exists() -> None:
    used = used_ids()
    assert {"approx_min", "ticket_scan", "slip_no_tickets", "board_now_calling", "speech_summary", "ampel_title",
            "login_title"} <= set(used), "the scan no longer finds the apps' texts"
    files = set().union(*used.values())
    assert {"web/templates/ampel.html", "kiosk/ticket.py", "display/render.py", "display/sound/speech.py"} <= files
    missing = {key: sorted(where) for key, where in used.items() if key not in catalogue(LANGUAGES[0]).ids}
    assert not missing, f"ids without a text: {missing}"


def test_a_text_that_several_apps_show_is_written_once() -> None:
    """The wait as the board, the pages and the ticket show it: one id, so one wording to change."""
    used = used_ids()
    assert {"display/render.py", "kiosk/ticket.py"} <= used["approx_min"]
    assert any(where.startswith("web/") for where in used["approx_min"])
    assert translate("de", "approx_min", n=12) == "ca. 12 Min." and translate("en", "approx_min", n=12) == \
        "approx. 12 min"


def test_lookup_fills_named_parameters_and_refuses_unknown_languages() -> None:
    t = translator("en")
    assert t("speech_call", label="A 42", counter="Platz 3") == "Number A 42, please go to Platz 3"
    assert translate("de", "weekday_mon") == "Mo"
    with pytest.raises(ValueError, match="choose from de, en, tr, uk, ar; got 'fr'"):
        translator("fr")


def read(path: Path, lang: str) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=lang)


def forms(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """id → its text(s), for the entries that have a text (one per plural form)."""
    found: dict[str, tuple[str, ...]] = {}
    for m in catalog:
        if m.id:
            texts = tuple(m.string) if isinstance(m.string, (tuple, list)) else (m.string or "",)
            found[m.id if isinstance(m.id, str) else m.id[0]] = texts
    return found


def problems(lang: str, catalog: Catalog, reference: Catalog) -> list[str]:
    """What is wrong with `lang`'s catalogue against the German one (empty: nothing)."""
    mine, german = forms(catalog), forms(reference)
    needed = {key for key in german if lang in COMPLETE_LANGUAGES or not staff_only(key)}
    found: list[str] = []
    missing = sorted(key for key in needed if not all(mine.get(key, ("",))))
    extra = sorted(set(mine) - set(german))
    if missing:
        found.append(f"{lang}: ids without a text: {missing}")
    if extra:
        found.append(f"{lang}: ids German does not have: {extra}")
    plurals = get_plural(lang).num_plurals
    for key, texts in mine.items():
        if key not in german or not all(texts):
            continue
        if (len(german[key]) > 1) != (len(texts) > 1):
            found.append(f"{lang}: {key} counts in one language and not in the other")
        elif len(texts) > 1 and len(texts) != plurals:
            found.append(f"{lang}: {key} has {len(texts)} plural forms, {lang} has {plurals}")
        wanted = parameters(german[key][-1])
        for text in texts:
            if parameters(text) != wanted:
                found.append(f"{lang}: {key} has the parameters {sorted(parameters(text))}, German {sorted(wanted)}")
    return found


def test_every_language_has_the_ids_it_needs_with_the_same_parameters() -> None:
    reference = read(catalogue_path("de"), "de")
    assert len(forms(reference)) > 200
    assert [problem for lang in LANGUAGES for problem in problems(lang, read(catalogue_path(lang), lang), reference)] \
        == []


def test_the_consistency_check_catches_a_missing_id_an_extra_id_and_a_wrong_parameter() -> None:
    reference = read(catalogue_path("de"), "de")
    broken = read(catalogue_path("en"), "en")
    del broken["ahead"]
    broken.add("not_an_id", "x")
    broken["stand"].string = "As of {when}"
    broken["waiting_n"].string = ("{n} waiting",)
    found = problems("en", broken, reference)
    assert any("ids without a text: ['ahead']" in p for p in found), found
    assert any("ids German does not have: ['not_an_id']" in p for p in found), found
    assert any("stand has the parameters ['when']" in p for p in found), found
    assert any("waiting_n counts in one language" in p for p in found), found




def test_a_text_that_counts_takes_the_languages_plural_form() -> None:
    assert translate("de", "expected", n=1) == "Voraussichtlich noch ca. 1 Minute"
    assert translate("de", "expected", n=7) == "Voraussichtlich noch ca. 7 Minuten"
    assert translate("en", "expected", n=1) == "Expected wait: approx. 1 minute"
    assert translate("de", "speech_more", n=1) == "1 weiterer"


def test_german_and_english_are_reviewed_so_their_pages_carry_no_machine_note() -> None:
    for lang in COMPLETE_LANGUAGES:
        assert catalogue(lang).unreviewed == frozenset()
        assert machine_note(lang) is None


def test_an_unreviewed_entry_is_served_with_the_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`#, fuzzy` marks an unreviewed text: it is shown all the same, and the language's pages say so."""
    locale = tmp_path / "locale"
    shutil.copytree(catalogue_path("de").parents[2], locale)
    english = locale / "en" / "LC_MESSAGES" / "wartemarke.po"
    english.write_text(english.read_text(encoding="utf-8").replace('msgid "ahead"', '#, fuzzy\nmsgid "ahead"', 1),
                       encoding="utf-8")
    monkeypatch.setattr(catalogue_module, "LOCALE_DIR", locale)
    catalogue.cache_clear()
    try:
        assert catalogue("en").unreviewed == {"ahead"}
        assert translate("en", "ahead", n=3) == "Ahead of you: 3"
        assert machine_note("en") == "This translation is machine-assisted and not yet reviewed by a native speaker."
    finally:
        catalogue.cache_clear()


def test_only_the_staff_pages_texts_are_staff_only() -> None:
    assert staff_only("login_title") and staff_only("counter_confirm_yes") and staff_only("devices_title")
    assert staff_only("logout") and staff_only("csrf_failed") and staff_only("msg_called")
    assert not any(staff_only(key) for key in ("ticket_title", "ampel_title", "push_on", "board_hint", "open",
                                                "machine_note", "too_many_unknown", "speech_ticket"))


def test_ukrainian_and_arabic_count_with_their_own_plural_forms() -> None:
    assert [translate("uk", "waiting_n", n=n) for n in (1, 3, 5, 11, 21, 22)] == [
        "1 особа чекає", "3 особи чекають", "5 осіб чекають", "11 осіб чекають", "21 особа чекає", "22 особи чекають"]
    assert [translate("ar", "approx_min", n=n) for n in (1, 3, 10, 11, 100)] == [
        "حوالي 1 دقيقة", "حوالي 3 دقائق", "حوالي 10 دقائق", "حوالي 11 دقيقة", "حوالي 100 دقيقة"]
    assert translate("ar", "speech_more", n=2) == "2 رقمان آخران"


def test_the_new_languages_are_marked_unreviewed_and_their_pages_say_so_in_that_language() -> None:
    for lang in ("tr", "uk", "ar"):
        assert catalogue(lang).unreviewed == catalogue(lang).ids, f"{lang}: an entry is marked reviewed"
        text = catalogue_path(lang).read_text(encoding="utf-8")
        assert "MACHINE-ASSISTED, NOT REVIEWED BY A NATIVE SPEAKER" in text.split("msgid", 1)[0]
    assert machine_note("tr") == ("Bu çeviri makine desteğiyle yapılmıştır ve henüz anadili Türkçe olan biri "
                                  "tarafından kontrol edilmemiştir.")
    assert machine_note("uk") is not None and "носій мови" in machine_note("uk")  # type: ignore[operator]


def test_a_citizen_language_has_no_staff_texts_and_shows_a_text_it_lacks_in_english(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new id reaches Turkish as an empty entry (make messages) until translated: English meanwhile, never
    an error page; German and English must have every id (a KeyError for an unknown one)."""
    assert not any(staff_only(key) for key in catalogue("ar").ids)
    locale = tmp_path / "locale"
    shutil.copytree(catalogue_path("de").parents[2], locale)
    turkish = locale / "tr" / "LC_MESSAGES" / "wartemarke.po"
    turkish.write_text(turkish.read_text(encoding="utf-8").replace('msgstr "Sıra numaranız"', 'msgstr ""'),
                       encoding="utf-8")
    monkeypatch.setattr(catalogue_module, "LOCALE_DIR", locale)
    catalogue.cache_clear()
    try:
        assert translate("tr", "ticket_title") == "Your ticket"
        assert translate("tr", "open") == "açık"
        with pytest.raises(KeyError):
            translate("de", "no_such_id")
    finally:
        catalogue.cache_clear()


CITIZEN_SOURCES = ["web/templates/" + name for name in (
    "base.html", "ticket.html", "ticket_status.html", "ticket_push.html", "ampel.html", "office.html", "embed.html",
    "notfound.html", "refresh.html", "live_events.html")] + ["web/svg.py", "web/public.py", "web/ampel.py",
                                                            "notifier/rules.py"]


def test_the_citizens_pages_name_no_staff_text() -> None:
    """A staff text on a citizen's page would show in English on a Turkish page (the fallback): never."""
    named: dict[str, set[str]] = {}
    for source in CITIZEN_SOURCES:
        text = (ROOT / source).read_text(encoding="utf-8")
        pattern = TEMPLATE_ID if source.endswith(".html") else PY_ID
        for match in pattern.finditer(text):
            named.setdefault(next(g for g in match.groups() if g), set()).add(source)
    assert {"ticket_title", "embed_office", "push_button", "ampel_title"} <= set(named)  # the scan finds them
    assert {key: sorted(where) for key, where in named.items() if staff_only(key)} == {}


def test_make_messages_brings_ids_from_old_tables_to_every_catalogue(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """How a branch from before the catalogues is merged: its new ids go into German and English, and every
    other language gets an empty entry, which the consistency check names until a translator fills it."""
    from devtools import messages

    locale = tmp_path / "locale"
    shutil.copytree(catalogue_path("de").parents[2], locale)
    monkeypatch.setattr(catalogue_module, "LOCALE_DIR", locale)
    monkeypatch.setattr(messages, "TEMPLATE", locale / "wartemarke.pot")
    (tmp_path / "de.py").write_text('MESSAGES: dict[str, str] = {"ahead": "Vor Ihnen: {n}",\n'
                                    '    "postpone": ("Später kommen: "\n "{minutes} Min.")}\n', encoding="utf-8")
    (tmp_path / "en.py").write_text('MESSAGES = {"ahead": "Ahead of you: {n}",\n'
                                    '            "postpone": "Come later: {minutes} min"}', encoding="utf-8")
    assert messages.import_tables(tmp_path / "de.py", tmp_path / "en.py") == ["de: postpone", "en: postpone"]
    messages.update(LANGUAGES)
    catalogue.cache_clear()
    try:
        assert translate("de", "postpone", minutes=5) == "Später kommen: 5 Min."
        assert translate("tr", "postpone", minutes=5) == "Come later: 5 min"  # English until translated
        reference = read(catalogue_path("de"), "de")
        assert "#, python-brace-format\nmsgid \"postpone\"" in catalogue_path("de").read_text(encoding="utf-8")
        for lang in ("tr", "uk", "ar"):
            assert problems(lang, read(catalogue_path(lang), lang), reference) == [
                f"{lang}: ids without a text: ['postpone']"]
        assert "msgid \"postpone\"" in (locale / "wartemarke.pot").read_text(encoding="utf-8")
    finally:
        catalogue.cache_clear()
