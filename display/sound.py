"""The display's announcements: a chime and, optionally, a spoken call — and sound never blocks drawing.

Why it is built this way:

- The render loop only calls `Announcer.announce()`, which appends to a queue under a lock and returns.
  Speech synthesis (an `espeak-ng` subprocess) and playback (waiting for `pygame.mixer` channels to
  finish) happen on the announcer's own worker thread, so a slow synthesiser, a busy audio device or a
  long sentence can never delay a frame.
- Calls are announced in order: one chime per batch handed to `announce()` (several calls in the same
  second share one chime), then each call spoken in every configured language.
- The queue is bounded. When more than `max_pending` calls wait to be spoken, they are replaced by ONE
  summary ("Aufgerufen: A 42, A 43 und P 7. Bitte schauen Sie auf die Anzeige.") — a burst of calls is
  summarised, never read out as a minute-long backlog while the board has long moved on.
- Failures degrade, they do not stop the board: without an audio device the announcer runs silently
  (it still records what it would have played); without a working `espeak-ng` it keeps the chime.
  Each of these is logged once, not once per call.

The chime is generated in code (`chime_pcm`), so there is no sound file to ship or license.
"""

from __future__ import annotations

import array
import io
import logging
import math
import re
import shutil
import subprocess
import sys
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from xml.sax.saxutils import escape

import pygame

log = logging.getLogger(__name__)

# The mixer format the announcer asks for (and espeak-ng produces): 22050 Hz, signed 16-bit, mono.
MIXER_FREQUENCY: Final = 22050
MIXER_SIZE: Final = -16
MIXER_CHANNELS: Final = 1
MIXER_BUFFER: Final = 512

SUMMARY_MAX_LABELS: Final = 6  # a summary names at most this many numbers, then "und 4 weitere"
SPOKEN_FIELD_MAX: Final = 40  # a label or counter name is cut to this many characters before speaking
ESPEAK_TIMEOUT_S: Final = 10.0
_POLL_S: Final = 0.02  # channel.get_busy() polling step, in the worker thread only
_PLAY_SLACK_S: Final = 2.0  # a sound that is "busy" this long past its length is abandoned

_TEMPLATES: Final[dict[str, tuple[str, str]]] = {
    "de": ("Nummer {label}, bitte zu {counter}", "Erneuter Aufruf: Nummer {label}, bitte zu {counter}"),
    "en": ("Number {label}, please go to {counter}", "Once more: number {label}, please go to {counter}"),
}
_SUMMARY: Final[dict[str, tuple[str, str, str, str]]] = {
    # (prefix, "and", "{n} more", closing sentence)
    "de": ("Aufgerufen: ", "und", "{n} weitere", "Bitte schauen Sie auf die Anzeige."),
    "en": ("Called: ", "and", "{n} more", "Please look at the display."),
}
_VOICES: Final[dict[str, str]] = {"de": "de", "en": "en"}

_LABEL_TOKEN = re.compile(r"[^\W\d_]|\d+")
# A standalone single letter ("A" in "Nummer A 42"): spelled out via SSML, or English espeak says "uh".
_SINGLE_LETTER = re.compile(r"(?<!\w)([^\W\d_])(?!\w)")


@dataclass(frozen=True)
class Announcement:
    label: str  # "A042"
    counter_name: str  # "Platz 3"
    recall: bool = False


# -- texts ------------------------------------------------------------------------------------------


def spoken_label(label: str) -> str:
    """"A042" -> "A 42": letters spaced (so they are spelled), leading zeros dropped, other signs dropped."""
    parts: list[str] = []
    for token in _LABEL_TOKEN.findall(label):
        if token[0].isdecimal():
            parts.append(token.lstrip("0") or "0")
        else:
            parts.append(token.upper())
    return " ".join(parts) if parts else label.strip()


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SPOKEN_FIELD_MAX else text[:SPOKEN_FIELD_MAX].rstrip()


def _check_lang(lang: str) -> None:
    if lang not in _TEMPLATES:
        raise ValueError(f"unsupported language {lang!r}; choose from {', '.join(_TEMPLATES)}")


def speech_text(a: Announcement, lang: str) -> str:
    """The sentence spoken for one call, e.g. "Nummer A 42, bitte zu Platz 3"."""
    _check_lang(lang)
    plain, recall = _TEMPLATES[lang]
    return (recall if a.recall else plain).format(label=_clip(spoken_label(a.label)), counter=_clip(a.counter_name))


