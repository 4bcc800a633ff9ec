"""For blind and low-vision citizens at the kiosk: a real kiosk (mock pins, file printer, real
mosquitto) with `[speech]` on, whose espeak-ng writes each sentence to a WAV file that is checked — its
length, that it is not silence, and the sentence that was passed in; a held button says its service; a
slow or hanging speech engine never holds up a ticket; and `large_label` prints the number at 8 × 8."""

from __future__ import annotations

import array
import stat
import textwrap
import threading
import time
import wave
from pathlib import Path

import pytest

from devtools.kiosk_harness import FAST_A, press, printed_files, start_kiosk, write_config
from kiosk.simulate import hold_button
from kiosk.voice import KioskVoice, SpeechSettings, ticket_sentence
from process.config import ConfigError
from protocol import topics
from tests.test_kiosk import kiosk_today, queue_payload


def speech(output: Path, languages: str = '["de", "en"]') -> str:
    return FAST_A + textwrap.dedent(f"""
        [speech]
        enabled = true
        languages = {languages}
        hold_s = 0.3
        output = "{output}"
    """)


def wav_facts(path: Path) -> tuple[float, float]:
    """(seconds, RMS of the 16-bit samples) of a WAV file espeak-ng wrote."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    samples = array.array("h", frames)
    rms = (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5
    return seconds, rms


@pytest.fixture
def rec(shared_broker, recorder_factory, topic_office):
    return recorder_factory(shared_broker, [topics.office_tree(topic_office)])


def test_a_printed_ticket_is_spoken_after_it_came_out(tmp_path, shared_broker, topic_office, rec):
    voice_dir = tmp_path / "voice"
    kiosk = start_kiosk(write_config(tmp_path, shared_broker.port, topic_office, services=speech(voice_dir)))
    try:
        assert kiosk.ready.wait(10)
        mark = rec.mark()
        rec.publish(topics.queue(topic_office), queue_payload(kiosk_today(kiosk), waiting=5), retain=True)
        rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"), lambda s: s.get("hub_reachable"), since=mark)
        press(kiosk, "A")
        assert kiosk.wait_handled(1, 10)
        assert printed_files(tmp_path), "the ticket is printed first"
        assert kiosk.panel.voice.wait_said(2, 20)
        said = kiosk.panel.voice.said
        assert [(lang, text) for lang, text, _ in said] == [("de", "Ihre Nummer: A 1. Vor Ihnen: 5."),
                                                             ("en", "Your number: A 1. Ahead of you: 5.")]
        for _, text, wav in said:
            assert wav is not None and wav.exists(), text
            seconds, rms = wav_facts(wav)
            assert 1.0 < seconds < 8.0, (text, seconds)  # a sentence, not a click or a hang
            assert rms > 300, (text, rms)  # not silence
    finally:
        kiosk.stop()
        rec.clear_retained(topics.queue(topic_office))


def test_the_no_tickets_slip_is_spoken_too(tmp_path, shared_broker, topic_office, rec):
    kiosk = start_kiosk(write_config(tmp_path, shared_broker.port, topic_office, services=speech(tmp_path / "voice")))
    try:
        assert kiosk.ready.wait(10)
        mark = rec.mark()
        rec.publish(topics.queue(topic_office), queue_payload(kiosk_today(kiosk), issuing_a=False), retain=True)
        rec.wait_for_json(topics.device_status(topic_office, "kiosk-1"),
                          lambda s: s.get("issuing", {}).get("A") is False, since=mark)
        press(kiosk, "A")
        assert kiosk.panel.voice.wait_said(2, 20)
        [slip] = printed_files(tmp_path)  # the slip, no ticket: no number was used
        assert slip.name.endswith("-slip-A.escpos")
        assert [(lang, text) for lang, text, _ in kiosk.panel.voice.said] == [
            ("de", "Heute keine Wartemarken mehr für Allgemeine Anliegen."),
            ("en", "No more tickets today for General concerns.")]
        wav = kiosk.panel.voice.said[0][2]
        assert wav is not None and wav_facts(wav)[1] > 300
    finally:
        kiosk.stop()
        rec.clear_retained(topics.queue(topic_office))


def test_a_held_button_says_its_service(tmp_path, shared_broker, topic_office):
    kiosk = start_kiosk(write_config(tmp_path, shared_broker.port, topic_office,
                                     services=speech(tmp_path / "voice", '["de"]')))
    try:
        assert kiosk.ready.wait(10)
        hold_button(kiosk.panel.buttons["A"], 0.8)  # held past hold_s = 0.3
        assert kiosk.panel.voice.wait_said(2, 20)
        said = kiosk.panel.voice.said
        # the press printed its ticket at once (and says so); the hold then says the service
        assert [text for _, text, _ in said] == ["Ihre Nummer: A 1.", "Allgemeine Anliegen"], said
        wav = said[1][2]
        assert wav is not None and wav_facts(wav)[1] > 300
    finally:
        kiosk.stop()


def hanging_engine(tmp_path: Path) -> str:
    """A speech engine that never finishes (it is killed after ESPEAK_TIMEOUT_S)."""
    slow = tmp_path / "slow-espeak"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    return str(slow)


def test_a_hanging_speech_engine_never_holds_up_a_ticket(tmp_path):
    voice = KioskVoice(SpeechSettings(enabled=True, command=hanging_engine(tmp_path)), {"A": ("Allgemein", "General")})
    try:
        started = time.monotonic()
        for n in range(20):  # far more than are kept waiting: the rest are dropped, none waits
            voice.ticket(f"A{n:03d}", n)
        assert time.monotonic() - started < 0.5
    finally:
        threading.Thread(target=voice.stop, daemon=True).start()  # (the engine would be killed after 10 s)


def test_sentences_and_settings():
    assert ticket_sentence("A042", 5, "de") == "Ihre Nummer: A 42. Vor Ihnen: 5."
    assert ticket_sentence("P007", None, "en") == "Your number: P 7."
    assert ticket_sentence("A001", 0, "en") == "Your number: A 1. Ahead of you: 0."


def test_speech_config_errors_name_the_key(tmp_path, shared_broker, topic_office):
    from kiosk.config import load_kiosk_config
    path = write_config(tmp_path, shared_broker.port, topic_office,
                        services=speech(tmp_path / "v", '["de", "xx"]'))
    with pytest.raises(ConfigError, match=r"speech\.languages"):
        load_kiosk_config(path)


def test_a_kiosk_set_to_large_label_prints_the_number_at_eight_times_the_size(tmp_path, shared_broker, topic_office):
    config = write_config(tmp_path, shared_broker.port, topic_office, services=FAST_A, extra_kiosk="large_label = true")
    kiosk = start_kiosk(config)
    try:
        assert kiosk.ready.wait(10)
        press(kiosk, "A")
        assert kiosk.wait_handled(1, 10)
        data = printed_files(tmp_path)[0].read_bytes()
        assert b"\x1d!\x77" in data and len(data) < 1024  # GS ! 8 × 8; still under 1 KB
    finally:
        kiosk.stop()


def test_a_press_pauses_a_running_synthesis_until_its_ticket_is_out(tmp_path):
    voice = KioskVoice(SpeechSettings(enabled=True, command=hanging_engine(tmp_path)), {})

    def state() -> str:
        proc = voice._proc
        assert proc is not None
        return Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    def becomes(wanted: tuple[str, ...]) -> bool:  # a signal is delivered asynchronously
        deadline = time.monotonic() + 10
        while state() not in wanted and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        return state() in wanted

    try:
        voice.say("Ihre Nummer: A 1.", "de")
        deadline = time.monotonic() + 10
        while voice._proc is None and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        voice.pause()  # what the panel does on a press
        assert becomes(("T",))  # stopped: no CPU while the ticket prints
        voice.ticket("A002", 1)  # the ticket is out: go on
        assert becomes(("S", "R"))
    finally:
        if voice._proc is not None:
            voice._proc.kill()
        voice.stop()
