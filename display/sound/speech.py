"""What is spoken for a call, and espeak-ng speaking it.

Labels are spoken as letters and a number ("A042" → "A 42"), a label or counter name is cut to
`SPOKEN_FIELD_MAX` characters, and a burst of calls becomes one summary sentence. espeak-ng runs as
a subprocess fed SSML on stdin (single letters spelled, or English espeak reads "A" as "uh"); a
missing, failing or hanging espeak-ng is logged once and leaves the chime.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass
from typing import Final

import pygame

from display.sound.audio import make_sound, read_wav
from language.catalogue import language_problem, translate, translator
from language.spoken import ESPEAK_TIMEOUT_S, VOICES, espeak_markup, spoken_label

log = logging.getLogger("wartemarke.display.sound")

SUMMARY_MAX_LABELS: Final = 6  # a summary names at most this many numbers, then "und 4 weitere"
SPOKEN_FIELD_MAX: Final = 40  # a label or counter name is cut to this many characters before speaking


@dataclass(frozen=True)
class Announcement:
    label: str  # "A042"
    counter_name: str  # "Platz 3"
    recall: bool = False


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SPOKEN_FIELD_MAX else text[:SPOKEN_FIELD_MAX].rstrip()


def check_language(lang: str) -> None:
    problem = language_problem(lang) if lang in VOICES else f"no espeak-ng voice for {lang!r}"
    if problem is not None:
        raise ValueError(f"unsupported language: {problem}")


def speech_text(a: Announcement, lang: str) -> str:
    """The sentence spoken for one call, e.g. "Nummer A 42, bitte zu Platz 3"."""
    check_language(lang)
    return translate(lang, "speech_recall" if a.recall else "speech_call", label=_clip(spoken_label(a.label)),
                     counter=_clip(a.counter_name))


def summary_text(items: list[Announcement], lang: str) -> str:
    """One sentence for a burst: "Aufgerufen: A 42, A 43 und P 7. Bitte schauen Sie auf die Anzeige."

    Labels are named once each, in order; beyond `SUMMARY_MAX_LABELS` the rest is counted ("und 4 weitere").
    """
    check_language(lang)
    if not items:
        raise ValueError("a summary needs at least one announcement")
    t = translator(lang)
    labels = list(dict.fromkeys(_clip(spoken_label(a.label)) for a in items))
    named, rest = labels[:SUMMARY_MAX_LABELS], len(labels) - SUMMARY_MAX_LABELS
    if rest > 0:
        listed = t("speech_list", items=", ".join(named), last=t("speech_more", n=rest))
    elif len(named) == 1:
        listed = named[0]
    else:
        listed = t("speech_list", items=", ".join(named[:-1]), last=named[-1])
    return t("speech_summary", labels=listed)


class Espeak:
    """espeak-ng as a subprocess, one sentence at a time; `stop()` kills a running synthesis."""

    def __init__(self, command: str = "espeak-ng", speed: int = 150) -> None:
        self.command = command
        self.speed = speed
        self.usable = True  # False once espeak-ng is missing or cannot run: chimes only
        self._warned = False
        self._stopped = threading.Event()
        self._proc_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def check(self) -> None:
        if shutil.which(self.command) is None:
            self._failed(f"{self.command} not found", disable=True)

    def stop(self) -> None:
        self._stopped.set()
        with self._proc_lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()

    def synthesize(self, text: str, lang: str) -> pygame.mixer.Sound | None:
        """The sentence as a Sound in the mixer's format; None when it cannot be had (logged once)."""
        command = [self.command, "-v", VOICES[lang], "-s", str(self.speed), "-m", "-b", "1", "--stdout", "--stdin"]
        try:
            with self._proc_lock:
                if self._stopped.is_set():
                    return None
                proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                self._proc = proc
            try:
                out, err = proc.communicate(espeak_markup(text).encode(), timeout=ESPEAK_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                self._failed(f"{self.command} took longer than {ESPEAK_TIMEOUT_S:g} s")
                return None
            finally:
                with self._proc_lock:
                    self._proc = None
        except OSError as exc:  # missing, not executable
            self._failed(f"{self.command} cannot run ({exc})", disable=True)
            return None
        if self._stopped.is_set():
            return None
        if proc.returncode != 0:
            self._failed(f"{self.command} exited with {proc.returncode}: {err.decode(errors='replace').strip()[:200]}")
            return None
        try:
            pcm, rate, channels = read_wav(out)
            if not pcm:
                raise wave.Error("no samples")
            return make_sound(pcm, rate, channels)
        except (wave.Error, EOFError, pygame.error) as exc:
            self._failed(f"unusable audio from {self.command} ({exc})")
            return None

    def _failed(self, reason: str, disable: bool = False) -> None:
        if disable:
            self.usable = False
        if not self._warned:
            self._warned = True
            log.warning("speech %s: %s; chimes only", "off" if disable else "skipped", reason)
        else:
            log.debug("speech skipped: %s", reason)
