"""wartemarke-hub users/stats/backup and wartemarke-counter, against real SQLite and a real broker."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from devtools.hub_harness import issued, payload, write_hub_config
from hub.accounts import HubAccounts
from hub.app import Hub
from hub.config import load_hub_config
from hub.counter_cli import main as counter_main
from hub.engine import ToldWait
from hub.runtime import OfficeRuntime
from hub.store import HubStore
from hub.views import office_info
from hubprocess.cli import main as hub_main
from hubprocess.config import load_hub_process_config
from process.clock import FakeClock, SystemClock
from process.config import ConfigError
from protocol import topics
from protocol.fields import encode_object
from protocol.messages import CommandRequest, OfficeInfo
from web.directory import ROLES

BERLIN = ZoneInfo("Europe/Berlin")


def test_users_are_stored_with_scrypt_hashes(tmp_path, monkeypatch, capsys):
    config = write_hub_config(tmp_path, 1883, "t-users")
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert hub_main(["users", "--config", str(config), "add", "anna", "--role", "clerk", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert hub_main(["users", "--config", str(config), "add", "bob", "--password-stdin"]) == 2
    assert hub_main(["users", "--config", str(config), "list"]) == 0
    out = capsys.readouterr().out
    assert "anna\tclerk" in out and "bob" not in out
    store = HubStore(load_hub_config(config).state_dir / "hub.sqlite3")
    try:
        [(stored,)] = store.db.execute("SELECT password_hash FROM users").fetchall()
        assert stored.startswith("scrypt$16384$8$1$") and "horse" not in stored
        accounts = HubAccounts(store, ROLES)
        found = accounts.check_login("anna", "correct horse battery")
        assert found is not None and found.role == "clerk"
        assert accounts.check_login("anna", "wrong password") is None
        assert accounts.check_login("nobody", "correct horse battery") is None
    finally:
        store.close()
    assert hub_main(["users", "--config", str(config), "remove", "anna"]) == 0


def test_stats_of_a_finished_day_per_service_and_hour(tmp_path, capsys):
    path = write_hub_config(tmp_path, 1883, "t-stats")
    config = load_hub_config(path)
    store = HubStore(config.state_dir / "hub.sqlite3")
    runtime = OfficeRuntime(config.offices[0], store)
    clock = FakeClock(datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN).astimezone(UTC))
    runtime.start(clock.now())
    day = runtime.engine.day
    for n in range(1, 4):
        runtime.ticket(issued(day, f"A00{n}", n, at=clock.now()), clock.now())
    first, second, third = (t.id for t in runtime.engine.waiting())  # told at issue, as the publisher records it
    runtime.told({first: ToldWait("A", 12, 8, 16), second: ToldWait("A", 25, 18, 34),
                  third: ToldWait("A", 38, 27, 50)}, clock.now())
    clock.advance(600)
    runtime.counter_command("platz-1", CommandRequest("req-0001", "next"), clock.now())
    clock.advance(24 * 3600)
    runtime.tick(clock.now())
    store.close()
    assert hub_main(["stats", "--config", str(path), "--day", "2026-11-24", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["service"], row["hour"], row["issued"], row["called"], row["wait_p50_min"]) == ("A", 9, 3, 1, 10.0)
    # the waits told against the actual ones: A001 was told 12 min and called after 10
    assert hub_main(["stats", "--config", str(path), "--day", "2026-11-24", "--calibration", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    a = next(r for r in rows if r["service"] == "A")
    assert (a["called"], a["median_abs_error_min"], a["bias_min"], a["called_before_share"]) == (1, 2.0, 2.0, 1.0)
    assert a["late_share"] == 0.0 and a["below_range_share"] == 0.0
    assert "token" not in json.dumps(rows)
    assert hub_main(["stats", "--config", str(path), "--day", "2026-11-23"]) == 1


def test_backup_restores_onto_a_spare_hub(tmp_path, shared_broker, recorder_factory, topic_office):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    path = write_hub_config(tmp_path / "main", shared_broker.port, topic_office)
    hub = Hub(load_hub_config(path), SystemClock(assume_synced=True))
    hub.start()
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
        for n in (1, 2):
            rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"),
                        payload(issued(hub.runtimes[topic_office].engine.day, f"A00{n}", n)))
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 2)
        assert hub_main(["backup", "--config", str(path), "--out", str(tmp_path / "backup.sqlite3")]) == 0
    finally:
        hub.stop()
    spare = write_hub_config(tmp_path / "spare", shared_broker.port, topic_office)
    target = load_hub_config(spare).state_dir
    target.mkdir(parents=True)
    shutil.copy(tmp_path / "backup.sqlite3", target / "hub.sqlite3")
    restored = HubStore(target / "hub.sqlite3")
    runtime = OfficeRuntime(load_hub_config(spare).offices[0], restored)
    runtime.start(datetime.now(UTC))
    assert sorted(t.label for t in runtime.engine.tickets.values()) == ["A001", "A002"]
    assert restored.acks(topic_office) == {"kiosk-1": 2}
    restored.close()


def test_counter_command_line(tmp_path, shared_broker, recorder_factory, topic_office, capsys):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    path = write_hub_config(tmp_path, shared_broker.port, topic_office)
    hub = Hub(load_hub_config(path), SystemClock(assume_synced=True))
    hub.start()
    base = ["--config", str(path), "--office", topic_office, "--counter", "platz-2", "--timeout", "5"]
    try:
        rec.wait_for_json(topics.device_status(topic_office, "hub-test"), lambda s: s["online"])
        rec.publish(topics.kiosk_ticket(topic_office, "kiosk-1"),
                    payload(issued(hub.runtimes[topic_office].engine.day, "A001", 1)))
        rec.wait_for_json(topics.kiosk_ack(topic_office, "kiosk-1"), lambda a: a["seq"] == 1)
        assert counter_main([*base, "next"]) == 0
        assert capsys.readouterr().out.strip() == "A001 → Platz 2"
        assert counter_main([*base, "next"]) == 1
        assert "refused: nobody is waiting" in capsys.readouterr().err
        assert counter_main([*base, "transfer"]) == 2
        assert counter_main([*base, "reactivate", "A001\x1b[2J"]) == 2  # refused before it is sent
        assert "must not contain control" in capsys.readouterr().err
    finally:
        hub.stop()
    assert counter_main([*base[:-1], "3", "next"]) == 3
    assert "did not answer" in capsys.readouterr().err


def test_the_hubs_web_needs_its_own_broker_account(tmp_path):
    """The broker binds client ids to usernames: a web logged in as the hub would kick the hub for ever."""
    path = write_hub_config(tmp_path, 1883, "t-account")
    text = path.read_text(encoding="utf-8")
    with_user = text.replace("reconnect_max_s = 1", 'reconnect_max_s = 1\nusername = "hub-1"')
    for web, ok in (("", False), ('broker_username = "hub-1"', False), ('broker_username = "hub-1-web"', True)):
        path.write_text(with_user + f"\n[web]\nport = 18080\n{web}\n", encoding="utf-8")
        if ok:
            web_settings = load_hub_process_config(path).web
            assert web_settings is not None and web_settings.broker_username == "hub-1-web"
        else:
            with pytest.raises(ConfigError, match=r"key 'web.broker_username': the hub's web needs its own"):
                load_hub_process_config(path)


def test_hub_toml_is_read_whole_by_the_hubs_process_and_the_hubs_tables_alone_by_the_rest(tmp_path, capsys):
    """hub/config.py reads the hub's tables, web/config.py `[web]`; wartemarke-hub (hubprocess) reads both and
    a typo in either is an error naming file and key. The counter tool needs only the hub's tables."""
    path = write_hub_config(tmp_path, 1883, "t-whole")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n[web]\nport = 18080\nacess_log = false\n", encoding="utf-8")
    assert hub_main(["check-config", "--config", str(path)]) == 2
    assert f"{path}: key 'web.acess_log': is not a known setting" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"key 'web': is not a known setting"):
        load_hub_config(path)  # the hub alone reads no [web]
    path.write_text(text.replace("tick_s", "tick_seconds") + "\n[web]\nport = 18080\n", encoding="utf-8")
    assert counter_main(["--config", str(path), "--office", "t-whole", "--counter", "platz-1", "next"]) == 2
    assert f"{path}: key 'hub.tick_seconds': is not a known setting" in capsys.readouterr().err
    path.write_text(text + "\n[web]\nport = 18080\n", encoding="utf-8")
    assert hub_main(["check-config", "--config", str(path)]) == 0
    nobody = ["--config", str(path), "--office", "t-whole", "--counter", "platz-1", "--timeout", "3", "next"]
    assert counter_main(nobody) == 3  # the config was accepted; no broker answers on port 1883 here


