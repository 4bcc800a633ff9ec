"""The ticket's third language (`[kiosk] ticket_language`): Turkish and Ukrainian lines printed through the
printer's own code pages (CP857; CP866, and CP855 for the і that CP866 lacks), the ticket still under 1 KB,
and Arabic refused at start-up with the reason, naming the key and the file (a thermal printer's code pages
cannot join Arabic letters)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import load_kiosk_config
from kiosk.ticket import Text, no_tickets_slip, ticket_document
from process.config import ConfigError
from tests import test_example_configs
from tests.test_example_configs import EXAMPLES, loadable
from tests.test_ticket_render import ESC_CODEPAGE, WHEN, content, escpos_bytes

office_ca = test_example_configs.office_ca  # the fixture: an office CA for the example's TLS files
CODECS = {0: "cp437", 2: "cp850", 13: "cp857", 16: "cp1252", 17: "cp866", 19: "cp858", 34: "cp855"}


def printed_text(data: bytes) -> str:
    """The bytes as the printer reads them: each run after ESC t n decoded in code page n (commands' bytes
    come out as stray characters between lines, which the checks below do not look at)."""
    runs = data.split(ESC_CODEPAGE)[1:]
    return "".join(run[1:].decode(CODECS[run[0]]) for run in runs)


@pytest.mark.parametrize(("lang", "code_page", "wait", "scan"), [
    ("tr", 13, "Önünüzde: 123 · yaklaşık 245 dk.", "Sıranızı canlı takip etmek için kodu tarayın."),
    ("uk", 17, "Перед вами: 123 · бл. 245 хв.", "Відскануйте код, щоб стежити за своєю чергою в реальному часі."),
])
def test_a_third_language_prints_in_its_code_page_and_the_ticket_stays_under_one_kilobyte(lang, code_page, wait,
                                                                                          scan):
    ticket = dataclasses.replace(content(ahead=123, wait_min=245, label="AB123"), extra_language=lang)
    doc = ticket_document(ticket)
    texts = [b.text for b in doc.blocks if isinstance(b, Text)]
    assert texts[texts.index("Ahead of you: 123 · approx. 245 min") + 1] == wait
    assert texts[-1] == scan
    data = escpos_bytes(doc)
    assert ESC_CODEPAGE + bytes([code_page]) in data and b"?" not in data
    printed = printed_text(data)
    assert wait in printed and scan.split()[0] in printed
    assert len(data) < 1024, len(data)
    assert len(ticket_document(dataclasses.replace(ticket, extra_language=None)).blocks) == len(doc.blocks) - 2


def test_the_no_tickets_slip_and_a_wait_range_in_the_third_language():
    slip = no_tickets_slip("Bürgerbüro", "Allgemeine Anliegen", "General concerns", "https://termin.example.org",
                           WHEN, "tr")
    texts = [b.text for b in slip.blocks if isinstance(b, Text)]
    assert "Bugün şu işlem için sıra numarası kalmadı: Allgemeine Anliegen" in texts
    assert "Lütfen randevu alın:" in texts
    ranged = dataclasses.replace(content(), wait_range=(20, 35), extra_language="uk")
    texts = [b.text for b in ticket_document(ranged).blocks if isinstance(b, Text)]
    assert "Перед вами: 3 · бл. 20-35 хв." in texts  # a plain hyphen: the code page has no dash
    assert "Vor Ihnen: 3 · ca. 20-35 Min." in texts


@pytest.mark.parametrize(("value", "message"), [
    ('"ar"', "'ar' cannot be printed: the printer's code pages have no right-to-left, shaped \\(joined\\) letters; "
             "choose from tr, uk or leave it empty"),
    ('"en"', "choose from tr, uk \\(German and English are always printed\\); got 'en'"),
    ('"fr"', "choose from tr, uk"),
])
def test_the_kiosk_refuses_a_ticket_language_it_cannot_print_naming_key_and_file(value: str, message: str,
                                                                                  tmp_path: Path,
                                                                                  office_ca: Any) -> None:
    path = loadable(EXAMPLES / "kiosk.toml", tmp_path, office_ca)
    text = path.read_text(encoding="utf-8")
    assert 'ticket_language = ""' in text
    assert load_kiosk_config(path).ticket_language is None
    path.write_text(text.replace('ticket_language = ""', 'ticket_language = "uk"', 1), encoding="utf-8")
    assert load_kiosk_config(path).ticket_language == "uk"
    path.write_text(text.replace('ticket_language = ""', f"ticket_language = {value}", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as error:
        load_kiosk_config(path)
    assert str(path) in str(error.value) and "kiosk.ticket_language" in str(error.value)
