"""`python -m bench.city`: the city benchmark on its own (bench/city/__init__.py says what it measures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bench.city
from bench.city.measure import CLIENT_PROCESSES, run
from bench.runner import say, standalone
from devtools.stats import Row


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The city's options (`prefix` "city-" inside `python -m bench`)."""
    parser.add_argument(f"--{prefix}streams", type=int, nargs="*", default=[1000, 5000, 20000],
                        help="event stream counts for office change → last screen (none: skip)")
    parser.add_argument(f"--{prefix}offices", type=int, default=23, help="offices of that city (one with a real hub)")
    parser.add_argument(f"--{prefix}growth", type=int, nargs="*", default=[1, 23, 100],
                        help="simulated office counts for the central broker's growth (none: skip)")
    parser.add_argument(f"--{prefix}growth-streams", type=int, default=1000, help="streams open in the growth part")
    parser.add_argument(f"--{prefix}updates", type=int, default=20, help="calls measured per stream count")
    parser.add_argument(f"--{prefix}window", type=float, default=20.0,
                        help="seconds per CPU window (growth; one change of every office on average)")
    parser.add_argument(f"--{prefix}ampel-share", type=float, default=0.1, help="share of streams on the Ampel")
    parser.add_argument(f"--{prefix}interval", type=float, default=20.0,
                        help="seconds between two changes of one simulated office")
    parser.add_argument(f"--{prefix}connect-deadline", type=float, default=300.0,
                        help="seconds to open the streams; those not open by then are left out (and reported)")
    parser.add_argument(f"--{prefix}no-deployed", action="store_true",
                        help="skip asking nginx as the role leaves it for streams")
    parser.add_argument(f"--{prefix}client-processes", type=int, default=CLIENT_PROCESSES,
                        help="client processes the citizens' streams are spread over")
    parser.add_argument(f"--{prefix}full-handshakes", action="store_true",
                        help="no TLS session resumption: every stream makes a full handshake")


def options(args: argparse.Namespace, prefix: str = "") -> dict[str, object]:
    p = prefix.replace("-", "_")
    return {"levels": getattr(args, f"{p}streams"), "offices": getattr(args, f"{p}offices"),
            "growth_offices": getattr(args, f"{p}growth"), "growth_streams": getattr(args, f"{p}growth_streams"),
            "updates": getattr(args, f"{p}updates"), "window_s": getattr(args, f"{p}window"),
            "ampel_share": getattr(args, f"{p}ampel_share"), "interval_s": getattr(args, f"{p}interval"),
            "deployed": not getattr(args, f"{p}no_deployed"), "deadline_s": getattr(args, f"{p}connect_deadline"),
            "processes": getattr(args, f"{p}client_processes"), "resume": not getattr(args, f"{p}full_handshakes")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.city", description=bench.city.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)

    def part(args: argparse.Namespace, parent: Path, notes: list[str]) -> list[Row]:
        return run(parent, notes=notes, progress=say, **options(args))  # type: ignore[arg-type]

    return standalone(parser, argv, "wartemarke city benchmark", part)


if __name__ == "__main__":
    sys.exit(main())
