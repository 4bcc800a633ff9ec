"""The city benchmark (`python -m bench.city`, bench/city/) at a tiny scale, run as `make bench` runs it: it
builds the city from the playbook's templates, and a call in the office with the real hub reaches every
screen that shows it through office broker, bridge, central mosquitto, both replicas and nginx. Smoke test
only (tests never import bench): the figures are in docs/benchmarks.md; nothing here is timed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_city_benchmark_runs_at_a_tiny_scale(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "bench.city", "--streams", "20", "--offices", "2", "--growth",
                          "--updates", "2", "--no-deployed"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "BENCH_TMPDIR": str(tmp_path)}, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    # 2 Ampel viewers and the 9 tracking pages of the measured office (18 tracking pages over 2 offices)
    assert "call → last screen, p50 / p99 (2 calls, 11 screens each)" in out, out
    assert re.search(r"not opened within the deadline; time to open them\s+20 / 0 / 0;", out), out
    assert "did not show a call" not in out, out
    queue_row = re.search(r"the office's new queue at the central broker .*?\s{2,}(\S+ ms) / (\S+ ms)", out)
    assert queue_row, out


def test_the_push_benchmark_runs_through_the_city_at_a_tiny_scale(tmp_path: Path) -> None:
    """`python -m bench.push --city`: the notifier from the web role's template on the central broker, the
    subscriptions through nginx's /push/, each call's push beside its tracking page through nginx."""
    run = subprocess.run([sys.executable, "-m", "bench.push", "--city", "--offices", "2", "--tickets", "5",
                          "--calls", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "BENCH_TMPDIR": str(tmp_path)}, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert re.search(r"city: call → Web Push POST, p50 / p99 \(2 calls\)\s+\S+ ms / \S+ ms\s+SSE via replica", out), out
    assert re.search(r"calls whose stream did not say `called`\s+0\s", out), out
    assert "10 subscriptions through nginx" in out, out
    assert re.search(r"subscriptions the notifier holds \(its SQLite\)\s+10\s", out), out
    taken = re.search(r"push messages taken .*?\s{2,}(\d+) / (\d+)", out)
    assert taken and int(taken.group(1)) >= 2 and taken.group(2) == "0", out
