"""`wartemarke-kiosk`: run the kiosk, preview a ticket, or check the hardware (selftest)."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from kiosk.app import Kiosk
from kiosk.config import KioskConfig, load_kiosk_config
from process.clock import SystemClock
from process.startup import (
    add_check_config_command,
    default_log_level,
    load_config,
    report_valid,
    setup_logging,
    wait_for_stop,
)
from process.systemd import Notifier, Watchdog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wartemarke-kiosk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the kiosk")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--simulate", action="store_true",
                     help="mock pins; a line on stdin with a service id presses its button")
    preview = sub.add_parser("preview", help="render a sample ticket to PNG as the printer would print it")
    preview.add_argument("--config", type=Path, required=True)
    preview.add_argument("--out", type=Path, required=True)
    selftest = sub.add_parser("selftest", help="check printer, broker, buttons, LED and clock")
    selftest.add_argument("--config", type=Path, required=True)
    selftest.add_argument("--simulate", action="store_true", help="check with mock pins")
    paper = sub.add_parser("paper-replaced", help="a new paper roll is in: reset the paper estimate")
    paper.add_argument("--config", type=Path, required=True)
    parser.add_argument("--log-level", default=default_log_level())
    add_check_config_command(sub)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    config = load_config(load_kiosk_config, args.config, "wartemarke-kiosk")
    if config is None:
        return 2
    if args.command == "check-config":
        return report_valid(args.config)
    if args.command == "preview":
        return _preview(config, args.out)
    if args.command == "selftest":
        from kiosk.selftest import run_selftest

        return run_selftest(config, simulate=args.simulate)
    if args.command == "paper-replaced":
        from kiosk.store import KioskStore

        store = KioskStore(config.state_dir / "kiosk.sqlite3")
        used = store.roll_count()
        store.reset_roll()
        store.close()
        print(f"paper roll replaced: estimate reset (the old roll had {used} tickets counted)")
        return 0
    return _run(config, simulate=args.simulate)


def _run(config: KioskConfig, simulate: bool) -> int:

    pin_factory = None
    if simulate:
        from gpiozero.pins.mock import MockFactory

        pin_factory = MockFactory()
    clock = SystemClock()
    kiosk = Kiosk(config, clock, pin_factory=pin_factory)
    kiosk.start()
    notifier = Notifier()
    watchdog = Watchdog(notifier, {"print worker": lambda: kiosk.worker_beat, "monitor": lambda: kiosk.monitor_beat,
                                   "delivery": lambda: kiosk.delivery.last_beat}, 30.0, clock.monotonic)
    watchdog.start()
    threading.Thread(target=_ready_when_ready, args=(kiosk, notifier), name="ready", daemon=True).start()
    if simulate:
        from kiosk.simulate import feed_stdin

        threading.Thread(target=feed_stdin, args=(kiosk,), name="stdin-presses", daemon=True).start()
    wait_for_stop()
    notifier.stopping()
    watchdog.stop()
    kiosk.stop()
    return 0


def _ready_when_ready(kiosk: Kiosk, notifier: Notifier) -> None:
    """READY=1 only when a press would print (a new kiosk first resumes numbering from the hub)."""
    notifier.status("waiting for the hub's ack to resume numbering")
    kiosk.ready.wait()
    notifier.ready("ready: a press prints a ticket")


def _preview(config: KioskConfig, out: Path) -> int:
    from kiosk.png_render import render_png
    from kiosk.ticket import TicketContent, ticket_document
    from kiosk.tracking import new_token, qr_link, short_link

    service = config.services[0]
    token = new_token()
    content = TicketContent(
        office_name=config.office_name, label=config.numbering.label(service.id, 42), service_de=service.name_de,
        service_en=service.name_en, issued_at=datetime.now(UTC).astimezone(config.timezone), ahead=7, wait_min=25,
        tracking_url=qr_link(config.tracking_url, token), short_url=short_link(config.tracking_url, token))
    render_png(ticket_document(content)).save(out)
    print(f"sample ticket written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
