"""The daily open-data archive (`wartemarke-archive`, archive/): the real process, a real mosquitto, real hubs
publishing their queue, the files read over real HTTP. Plus the table's rules (archive/table.py) on
hand-made queue states: where a state lands, that a repeat or an older state counts nothing.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.table import FIELDS, Archive
from devtools.broker import Broker, free_port, make_recorder
from devtools.hub_harness import issued, payload, write_hub_config
from hub.app import Hub
from protocol import topics
from protocol.messages.info import OfficeInfo, ServiceInfo
from protocol.messages.queue import QueueState, Ratings, ServiceQueue
from tests.city_harness import start_program, stop_program
from tests.fault_harness import start_hub, start_replica
from tests.web_harness import get, random_token, wait_until

BIN = Path(sys.executable).parent
BERLIN = ZoneInfo("Europe/Berlin")


def write_archive_config(directory: Path, broker_port: int, offices: list[str], http_port: int,
                         extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "archive.toml"
    path.write_text(textwrap.dedent(f"""
        [archive]
        device = "archive-1"
        offices = {json.dumps(offices)}
        directory = "files"
        interval_min = 1
        flush_s = 1
        port = {http_port}
        attribution = "Stadt Teststadt"
        {extra}

        [broker]
        host = "127.0.0.1"
        port = {broker_port}
        reconnect_max_s = 1
    """), encoding="utf-8")
    return path


class ArchiveProcess:
    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self.log = config.parent / "archive.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/archive/"

    def start(self) -> None:
        self.process = start_program("wartemarke-archive", self.config, self.log)
        wait_until(lambda: self._healthy(), timeout=30, what=f"the archive to serve (log: {self.log})")

    def _healthy(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        try:
            return get(f"http://127.0.0.1:{self.port}/healthz").status == 200
        except OSError:
            return False

    def stop(self) -> None:
        stop_program(self.process)

    def rows(self, day: date) -> list[dict[str, str]]:
        reply = get(f"{self.url}{day.isoformat()}.csv")
        if reply.status != 200:
            return []
        return list(csv.DictReader(io.StringIO(reply.text)))


@pytest.fixture
def city(tmp_path: Path, broker: Broker) -> Iterator[tuple[dict[str, Hub], ArchiveProcess]]:
    """Two offices' hubs on one broker (as the central broker carries them) and the archive of both."""
    hubs: dict[str, Hub] = {}
    rec = make_recorder(broker, ["wartemarke/v1/+/device/+/status"])
    port = free_port()
    archive = ArchiveProcess(write_archive_config(tmp_path / "archive", broker.port, ["t-ost", "t-west"], port), port)
    try:
        for office in ("t-ost", "t-west"):
            config = write_hub_config(tmp_path / office, broker.port, office)
            text = config.read_text().replace('device = "hub-test"', f'device = "{office}-hub"')
            config.write_text(text.replace('name = "Bürgerbüro Test"', f'name = "Bürgerbüro {office}"'))
            hubs[office] = start_hub(config, rec)
        archive.start()
        yield hubs, archive
    finally:
        archive.stop()
        for hub in hubs.values():
            hub.stop()
        rec.close()


def issue(broker: Broker, hub: Hub, office: str, seq: int) -> str:
    token = random_token()
    day = hub.runtimes[office].engine.day
    with make_recorder(broker, []) as kiosk:
        kiosk.publish(topics.kiosk_ticket(office, "kiosk-1"), payload(issued(day, f"A{seq:03d}", seq, token=token)))
    return token


