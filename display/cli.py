"""`wartemarke-display`: run the waiting-room board, or render one board to PNG (snapshot)."""

from __future__ import annotations

import argparse
import queue
import signal
import sys
from pathlib import Path

from display.config import DisplayConfig, load_display_config
from process.clock import SystemClock
from process.startup import add_check_config_command, default_log_level, load_config, report_valid, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wartemarke-display", description=__doc__)
    parser.add_argument("--log-level", default=default_log_level())
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the board")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--window", action="store_true", help="a desktop window instead of the configured driver")
    run.add_argument("--snapshot", type=Path, help="write the latest frame as PNG after each redraw")
    snap = sub.add_parser("snapshot", help="render one board to PNG and exit")
    snap.add_argument("--config", type=Path, required=True)
    snap.add_argument("--out", type=Path, required=True)
    snap.add_argument("--sample", action="store_true", help="built-in sample data instead of the broker's")
    snap.add_argument("--wait", type=float, default=3.0, help="seconds to wait for the broker's retained state")
    add_check_config_command(sub)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    config = load_config(load_display_config, args.config, "wartemarke-display")
    if config is None:
        return 2
    if args.command == "check-config":
        return report_valid(args.config)
    if args.command == "snapshot":
        return snapshot(config, args.out, args.sample, args.wait)
    return _run(config, args.window, args.snapshot)


def _run(config: DisplayConfig, window: bool, snapshot_path: Path | None) -> int:
    from display.app import DisplayApp, ScreenError, open_screen

    try:
        screen = open_screen(config, window)
    except ScreenError as exc:
        print(f"wartemarke-display: {exc}", file=sys.stderr)
        return 1
    app = DisplayApp(config, SystemClock(), screen, snapshot=snapshot_path)
    signal.signal(signal.SIGTERM, lambda *_: app.stop())
    signal.signal(signal.SIGINT, lambda *_: app.stop())
    app.run()  # the pygame loop wakes at least once a second, so signals are handled promptly
    return 0


def snapshot(config: DisplayConfig, out: Path, sample: bool, wait_s: float) -> int:
    """One frame from the broker's retained state (or sample data), headless."""
    import dataclasses

    import pygame

    from display.app import DisplayApp, open_screen, save_png
    from display.sample import sample_calls, sample_info, sample_queue

    config = dataclasses.replace(config, video_driver="dummy", chime=False, speech=False)
    clock = SystemClock()
    # A second connection with the display's account: it must not speak for the display (no status).
    app = DisplayApp(config, clock, open_screen(config, window=False), availability=False)
    board, now = app.board, clock.now()
    if sample:
        day = app.board.today(now)
        board.broker_connected = True
        board.set_info(sample_info(day), clock.monotonic())
        board.set_calls(sample_calls(day, now), now, clock.monotonic(), config.highlight_s)
        board.set_queue(sample_queue(day, now), now, clock.monotonic())
        board.take_pending()
    else:
        wanted = {"CallsState", "QueueState", "OfficeInfo"}
        app.link.start()
        deadline = clock.monotonic() + wait_s
        while wanted and clock.monotonic() < deadline:  # until the retained state is in, or the wait is over
            try:
                item = app.inbox.get(timeout=max(0.01, deadline - clock.monotonic()))
            except queue.Empty:
                break
            app.apply(item)
            if item[0] == "message":
                wanted.discard(type(item[1]).__name__)
        if wanted:
            print(f"no retained {', '.join(sorted(wanted))} within {wait_s:.0f} s: drawing what there is",
                  file=sys.stderr)
        app.link.stop()
        board.take_pending()
    app.renderer.render(board, clock.now(), clock.monotonic(), board.stale_reason(clock.now(), clock.monotonic(),
                                                                               config.stale_after_s))
    save_png(app.screen, out)
    print(f"board written to {out} ({app.screen.get_width()}×{app.screen.get_height()})")
    pygame.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
