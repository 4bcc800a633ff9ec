"""What every benchmark part does the same way: child processes, its temporary directory, and the
standalone command line that prints the machine, the table and its notes.

A part measures in child processes (the product as deployed, load generators, baselines); each child is
`python -m bench.<part>.<module> …` from the repository, dies with the benchmark (PR_SET_PDEATHSIG) and
is stopped with SIGTERM (then SIGKILL) when the part is done with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from bench.machine import machine_lines
from devtools.children import die_with_parent, stop
from devtools.stats import Row, print_report

ROOT = Path(__file__).resolve().parent.parent
Progress = Callable[[str], None]


def say(message: str) -> None:
    """The default progress line: printed at once (the parts run for minutes)."""
    print(message, flush=True)


def python(module: str, *args: str) -> list[str]:
    """The command line of a child: `python -m module args…` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def spawn(argv: list[str], stdout: IO[bytes] | int | None, stderr: IO[bytes] | int | None = subprocess.STDOUT,
          stdin: int | None = subprocess.DEVNULL, env: Mapping[str, str] | None = None,
          **popen: Any) -> subprocess.Popen[bytes]:
    """A child in the repository, with it on PYTHONPATH, that gets SIGTERM when the benchmark dies."""
    return subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr, cwd=ROOT,
                            env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
                            preexec_fn=die_with_parent, **popen)


@contextlib.contextmanager
def child(argv: list[str], log: Path, stdout_to_log: bool = True, env: Mapping[str, str] | None = None,
          timeout: float = 10.0) -> Iterator[subprocess.Popen[bytes]]:
    """A child for the length of a `with`: its stderr (and stdout, unless the caller reads it) to `log`."""
    with log.open("ab") as out:
        proc = spawn(argv, out if stdout_to_log else subprocess.PIPE, out, env=env)
    try:
        yield proc
    finally:
        stop(proc, timeout)
        if proc.stdout is not None:
            proc.stdout.close()


class LineChild:
    """A child that answers command lines on its stdin with JSON lines on its stdout (load generators:
    event-stream clients, simulated offices); its stderr goes to `log`."""

    def __init__(self, argv: list[str], log: IO[bytes] | int) -> None:
        self.name = argv[2] if len(argv) > 2 else argv[0]
        self.proc = spawn(argv, subprocess.PIPE, log, stdin=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode())
        self.lines.put("")

    def result(self, timeout: float) -> dict[str, Any]:
        """The child's next JSON line."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name} silent for {timeout:.0f} s") from None
        if not line:
            raise RuntimeError(f"{self.name} ended (exit code {self.proc.wait(5)})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()

    def ask(self, line: str, timeout: float) -> dict[str, Any]:
        self.send(line)
        return self.result(timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Closes its stdin (the child's cue to end), then waits; SIGKILL after `timeout` seconds."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


async def stdin_commands() -> AsyncIterator[list[str]]:
    """In a LineChild's child: each line of stdin split into words, until its end or `quit`."""
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        words = (await reader.readline()).decode().split()
        if not words or words[0] == "quit":
            return
        yield words


def wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, log: Path,
               timeout: float = 20.0) -> None:
    """Poll `ready` until it holds; a child that exits or takes too long fails with its log's tail."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
            raise RuntimeError(f"{what} did not get ready (exit code {proc.poll()})\n{tail}")
        time.sleep(0.02)


def sleep_until(deadline: float) -> None:
    """Sleep until time.monotonic() reaches `deadline` (at once when it already has)."""
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def bench_parent() -> Path:
    """Where temporary directories go: BENCH_TMPDIR (docs/benchmarks.md), else the system's."""
    return Path(os.environ.get("BENCH_TMPDIR") or tempfile.gettempdir())


@contextlib.contextmanager
def work_dir(part: str, parent: Path | None = None, keep: bool = False) -> Iterator[Path]:
    """A fresh temporary directory for one part, removed afterwards unless `keep`."""
    work = Path(tempfile.mkdtemp(prefix=f"wartemarke-bench-{part}-", dir=parent or bench_parent()))
    try:
        yield work
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def print_header(title: str, parent: Path) -> None:
    """What the results are worth: the machine, its disk and the date."""
    print(title, flush=True)
    print("\n".join(machine_lines(parent)), flush=True)
    print(flush=True)


Part = Callable[[argparse.Namespace, Path, list[str]], list[Row]]  # arguments, parent dir, notes → rows


def standalone(parser: argparse.ArgumentParser, argv: list[str] | None, title: str, part: Part) -> int:
    """`python -m bench.<part> …`: the header, the part, then its table (`--markdown`: also as Markdown)."""
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)
    parent = bench_parent()
    started = time.monotonic()
    print_header(title, parent)
    notes: list[str] = []
    table = part(args, parent, notes)
    print_report(table, notes, args.markdown, started)
    return 0
