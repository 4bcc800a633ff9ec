"""`wartemarke-notifier run|generate-key --config PATH`: Web Push for the tracking pages of a city's offices."""

from __future__ import annotations

import argparse
import sys

from notifier.app import Notifier
from notifier.config import NotifierConfig, load_notifier_config
from notifier.sender import generate_key, load_vapid, public_key
from process.cli import ConfigCli
from process.clock import SystemClock
from process.startup import serve


def main(argv: list[str] | None = None) -> int:
    cli = ConfigCli("wartemarke-notifier", __doc__, load_notifier_config)
    cli.command("run", "send the notifications", lambda config, _args: _run(config))
    keys = cli.command("generate-key", "make the VAPID key pair (vapid_key_file) and print the public key", _generate)
    keys.add_argument("--force", action="store_true", help="replace an existing key (every subscription "
                      "made with the old one stops working)")
    cli.command("public-key", "print the public VAPID key (the pages' applicationServerKey)",
                lambda config, _args: _print_key(config))
    return cli.main(argv)


def _generate(config: NotifierConfig, args: argparse.Namespace) -> int:
    if config.vapid_key_file.exists() and not args.force:
        print(f"wartemarke-notifier: {config.vapid_key_file} exists; --force replaces it", file=sys.stderr)
        return 1
    print(public_key(generate_key(config.vapid_key_file)))
    return 0


def _print_key(config: NotifierConfig) -> int:
    if not _key_exists(config):
        return 2
    print(public_key(load_vapid(config.vapid_key_file)))
    return 0


def _key_exists(config: NotifierConfig) -> bool:
    if config.vapid_key_file.exists():
        return True
    print(f"wartemarke-notifier: {config.path}: notifier.vapid_key_file {config.vapid_key_file} does not exist; "
          f"run `wartemarke-notifier generate-key --config {config.path}`", file=sys.stderr)
    return False


def _run(config: NotifierConfig) -> int:
    if not _key_exists(config):
        return 2
    notifier = Notifier(config, SystemClock())
    notifier.start()
    return serve(notifier.stop, {"notifier": lambda: notifier.beat}, 90.0, notifier.clock.monotonic,
                 lambda systemd: systemd.ready(f"notifying for {', '.join(config.offices)} on port {config.port}"))


if __name__ == "__main__":
    sys.exit(main())
