"""`python -m bench.web`: the web benchmark on its own (bench/web/__init__.py says what it measures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bench.web
from bench.runner import say, standalone
from bench.web.measure import run
from devtools.stats import Row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=bench.web.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="*", default=[1000, 5000], help="Ampel SSE client counts")
    parser.add_argument("--wrk-seconds", type=float, default=10.0, help="seconds per wrk run")

    def part(args: argparse.Namespace, parent: Path, notes: list[str]) -> list[Row]:
        return run(parent, notes=notes, progress=say, clients=args.clients, wrk_seconds=args.wrk_seconds)

    return standalone(parser, argv, "wartemarke web benchmark", part)


if __name__ == "__main__":
    sys.exit(main())