@pytest.mark.parametrize(("args", "message"), [
    (["--timeout", "0"], "--timeout: must be 3 to 62 seconds"),
    (["--timeout", "-5"], "--timeout: must be 3 to 62 seconds"),
    (["--timeout", "nan"], "--timeout: must be 3 to 62 seconds"),
    (["--timeout", "inf"], "--timeout: must be 3 to 62 seconds"),
    (["--timeout", "2.9"], "--timeout: must be 3 to 62 seconds"),
    (["--timeout", "1e9"], "--timeout: must be 3 to 62 seconds"),
    (["--timeout", "soon"], "--timeout: not a number"),
    (["--office", "BAD/x"], "--office: must be a slug"),
    (["--counter", "platz 1"], "--counter: must be a slug"),
    (["--office", "t-other"], "has no office 't-other' (offices: t-args)"),
    (["--counter", "platz-9"], "has no counter 'platz-9' of t-args"),
])
def test_wartemarke_counter_refuses_bad_arguments_with_a_clear_error(tmp_path, capsys, args, message):
    """Review of issues 10/11, item 12: no traceback, no "did not answer", nothing sent — exit 2."""
    path = write_hub_config(tmp_path, 1883, "t-args")
    base = {"--office": "t-args", "--counter": "platz-1", "--timeout": "5"}
    base.update(zip(args[::2], args[1::2], strict=True))
    argv = ["--config", str(path), *[x for pair in base.items() for x in pair], "next"]
    code: int | str | None
    try:
        code = counter_main(argv)
    except SystemExit as exc:  # argparse's own usage error
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "did not answer" not in err, err