def test_the_archive_writes_and_serves_a_csv_per_day_of_every_office(
        city: tuple[dict[str, Hub], ArchiveProcess], broker: Broker) -> None:
    hubs, archive = city
    day = hubs["t-ost"].runtimes["t-ost"].engine.day
    tokens = [issue(broker, hubs["t-ost"], "t-ost", seq) for seq in (1, 2, 3)]

    def ost_a() -> dict[str, str] | None:
        rows = [r for r in archive.rows(day) if r["office"] == "t-ost" and r["service"] == "A"]
        return rows[-1] if rows and rows[-1]["waiting"] == "3" else None

    row = wait_until(ost_a, timeout=30, what="office t-ost's three tickets in today's file")
    assert row["office_name"] == "Bürgerbüro t-ost" and row["service_name"] == "Allgemeine Anliegen"
    assert row["date"] == day.isoformat() and row["issuing"] == "true" and row["ampel"] in ("green", "yellow", "red")
    assert int(row["waiting_max"]) >= 3 and row["expected_wait_min"] != "" and int(row["samples"]) >= 1
    start, end = (datetime.strptime(row[k], "%H:%M") for k in ("interval_start", "interval_end"))
    assert (end - start).seconds == 60 or row["interval_end"] == "00:00"
    assert datetime.fromisoformat(row["updated_at"]).astimezone(BERLIN).strftime("%H:%M") == row["interval_start"]
    reply = get(f"{archive.url}{day.isoformat()}.csv")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.text.splitlines()[0] == ",".join(FIELDS)
    assert {r["office"] for r in csv.DictReader(io.StringIO(reply.text))} == {"t-ost", "t-west"}  # all offices
    for token in tokens:  # no personal data: no token, no token hash
        assert token not in reply.text and topics.token_hash(token) not in reply.text
    assert 'rel="license"' in reply.headers["link"]
    index = get(archive.url).json()
    assert index["licence"]["name"] == "Datenlizenz Deutschland – Namensnennung – Version 2.0"
    assert index["attribution"] == "Stadt Teststadt" and index["fields"] == list(FIELDS)
    assert index["days"][0]["date"] == day.isoformat() and index["days"][0]["url"].endswith(f"{day}.csv")
    assert get(f"{archive.url}1999-01-01.csv").status == 404
    assert get(f"{archive.url}..%2Fhub.toml").status == 404
    assert get(f"{archive.url}{day}.csv.tmp").status == 404
    head = get(f"{archive.url}{day.isoformat()}.csv", method="HEAD")  # nginx passes HEAD on as HEAD
    assert head.status == 200 and head.text == "" and head.headers["content-type"].startswith("text/csv")
    for method in ("OPTIONS", "POST", "DELETE"):
        refused = get(archive.url, method=method)
        assert refused.status == 405 and refused.json() == {"error": "method not allowed"}, (method, refused.text)
        assert refused.headers["allow"] == "GET, HEAD"
    too_long = get(f"{archive.url}{'9' * 70_000}.csv")  # refused by the HTTP parser: JSON too, no HTML page
    assert too_long.status == 414 and too_long.json() == {"error": "request-uri too long"}
    assert "Python" not in too_long.headers["server"]


def test_a_restarted_archive_keeps_the_days_earlier_rows_and_survives_bad_messages(
        city: tuple[dict[str, Hub], ArchiveProcess], broker: Broker) -> None:
    hubs, archive = city
    day = hubs["t-west"].runtimes["t-west"].engine.day
    issue(broker, hubs["t-west"], "t-west", 1)
    wait_until(lambda: any(r["office"] == "t-west" and r["waiting"] == "1" for r in archive.rows(day)), timeout=30,
               what="t-west's ticket in the file")
    before = archive.rows(day)
    archive.stop()
    with make_recorder(broker, []) as forger:  # junk on a topic it reads: logged and dropped
        forger.publish(topics.queue("t-unknown"), b"{}")
    archive.start()
    with make_recorder(broker, []) as forger:
        forger.publish(topics.queue("t-west"), b"not json")
        forger.publish(topics.queue("t-west"), json.dumps({"day": "x"}).encode())
    issue(broker, hubs["t-west"], "t-west", 2)
    wait_until(lambda: any(r["office"] == "t-west" and r["waiting"] == "2" for r in archive.rows(day)), timeout=30,
               what="t-west's second ticket after the restart")
    after = {(r["office"], r["service"], r["interval_start"]): r for r in archive.rows(day)}
    for row in before:  # every earlier interval is still there, its samples not lost
        kept = after[(row["office"], row["service"], row["interval_start"])]
        assert int(kept["samples"]) >= int(row["samples"])
    assert archive.process is not None and archive.process.poll() is None
    assert "dropped" in archive.log.read_text() or "invalid" in archive.log.read_text().lower()


def test_a_replicas_metrics_name_the_archive_and_the_replica_by_their_roles(
        city: tuple[dict[str, Hub], ArchiveProcess], broker: Broker, tmp_path: Path) -> None:
    """The city's Prometheus scrapes each replica (operations.md §9), whose /metrics carry the device statuses
    of the central broker: the archive and the replica itself with their roles, not `unknown` or `web`."""
    replica, url = start_replica(tmp_path / "replica", "t-ost", broker.port)
    try:
        def online() -> list[str]:
            return [line for line in get(f"{url}/metrics").text.splitlines()
                    if line.startswith("wartemarke_device_online{")]

        wait_until(lambda: len(online()) >= 3, what="the hub's, the archive's and the replica's status")
        assert set(online()) == {f'wartemarke_device_online{{office="t-ost",device="{device}",role="{role}"}} 1'
                                 for device, role in (("t-ost-hub", "hub"), ("archive-1", "archive"),
                                                      ("web-replica", "replica"))}
    finally:
        replica.stop()


