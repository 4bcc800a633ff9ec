"""Announcements: exact texts, a click-free chime, and an Announcer that keeps order, bounds its queue,
degrades quietly and never blocks the caller. The SDL audio driver is `dummy` (tests/conftest.py):
sounds "play" in real time without a device, so playback waits are exercised too.

Most tests use a fake espeak-ng (a tiny Python script printing a short WAV with espeak's streamed
header) so they take about a second each; one test runs the real espeak-ng when it is installed.
"""

from __future__ import annotations

import array
import logging
import math
import shutil
import socket
import stat
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pygame
import pytest

from display.sound.announcer import Announcer
from display.sound.audio import convert_pcm16, make_sound, read_wav
from display.sound.chime import chime_pcm
from display.sound.speech import Announcement, speech_text, summary_text
from language.spoken import espeak_markup, spoken_label

# A fake espeak-ng: logs its arguments, optionally waits on a socket the test controls, optionally
# fails, and writes 0.05 s of a quiet tone as a WAV whose header claims 0x7ffff000 data bytes — exactly
# what `espeak-ng --stdout` does, since it cannot seek back to fix the size.
FAKE_ESPEAK = r'''
import math, os, socket, struct, sys
log = os.environ.get("FAKE_ESPEAK_LOG")
text = sys.stdin.buffer.read().decode()
if log:
    with open(log, "a", encoding="utf-8") as f:
        f.write(" ".join(sys.argv[1:]) + "\t" + text + "\n")
if os.environ.get("FAKE_ESPEAK_FAIL"):
    sys.stderr.write("voice not found\n")
    sys.exit(1)
gate = os.environ.get("FAKE_ESPEAK_GATE")
if gate:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(gate)
        s.recv(1)  # returns when the test closes the connection
    except OSError:
        pass
rate, n = 22050, 1102
pcm = b"".join(struct.pack("<h", int(800 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n))
header = b"RIFF" + struct.pack("<I", 0x7FFFF024) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate,
                                                                             2 * rate, 2, 16)
sys.stdout.buffer.write(header + b"data" + struct.pack("<I", 0x7FFFF000) + pcm)
'''


@pytest.fixture
def fake_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    script = tmp_path / "fake-espeak-ng"
    script.write_text(f"#!{sys.executable}\n{FAKE_ESPEAK}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_ESPEAK_LOG", str(tmp_path / "espeak.log"))
    return str(script)


@pytest.fixture
def announcers() -> Iterator[list[Announcer]]:
    made: list[Announcer] = []
    yield made
    for announcer in made:
        announcer.stop()


def started(made: list[Announcer], **kwargs: object) -> Announcer:
    announcer = Announcer(**kwargs)  # type: ignore[arg-type]
    made.append(announcer)
    announcer.start()
    return announcer


def sound_warnings(caplog: pytest.LogCaptureFixture, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "wartemarke.display.sound" and r.levelno == logging.WARNING and word in r.getMessage()]


A42 = Announcement("A042", "Platz 3")
A43 = Announcement("A043", "Platz 1")
P7 = Announcement("P007", "Schalter 2")


# -- texts ----------------------------------------------------------------------------------------


def test_spoken_label() -> None:
    assert spoken_label("A042") == "A 42"
    assert spoken_label("P007") == "P 7"
    assert spoken_label("A000") == "A 0"
    assert spoken_label("AB100") == "A B 100"
    assert spoken_label("b-012") == "B 12"
    assert spoken_label("42") == "42"


def test_speech_text() -> None:
    assert speech_text(A42, "de") == "Nummer A 42, bitte zu Platz 3"
    assert speech_text(A42, "en") == "Number A 42, please go to Platz 3"
    recall = Announcement("A042", "Platz 3", recall=True)
    assert speech_text(recall, "de") == "Erneuter Aufruf: Nummer A 42, bitte zu Platz 3"
    assert speech_text(recall, "en") == "Once more: number A 42, please go to Platz 3"
    with pytest.raises(ValueError):
        speech_text(A42, "fr")


def test_speech_text_clips_hostile_fields() -> None:
    text = speech_text(Announcement("A" + "9" * 10_000, "X" * 10_000), "de")
    assert len(text) < 120


