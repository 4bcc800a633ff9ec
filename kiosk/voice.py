"""The kiosk's voice, for blind and low-vision citizens: after a ticket is printed it says
"Ihre Nummer: A 42. Vor Ihnen: 5.", and a held service button says the service's name.

Speech never delays a ticket: the print worker only hands a sentence to this module's own thread
(a full queue drops it), and espeak-ng (offline, as on the display) runs there as a subprocess
after the print has finished, at the lowest CPU priority (`nice -n 19`); a press stops a synthesis
still running (SIGSTOP) until its ticket is out (SIGCONT, at the latest after PAUSE_MAX_S).
`output = ""` plays on the Pi's audio out; a directory writes one WAV file per sentence instead
(tests, or a check without a speaker).
"""

from __future__ import annotations

import logging
import queue
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from language.catalogue import translate
from language.spoken import ESPEAK_TIMEOUT_S, VOICES, espeak_markup, spoken_label
from process.config import ConfigSection

log = logging.getLogger("wartemarke.kiosk.voice")

PENDING_MAX = 4  # sentences waiting to be spoken; more are dropped (the next citizen's matters more)
PAUSE_MAX_S = 2.0  # a press that prints nothing (ignored, no paper) lets the speech go on after this


@dataclass(frozen=True)
class SpeechSettings:
    enabled: bool = False
    languages: tuple[str, ...] = ("de",)  # each sentence in each language, in this order
    speed: int = 150  # words per minute
    hold_s: float = 1.5  # holding a service button this long says its service (0: off)
    output: Path | None = None  # None: the audio out; a directory: a WAV file per sentence
    command: str = "espeak-ng"


def read_speech_settings(section: ConfigSection) -> SpeechSettings:
    languages = tuple(section.get_str_list("languages", ["de"]))
    if not languages or any(lang not in VOICES for lang in languages):
        raise section.error("languages", f"choose from {', '.join(VOICES)}; got {list(languages)}")
    output = section.get_str("output", "")
    return SpeechSettings(enabled=section.get_bool("enabled", False), languages=languages,
                          speed=section.get_int("speed", 150, minval=80, maxval=400),
                          hold_s=section.get_float("hold_s", 1.5, minval=0.0, maxval=10.0),
                          output=Path(output) if output else None)


def ticket_sentence(label: str, ahead: int | None, lang: str) -> str:
    """"Ihre Nummer: A 42. Vor Ihnen: 5." (without the hub's figures: the number only)."""
    number = spoken_label(label)
    if ahead is None:
        return translate(lang, "speech_ticket_number", label=number)
    return translate(lang, "speech_ticket", label=number, ahead=ahead)


class KioskVoice:
    """Sentences spoken one after another on a thread of their own; `say` never waits."""

    def __init__(self, settings: SpeechSettings, services: dict[str, tuple[str, str]]) -> None:
        self.settings = settings
        self.services = services  # service id → (German name, English name)
        self.said: list[tuple[str, str, Path | None]] = []  # (language, text, WAV file): what was spoken
        self.spoken = threading.Condition()
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=PENDING_MAX)
        self._thread: threading.Thread | None = None
        self._count = 0
        self._warned = False
        self._lock = threading.Lock()  # the running espeak-ng, paused or not
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        if settings.enabled:
            if shutil.which(settings.command) is None:
                log.warning("speech is on but %s is missing: the kiosk stays silent", settings.command)
            if settings.output is not None:
                settings.output.mkdir(parents=True, exist_ok=True)
            self._thread = threading.Thread(target=self._speak_all, name="kiosk-voice", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        """A button was pressed (gpiozero's thread): a running synthesis takes no CPU until the ticket is out."""
        with self._lock:
            if self._proc is None or self._paused or self._proc.poll() is not None:
                return
            self._proc.send_signal(signal.SIGSTOP)
            self._paused = True
        timer = threading.Timer(PAUSE_MAX_S, self.resume)
        timer.daemon = True
        timer.start()

    def resume(self) -> None:
        with self._lock:
            if self._paused and self._proc is not None and self._proc.poll() is None:
                self._proc.send_signal(signal.SIGCONT)
            self._paused = False

    def ticket(self, label: str, ahead: int | None) -> None:
        """After a ticket came out: its number and how many are ahead, in each language."""
        self.resume()
        for lang in self.settings.languages:
            self.say(ticket_sentence(label, ahead, lang), lang)

    def no_tickets(self, service: str) -> None:
        """After the no-tickets slip came out: that there are none left today for this service (a blind
        citizen cannot read the slip), in each language."""
        if self._thread is None:  # speech off: not even the sentences are made
            return
        self.resume()
        for lang in self.settings.languages:
            self.say(translate(lang, "slip_no_tickets", service=self.service_name(service, lang)) + ".", lang)

    def service(self, service: str) -> None:
        """A held button: its service's name, in each language."""
        for lang in self.settings.languages:
            self.say(self.service_name(service, lang), lang)

    def service_name(self, service: str, lang: str) -> str:
        """The service's name in `lang`: offices name services in German and English only, so German for
        any language but English."""
        name_de, name_en = self.services.get(service, (service, service))
        return name_en if lang == "en" else name_de

    def say(self, text: str, lang: str) -> None:
        if self._thread is None:
            return
        try:
            self._queue.put_nowait((lang, text))
        except queue.Full:
            log.info("speech queue full: %r not spoken", text)

    def stop(self) -> None:
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # the thread is busy and will not get to the end marker soon: it is a daemon
                return
            self._thread.join(timeout=ESPEAK_TIMEOUT_S)

    def wait_said(self, count: int, timeout: float) -> bool:
        with self.spoken:
            return self.spoken.wait_for(lambda: len(self.said) >= count, timeout)

    def _speak_all(self) -> None:
        while (item := self._queue.get()) is not None:
            lang, text = item
            wav = self._speak(lang, text)
            with self.spoken:
                self.said.append((lang, text, wav))
                self.spoken.notify_all()

    def _speak(self, lang: str, text: str) -> Path | None:
        s = self.settings
        # at the lowest CPU priority: a synthesis must not slow the next citizen's ticket
        command = ["nice", "-n", "19", s.command, "-v", VOICES[lang], "-s", str(s.speed), "-m", "--stdin"]
        wav = None
        if s.output is not None:
            self._count += 1
            wav = s.output / f"{self._count:05d}-{lang}.wav"
            command += ["-w", str(wav)]
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with self._lock:  # (not around the spawn: a press must never wait for it)
                self._proc = proc
            try:
                _, err = proc.communicate(espeak_markup(text).encode(), timeout=ESPEAK_TIMEOUT_S + PAUSE_MAX_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                self._failed(f"{s.command} took longer than {ESPEAK_TIMEOUT_S:g} s")
                return None
            finally:
                with self._lock:
                    self._proc, self._paused = None, False
        except OSError as exc:
            self._failed(f"{s.command} cannot run ({exc})")
            return None
        if proc.returncode != 0:
            self._failed(f"{s.command} exited with {proc.returncode}: {err.decode(errors='replace')[:200]}")
            return None
        return wav

    def _failed(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("speech skipped: %s", reason)
        else:
            log.debug("speech skipped: %s", reason)