@pytest.mark.parametrize(("old", "new", "key"), [
    ('name = "Platz 2"', 'name = "Platz\\u00002"', "offices[0].counters[1].name"),
    ('name_en = "Pickup"', 'name_en = "Pick\\u001bup"', "offices[0].services[1].name_en"),
    ('name = "Bürgerbüro Test"', 'name = "\\u202eBürgerbüro"', "offices[0].name"),
    ('name = "Bürgerbüro Test"', f'name = "{"B" * 121}"', "offices[0].name"),
])
def test_names_shown_to_people_follow_the_text_rule_at_start_up(tmp_path, old, new, key):
    path = write_hub_config(tmp_path, 1883, "t-names")
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"key '{key}'")):
        load_hub_config(path)


def test_nightly_backups_into_a_folder_keep_the_newest(tmp_path, capsys):
    path = write_hub_config(tmp_path, 1883, "t-backup")
    HubStore(load_hub_config(path).state_dir / "hub.sqlite3").close()
    folder = tmp_path / "backups"
    folder.mkdir()
    for day in range(1, 4):  # older backups from earlier nights
        (folder / f"hub-2026110{day}-213000.sqlite3").write_bytes(b"old")
    assert hub_main(["backup", "--config", str(path), "--out-dir", str(folder), "--keep", "2"]) == 0
    kept = sorted(p.name for p in folder.iterdir())
    assert len(kept) == 2 and kept[0] == "hub-20261103-213000.sqlite3" and kept[1].startswith("hub-2026")
    assert HubStore(folder / kept[1]).acks("t-backup") == {}  # a database the hub can open


