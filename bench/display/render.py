"""Frame render time, in-process without a broker, in its own process:
`python -m bench.display.render FULL DIRTY` prints one JSON object; `measure_render` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.display.child import SDL_ENV, cache_bytes
from bench.display.data import BERLIN, OFFICE, CallSeries, today
from bench.procfs import status_kib
from bench.runner import python, spawn
from devtools.stats import median

SIZES = ((1920, 1080), (3840, 2160))


def render_main(full: int, dirty: int, warmup: int = 5, cycle_calls: int = 150) -> int:
    """Print one JSON object: per size, render+update times of full redraws and dirty updates, with
    interleaved fill+update baselines of the same rectangles."""
    import pygame

    from display.board import Board
    from display.fonts import FontBook
    from display.layout import board_layout
    from display.render import Renderer, View
    from display.sample import sample_info, sample_queue

    pygame.display.init()
    pygame.font.init()
    results: dict[str, Any] = {}
    now = datetime.now(UTC)
    for width, height in SIZES:
        screen = pygame.display.set_mode((width, height))
        renderer = Renderer(screen, board_layout(width, height), FontBook(), View())
        day = today()
        board = Board(OFFICE, BERLIN)
        board.broker_connected = True
        series = CallSeries(day)
        mono = 100.0  # inside the first language window ("de") for the whole run: no language switch
        board.set_info(sample_info(day), mono)
        board.set_queue(sample_queue(day, now), now, mono)
        board.set_calls(series.state(), now, mono, 10.0)
        start = time.perf_counter()
        rects = renderer.render(board, now, mono, None)
        pygame.display.update(rects)
        first = time.perf_counter() - start
        size: dict[str, Any] = {"first_frame_s": first, "screen_px": width * height}
        for kind, count in (("full", full), ("dirty", dirty)):
            times: list[float] = []
            floor: list[float] = []
            pixels: list[int] = []
            regions: list[int] = []
            renders_before = renderer.fonts.renders
            for i in range(warmup + count):
                mono += 1e-4
                _, _, state = series.next()
                board.set_calls(state, now, mono, 10.0)
                board.take_pending()
                if kind == "full":
                    renderer.invalidate()
                drawn_before = renderer.pixels_drawn
                start = time.perf_counter()
                rects = renderer.render(board, now, mono, None)
                pygame.display.update(rects)
                took = time.perf_counter() - start
                start = time.perf_counter()
                for n, rect in enumerate(rects):
                    screen.fill((i % 200, n * 40 % 256, 90), rect)
                pygame.display.update(rects)
                filled = time.perf_counter() - start
                if i >= warmup:
                    times.append(took)
                    floor.append(filled)
                    pixels.append(renderer.pixels_drawn - drawn_before)
                    regions.append(len(rects))
            size[kind] = {"render_s": times, "fill_s": floor, "pixels": median(pixels), "regions": median(regions),
                          "text_renders": (renderer.fonts.renders - renders_before) / (warmup + count)}
        # Then calls as an office sees them: each one through its highlight cycle (flashing in both
        # phases, steady, normal), so every colour variant of its texts is drawn and cached.
        for _ in range(cycle_calls):
            mono += 20.0
            _, _, state = series.next()
            board.set_calls(state, now, mono, 10.0)
            board.take_pending()
            for after in (0.0, 0.6, 3.5, 11.0):
                pygame.display.update(renderer.render(board, now, mono + after, None))
        size["cache"] = cache_bytes(renderer.fonts)
        size["calls"] = series.number - 100
        size["rss_kib"] = status_kib(os.getpid(), "VmRSS")
        results[f"{width}x{height}"] = size
    pygame.quit()
    print(json.dumps(results))
    return 0


def measure_render(work: Path, full: int, dirty: int) -> dict[str, Any]:
    with spawn(python("bench.display.render", str(full), str(dirty)), subprocess.PIPE, subprocess.PIPE,
                      env=SDL_ENV) as proc:
        stdout, stderr = proc.communicate(timeout=300)
    (work / "render.log").write_bytes(stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"render benchmark failed ({proc.returncode}):\n{stderr.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return result



if __name__ == "__main__":
    sys.exit(render_main(int(sys.argv[1]), int(sys.argv[2])))
