"""The display under test, in its own process: `python -m bench.display.child CONFIG` runs
`python -m display run --config CONFIG` and reports every flip that shows a new calls seq on stdout
(`F <monotonic_ns> <seq> <label>`), and its counters when asked (stdin `S`); `DisplayChild` is the
benchmark's side of that conversation."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.runner import python, spawn

FLIP_TIMEOUT_S = 5.0
SDL_ENV = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}


class _Out:
    """Lines to the parent from two threads (render loop and stdin reader)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app: Any = None

    def line(self, text: str) -> None:
        with self.lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def stats(self) -> None:
        app = self.app
        if app is None:
            self.line("S 0 -1 -1 -1 -1 0 0")
            return
        count, size = cache_bytes(app.fonts)
        self.line(f"S {time.monotonic_ns()} {app.counters.wakeups} {app.counters.frames} "
                  f"{app.renderer.pixels_drawn} {app.fonts.renders} {count} {size}")


def cache_bytes(fonts: Any) -> tuple[int, int]:
    """How many text surfaces the FontBook's LRU holds, and their pixel bytes (read from outside)."""
    surfaces = list(fonts._surfaces.values())
    return len(surfaces), sum(s.get_width() * s.get_height() * s.get_bytesize() for s in surfaces)


def child_main(config: str) -> int:
    """`python -m display run --config CONFIG`, with `pygame.display.update` wrapped to report flips."""
    import pygame

    from display import app as app_module
    from display.cli import main as display_main

    out = _Out()
    original_run = app_module.DisplayApp.run
    original_update = pygame.display.update
    last_seq = [-2]

    def run(self: app_module.DisplayApp) -> None:
        out.app = self
        original_run(self)

    def update(*args: Any, **kwargs: Any) -> None:
        original_update(*args, **kwargs)
        at = time.monotonic_ns()
        app = out.app
        if app is not None and app.board.calls_seq != last_seq[0]:
            last_seq[0] = app.board.calls_seq
            label = app.board.calls[0].label if app.board.calls else "-"
            out.line(f"F {at} {app.board.calls_seq} {label}")

    app_module.DisplayApp.run = run  # type: ignore[method-assign]
    pygame.display.update = update

    def serve_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "S":
                out.stats()
        os.kill(os.getpid(), signal.SIGTERM)  # parent closed stdin (or died): stop like systemd would

    threading.Thread(target=serve_stdin, name="bench-stdin", daemon=True).start()
    return display_main(["run", "--config", config])


@dataclass
class Counts:
    at_ns: int
    wakeups: int
    frames: int
    pixels: int
    renders: int
    cached_surfaces: int
    cached_bytes: int


class DisplayChild:
    """The display process: its flips, its counters on request."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._cond = threading.Condition()
        self.flips: list[tuple[int, int]] = []  # (seq, monotonic ns), in flip order
        self._counts: queue.Queue[Counts] = queue.Queue()
        self.started_ns = time.monotonic_ns()
        with log.open("ab") as err:
            self.proc = spawn(
                python("bench.display.child", str(config)), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err, env=SDL_ENV)
        self._reader = threading.Thread(target=self._read, name="display-child-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            parts = raw.decode(errors="replace").split()
            if len(parts) >= 3 and parts[0] == "F":
                with self._cond:
                    self.flips.append((int(parts[2]), int(parts[1])))
                    self._cond.notify_all()
            elif len(parts) == 8 and parts[0] == "S":
                self._counts.put(Counts(*(int(p) for p in parts[1:])))
        with self._cond:
            self._cond.notify_all()

    def flip_for(self, seq: int, timeout: float = FLIP_TIMEOUT_S) -> int:
        """Monotonic ns of the first flip showing `seq` or a later one."""

        def found() -> int | None:
            return next((ns for s, ns in self.flips if s >= seq), None)

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None or self.proc.poll() is not None, timeout):
                raise RuntimeError(f"the display showed no frame with calls seq {seq} within {timeout:.0f} s "
                                   f"(log: {self.log})")
            at = found()
        if at is None:
            raise RuntimeError(f"the display exited with code {self.proc.poll()}:\n{self.tail()}")
        return at

    def counts(self) -> Counts:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"S\n")
        self.proc.stdin.flush()
        return self._counts.get(timeout=10)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(5)



if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
