"""Running a display in tests: its pygame loop in a thread (SDL dummy drivers), a real broker."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path
from typing import Any

from display.app import DisplayApp, open_screen
from display.config import load_display_config
from display.sound.announcer import Announcer
from display.sound.speech import Announcement
from process.clock import Clock, SystemClock


class RecordingAnnouncer(Announcer):
    """The real announcer (chime on, dummy audio), also remembering what it was asked to announce."""

    def __init__(self) -> None:
        super().__init__(chime=True, speech=False)
        self.announced: list[Announcement] = []
        self.lock = threading.Lock()

    def announce(self, items: list[Announcement]) -> None:
        with self.lock:
            self.announced.extend(items)
        super().announce(items)


def write_display_config(directory: Path, port: int, office: str, extra: str = "", width: int = 1280,
                         height: int = 720) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "display.toml"
    path.write_text(textwrap.dedent(f"""
        [display]
        office = "{office}"
        device = "display-1"
        stale_after_s = 5
        highlight_s = 3
        {extra}

        [screen]
        video_driver = "dummy"
        width = {width}
        height = {height}

        [broker]
        host = "127.0.0.1"
        port = {port}
        reconnect_max_s = 1
    """), encoding="utf-8")
    return path


class DisplayThread:
    """A DisplayApp whose pygame loop runs in its own thread (pygame is used only from that thread)."""

    def __init__(self, config_path: Path, clock: Clock | None = None, pin_factory: Any = None) -> None:
        self.config = load_display_config(config_path)
        self.pin_factory = pin_factory
        self.clock = clock or SystemClock(assume_synced=True)
        self.announcer = RecordingAnnouncer()
        self.app: DisplayApp | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="display-under-test", daemon=True)

    def _main(self) -> None:
        import pygame

        try:
            self.app = DisplayApp(self.config, self.clock, open_screen(self.config, window=False),
                                  announcer=self.announcer, pin_factory=self.pin_factory)
            self.ready.set()
            self.app.run()
        except BaseException as exc:  # surfaced by the test through `error`
            self.error = exc
            self.ready.set()
        finally:
            pygame.quit()

    def start(self) -> DisplayApp:
        self.thread.start()
        assert self.ready.wait(20), "display did not start"
        assert self.error is None, self.error
        assert self.app is not None
        return self.app

    def wait(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Wait (on the app's frame condition) until predicate(app) holds after a frame."""
        app = self.app
        assert app is not None
        with app.frame_done:
            return bool(app.frame_done.wait_for(lambda: predicate(app), timeout))

    def stop(self) -> None:
        if self.app is not None:
            self.app.stop()
        self.thread.join(20)
        assert not self.thread.is_alive(), "display loop did not stop"
