"""The running display: MQTT in, pygame frames out, sound on the side — and never a busy loop.

The network thread only parses messages and puts them into an inbox; the render thread blocks on
that inbox until the next thing is due (the next second for the clock and the offline check, or the
next flash step while a new call flashes), applies what arrived to the Board, pumps SDL's own events
and redraws only what changed. It does not wait in `pygame.event.wait`: pygame-ce's wait polls every
millisecond (~1000 wake-ups a second), a blocking queue wakes only when there is something to do.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pygame

from display.board import Board
from display.config import DisplayConfig
from display.fonts import FontBook
from display.layout import board_layout
from display.render import FLASH_S, Renderer, View
from display.signals import CounterSignals
from display.sound.announcer import Announcer
from display.sound.speech import Announcement
from process.clock import Clock
from process.systemd import Notifier, Watchdog
from protocol import VERSION, topics
from protocol.fields import decode_object
from protocol.link import MqttLink
from protocol.messages import PARSERS, CallsState, DeviceStatus, OfficeInfo, QueueState

log = logging.getLogger("wartemarke.display")
FLASH_STEP_S = 0.25
Item = tuple[str, Any]  # ("message", parsed) | ("status", (device, online)) | ("connection", bool) | ("wake", None)


@dataclass
class Counters:
    frames: int = 0
    wakeups: int = 0


class ScreenError(RuntimeError):
    """The configured video driver cannot open a screen: a setup problem, said plainly."""


def open_screen(config: DisplayConfig, window: bool) -> pygame.Surface:
    """Open the screen with the configured driver; kmsdrm is forced so a wrong setup fails loudly."""
    driver = "window" if window else config.video_driver
    if driver in ("kmsdrm", "dummy"):
        os.environ["SDL_VIDEODRIVER"] = driver
    flags = pygame.FULLSCREEN if driver == "kmsdrm" else 0
    size = (0, 0) if driver == "kmsdrm" else (config.width, config.height)
    try:
        pygame.display.init()
        pygame.font.init()
        screen = pygame.display.set_mode(size, flags)
    except pygame.error as exc:
        hint = " (on a Pi: the unit must own tty1 and be in the video and render groups)" if driver == "kmsdrm" else ""
        raise ScreenError(f"cannot open the screen with video driver {driver!r}: {exc}{hint}") from exc
    pygame.display.set_caption(f"wartemarke — {config.office}")
    if driver == "kmsdrm":
        pygame.mouse.set_visible(False)
    log.info("video driver %s (configured %s), screen %d×%d", pygame.display.get_driver(), driver,
             *screen.get_size())
    return screen


class DisplayApp:
    def __init__(self, config: DisplayConfig, clock: Clock, screen: pygame.Surface,
                 announcer: Announcer | None = None, snapshot: Path | None = None, availability: bool = True,
                 pin_factory: Any = None) -> None:
        self.config = config
        self.clock = clock
        self.screen = screen
        self.snapshot = snapshot
        self.board = Board(config.office, ZoneInfo("Europe/Berlin"), config.services, config.counters)
        self.fonts = FontBook()
        self.view = View(config.languages, config.language_mode, config.language_switch_s, config.recent_calls,
                         config.highlight_s)
        self.renderer = Renderer(screen, board_layout(*screen.get_size()), self.fonts, self.view)
        self.announcer = announcer or Announcer(chime=config.chime, speech=config.speech,
                                                languages=config.languages,
                                                max_pending=config.max_pending_speech)
        self.signals = CounterSignals(config.signals, config.highlight_s, pin_factory)  # GPIO: none unless configured
        self.link = MqttLink(config.broker, config.office, config.device, "display", VERSION, clock,
                             health=self.health, availability=availability)
        self.counters = Counters()
        self.stop_event = threading.Event()
        self.frame_done = threading.Condition()
        self.last_stale: str | None = "starting"
        self.inbox: queue.Queue[Item] = queue.Queue()
        self.loop_beat = clock.monotonic()  # the render loop's heartbeat, for systemd's watchdog
        self.notifier = Notifier()
        self._failing: set[str] = set()  # loop steps whose last run raised (logged once)
        for topic in (topics.calls(config.office), topics.queue(config.office), topics.info(config.office),
                      topics.device_statuses(config.office)):
            self.link.subscribe(topic, self._on_message)
        self.link.on_connection_change(self._on_connection)

    def _on_connection(self, up: bool) -> None:
        self.inbox.put(("connection", up))

    # -- network thread: parse and hand over ------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        if not payload:
            return
        where = topics.parse(topic)
        message = PARSERS[where.kind](decode_object(payload))
        if isinstance(message, DeviceStatus):  # who it is comes from the topic (the ACL binds it), not the payload
            self.inbox.put(("status", (where.id, message.online)))
            return
        self.inbox.put(("message", message))

    # -- render thread -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"frames": self.counters.frames, "video_driver": pygame.display.get_driver(),
                "stale": self.last_stale, "calls_seq": self.board.calls_seq}

    def apply(self, item: Item) -> None:
        now, mono = self.clock.now(), self.clock.monotonic()
        kind, message = item
        if kind == "connection":
            self.board.broker_connected = message
            if message and self.board.connected_at is None:
                self.board.connected_at = mono
        elif kind == "status":
            self.board.set_status(*message)
            self.board.recheck_day(now, mono, self.config.highlight_s)
        elif isinstance(message, CallsState):
            self.board.set_calls(message, now, mono, self.config.highlight_s)
        elif isinstance(message, QueueState):
            self.board.set_queue(message, now, mono)
        elif isinstance(message, OfficeInfo):
            self.board.set_info(message, mono)
            self.board.recheck_day(now, mono, self.config.highlight_s)

    def _flashing(self, mono: float) -> bool:
        since = mono - (self.board.highlight_until - self.config.highlight_s)
        return self.board.highlighted(mono) and since <= FLASH_S

    def _next_timeout(self) -> float:
        """Seconds until something on the board is due: the next flash step, else the next second."""
        mono = self.clock.monotonic()
        if self._flashing(mono):
            return FLASH_STEP_S
        return max(0.01, 1.0 - (self.clock.now().timestamp() % 1.0))

    def frame(self) -> list[pygame.Rect]:
        now, mono = self.clock.now(), self.clock.monotonic()
        stale = self.board.stale_reason(now, mono, self.config.stale_after_s)
        if stale != self.last_stale:
            if stale and self.last_stale == "starting":
                log.info("waiting for the broker and the hub's state (%s)", stale)
            elif stale:
                log.warning("board may be out of date (%s)", stale)
            else:
                log.info("board is current again")
            self.last_stale = stale
            self.link.publish_status()
        dirty = self.renderer.render(self.board, now, mono, stale)
        pending = self.board.take_pending()
        if pending:
            self.announcer.announce([Announcement(c.label, c.counter_name, c.recall > 0) for c in pending])
            for call in pending:
                self.signals.call(call.counter)
        if dirty:
            pygame.display.update(dirty)
            self.counters.frames += 1
            if self.snapshot is not None:
                save_png(self.screen, self.snapshot)
        with self.frame_done:
            self.frame_done.notify_all()
        return dirty

    def run(self) -> None:
        """The event loop; returns when stop_event is set (from any thread)."""
        self.announcer.start()
        self.link.start()
        self.frame()
        watchdog = Watchdog(self.notifier, {"render loop": lambda: self.loop_beat}, 30.0, self.clock.monotonic)
        watchdog.start()
        self.notifier.ready(f"showing {self.config.office} with {pygame.display.get_driver()}")
        try:
            while not self.stop_event.is_set():
                self.loop_beat = self.clock.monotonic()
                try:
                    items = [self.inbox.get(timeout=self._next_timeout())]
                except queue.Empty:
                    items = []
                self.counters.wakeups += 1
                while True:
                    try:
                        items.append(self.inbox.get_nowait())
                    except queue.Empty:
                        break
                for item in items:
                    self._survive("applying a message", partial(self.apply, item))
                if any(event.type == pygame.QUIT for event in pygame.event.get()):
                    self.stop_event.set()
                self._survive("drawing a frame", self.frame)
        finally:
            self.notifier.stopping()
            watchdog.stop()
            self.link.stop()
            self.announcer.stop()
            self.signals.close()

    def _survive(self, step: str, action: Callable[[], object]) -> None:
        """Run one step of the loop. No payload may end the display: an error is logged (once, until
        the step works again) and the board keeps what it showed last."""
        try:
            action()
        except Exception:
            if step not in self._failing:
                log.exception("%s failed; the board keeps its last good state", step)
            self._failing.add(step)
        else:
            self._failing.discard(step)

    def stop(self) -> None:
        self.stop_event.set()
        self.inbox.put(("wake", None))  # wake the loop now


def save_png(surface: pygame.Surface, path: Path) -> None:
    """Write atomically, so a viewer never reads half a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp.png")
    pygame.image.save(surface, str(temp))
    temp.replace(path)
