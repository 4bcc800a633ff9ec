"""`wartemarke-display`: run the waiting-room board, or render one board to PNG (snapshot)."""

from __future__ import annotations

import queue
import signal
import sys
from pathlib import Path

from display.config import DisplayConfig, load_display_config
from process.cli import ConfigCli
from process.clock import SystemClock


def main(argv: list[str] | None = None) -> int:
    cli = ConfigCli("wartemarke-display", __doc__, load_display_config)
    run = cli.command("run", "run the board", lambda config, args: _run(config, args.window, args.snapshot))
    run.add_argument("--window", action="store_true", help="a desktop window instead of the configured driver")
    run.add_argument("--snapshot", type=Path, help="write the latest frame as PNG after each redraw")
    snap = cli.command("snapshot", "render one board to PNG and exit",
                       lambda config, args: snapshot(config, args.out, args.sample, args.wait))
    snap.add_argument("--out", type=Path, required=True)
    snap.add_argument("--sample", action="store_true", help="built-in sample data instead of the broker's")
    snap.add_argument("--wait", type=float, default=3.0, help="seconds to wait for the broker's retained state")
    return cli.main(argv)


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
