"""`wartemarke-hub`: run the hub; statistics, accounts and backups of its database."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from datetime import date
from pathlib import Path

from hub.config import HubConfig, load_hub_config
from process.clock import SystemClock
from process.startup import (
    add_check_config_command,
    default_log_level,
    load_config,
    report_valid,
    setup_logging,
    wait_for_stop,
)
from process.systemd import Notifier, Watchdog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wartemarke-hub", description=__doc__)
    parser.add_argument("--log-level", default=default_log_level())
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the hub")
    run.add_argument("--config", type=Path, required=True)
    stats = sub.add_parser("stats", help="a day's statistics per service and hour")
    stats.add_argument("--config", type=Path, required=True)
    stats.add_argument("--day", type=date.fromisoformat, required=True)
    stats.add_argument("--office")
    stats.add_argument("--format", choices=("csv", "json"), default="csv")
    stats.add_argument("--calibration", action="store_true",
                       help="per service: the waits told at issue against the actual waits")
    backup = sub.add_parser("backup", help="an online copy of the hub's database")
    backup.add_argument("--config", type=Path, required=True)
    target = backup.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="the backup file")
    target.add_argument("--out-dir", type=Path, help="a folder: hub-YYYYMMDD-HHMMSS.sqlite3, the newest --keep kept")
    backup.add_argument("--keep", type=int, default=14, help="with --out-dir: how many backups to keep")
    users = sub.add_parser("users", help="clerk, supervisor and technician accounts")
    users.add_argument("--config", type=Path, required=True)
    users.add_argument("action", choices=("add", "remove", "list"))
    users.add_argument("name", nargs="?")
    users.add_argument("--role", choices=("clerk", "supervisor", "technician"), default="clerk")
    users.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_check_config_command(sub)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    config = load_config(load_hub_config, args.config, "wartemarke-hub")
    if config is None:
        return 2
    if args.command == "check-config":
        return report_valid(args.config)
    if args.command == "run":
        return _run(config)
    from hub.store import HubStore

    store = HubStore(config.state_dir / "hub.sqlite3")
    try:
        if args.command == "stats":
            return _stats(config, store, args.day, args.office, args.format, args.calibration)
        if args.command == "backup":
            out = args.out or _timestamped(args.out_dir)
            store.backup(out)
            print(f"backup written to {out}")
            if args.out_dir is not None:
                for old in sorted(args.out_dir.glob("hub-*.sqlite3"))[:-max(1, args.keep)]:
                    old.unlink()
            return 0
        return _users(store, args.action, args.name, args.role, args.password_stdin)
    finally:
        store.close()


def _timestamped(folder: Path) -> Path:
    from datetime import UTC, datetime

    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"hub-{datetime.now(UTC):%Y%m%d-%H%M%S}.sqlite3"


def _run(config: HubConfig) -> int:
    from hub.app import Hub

    clock = SystemClock()
    hub = Hub(config, clock)
    hub.start()
    notifier = Notifier()
    beats = {"tick": lambda: hub.beat}
    if hub.web is not None:
        web = hub.web
        beats["web"] = lambda: web.beat
    watchdog = Watchdog(notifier, beats, max(30.0, 3 * config.tick_s), clock.monotonic)
    watchdog.start()
    notifier.ready(f"serving {', '.join(o.id for o in config.offices)}")
    wait_for_stop()
    notifier.stopping()
    watchdog.stop()
    hub.stop()
    return 0


def _stats(config: HubConfig, store: object, day: date, office: str | None, fmt: str, calibration: bool) -> int:
    from hub.store import HubStore

    assert isinstance(store, HubStore)
    offices = [office] if office else [o.id for o in config.offices]
    rows = []
    for office_id in offices:
        summary = store.daily_stats(office_id, since=day).get(day)
        if summary is None:
            print(f"no statistics for {office_id} on {day} (days are summarised when they end)", file=sys.stderr)
            continue
        if calibration:
            rows += [{"office": office_id, "day": day.isoformat(), "service": service, **figures}
                     for service, figures in summary.get("calibration", {}).items()]
            continue
        for row in summary["hours"]:
            rows.append({"office": office_id, "day": day.isoformat(), **{k: v for k, v in row.items()
                                                                           if k != "wait_min"},
                         "wait_p50_min": row["wait_min"]["p50"], "wait_p90_min": row["wait_min"]["p90"]})
    if fmt == "json":
        print(json.dumps(rows, indent=2))
    elif rows:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0 if rows else 1


def _users(store: object, action: str, name: str | None, role: str, password_stdin: bool) -> int:
    from hub.accounts import add_user, list_users, remove_user
    from hub.store import HubStore

    assert isinstance(store, HubStore)
    if action == "list":
        for user, user_role, created in list_users(store):
            print(f"{user}\t{user_role}\t{created}")
        return 0
    if not name:
        print("wartemarke-hub users: a user name is needed", file=sys.stderr)
        return 2
    if action == "remove":
        found = remove_user(store, name)
        print(f"removed {name}" if found else f"no user {name}")
        return 0 if found else 1
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(f"password for {name}: ")
    try:
        add_user(store, name, role, password)
    except ValueError as exc:
        print(f"wartemarke-hub users: {exc}", file=sys.stderr)
        return 2
    print(f"user {name} ({role}) saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
