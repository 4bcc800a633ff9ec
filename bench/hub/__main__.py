"""`python -m bench.hub`: the hub benchmark on its own (bench/hub/__init__.py says what it measures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bench.hub
from bench.hub.measure import run
from bench.runner import say, standalone
from devtools.stats import Row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub", description=bench.hub.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiting", type=int, default=200, help="queue length (refilled, see above)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per hub phase (TCP_NODELAY)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="client counts")
    parser.add_argument("--presses", type=int, default=300, help="measured presses for next → calls (TCP_NODELAY)")
    parser.add_argument("--shipped-duration", type=float, default=0.0,
                        help="seconds per phase of the Nagle comparison (0: skip it)")
    parser.add_argument("--shipped-presses", type=int, default=60, help="presses, as shipped")

    def part(args: argparse.Namespace, parent: Path, notes: list[str]) -> list[Row]:
        return run(parent, notes=notes, progress=say, waiting=args.waiting, duration=args.duration,
                   clients=tuple(args.clients), presses=args.presses, shipped_duration=args.shipped_duration,
                   shipped_presses=args.shipped_presses)

    return standalone(parser, argv, "wartemarke hub benchmark", part)


if __name__ == "__main__":
    sys.exit(main())
