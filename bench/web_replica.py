"""A public web replica for the benchmarks: `python -m bench.web_replica run --config X`.

Exactly `python -m web run --config X` (web.cli.main), after raising this process's soft limit on open
files (RLIMIT_NOFILE) to its hard limit: one server-sent-event client is one socket, and the usual
soft limit of 1024 would stop the replica long before 5,000 clients. Nothing else is changed.
"""

from __future__ import annotations

import resource
import sys

#: More than any benchmark needs; the kernel's nr_open caps the hard limit anyway.
WANTED_FILES = 1 << 20


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE as far as the hard limit allows; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = WANTED_FILES if hard == resource.RLIM_INFINITY else min(hard, WANTED_FILES)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def main(argv: list[str] | None = None) -> int:
    raise_open_files_limit()
    from web.cli import main as web_main

    return web_main(argv)


if __name__ == "__main__":
    sys.exit(main())