def test_summary_text() -> None:
    burst = [A42, A43, P7]
    assert summary_text(burst, "de") == "Aufgerufen: A 42, A 43 und P 7. Bitte schauen Sie auf die Anzeige."
    assert summary_text(burst, "en") == "Called: A 42, A 43 and P 7. Please look at the display."
    assert summary_text([A42], "de") == "Aufgerufen: A 42. Bitte schauen Sie auf die Anzeige."
    # a recall of a number already in the burst is named once
    assert summary_text([A42, A43, Announcement("A042", "Platz 3", recall=True)], "en") == (
        "Called: A 42 and A 43. Please look at the display.")
    many = [Announcement(f"A{n:03d}", "Platz 1") for n in range(1, 11)]
    assert summary_text(many, "de") == (
        "Aufgerufen: A 1, A 2, A 3, A 4, A 5, A 6 und 4 weitere. Bitte schauen Sie auf die Anzeige.")
    assert summary_text(many, "en") == (
        "Called: A 1, A 2, A 3, A 4, A 5, A 6 and 4 more. Please look at the display.")
    with pytest.raises(ValueError):
        summary_text([], "de")


def test_espeak_markup_spells_single_letters_and_escapes() -> None:
    markup = espeak_markup("Number A 42, please go to R&D <3>")
    assert markup == ('Number <say-as interpret-as="characters">A</say-as> 42, please go to '
                      '<say-as interpret-as="characters">R</say-as>&amp;<say-as interpret-as="characters">D'
                      '</say-as> &lt;3&gt;')


# -- PCM ------------------------------------------------------------------------------------------


def samples(pcm: bytes) -> array.array[int]:
    values = array.array("h")
    values.frombytes(pcm)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def test_chime_is_a_clean_two_tone_sound() -> None:
    pcm = chime_pcm(22050)
    values = samples(pcm)
    assert 0.9 * 22050 <= len(values) <= 1.5 * 22050  # two notes of ~0.45 s and a short ring-out
    peak = max(abs(v) for v in values)
    assert 8000 < peak < 32000  # audible, with headroom: never clipping
    # no clicks: starts and ends at (near) zero, and no sample-to-sample jump anywhere near full swing
    assert all(abs(v) < 0.02 * peak for v in values[:10])
    assert all(abs(v) < 0.01 * peak for v in values[-50:])
    assert max(abs(values[i + 1] - values[i]) for i in range(len(values) - 1)) < 0.5 * peak
    # two tones: the energy near 660 Hz dominates the first half, near 550 Hz the second
    def power(part: array.array[int], freq: float) -> float:
        re = sum(v * math.cos(2 * math.pi * freq * i / 22050) for i, v in enumerate(part))
        im = sum(v * math.sin(2 * math.pi * freq * i / 22050) for i, v in enumerate(part))
        return re * re + im * im
    half = round(0.45 * 22050)
    first, second = values[:half], values[half:2 * half]
    assert power(first, 660) > 10 * power(first, 550)
    assert power(second, 550) > 10 * power(second, 660)
    assert len(chime_pcm(44100)) == pytest.approx(2 * len(pcm), abs=4)


def test_convert_pcm16() -> None:
    pcm = array.array("h", [0, 1000, 2000, 3000])
    if sys.byteorder == "big":
        pcm.byteswap()
    up = samples(convert_pcm16(pcm.tobytes(), 22050, 1, 44100, 2))
    assert len(up) == 16  # twice the frames, two channels each
    assert up[0::2] == up[1::2]
    assert up[0::2].tolist() == [0, 500, 1000, 1500, 2000, 2500, 3000, 3000]
    stereo = array.array("h", [100, 300, -100, -300])
    if sys.byteorder == "big":
        stereo.byteswap()
    assert samples(convert_pcm16(stereo.tobytes(), 22050, 2, 22050, 1)).tolist() == [200, -200]


def test_read_wav_accepts_espeaks_streamed_header(fake_espeak: str) -> None:
    import subprocess
    out = subprocess.run([fake_espeak], input=b"x", capture_output=True, check=True).stdout
    pcm, rate, channels = read_wav(out)
    assert (rate, channels, len(pcm)) == (22050, 1, 2 * 1102)


# -- the announcer --------------------------------------------------------------------------------


def test_one_call_chime_then_each_language(fake_espeak: str, tmp_path: Path,
                                          announcers: list[Announcer]) -> None:
    announcer = started(announcers, speech=True, espeak=fake_espeak)
    assert not announcer.silent  # the dummy driver is a working mixer
    announcer.announce([A42])
    assert announcer.wait_idle(10)
    assert announcer.requests == ["chime", "speak:de:Nummer A 42, bitte zu Platz 3",
                                  "speak:en:Number A 42, please go to Platz 3"]
    calls = (tmp_path / "espeak.log").read_text(encoding="utf-8").splitlines()
    assert [c.split("\t")[0] for c in calls] == [
        "-v de -s 150 -m -b 1 --stdout --stdin", "-v en -s 150 -m -b 1 --stdout --stdin"]
    assert calls[1].split("\t")[1] == 'Number <say-as interpret-as="characters">A</say-as> 42, please go to Platz 3'


