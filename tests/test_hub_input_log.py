"""The hub's input log across versions: a hub upgraded in the middle of a day replays the log its older
version wrote to the same state, and writes every kind of input just as that version did (so a rollback
replays it too).

tests/data/hub-log-2026-11-24.json is the `inputs` table as the hub wrote it for `scenario()` before the
inputs became typed (commit 8c42811, `Input(kind, at, payload)` with dict payloads), one row per input:
[kind, at, payload as stored].
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from devtools.hub_harness import issued, write_hub_config
from hub.config import load_hub_config
from hub.engine import ToldWait
from hub.runtime import OfficeRuntime
from hub.store import HubStore
from protocol.messages import CommandRequest, TicketVoided

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 11, 24)
OLD_LOG = Path(__file__).parent / "data" / "hub-log-2026-11-24.json"
HOURS = "\n".join(f'{d} = ["08:00-16:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def runtime(directory: Path) -> OfficeRuntime:
    config = load_hub_config(write_hub_config(directory, 1883, "log-office", hours=HOURS))
    store = HubStore(config.state_dir / "hub.sqlite3")
    office = OfficeRuntime(config.offices[0], store)
    office.start(at(7, 50))
    return office


def scenario(office: OfficeRuntime) -> None:
    """A day with every kind of input: tickets issued and voided, one of another day (refused), counter
    and office commands, what tickets were told, a service that ran out, and closing time."""
    for n in range(1, 6):
        event = issued(DAY, f"A{n:03d}", n, at=at(8, n))
        office.ticket(type(event)(**{**event.__dict__, "id": f"ticket-{n:04d}"}), at(8, n))
    office.ticket(TicketVoided(id="ticket-0006", reason="printer: paper out", service="P", number=1, label="P001",
                               day=DAY, device="kiosk-1", seq=6), at(8, 6))
    stale = issued(DAY - timedelta(days=1), "A099", 7, at=at(8, 7))
    office.ticket(type(stale)(**{**stale.__dict__, "id": "ticket-0007"}), at(8, 7))
    office.told({"ticket-0002": ToldWait("A", 12.5, 8.0, 20.0), "ticket-0003": ToldWait("A", 25.0, 15.0, 41.0)},
                at(8, 8))
    for n, (counter, op, args) in enumerate([("platz-1", "next", {}), ("platz-2", "next", {}),
                                             ("platz-1", "no_show", {}), ("platz-1", "reactivate", {"label": "A001"}),
                                             ("platz-2", "transfer", {"service": "P"}), ("platz-2", "pause", {}),
                                             ("platz-2", "resume", {}), ("platz-1", "done", {})]):
        office.counter_command(counter, CommandRequest(f"request-{n:04d}", op, args), at(9, n))
    office.office_command(CommandRequest("request-0100", "announce", {"text": "Heute bis 16 Uhr 🙂"}), at(10))
    office.office_command(CommandRequest("request-0101", "close_service", {"service": "P"}), at(10, 1))
    office.sold_out("A", at(11))
    office.tick(at(16, 0))  # closing time: the waiting tickets are closed out


def stored_rows(office: OfficeRuntime) -> list[list[str]]:
    rows = office.store.db.execute("SELECT kind, at, payload FROM inputs ORDER BY seq").fetchall()
    return [list(row) for row in rows]


def old_rows() -> list[list[str]]:
    rows: list[list[str]] = json.loads(OLD_LOG.read_text("utf-8"))
    return rows


def test_a_log_of_the_older_version_replays_to_the_same_state(tmp_path: Path) -> None:
    live = runtime(tmp_path / "live")
    scenario(live)
    upgraded = tmp_path / "upgraded"
    db = sqlite3.connect(runtime(upgraded).store.path)  # the schema, then today's log as the old hub wrote it
    db.executemany("INSERT INTO inputs (office, day, at, kind, payload) VALUES ('log-office', ?, ?, ?, ?)",
                   [(DAY.isoformat(), when, kind, payload) for kind, when, payload in old_rows()])
    db.commit()
    db.close()
    replayed = runtime(upgraded)  # the upgraded hub starts mid-day: it replays the stored log
    assert len(replayed.engine.tickets) == 6 and replayed.engine.closed_out and replayed.engine.told
    assert replayed.engine == live.engine


def test_every_kind_of_input_is_stored_as_the_older_version_stored_it(tmp_path: Path) -> None:
    """So a hub rolled back to the older version replays what this one wrote."""
    live = runtime(tmp_path)
    scenario(live)
    assert {kind for kind, _, _ in old_rows()} == {"ticket", "refused", "told", "counter", "office", "sold_out",
                                                   "close_out"}
    assert stored_rows(live) == old_rows()
