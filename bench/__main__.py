"""`make bench` — run every benchmark against its same-run baseline and print one table.

    .venv/bin/python -m bench [kiosk] [eta] [--presses 200] [--runs 5] [--markdown]

Parts (each in its own module or package): press-to-last-byte latency (kiosk_latency) and synced
commits per ticket (kiosk_fsync), cold start to ready and RSS (kiosk_startup), ticket size (ticket_size)
— the `kiosk` part; the hub's wait estimates against the Munich/Berlin formula (per office and per
service queue) on both sets of simulated office days, the committed ones and the hard days
(devtools/eta/evaluate.py, devtools/eta/report.py) — the `eta` part; the hub's commands per second and
next → calls latency (bench/hub/) — the `hub` part; the waiting-room display's call → frame latency,
CPU, memory beside headless Chromium, frame render time and wake-up counts (bench/display/) — the
`display` part; server-sent-event fan-out to 5,000 clients, `/api/v1/offices` under wrk and the bytes of the
tracking page, against a public replica in its own process (bench/web/) — the `web` part; a clerk's
latency and /healthz while an attacker holds over 5,000 sockets on the hub's web, beside the same idle
(web_flood) — the `flood` part; one office's change on 1,000 to 20,000 citizens' screens through the city
tier and the central broker's cost per office (bench/city/, options --city-…) — the `city` part. Without a
part name, all parts run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import kiosk_fsync, kiosk_latency, kiosk_startup, ticket_size, web_flood
from bench.city import measure as city_part
from bench.city.__main__ import add_arguments as city_arguments
from bench.city.__main__ import options as city_options
from bench.display import measure as display_part
from bench.hub import measure as hub_part
from bench.runner import bench_parent, print_header, say
from bench.web import measure as web_part
from devtools.broker import Broker
from devtools.eta import evaluate as eta
from devtools.eta.report import bench_rows
from devtools.stats import Row, median, mib, ms, percentile, print_report, ratio, secs

LATENCY_P99_TARGET_S = 0.020
COLD_START_TARGET_S = 1.5
TICKET_TARGET_BYTES = 1024
PARTS = ("kiosk", "eta", "hub", "display", "web", "flood", "city")


def _latency_rows(results: list[kiosk_latency.LatencyResult]) -> list[Row]:
    r = results[0]
    p50, p99 = median(r.latency), percentile(r.latency, 99)
    f50, f99 = median(r.fsync), percentile(r.fsync, 99)
    rows = [
        Row(f"press → last byte, p50 ({r.presses} presses)", ms(p50), f"fsync p50 {ms(f50)}", ratio(p50, f50)),
        Row(f"press → last byte, p99 ({r.presses} presses)", f"{ms(p99)} (max {ms(max(r.latency))})",
            f"fsync p99 {ms(f99)} (max {ms(max(r.fsync))})", ratio(p99, f99), "< 20 ms", p99 < LATENCY_P99_TARGET_S),
        Row("  of which: press → commit start, p50 / p99",
            f"{ms(median(r.before_commit))} / {ms(percentile(r.before_commit, 99))}"),
        Row("  of which: synced commit (allocate), p50 / p99",
            f"{ms(median(r.commit))} / {ms(percentile(r.commit, 99))}", f"fsync {ms(f50)} / {ms(f99)}",
            ratio(median(r.commit), f50)),
        Row("  of which: commit → printer call, p50 / p99",
            f"{ms(median(r.commit_to_print))} / {ms(percentile(r.commit_to_print, 99))}"),
        Row("  of which: render + print, p50 / p99",
            f"{ms(median(r.printing))} / {ms(percentile(r.printing, 99))}"),
        Row("press → kiosk done with it (after print), p50 / p99",
            f"{ms(median(r.handled))} / {ms(percentile(r.handled, 99))}"),
    ]
    for b in results[1:]:
        b50, b99 = median(b.latency), percentile(b.latency, 99)
        g50, g99 = median(b.fsync), percentile(b.fsync, 99)
        rows += [
            Row(f"press → last byte, p50, {b.unacked_at_start}+ unacked (hub offline)", ms(b50),
                f"fsync p50 {ms(g50)}", ratio(b50, g50)),
            Row(f"press → last byte, p99, {b.unacked_at_start}+ unacked (hub offline)",
                f"{ms(b99)} (max {ms(max(b.latency))})", f"fsync p99 {ms(g99)} (max {ms(max(b.fsync))})",
                ratio(b99, g99), "< 20 ms", b99 < LATENCY_P99_TARGET_S),
        ]
    if r.wal_frames_per_commit == r.wal_frames_per_commit:  # not NaN
        if r.autocheckpoint_pages:
            every = r.autocheckpoint_pages / r.wal_frames_per_commit if r.wal_frames_per_commit else float("nan")
            where, when = f"auto-checkpoint at {r.autocheckpoint_pages} pages", f"≈ every {every:.0f} tickets"
        else:
            where, when = "no auto-checkpoint", "the monitor checkpoints between tickets"
        rows.append(Row("WAL frames (pages) written per ticket commit", f"{r.wal_frames_per_commit:.0f}", where,
                        when))
    return rows


def _fsync_rows(r: kiosk_fsync.FsyncResult | None, reason: str, notes: list[str]) -> list[Row]:
    if r is None:
        return [Row("synced commits per ticket (fsync-family calls)", f"not measured: {reason}")]
    per = r.press_calls / r.presses if r.presses else float("nan")
    dist = ", ".join(f"{n}× {k}" for k, n in sorted(r.per_press_histogram.items()))
    odd = r.exceptions()
    notes.append(f"fsync-family calls on the press path by file ({r.presses} tickets): "
                 f"{r.describe_files(r.press_files)}.")
    if odd:
        notes.append("tickets whose press path did not sync exactly the typical count (press #: files): "
                     + "; ".join(f"#{n}: {r.describe_files(files)}" for n, files in odd) + ".")
    if r.other_calls:
        notes.append(f"{r.other_calls} fsync-family calls outside the measured phases (start-up, shutdown).")
    return [
        Row(f"fsync-family calls per ticket, press path ({r.presses} tickets, no ack)",
            f"{r.typical_per_press} (typical)", f"mean {per:.3f}; tickets × calls: {dist}", "", "exactly 1",
            r.typical_per_press == 1),
        Row(f"  one hub ack for all {r.presses} (deletes outbox rows, separate commit)", f"{r.ack_all_calls}",
            r.describe_files(r.ack_all_files)),
        Row(f"  press + its own ack, per ticket ({r.acked_presses} tickets)",
            f"{r.acked_calls / r.acked_presses:.2f}" if r.acked_presses else "n/a",
            r.describe_files(r.acked_files), "", "1 + 1 (ack)"),
    ]


def _startup_rows(r: kiosk_startup.StartupResult, steady_p50: float) -> list[Row]:
    ready, base = median(r.ready_s), median(r.interpreter_s)
    bare = median(r.rss_bare_kib)
    rows = [
        Row(f"cold start → 'ready' (median of {len(r.ready_s)})", secs(ready), f"python -c pass {secs(base)}",
            ratio(ready, base), "< 1.5 s", ready < COLD_START_TARGET_S),
        Row("  slowest cold start", secs(max(r.ready_s, default=float("nan"))), f"python -c pass max "
            f"{secs(max(r.interpreter_s, default=float('nan')))}", "", "< 1.5 s",
            max(r.ready_s, default=0.0) < COLD_START_TARGET_S),
        Row("first press after ready → 'printed' log line (median)", ms(median(r.first_ticket_s)),
            f"later presses: press → last byte p50 {ms(steady_p50)}", ratio(median(r.first_ticket_s), steady_p50)),
        Row("RSS of the kiosk at ready (median)", mib(median(r.rss_ready_kib)), f"bare python -c {mib(bare)}",
            ratio(median(r.rss_ready_kib), bare)),
        Row("RSS after the first ticket (median)", mib(median(r.rss_first_kib)), f"bare python -c {mib(bare)}",
            ratio(median(r.rss_first_kib), bare)),
    ]
    first = median(r.rss_first_kib)
    for printed, kib in sorted(r.rss_after_kib.items()):
        growth = (kib - first) / (printed - 1) if printed > 1 else float("nan")
        rows.append(Row(f"RSS after {printed} tickets ({growth:+.1f} KiB per ticket after the first)", mib(kib),
                        f"bare python -c {mib(bare)}", ratio(kib, bare)))
    idle = sorted(r.idle_cpu.items())
    if idle:
        base_unacked, base_cpu = idle[0]
        for unacked, share in idle:
            rows.append(Row(f"idle CPU, hub offline, {unacked} unacked tickets ({r.idle_window_s:.0f} s)",
                            f"{share * 100:.1f} % of a core",
                            "" if unacked == base_unacked else f"{base_unacked} unacked {base_cpu * 100:.1f} %",
                            "" if unacked == base_unacked else ratio(share, base_cpu)))
        for unacked, lines in sorted(r.idle_log_lines.items()):
            rows.append(Row(f"  log lines in those {r.idle_window_s:.0f} s, {unacked} unacked",
                            f"{lines} ({r.idle_resends.get(unacked, 0)} 're-sending')"))
    return rows


def _ticket_rows(r: ticket_size.TicketSizes) -> list[Row]:
    def transmit(n: int) -> str:
        return f"{ticket_size.serial_seconds(n):.2f} s at 9600 8N1"

    return [
        Row("ticket bytes, native QR (typical)", f"{r.native} B", transmit(r.native),
            f"{r.native / TICKET_TARGET_BYTES:.0%} of 1 KiB", "< 1 KiB", r.native < TICKET_TARGET_BYTES),
        Row("ticket bytes, native QR (largest variant)", f"{r.native_max} B", transmit(r.native_max),
            f"{r.native_max / TICKET_TARGET_BYTES:.0%} of 1 KiB", "< 1 KiB", r.native_max < TICKET_TARGET_BYTES),
        Row("ticket bytes, image QR (typical)", f"{r.image} B", transmit(r.image),
            ratio(r.image, r.native) + " native"),
        Row("  QR payload (upper-case link, alphanumeric mode)", f"{r.qr_payload} chars", r.qr_payload_text),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"which parts to run: {', '.join(PARTS)} "
                        "(default: all)")
    parser.add_argument("--presses", type=int, default=200, help="presses for the latency and fsync parts")
    parser.add_argument("--backlog", type=int, default=300,
                        help="unmeasured presses before the second latency series (0: no second series)")
    parser.add_argument("--runs", type=int, default=5, help="cold starts (and baseline starts)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    city_arguments(parser, "city-")
    args = parser.parse_args(argv)
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    parts = set(args.parts or PARTS)

    work = Path(tempfile.mkdtemp(prefix="wartemarke-bench-", dir=bench_parent()))
    started = time.monotonic()
    print_header("wartemarke benchmarks", work)

    rows: list[Row] = []
    notes: list[str] = []
    eta_text = ""
    try:
        if "kiosk" in parts:
            rows += _kiosk_rows(work, args, notes)
        if "eta" in parts:
            print("[eta] wait estimates on the simulated office days (committed and hard days) …", flush=True)
            texts = []
            for title, make in eta.SETS:
                report = eta.evaluate(make(), title)
                rows += bench_rows(report)
                texts.append(report.text(args.markdown))
                texts.append(eta.evaluate_with_history(report).goal_text(args.markdown))
            per_call, waiting = eta.forecast_runtime()
            rows.append(Row(f"forecast() per call, {waiting} tickets waiting", ms(per_call)))
            eta_text = "\n\n".join(texts)
        if "hub" in parts:
            print("[hub] commands per second and next → calls latency through the broker …", flush=True)
            rows += hub_part.run(directory=work, notes=notes)
        if "display" in parts:
            print("[display] call → frame, CPU, memory beside Chromium, frame render time …", flush=True)
            rows += display_part.run(directory=work, notes=notes, progress=say)
        if "web" in parts:
            print("[web] SSE fan-out to 1,000 and 5,000 clients, /api/v1/offices under wrk, page bytes …", flush=True)
            rows += web_part.run(directory=work, notes=notes, progress=say)
        if "flood" in parts:
            print("[flood] a clerk and /healthz on the hub's web while over 5,000 sockets are held …", flush=True)
            rows += web_flood.run(directory=work, notes=notes)
        if "city" in parts:
            print("[city] office change → last screen through the city tier; central broker per office …", flush=True)
            rows += city_part.run(work, notes, say, **city_options(args, "city-"))  # type: ignore[arg-type]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")

    if eta_text:
        print()
        print(eta_text)
    print_report(rows, notes, args.markdown, started)
    missed = [r.what.strip() for r in rows if r.ok is False]
    if missed:
        print("targets missed: " + "; ".join(missed), file=sys.stderr)
    return 0


PACED_PRESSES = 30  # a press every PACED_GAP_S: the voice has said the last ticket (about 2 s of speech)
PACED_GAP_S = 2.0


def _kiosk_rows(work: Path, args: argparse.Namespace, notes: list[str]) -> list[Row]:
    """The kiosk benchmarks (a private broker, real kiosks)."""
    broker = Broker(work / "broker", persistence=False)
    broker.start()
    rows: list[Row] = []
    try:
        print(f"[1/4] press → last byte: {args.presses} presses, interleaved with fsync probes …", flush=True)
        latency = kiosk_latency.measure(work / "latency", broker.port, args.presses, backlog=args.backlog)
        rows += _latency_rows(latency)
        spoken = kiosk_latency.measure(work / "latency-speech", broker.port, args.presses, speech=True)[0].latency
        quiet = latency[0].latency
        rows.append(Row(f"press → last byte with [speech] on, p50 / p99 ({args.presses} presses)",
                        f"{ms(median(spoken))} / {ms(percentile(spoken, 99))}",
                        f"without speech {ms(median(quiet))} / {ms(percentile(quiet, 99))}",
                        ratio(percentile(spoken, 99), percentile(quiet, 99)), "< 20 ms",
                        percentile(spoken, 99) < LATENCY_P99_TARGET_S))
        paced = {speech: kiosk_latency.measure(work / f"latency-paced-{speech}", broker.port, PACED_PRESSES,
                                               warmup=2, speech=speech, gap_s=PACED_GAP_S)[0].latency
                 for speech in (False, True)}
        rows.append(Row(f"… one press every {PACED_GAP_S:g} s (citizens one after another), p50 / p99 "
                        f"({PACED_PRESSES} presses)", f"{ms(median(paced[True]))} / {ms(percentile(paced[True], 99))}",
                        f"without speech {ms(median(paced[False]))} / {ms(percentile(paced[False], 99))}",
                        ratio(percentile(paced[True], 99), percentile(paced[False], 99)), "< 20 ms",
                        percentile(paced[True], 99) < LATENCY_P99_TARGET_S))

        print(f"[2/4] synced commits per ticket under strace: {args.presses} presses …", flush=True)
        fsync_result, reason = kiosk_fsync.measure(work / "fsync", broker, args.presses, acked_presses=50)
        rows += _fsync_rows(fsync_result, reason, notes)

        print(f"[3/4] cold start and RSS: {args.runs} starts each of the kiosk and of python -c pass …", flush=True)
        startup = kiosk_startup.measure(work / "startup", broker.port, args.runs, presses=50, more_presses=450)
        rows += _startup_rows(startup, median(latency[0].latency))

        print("[4/4] ticket size …", flush=True)
        rows += _ticket_rows(ticket_size.measure())
    finally:
        broker.stop()
    return rows


if __name__ == "__main__":
    sys.exit(main())