def summary_text(items: list[Announcement], lang: str) -> str:
    """One sentence for a burst: "Aufgerufen: A 42, A 43 und P 7. Bitte schauen Sie auf die Anzeige."

    Labels are named once each, in order; beyond `SUMMARY_MAX_LABELS` the rest is counted ("und 4 weitere").
    """
    _check_lang(lang)
    if not items:
        raise ValueError("a summary needs at least one announcement")
    prefix, and_word, more, closing = _SUMMARY[lang]
    labels = list(dict.fromkeys(_clip(spoken_label(a.label)) for a in items))
    named, rest = labels[:SUMMARY_MAX_LABELS], len(labels) - SUMMARY_MAX_LABELS
    if rest > 0:
        listed = f"{', '.join(named)} {and_word} {more.format(n=rest)}"
    elif len(named) == 1:
        listed = named[0]
    else:
        listed = f"{', '.join(named[:-1])} {and_word} {named[-1]}"
    return f"{prefix}{listed}. {closing}"


def _espeak_markup(text: str) -> str:
    """SSML for espeak-ng -m: XML-escaped, single letters spelled (English espeak reads "A 42" as "uh 42")."""
    return _SINGLE_LETTER.sub(r'<say-as interpret-as="characters">\1</say-as>', escape(text))


# -- PCM ------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def chime_pcm(sample_rate: int = MIXER_FREQUENCY) -> bytes:
    """A two-tone "ding-dong" (660 Hz, then 550 Hz 0.45 s later), 16-bit signed mono little-endian.

    Each note: a 6 ms raised-cosine attack (no click), exponential decay, a few harmonics that fade
    faster than the fundamental (a soft bell, not a beep). The first note rings on under the second;
    the last 25 ms fade to silence, so the sound starts and ends at zero.
    """
    if sample_rate < 8000:
        raise ValueError(f"sample_rate {sample_rate} too low for the chime")
    note_s, tail_s, tau_s, attack_s, fade_s = 0.45, 0.25, 0.16, 0.006, 0.025
    harmonics = ((1, 1.0), (2, 0.35), (3, 0.12), (4, 0.05))
    total = round((2 * note_s + tail_s) * sample_rate)
    mix = [0.0] * total
    for freq, start_s in ((660.0, 0.0), (550.0, note_s)):
        start = round(start_s * sample_rate)
        for i in range(start, total):
            t = (i - start) / sample_rate
            envelope = math.exp(-t / tau_s)
            if t < attack_s:
                envelope *= 0.5 - 0.5 * math.cos(math.pi * t / attack_s)
            value = 0.0
            for n, amplitude in harmonics:
                value += amplitude * math.exp(-t * (n - 1) * 4.0) * math.sin(2.0 * math.pi * freq * n * t)
            mix[i] += envelope * value
    fade = round(fade_s * sample_rate)
    for k in range(fade):
        mix[total - 1 - k] *= 0.5 - 0.5 * math.cos(math.pi * k / fade)
    scale = 0.6 * 32767 / max(abs(v) for v in mix)
    samples = array.array("h", (round(v * scale) for v in mix))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def convert_pcm16(pcm: bytes, rate: int, channels: int, to_rate: int, to_channels: int) -> bytes:
    """Signed 16-bit little-endian PCM -> signed 16-bit native-endian PCM at another rate/channel count.

    Down-mixes to mono, resamples by linear interpolation (good enough for speech and a chime), then
    copies the mono signal to every output channel. Trailing partial frames are dropped.
    """
    if rate <= 0 or to_rate <= 0 or channels <= 0 or to_channels <= 0:
        raise ValueError("rates and channel counts must be positive")
    frame = 2 * channels
    source = array.array("h")
    source.frombytes(pcm[: len(pcm) - len(pcm) % frame])
    if sys.byteorder == "big":
        source.byteswap()
    if channels > 1:
        source = array.array("h", (round(sum(source[i:i + channels]) / channels)
                                   for i in range(0, len(source), channels)))
    if rate != to_rate and len(source) > 1:
        count = len(source) * to_rate // rate
        last = len(source) - 1
        step = rate / to_rate
        resampled = array.array("h", bytes(2 * count))
        for j in range(count):
            position = j * step
            i = int(position)
            if i >= last:
                resampled[j] = source[last]
            else:
                frac = position - i
                resampled[j] = round(source[i] + (source[i + 1] - source[i]) * frac)
        source = resampled
    if to_channels == 1:
        return source.tobytes()
    out = array.array("h", bytes(2 * len(source) * to_channels))
    for c in range(to_channels):
        out[c::to_channels] = source
    return out.tobytes()


