"""The texts people read and hear (language/): one table per language with the same message ids and
the same named parameters, and every id the apps and the page templates name exists in each table."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from language.catalogue import CATALOGUES, LANGUAGES, translate, translator
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


def test_every_language_has_the_same_ids_with_the_same_parameters() -> None:
    assert set(CATALOGUES) == set(LANGUAGES)
    reference = CATALOGUES[LANGUAGES[0]]
    for lang, messages in CATALOGUES.items():
        assert set(messages) == set(reference), f"{lang}: ids differ: {sorted(set(messages) ^ set(reference))}"
        wrong = {key: (parameters(reference[key]), parameters(text)) for key, text in messages.items()
                 if parameters(text) != parameters(reference[key])}
        assert not wrong, f"{lang}: parameters differ from {LANGUAGES[0]}: {wrong}"


def test_every_id_the_apps_and_templates_name_exists() -> None:
    used = used_ids()
    assert {"approx_min", "ticket_scan", "slip_no_tickets", "board_now_calling", "speech_summary", "ampel_title",
            "login_title"} <= set(used), "the scan no longer finds the apps' texts"
    files = set().union(*used.values())
    assert {"web/templates/ampel.html", "kiosk/ticket.py", "display/render.py", "display/sound/speech.py"} <= files
    missing = {key: sorted(where) for key, where in used.items() if key not in CATALOGUES[LANGUAGES[0]]}
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
    with pytest.raises(ValueError, match="choose from de, en; got 'fr'"):
        translator("fr")
