"""The public replica under test: its config, and its process — `python -m bench.web.replica run --config X`
is exactly `python -m web run --config X` (web.cli.main). It used to raise the soft RLIMIT_NOFILE first;
the web now does that itself at start-up (web/gate.py, `raise_open_files_limit`), so `main` only keeps the
benchmark's command line the same."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

from bench.runner import child, python
from bench.web.payloads import OFFICES
from devtools.broker import free_port
from web.gate import raise_open_files_limit


def write_replica_config(directory: Path, web_port: int, broker_port: int) -> Path:
    offices = ", ".join(f'"{o}"' for o, _ in OFFICES)
    path = directory / "web.toml"
    path.write_text(textwrap.dedent(f"""\
        [replica]
        device = "web-bench"

        [web]
        offices = [{offices}]
        host = "127.0.0.1"
        port = {web_port}
        public_url = "http://127.0.0.1:{web_port}"
        operator = "Landeshauptstadt Musterstadt"
        access_log = true
        max_streams_per_client = 0  # the benchmark's thousands of clients share one address (no nginx here)

        [broker]
        host = "127.0.0.1"
        port = {broker_port}
        reconnect_max_s = 1
    """), encoding="utf-8")
    return path


@contextlib.contextmanager
def replica_process(directory: Path, broker_port: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    config = write_replica_config(directory, port, broker_port)
    with child(python("bench.web.replica", "run", "--config", str(config)), directory / "replica.log",
               env={"WARTEMARKE_LOG_LEVEL": "INFO"}, timeout=20) as proc:
        yield proc, port



def main(argv: list[str] | None = None) -> int:
    raise_open_files_limit()
    from web.cli import main as web_main

    return web_main(argv)


if __name__ == "__main__":
    sys.exit(main())