def _wav_bytes(pcm: bytes, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int, int]:
    """(16-bit little-endian PCM, sample rate, channels) from a WAV, including espeak-ng's streamed one.

    `espeak-ng --stdout` cannot seek back, so its header claims a data size of 0x7ffff000 bytes; the
    `wave` module reads what is actually there. Anything but 16-bit PCM raises `wave.Error`.
    """
    with wave.open(io.BytesIO(data), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise wave.Error(f"expected 16-bit samples, got {8 * reader.getsampwidth()}-bit")
        channels, rate = reader.getnchannels(), reader.getframerate()
        pcm = reader.readframes(reader.getnframes())
    frame = 2 * channels
    return pcm[: len(pcm) - len(pcm) % frame], rate, channels


def _make_sound(pcm: bytes, rate: int, channels: int = 1) -> pygame.mixer.Sound:
    """A Sound in the running mixer's format (which may differ if someone else initialised the mixer)."""
    init = pygame.mixer.get_init()
    if init is None:
        raise pygame.error("mixer not initialised")
    to_rate, size, to_channels = init
    if size == -16:
        if (rate, channels) == (to_rate, to_channels) and sys.byteorder == "little":
            return pygame.mixer.Sound(buffer=pcm)
        return pygame.mixer.Sound(buffer=convert_pcm16(pcm, rate, channels, to_rate, to_channels))
    # 8-bit, unsigned or float mixers: hand SDL_mixer a clean WAV and let it convert.
    mono = convert_pcm16(pcm, rate, channels, rate, 1)
    if sys.byteorder == "big":
        swapped = array.array("h", mono)
        swapped.byteswap()
        mono = swapped.tobytes()
    return pygame.mixer.Sound(file=io.BytesIO(_wav_bytes(mono, rate)))


# -- the announcer ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chime:
    pass


@dataclass(frozen=True)
class _Call:
    announcement: Announcement


@dataclass(frozen=True)
class _Summary:
    items: tuple[Announcement, ...]


_Job = _Chime | _Call | _Summary


class Announcer:
    """Plays a chime and (optionally) speaks each call, in order, on its own thread.

    `announce()` is the only method meant for the render loop; it never blocks on audio. `requests`
    records what was played ("chime", "speak:de:Nummer A 42, bitte zu Platz 3", ...), for tests and logs.
    """

    def __init__(self, chime: bool = True, speech: bool = False, languages: tuple[str, ...] = ("de", "en"),
                 max_pending: int = 3, espeak: str = "espeak-ng", volume: float = 0.8, speed: int = 150) -> None:
        for lang in languages:
            _check_lang(lang)
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.chime = chime
        self.speech = speech
        self.languages = tuple(languages)
        self.max_pending = max_pending
        self.espeak = espeak
        self.volume = min(max(volume, 0.0), 1.0)
        self.speed = speed
        self._cond = threading.Condition()
        self._pending: deque[_Job] = deque()
        self._busy = False
        self._requests: list[str] = []
        self._stopping = False
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._silent = False
        self._owns_mixer = False
        self._speech_ok = speech
        self._speech_warned = False
        self._proc_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._chime_sound: pygame.mixer.Sound | None = None

    # -- render thread ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[str]:
        """A copy of what was played so far, in order."""
        with self._cond:
            return list(self._requests)

    @property
    def silent(self) -> bool:
        """True when no audio device could be opened: requests are recorded, nothing is heard."""
        return self._silent

    def start(self) -> None:
        """Open the mixer if nobody has (mono, 22050 Hz, 16-bit), check espeak-ng, start the worker."""
        if self._thread is not None:
            return
        if pygame.mixer.get_init() is None:
            try:
                pygame.mixer.init(MIXER_FREQUENCY, MIXER_SIZE, MIXER_CHANNELS, MIXER_BUFFER, allowedchanges=0)
                self._owns_mixer = True
            except pygame.error as exc:
                self._silent = True
                log.warning("no audio (%s); the display runs silently", exc)
        if not self._silent:
            log.info("audio mixer: %s via %s", pygame.mixer.get_init(), pygame.mixer.get_driver())
        if self._speech_ok and shutil.which(self.espeak) is None:
            self._speech_failed(f"{self.espeak} not found", disable=True)
        self._thread = threading.Thread(target=self._run, name="wartemarke-announcer", daemon=True)
        self._thread.start()

    def announce(self, items: list[Announcement]) -> None:
        """Queue one batch (one chime, then each call spoken). Returns at once; never waits for audio."""
        if not items:
            return
        with self._cond:
            if self._stopping:
                return
            # A chime still waiting to start with nothing after it is shared (only when nothing is spoken).
            if self.chime and not (self._pending and isinstance(self._pending[-1], _Chime)):
                self._pending.append(_Chime())
            if self._speech_ok:
                self._pending.extend(_Call(a) for a in items)
                self._bound()
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything queued has been played; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self) -> None:
        """Drop what is queued, cut the current sound and synthesis short, end the worker."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        self._stop_event.set()
        with self._proc_lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5.0)
            if thread.is_alive():
                log.warning("announcer thread did not stop within 5 s")
                return
        if self._owns_mixer:
            self._owns_mixer = False
            pygame.mixer.quit()

    # -- queue policy (caller holds self._cond) -----------------------------------------------------

    def _bound(self) -> None:
        waiting: list[Announcement] = []
        for job in self._pending:
            if isinstance(job, _Call):
                waiting.append(job.announcement)
            elif isinstance(job, _Summary):
                waiting.extend(job.items)
        if len(waiting) <= self.max_pending:
            return
        had_chime = any(isinstance(job, _Chime) for job in self._pending)
        self._pending.clear()
        if had_chime:
            self._pending.append(_Chime())
        self._pending.append(_Summary(tuple(waiting)))
        log.info("%d calls waiting to be announced; summarising them", len(waiting))

    # -- worker thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        if self.chime and not self._silent:
            try:  # ~0.1 s of arithmetic: done here before the first call, not in start() or on the first call
                self._chime_sound = _make_sound(chime_pcm(MIXER_FREQUENCY), MIXER_FREQUENCY)
            except pygame.error:
                log.exception("cannot prepare the chime")
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._stopping)
                if self._stopping:
                    return
                job = self._pending.popleft()
                self._busy = True
            try:
                self._play_job(job)
            except Exception:
                log.exception("announcement failed: %r", job)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _record(self, request: str) -> None:
        with self._cond:
            self._requests.append(request)

    def _play_job(self, job: _Job) -> None:
        if isinstance(job, _Chime):
            self._record("chime")
            if not self._silent:
                if self._chime_sound is None:
                    self._chime_sound = _make_sound(chime_pcm(MIXER_FREQUENCY), MIXER_FREQUENCY)
                self._play(self._chime_sound)
            return
        for lang in self.languages:
            if self._stop_event.is_set() or not self._speech_ok:
                return
            text = speech_text(job.announcement, lang) if isinstance(job, _Call) else summary_text(
                list(job.items), lang)
            if self._silent:
                self._record(f"speak:{lang}:{text}")
                continue
            sound = self._synthesize(text, lang)
            if sound is None:
                continue
            self._record(f"speak:{lang}:{text}")
            self._play(sound)

    def _synthesize(self, text: str, lang: str) -> pygame.mixer.Sound | None:
        command = [self.espeak, "-v", _VOICES[lang], "-s", str(self.speed), "-m", "-b", "1", "--stdout", "--stdin"]
        try:
            with self._proc_lock:
                if self._stop_event.is_set():
                    return None
                proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                self._proc = proc
            try:
                out, err = proc.communicate(_espeak_markup(text).encode(), timeout=ESPEAK_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                self._speech_failed(f"{self.espeak} took longer than {ESPEAK_TIMEOUT_S:g} s")
                return None
            finally:
                with self._proc_lock:
                    self._proc = None
        except OSError as exc:  # missing, not executable
            self._speech_failed(f"{self.espeak} cannot run ({exc})", disable=True)
            return None
        if self._stop_event.is_set():
            return None
        if proc.returncode != 0:
            self._speech_failed(f"{self.espeak} exited with {proc.returncode}: "
                                f"{err.decode(errors='replace').strip()[:200]}")
            return None
        try:
            pcm, rate, channels = read_wav(out)
            if not pcm:
                raise wave.Error("no samples")
            return _make_sound(pcm, rate, channels)
        except (wave.Error, EOFError, pygame.error) as exc:
            self._speech_failed(f"unusable audio from {self.espeak} ({exc})")
            return None

    def _speech_failed(self, reason: str, disable: bool = False) -> None:
        if disable:
            self._speech_ok = False
        if not self._speech_warned:
            self._speech_warned = True
            log.warning("speech %s: %s; chimes only", "off" if disable else "skipped", reason)
        else:
            log.debug("speech skipped: %s", reason)

    def _play(self, sound: pygame.mixer.Sound) -> None:
        """Play and wait for the end — in the worker thread, polling the channel in 20 ms steps."""
        sound.set_volume(self.volume)
        length = sound.get_length()
        channel: pygame.mixer.Channel | None = sound.play()
        if channel is None:  # every channel busy: wait out the length instead
            self._stop_event.wait(length)
            return
        deadline = time.monotonic() + length + _PLAY_SLACK_S
        while channel.get_busy() and time.monotonic() < deadline:
            if self._stop_event.wait(_POLL_S):
                channel.stop()
                return
