"""`python -m bench.display`: the display benchmark on its own (bench/display/__init__.py says what it
measures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bench.display
from bench.display.measure import run
from bench.runner import say, standalone
from devtools.stats import Row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.display", description=bench.display.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="calls for the call → frame latency")

    def part(args: argparse.Namespace, parent: Path, notes: list[str]) -> list[Row]:
        return run(parent, notes=notes, progress=say, calls=args.calls)

    return standalone(parser, argv, "wartemarke display benchmark", part)


if __name__ == "__main__":
    sys.exit(main())
