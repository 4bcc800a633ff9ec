"""The board in more languages: `[display] languages` rotates any of de, en, tr, uk (Arabic refused at start-up,
naming the key and the file: the board does not write right to left), DejaVu Sans has every glyph of those
texts, a whole frame fits its regions in Turkish and Ukrainian, and espeak-ng speaks their calls."""

from __future__ import annotations

import subprocess
import wave
from datetime import UTC, datetime

import pygame
import pygame.freetype
import pytest

from display.config import BOARD_LANGUAGES, load_display_config
from display.fonts import BOLD, FontBook
from display.layout import board_layout, inside
from display.render import Renderer, View
from display.sound.speech import Announcement, speech_text
from language.catalogue import catalogue, translate
from language.spoken import VOICES, espeak_markup
from process.config import ConfigError
from tests.display_harness import write_display_config
from tests.test_display import sample_board

BOARD_IDS = [key for key in catalogue("de").ids
             if key.startswith(("board_", "weekday_")) or key in ("approx_min", "approx_range", "waiting_n")]


def test_the_board_rotates_the_configured_languages_and_refuses_arabic_naming_key_and_file(tmp_path):
    config = write_display_config(tmp_path, 1883, "t-office", extra='languages = ["de", "tr", "uk"]')
    assert load_display_config(config).languages == ("de", "tr", "uk")
    view = View(languages=("de", "tr", "uk"), language_switch_s=8)
    assert [view.say("board_now_calling", mono) for mono in (0, 8, 16, 24)] == ["Aufruf", "Çağrılan", "Виклик",
                                                                                "Aufruf"]
    for bad in ('["de", "ar"]', '["fr"]', "[]"):
        config = write_display_config(tmp_path, 1883, "t-office", extra=f"languages = {bad}")
        with pytest.raises(ConfigError, match=r"display\.toml.*languages.*choose from de, en, tr, uk \(the board "
                                              r"does not write right to left, so no Arabic\)") as error:
            load_display_config(config)
        assert str(config) in str(error.value)
    assert View().languages == ("de", "en")  # the default stays German and English


def test_dejavu_has_every_glyph_of_the_boards_texts_in_its_languages():
    pygame.freetype.init()
    font = pygame.freetype.Font(str(BOLD), 40)  # freetype says None for a glyph the font lacks
    assert font.get_metrics("A\u4e00")[1] is None  # (the check can fail)
    missing = {}
    for lang in BOARD_LANGUAGES:
        for key in BOARD_IDS:
            text = translate(lang, key, n=12, low=5, high=15)
            gaps = {ch for ch, m in zip(text, font.get_metrics(text), strict=True) if m is None and not ch.isspace()}
            if gaps:
                missing[(lang, key)] = gaps
    assert missing == {}
    assert len(BOARD_IDS) > 15


@pytest.mark.parametrize("lang", ["tr", "uk"])
def test_a_whole_frame_fits_its_regions_in_turkish_and_ukrainian(lang):
    pygame.display.init()
    pygame.font.init()
    try:
        size = (1280, 720)
        surface, layout = pygame.Surface(size), board_layout(*size)
        renderer = Renderer(surface, layout, FontBook(), View(languages=(lang,)))
        now = datetime.now(UTC)
        renderer.render(sample_board(now), now, 100.0, None)
        regions = layout.regions()
        for region, boxes in renderer.drawn.items():
            outer = layout.clock if region == "clock" else regions.get(region, layout.banner)
            assert boxes, region
            for box in boxes:
                assert inside(box, outer), (lang, region, box, outer)
    finally:
        pygame.display.quit()


@pytest.mark.parametrize(("lang", "expected"), [("tr", "Numara A 42, lütfen şuraya gidin: Platz 3"),
                                                ("uk", "Номер A 42, будь ласка, пройдіть до Platz 3")])
def test_espeak_speaks_a_call_in_turkish_and_ukrainian(lang, expected, tmp_path):
    text = speech_text(Announcement("A042", "Platz 3", recall=False), lang)
    assert text == expected
    out = tmp_path / f"{lang}.wav"
    subprocess.run(["espeak-ng", "-v", VOICES[lang], "-m", "-w", str(out), "--stdin"],
                   input=espeak_markup(text).encode(), capture_output=True, check=True, timeout=30)
    with wave.open(str(out)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert 1.0 < seconds < 10.0, seconds