def test_several_calls_in_one_batch_share_one_chime(fake_espeak: str, announcers: list[Announcer]) -> None:
    announcer = started(announcers, speech=True, espeak=fake_espeak)
    announcer.announce([A42, A43, P7])
    assert announcer.wait_idle(10)
    assert announcer.requests == [
        "chime",
        "speak:de:Nummer A 42, bitte zu Platz 3", "speak:en:Number A 42, please go to Platz 3",
        "speak:de:Nummer A 43, bitte zu Platz 1", "speak:en:Number A 43, please go to Platz 1",
        "speak:de:Nummer P 7, bitte zu Schalter 2", "speak:en:Number P 7, please go to Schalter 2",
    ]


def test_burst_in_one_batch_is_summarised(fake_espeak: str, announcers: list[Announcer]) -> None:
    announcer = started(announcers, speech=True, espeak=fake_espeak, max_pending=3)
    announcer.announce([Announcement(f"A{n:03d}", "Platz 1") for n in range(1, 11)])
    assert announcer.wait_idle(10)
    assert announcer.requests == [
        "chime",
        "speak:de:Aufgerufen: A 1, A 2, A 3, A 4, A 5, A 6 und 4 weitere. Bitte schauen Sie auf die Anzeige.",
        "speak:en:Called: A 1, A 2, A 3, A 4, A 5, A 6 and 4 more. Please look at the display.",
    ]


def test_burst_of_separate_batches_stays_bounded(fake_espeak: str, announcers: list[Announcer]) -> None:
    announcer = started(announcers, speech=True, espeak=fake_espeak, max_pending=3)
    for n in range(1, 11):  # ten calls in ten frames, while the first chime is still ringing
        announcer.announce([Announcement(f"A{n:03d}", "Platz 1")])
    assert announcer.wait_idle(15)
    requests = announcer.requests
    for lang in ("de", "en"):
        spoken = [r for r in requests if r.startswith(f"speak:{lang}:")]
        assert 1 <= len(spoken) <= 3 + 1
        assert "A 10" in spoken[-1] or "weitere" in spoken[-1] or "more" in spoken[-1]
    assert requests.count("chime") <= 3
    assert requests[0] == "chime"


