"""The announcer: a queue of calls and the worker thread that chimes and speaks them, in order.

`announce()` is all the render loop calls; it appends under a lock and returns. The worker plays one
job at a time: a chime (one per batch), a call spoken in every configured language, or the summary
that replaces a backlog longer than `max_pending` (see the package's docstring for why).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import pygame

from display.sound.audio import MIXER_FREQUENCY, AudioDevice, make_sound
from display.sound.chime import chime_pcm
from display.sound.speech import Announcement, Espeak, check_language, speech_text, summary_text
from language.catalogue import COMPLETE_LANGUAGES

log = logging.getLogger("wartemarke.display.sound")


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

    def __init__(self, chime: bool = True, speech: bool = False, languages: tuple[str, ...] = COMPLETE_LANGUAGES,
                 max_pending: int = 3, espeak: str = "espeak-ng", volume: float = 0.8, speed: int = 150) -> None:
        for lang in languages:
            check_language(lang)
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.chime = chime
        self.languages = tuple(languages)
        self.max_pending = max_pending
        self.audio = AudioDevice(volume)
        self.espeak = Espeak(espeak, speed) if speech else None
        self._cond = threading.Condition()
        self._pending: deque[_Job] = deque()
        self._busy = False
        self._requests: list[str] = []
        self._stopping = False
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
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
        return self.audio.silent

    def _speaking(self) -> bool:
        return self.espeak is not None and self.espeak.usable

    def start(self) -> None:
        """Open the mixer if nobody has (mono, 22050 Hz, 16-bit), check espeak-ng, start the worker."""
        if self._thread is not None:
            return
        self.audio.open()
        if self.espeak is not None:
            self.espeak.check()
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
            if self._speaking():
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
        if self.espeak is not None:
            self.espeak.stop()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5.0)
            if thread.is_alive():
                log.warning("announcer thread did not stop within 5 s")
                return
        self.audio.close()

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
        if self.chime and not self.silent:
            try:  # ~0.1 s of arithmetic: done here before the first call, not in start() or on the first call
                self._chime_sound = make_sound(chime_pcm(MIXER_FREQUENCY), MIXER_FREQUENCY)
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
            if not self.silent:
                if self._chime_sound is None:
                    self._chime_sound = make_sound(chime_pcm(MIXER_FREQUENCY), MIXER_FREQUENCY)
                self.audio.play(self._chime_sound, self._stop_event)
            return
        for lang in self.languages:
            if self._stop_event.is_set() or self.espeak is None or not self.espeak.usable:
                return
            text = speech_text(job.announcement, lang) if isinstance(job, _Call) else summary_text(
                list(job.items), lang)
            if self.silent:
                self._record(f"speak:{lang}:{text}")
                continue
            sound = self.espeak.synthesize(text, lang)
            if sound is None:
                continue
            self._record(f"speak:{lang}:{text}")
            self.audio.play(sound, self._stop_event)
