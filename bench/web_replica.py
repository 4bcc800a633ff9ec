"""A public web replica for the benchmarks: `python -m bench.web_replica run --config X`.

Exactly `python -m web run --config X` (web.cli.main). It used to raise the soft RLIMIT_NOFILE first;
the web now does that itself at start-up (web/gate.py, `raise_open_files_limit`), so this module only
keeps the benchmark's command line the same.
"""

from __future__ import annotations

import sys

from web.gate import raise_open_files_limit


def main(argv: list[str] | None = None) -> int:
    raise_open_files_limit()
    from web.cli import main as web_main

    return web_main(argv)


if __name__ == "__main__":
    sys.exit(main())
