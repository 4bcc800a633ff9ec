"""A replica's garbage collector (web/cli.py `tune_garbage_collector`): what start-up made is frozen out of
the collector's generations, the thresholds are raised — and the collector still runs by itself, so a
reference cycle made afterwards is still freed. In a fresh interpreter: the test process keeps its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = """
import gc, json, weakref
import web.app  # what a replica's start-up imports and builds
from web.cli import GC_YOUNG, GC_MIDDLE, GC_OLD, tune_garbage_collector

tune_garbage_collector()
frozen = gc.get_freeze_count()

class Node:
    pass

cycle = Node()
cycle.me = cycle  # freed only by the collector, never by reference counting
alive = weakref.ref(cycle)
del cycle
keep = [[] for _ in range(3 * GC_YOUNG)]  # enough new containers for young collections to run by themselves
print(json.dumps({"threshold": gc.get_threshold(), "wanted": [GC_YOUNG, GC_MIDDLE, GC_OLD], "frozen": frozen,
                  "enabled": gc.isenabled(), "cycle_freed": alive() is None}))
"""


def test_a_replica_freezes_start_up_and_still_collects_cycles() -> None:
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["threshold"] == seen["wanted"]
    assert seen["wanted"][0] > 700  # above Python's default: young collections rarer
    assert seen["frozen"] > 10_000  # the modules and objects of start-up
    assert seen["enabled"]
    assert seen["cycle_freed"]  # a young collection ran by itself and freed the cycle
