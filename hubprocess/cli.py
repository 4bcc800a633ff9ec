"""`wartemarke-hub`: run the hub (and its web); statistics, accounts and backups of its database.

Every sub-command reads the whole hub.toml (hubprocess/config.py), so `check-config` and a mistyped
key in `[web]` fail the same way for all of them.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from datetime import date
from pathlib import Path

from hub.accounts import HubAccounts
from hub.store import HubStore
from hubprocess.config import HubProcessConfig, load_hub_process_config
from process.cli import ConfigCli
from process.clock import SystemClock
from process.instance_lock import AlreadyRunning, hold_instance_lock
from process.startup import serve
from protocol.fields import account_name_problem
from web.directory import ROLES


def main(argv: list[str] | None = None) -> int:
    cli = ConfigCli("wartemarke-hub", __doc__, load_hub_process_config)
    cli.command("run", "run the hub", lambda config, _args: _run(config))
    stats = cli.command("stats", "a day's statistics per service and hour", _with_store)
    stats.add_argument("--day", type=date.fromisoformat, required=True)
    stats.add_argument("--office")
    stats.add_argument("--format", choices=("csv", "json"), default="csv")
    stats.add_argument("--calibration", action="store_true",
                       help="per service: the waits told at issue against the actual waits")
    backup = cli.command("backup", "an online copy of the hub's database", _with_store)
    target = backup.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="the backup file")
    target.add_argument("--out-dir", type=Path, help="a folder: hub-YYYYMMDD-HHMMSS.sqlite3, the newest --keep kept")
    backup.add_argument("--keep", type=int, default=14, help="with --out-dir: how many backups to keep")
    users = cli.command("users", "clerk, supervisor and technician accounts", _with_store)
    users.add_argument("action", choices=("add", "remove", "list"))
    users.add_argument("name", nargs="?")
    users.add_argument("--role", choices=ROLES, default="clerk")
    users.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    return cli.main(argv)


def _with_store(config: HubProcessConfig, args: argparse.Namespace) -> int:
    """`stats`, `backup` and `users`: commands on the hub's database."""
    store = HubStore(config.hub.state_dir / "hub.sqlite3")
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
        return _users(HubAccounts(store, ROLES), args.action, args.name, args.role, args.password_stdin)
    finally:
        store.close()


def _timestamped(folder: Path) -> Path:
    from datetime import UTC, datetime

    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"hub-{datetime.now(UTC):%Y%m%d-%H%M%S}.sqlite3"


def _run(config: HubProcessConfig) -> int:
    from hubprocess.app import HubProcess

    try:  # before the database is opened or the broker is connected: a second hub disturbs nothing
        lock = hold_instance_lock(config.hub.state_dir / "hub.lock")
    except (AlreadyRunning, OSError) as exc:
        print(f"wartemarke-hub: not starting: {exc}", file=sys.stderr)
        return 1
    clock = SystemClock()
    running = HubProcess(config, clock)
    try:
        running.start()
    except OSError as exc:  # the web's port is taken by another program, …
        print(f"wartemarke-hub: not starting: {exc}", file=sys.stderr)
        running.hub.stop()
        lock.close()
        return 1
    serving = f"serving {', '.join(o.id for o in config.hub.offices)}"
    return serve(running.stop, running.beats(), max(30.0, 3 * config.hub.tick_s), clock.monotonic,
                 lambda notifier: notifier.ready(serving))


def _stats(config: HubProcessConfig, store: HubStore, day: date, office: str | None, fmt: str,
           calibration: bool) -> int:
    offices = [office] if office else [o.id for o in config.hub.offices]
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


def _users(accounts: HubAccounts, action: str, name: str | None, role: str, password_stdin: bool) -> int:
    if action == "list":
        for user, user_role, created in accounts.listing():
            print(f"{user}\t{user_role}\t{created}")
        return 0
    if not name:
        print("wartemarke-hub users: a user name is needed", file=sys.stderr)
        return 2
    if action == "add" and (problem := account_name_problem(name)) is not None:
        print(f"wartemarke-hub users: {problem}", file=sys.stderr)
        return 2
    if action == "remove":
        found = accounts.remove(name)
        print(f"removed {name}" if found else f"no user {name}")
        return 0 if found else 1
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(f"password for {name}: ")
    try:
        accounts.add(name, role, password)
    except ValueError as exc:
        print(f"wartemarke-hub users: {exc}", file=sys.stderr)
        return 2
    print(f"user {name} ({role}) saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
