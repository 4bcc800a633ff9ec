"""The city benchmark (bench/city/) at a tiny scale: it builds the city from the playbook's templates, a
call in the office with the real hub reaches every screen that shows it through office broker, bridge,
central mosquitto, both replicas and nginx. Smoke test only (the growth part runs the same processes
without the hub): the figures are in docs/benchmarks.md; nothing here is timed."""

from __future__ import annotations

from pathlib import Path

from bench.city import report
from bench.city.measure import latency
from bench.city.results import Results


def test_the_city_benchmark_runs_at_a_tiny_scale(tmp_path: Path) -> None:
    results = Results()
    latency(tmp_path / "latency", results, [20], offices=2, updates=2, ampel_share=0.1, interval_s=20.0,
            say=print, deployed=False)

    (level,) = results.levels
    assert (level.ready, level.failed) == (20, 0), level.errors
    # 2 Ampel viewers and the 9 tracking pages of the measured office (18 tracking pages over 2 offices)
    assert level.watchers == 11
    assert level.missing == 0, "a screen did not show a call"
    assert len(level.last) == len(level.bare) == 2
    assert all(first <= last for first, last in zip(level.first, level.last, strict=True))
    assert level.events >= 2 * 11
    assert len(level.central) == 2, "the office's queue did not reach the central broker"
    notes: list[str] = []
    assert any("call → last screen" in r.what for r in report.rows(results, notes))