def test_a_config_without_attribution_is_refused_naming_the_key(tmp_path: Path) -> None:
    config = write_archive_config(tmp_path, 1883, ["t-ost"], 8090)
    config.write_text(config.read_text().replace('attribution = "Stadt Teststadt"', ""))
    result = subprocess.run([str(BIN / "wartemarke-archive"), "check-config", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "archive.attribution" in result.stderr and str(config) in result.stderr


# -- the table's rules -------------------------------------------------------------------------------

def state(at: datetime, waiting: int, ampel: str = "green", issuing: bool = True) -> QueueState:
    return QueueState(day=date(2026, 3, 2), at=at, services=(
        ServiceQueue("A", waiting, 5 * waiting, issuing, None if issuing else "capacity", ampel),))


def test_states_land_in_their_own_interval_and_a_repeat_counts_once() -> None:
    table = Archive(15, BERLIN)
    at = datetime(2026, 3, 2, 8, 14, 30, tzinfo=UTC)  # 09:14 in Berlin
    assert table.record("t-ost", state(at, 2))
    assert not table.record("t-ost", state(at, 2))  # the same state again (a retained one after a reconnect)
    assert not table.record("t-ost", state(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), 9))  # older: ignored
    table.record("t-ost", state(datetime(2026, 3, 2, 8, 15, tzinfo=UTC), 7, "red"))
    table.record("t-ost", state(datetime(2026, 3, 2, 8, 20, tzinfo=UTC), 4, "yellow", issuing=False))
    rows = list(csv.DictReader(io.StringIO(table.csv(date(2026, 3, 2)))))
    assert [(r["interval_start"], r["interval_end"], r["samples"]) for r in rows] == [
        ("09:00", "09:15", "1"), ("09:15", "09:30", "2")]
    second = rows[1]
    assert (second["waiting"], second["waiting_max"], second["expected_wait_min"], second["expected_wait_max_min"]) == \
        ("4", "7", "20", "35")
    assert (second["ampel"], second["ampel_worst"], second["issuing"], second["not_issuing_reason"]) == \
        ("yellow", "red", "false", "capacity")
    reloaded = Archive(15, BERLIN)
    reloaded.load(date(2026, 3, 2), table.csv(date(2026, 3, 2)))
    assert reloaded.csv(date(2026, 3, 2)) == table.csv(date(2026, 3, 2))
    assert not reloaded.record("t-ost", state(datetime(2026, 3, 2, 8, 20, tzinfo=UTC), 4))  # known after reload


def test_names_come_from_the_info_even_when_it_arrives_after_the_queue() -> None:
    """Retained messages come in any order: a row begun before the office's info still gets its names."""
    table = Archive(15, BERLIN)
    table.record("t-ost", state(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), 1))
    table.record_info("t-ost", OfficeInfo(day=date(2026, 3, 2), name="Bürgerbüro Ost", timezone="Europe/Berlin",
                                          hours={}, services=(ServiceInfo("A", "Allgemeine Anliegen", "General"),),
                                          counters=()))
    row = next(csv.DictReader(io.StringIO(table.csv(date(2026, 3, 2)))))
    assert (row["office_name"], row["service_name"]) == ("Bürgerbüro Ost", "Allgemeine Anliegen")


def test_the_days_ratings_per_service_are_open_data_and_an_older_file_reads_back() -> None:
    """Issue 15's rating after the visit: counted per office, service and day (never per counter)."""
    table = Archive(15, BERLIN)
    table.record("t-ost", state(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), 3))
    rated = QueueState(day=date(2026, 3, 2), at=datetime(2026, 3, 2, 8, 20, tzinfo=UTC), services=(
        ServiceQueue("A", 2, 10, True, ratings=Ratings((1, 0, 0, 2, 3), 4, 1)),))
    table.record("t-ost", rated)
    text = table.csv(date(2026, 3, 2))
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = ("rating_1", "rating_2", "rating_3", "rating_4", "rating_5", "settled_yes", "settled_no")
    assert [tuple(r[c] for c in columns) for r in rows] == [("0",) * 7, ("1", "0", "0", "2", "3", "4", "1")]
    assert not [c for c in rows[0] if "counter" in c or "clerk" in c]
    reloaded = Archive(15, BERLIN)
    reloaded.load(date(2026, 3, 2), text)
    assert reloaded.csv(date(2026, 3, 2)) == text
    older = "\n".join(",".join(line.split(",")[:17]) for line in text.splitlines()) + "\n"  # before the ratings
    before = Archive(15, BERLIN)
    before.load(date(2026, 3, 2), older)
    assert [r["rating_4"] for r in csv.DictReader(io.StringIO(before.csv(date(2026, 3, 2))))] == ["0", "0"]