def test_a_restored_hub_does_not_wait_for_events_the_kiosk_already_deleted(tmp_path, topic_office):
    """After the backup the old hub acked seq 3 and 4; the kiosk deleted them. The restored hub (ack 2)
    must take the kiosk's word (pending_from = 5) instead of waiting for 3 and 4 for ever."""
    path = write_hub_config(tmp_path, 1883, topic_office)
    office = load_hub_config(path).offices[0]
    store = HubStore(tmp_path / "restored.sqlite3")
    runtime = OfficeRuntime(office, store)
    now = datetime.now(UTC)
    runtime.start(now)
    day = runtime.engine.day
    for n in (1, 2):
        runtime.ticket(issued(day, f"A00{n}", n), now)
    assert store.acks(topic_office) == {"kiosk-1": 2}
    without_hint, _ = runtime.ticket(issued(day, "A005", 5), now)
    assert without_hint.seq == 2  # an ordinary gap: 3 and 4 may still come
    ack, changed = runtime.ticket(dataclasses.replace(issued(day, "A006", 6), pending_from=5), now)
    assert ack.seq == 6 and changed
    assert sorted(t.label for t in runtime.engine.tickets.values()) == ["A001", "A002", "A005", "A006"]
    store.close()


def test_opening_hours_beyond_what_info_carries_fail_at_start_up(tmp_path):
    """`info` carries at most 12 intervals a day (docs/protocol.md §3.10): a config with more would make
    the hub publish an `info` that every display and web drops, so it is refused at start-up instead."""
    twelve = ", ".join(f'"{h:02d}:00-{h:02d}:30"' for h in range(8, 20))
    path = write_hub_config(tmp_path / "ok", 1883, "t-hours", hours=f"mon = [{twelve}]")
    config = load_hub_config(path)
    runtime = OfficeRuntime(config.offices[0], HubStore(tmp_path / "ok.sqlite3"))
    info = office_info(config.offices[0], runtime.engine, "hub-test")
    assert OfficeInfo.from_dict(json.loads(encode_object(info.to_dict()))) == info  # what consumers read
    thirteen = twelve + ', "20:00-20:30"'
    path = write_hub_config(tmp_path / "bad", 1883, "t-hours", hours=f"mon = [{thirteen}]")
    with pytest.raises(ConfigError, match=re.escape("key 'offices[0].hours.mon': at most 12 intervals a day")):
        load_hub_config(path)


def test_more_services_or_counters_than_info_carries_fail_at_start_up(tmp_path):
    """`info` carries at most 50 services and 200 counters (protocol/messages/info.py): more would lose their
    names on every display and page without a word, so the hub refuses them at start-up."""
    path = write_hub_config(tmp_path / "counters", 1883, "t-many", counters=201)
    with pytest.raises(ConfigError, match=re.escape("key 'offices[0].counters': at most 200 counters an office")):
        load_hub_config(path)
    path = write_hub_config(tmp_path / "services", 1883, "t-many")
    ids = [f"X{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(49)]  # 2 + 49 = 51 services
    extra = "".join(f'\n[[offices.services]]\nid = "{i}"\nname_de = "{i}"\nname_en = "{i}"\nprior_handling_min = 5\n'
                    for i in ids)
    text = path.read_text(encoding="utf-8").replace("\n[[offices.counters]]", extra + "\n[[offices.counters]]", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("key 'offices[0].services': at most 50 services an office")):
        load_hub_config(path)