def test_announce_never_blocks_while_speech_is_produced(fake_espeak: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        announcers: list[Announcer]) -> None:
    gate_path = str(tmp_path / "gate.sock")
    monkeypatch.setenv("FAKE_ESPEAK_GATE", gate_path)
    with socket.socket(socket.AF_UNIX) as gate:
        gate.bind(gate_path)
        gate.listen(1)
        gate.settimeout(10)
        announcer = started(announcers, chime=False, speech=True, espeak=fake_espeak, max_pending=3)
        announcer.announce([A42])
        held, _ = gate.accept()  # the worker is now inside espeak-ng, which waits for us
        with held:
            durations = []
            for n in range(50):
                began = time.perf_counter()
                announcer.announce([Announcement(f"B{n:03d}", "Platz 2")])
                durations.append(time.perf_counter() - began)
            assert not announcer.wait_idle(0.05)  # still synthesising: truly asynchronous
            assert announcer.requests == []
            gate.close()  # later espeak runs find no gate and go on at once
        # behavioural, not a benchmark: a frame is ~16 ms; announce() must take a tiny part of it
        assert max(durations) < 0.05, durations
        assert sorted(durations)[len(durations) // 2] < 0.005, durations
        assert announcer.wait_idle(15)
    spoken_de = [r for r in announcer.requests if r.startswith("speak:de:")]
    assert spoken_de[0] == "speak:de:Nummer A 42, bitte zu Platz 3"
    assert len(spoken_de) == 2 and spoken_de[1].startswith("speak:de:Aufgerufen: B 0, B 1,")


def test_announce_does_not_wait_for_playback(fake_espeak: str, announcers: list[Announcer]) -> None:
    announcer = started(announcers, speech=False)
    began = time.perf_counter()
    announcer.announce([A42])
    took = time.perf_counter() - began
    assert not announcer.wait_idle(0.2)  # the ~1.1 s chime is still playing in the worker
    assert took < 0.05
    assert announcer.wait_idle(10)
    assert time.perf_counter() - began >= 0.8  # the worker did wait for the sound to finish
    assert announcer.requests == ["chime"]


def test_missing_espeak_means_chimes_only_and_one_warning(caplog: pytest.LogCaptureFixture,
                                                         announcers: list[Announcer]) -> None:
    caplog.set_level(logging.WARNING, logger="wartemarke.display.sound")
    announcer = started(announcers, speech=True, espeak="/nonexistent")
    announcer.announce([A42])
    assert announcer.wait_idle(10)
    announcer.announce([A43, P7])
    assert announcer.wait_idle(10)
    assert announcer.requests == ["chime", "chime"]
    assert len(sound_warnings(caplog, "speech")) == 1
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_failing_espeak_keeps_chimes_and_warns_once(fake_espeak: str, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture,
                                                   announcers: list[Announcer]) -> None:
    caplog.set_level(logging.WARNING, logger="wartemarke.display.sound")
    monkeypatch.setenv("FAKE_ESPEAK_FAIL", "1")
    announcer = started(announcers, speech=True, espeak=fake_espeak)
    announcer.announce([A42])
    announcer.announce([A43])
    assert announcer.wait_idle(10)
    assert announcer.requests == ["chime", "chime"]
    warnings = sound_warnings(caplog, "speech")
    assert len(warnings) == 1 and "voice not found" in warnings[0]


def test_no_audio_device_runs_silently_and_still_records(fake_espeak: str, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture,
                                                         announcers: list[Announcer]) -> None:
    caplog.set_level(logging.WARNING, logger="wartemarke.display.sound")

    def no_device(*args: object, **kwargs: object) -> None:
        raise pygame.error("Audio target 'nonexistent' not available")

    monkeypatch.setattr(pygame.mixer, "get_init", lambda: None)
    monkeypatch.setattr(pygame.mixer, "init", no_device)
    announcer = started(announcers, speech=True, espeak=fake_espeak)
    assert announcer.silent
    announcer.announce([A42])
    announcer.announce([A43])
    assert announcer.wait_idle(5)
    assert announcer.requests == [
        "chime", "speak:de:Nummer A 42, bitte zu Platz 3", "speak:en:Number A 42, please go to Platz 3",
        "chime", "speak:de:Nummer A 43, bitte zu Platz 1", "speak:en:Number A 43, please go to Platz 1",
    ]
    assert len(sound_warnings(caplog, "no audio")) == 1


def test_wait_idle(fake_espeak: str, announcers: list[Announcer]) -> None:
    announcer = Announcer(chime=True, speech=False)
    announcers.append(announcer)
    assert announcer.wait_idle(0)  # nothing queued
    announcer.announce([A42])  # queued before start: kept
    announcer.announce([A43])  # nothing to speak, and a chime still waiting to start: it is shared
    assert not announcer.wait_idle(0.05)
    announcer.start()
    assert announcer.wait_idle(10)
    assert announcer.requests == ["chime"]


def test_stop_cuts_playback_short(announcers: list[Announcer]) -> None:
    announcer = started(announcers, speech=False)
    announcer.announce([A42])
    announcer.announce([A43])
    began = time.perf_counter()
    announcer.stop()
    assert time.perf_counter() - began < 1.0
    assert announcer.wait_idle(0)
    announcer.announce([P7])  # ignored after stop
    assert announcer.wait_idle(0)


def test_mixer_in_another_format_is_converted(fake_espeak: str, announcers: list[Announcer]) -> None:
    if pygame.mixer.get_init() is not None:
        pygame.mixer.quit()
    pygame.mixer.init(44100, -16, 2, 512, allowedchanges=0)  # what pygame.init() alone would open
    try:
        announcer = started(announcers, speech=True, espeak=fake_espeak, languages=("en",))
        announcer.announce([A42])
        assert announcer.wait_idle(10)
        assert announcer.requests == ["chime", "speak:en:Number A 42, please go to Platz 3"]
        chime = make_sound(chime_pcm(22050), 22050)
        assert chime.get_length() == pytest.approx(len(chime_pcm(22050)) / 2 / 22050, abs=0.01)
        assert len(chime.get_raw()) == pytest.approx(2 * 2 * 2 * len(chime_pcm(22050)) / 2, abs=16)
    finally:
        announcers.pop().stop()
        pygame.mixer.quit()


def test_real_espeak_ng(announcers: list[Announcer]) -> None:
    announcer = started(announcers, chime=False, speech=True, speed=300)
    began = time.perf_counter()
    announcer.announce([A42])
    assert announcer.wait_idle(20)
    assert announcer.requests == ["speak:de:Nummer A 42, bitte zu Platz 3",
                                  "speak:en:Number A 42, please go to Platz 3"]
    assert time.perf_counter() - began > 1.0  # two real utterances were played to the end


def test_real_espeak_ng_wav_format() -> None:
    import subprocess
    espeak = shutil.which("espeak-ng")
    assert espeak is not None, "espeak-ng is installed by `make setup` (deploy/install-debian-packages.sh)"
    out = subprocess.run([espeak, "-v", "de", "--stdout", "Nummer A 42"], capture_output=True, check=True,
                         timeout=10).stdout
    with wave.open(__import__("io").BytesIO(out)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 22050)
    pcm, rate, channels = read_wav(out)
    assert rate == 22050 and channels == 1 and len(pcm) > 22050  # over half a second of speech
