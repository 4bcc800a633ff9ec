"""The command line every wartemarke program shares: `--log-level`, sub-commands that read a config file
(`--config FILE`, validated before anything runs) and `check-config`, with which the playbook validates
every config it writes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from process.config import ConfigError
from process.startup import default_log_level, setup_logging

T = TypeVar("T")
Handler = Callable[[T, argparse.Namespace], int]  # a sub-command: the validated config, the arguments → exit code


def load_config(load: Callable[[Path], T], path: Path, prog: str) -> T | None:
    """The validated config, or None after printing the error (file and key named) for the technician."""
    try:
        return load(path)
    except ConfigError as exc:
        print(f"{prog}: configuration error: {exc}", file=sys.stderr)
        return None


class ConfigCli(Generic[T]):
    """`prog [--log-level L] COMMAND --config FILE …`: exit code 2 when the config is not valid."""

    def __init__(self, prog: str, description: str | None, load: Callable[[Path], T]) -> None:
        self.prog, self.load = prog, load
        self.parser = argparse.ArgumentParser(prog=prog, description=description)
        self.parser.add_argument("--log-level", default=default_log_level())
        self._commands = self.parser.add_subparsers(dest="command", required=True)
        self._handlers: dict[str, Handler[T]] = {}

    def command(self, name: str, summary: str, handler: Handler[T]) -> argparse.ArgumentParser:
        """A sub-command with `--config`; add its own arguments to the parser returned."""
        parser = self._commands.add_parser(name, help=summary)
        parser.add_argument("--config", type=Path, required=True)
        self._handlers[name] = handler
        return parser

    def main(self, argv: list[str] | None = None) -> int:
        self.command("check-config", "validate the config file and exit (the error names file and key)",
                     lambda _config, args: _report_valid(args.config))
        args = self.parser.parse_args(argv)
        setup_logging(args.log_level)
        config = load_config(self.load, args.config, self.prog)
        if config is None:
            return 2
        return self._handlers[args.command](config, args)


def _report_valid(path: Path) -> int:
    print(f"{path}: valid")
    return 0
