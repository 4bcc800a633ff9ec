"""`wartemarke-kiosk`: run the kiosk, preview a ticket, or check the hardware (selftest)."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from kiosk.app import Kiosk
from kiosk.config import KioskConfig, load_kiosk_config
from language.catalogue import translator
from process.cli import ConfigCli
from process.clock import SystemClock
from process.startup import serve
from process.systemd import Notifier


def main(argv: list[str] | None = None) -> int:
    cli = ConfigCli("wartemarke-kiosk", __doc__, load_kiosk_config)
    run = cli.command("run", "run the kiosk", lambda config, args: _run(config, args.simulate))
    run.add_argument("--simulate", action="store_true",
                     help="mock pins; a line on stdin with a service id presses its button")
    preview = cli.command("preview", "render a sample ticket to PNG as the printer would print it",
                          lambda config, args: _preview(config, args.out))
    preview.add_argument("--out", type=Path, required=True)
    selftest = cli.command("selftest", "check printer, broker, buttons, LED and clock", _selftest)
    selftest.add_argument("--simulate", action="store_true", help="check with mock pins")
    cli.command("paper-replaced", "a new paper roll is in: reset the paper estimate",
                lambda config, _args: _paper_replaced(config))
    return cli.main(argv)


def _selftest(config: KioskConfig, args: argparse.Namespace) -> int:
    from kiosk.selftest import run_selftest

    return run_selftest(config, simulate=args.simulate)


def _paper_replaced(config: KioskConfig) -> int:
    from kiosk.store import KioskStore

    store = KioskStore(config.state_dir / "kiosk.sqlite3")
    used = store.roll_count()
    store.reset_roll()
    store.close()
    print(f"paper roll replaced: estimate reset (the old roll had {used} tickets counted)")
    return 0


def _run(config: KioskConfig, simulate: bool) -> int:
    pin_factory = None
    if simulate:
        from gpiozero.pins.mock import MockFactory

        pin_factory = MockFactory()
    extra = (config.ticket_language,) if config.ticket_language else ()
    for lang in {"de", "en", *extra, *config.speech.languages}:
        translator(lang)  # read the ticket's and the voice's catalogues now: the first press must not wait
    clock = SystemClock()
    kiosk = Kiosk(config, clock, pin_factory=pin_factory)
    kiosk.start()
    if simulate:
        from kiosk.simulate import feed_stdin

        threading.Thread(target=feed_stdin, args=(kiosk,), name="stdin-presses", daemon=True).start()
    beats = {"print worker": lambda: kiosk.worker_beat, "monitor": lambda: kiosk.monitor_beat,
             "delivery": lambda: kiosk.delivery.last_beat}
    return serve(kiosk.stop, beats, 30.0, clock.monotonic, lambda notifier: threading.Thread(
        target=_ready_when_ready, args=(kiosk, notifier), name="ready", daemon=True).start())


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
