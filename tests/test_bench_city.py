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
