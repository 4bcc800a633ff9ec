"""Fast, exact tests of the shared contract in protocol/: config, topics, messages, business day."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from process.clock import FakeClock
from process.config import ConfigError, ConfigSection, load_toml
from protocol import topics
from protocol.businessday import local_business_day, next_business_day, reset_time_problem
from protocol.fields import InvalidMessage, decode_object, encode_object, slug_problem
from protocol.link import BrokerSettings, read_broker_settings
from protocol.messages import (
    PARSERS,
    Ack,
    AmpelBands,
    Call,
    CallsState,
    CitizenRequest,
    CommandAnswer,
    CommandRequest,
    CounterInfo,
    CounterState,
    DeviceStatus,
    History,
    HistoryCell,
    OfficeInfo,
    QueueState,
    RanOut,
    Ratings,
    ServiceInfo,
    ServiceQueue,
    TicketIssued,
    TicketView,
    TicketVoided,
    WaitCalibration,
    ticket_event_from_dict,
)
from protocol.operations import COUNTER_OPS
from protocol.wait_range import shown_range

BERLIN = ZoneInfo("Europe/Berlin")
RESET = time(4, 0)
TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # 32 base32 characters = 160 bits


def write(tmp_path: Path, text: str, name: str = "kiosk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# config


def test_config_reads_typed_values_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, """
office = "buergeramt-mitte"
[printer]
type = "serial"
baudrate = 9600
roll_m = 80
cut = true
lines = ["a", "b"]
""")
    root = load_toml(path)
    assert root.get_str("office", check=slug_problem) == "buergeramt-mitte"
    printer = root.get_section("printer")
    assert printer.get_str("type", choices=["usb", "serial"]) == "serial"
    assert printer.get_int("baudrate", minval=1200, maxval=115200) == 9600
    value = printer.get_float("roll_m", minval=1.0)
    assert value == 80.0
    assert isinstance(value, float)
    assert printer.get_bool("cut") is True
    assert printer.get_str_list("lines") == ["a", "b"]
    assert printer.get_int("missing", 7) == 7
    assert printer.get_str("device", None) is None
    assert root.get_section("optional", required=False).get_int("x", 3) == 3
    root.check_unknown()


def test_unknown_key_error_names_file_and_dotted_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[printer]\ntype = "serial"\nbaudrat = 9600\n')
    root = load_toml(path)
    root.get_section("printer").get_str("type")
    with pytest.raises(ConfigError) as exc:
        root.check_unknown()
    assert str(exc.value) == f"{path}: key 'printer.baudrat': is not a known setting (a typo?)"


def test_unknown_top_level_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'office = "x"\n[printr]\ntype = "file"\n')
    root = load_toml(path)
    root.get_str("office", check=slug_problem)
    with pytest.raises(ConfigError, match=r"key 'printr': is not a known setting"):
        root.check_unknown()


def test_unknown_key_in_nested_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[a]\n[a.b]\nx = 1\ny = 2\n")
    root = load_toml(path)
    root.get_section("a").get_section("b").get_int("x")
    with pytest.raises(ConfigError, match=r"key 'a\.b\.y'"):
        root.check_unknown()


@pytest.mark.parametrize(
    ("toml", "read", "expected"),
    [
        ('n = "9600"', lambda s: s.get_int("n"), "key 'n': expected an integer, got '9600'"),
        ("n = true", lambda s: s.get_int("n"), "key 'n': expected an integer, got True"),
        ("n = 1.5", lambda s: s.get_int("n"), "key 'n': expected an integer, got 1.5"),
        ("f = false", lambda s: s.get_float("f"), "key 'f': expected a number, got False"),
        ('f = "1"', lambda s: s.get_float("f"), "key 'f': expected a number, got '1'"),
        ('b = "yes"', lambda s: s.get_bool("b"), "key 'b': expected true or false, got 'yes'"),
        ("s = 5", lambda s: s.get_str("s"), "key 's': expected a string, got 5"),
        ('l = ["a", 1]', lambda s: s.get_str_list("l"), "key 'l': expected a list of strings"),
        ('l = "a"', lambda s: s.get_str_list("l"), "key 'l': expected a list of strings"),
        ("t = 1", lambda s: s.get_section("t"), "key 't': expected a table ([t])"),
        ('t = "x"', lambda s: s.get_section_list("t"), "key 't': expected one or more [[t]] tables"),
        ("t = [1]", lambda s: s.get_section_list("t"), "key 't': expected one or more [[t]] tables"),
        ('c = "lpt"', lambda s: s.get_str("c", choices=["usb", "serial"]),
         "key 'c': must be one of usb, serial; got 'lpt'"),
        ('o = "Amt_1"', lambda s: s.get_str("o", check=slug_problem), "key 'o': must be a slug"),
    ],
)
def test_wrong_type_is_named(tmp_path: Path, toml: str, read: Callable[[ConfigSection], Any],
                             expected: str) -> None:
    path = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as exc:
        read(load_toml(path))
    assert str(exc.value).startswith(f"{path}: {expected}")


def test_wrong_type_in_sub_table_uses_dotted_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[printer.serial]\nbaudrate = "fast"\n')
    section = load_toml(path).get_section("printer").get_section("serial")
    with pytest.raises(ConfigError, match=r"key 'printer\.serial\.baudrate': expected an integer"):
        section.get_int("baudrate")


@pytest.mark.parametrize(
    ("toml", "read", "expected"),
    [
        ("n = 1199", lambda s: s.get_int("n", minval=1200, maxval=115200), "must be at least 1200; got 1199"),
        ("n = 115201", lambda s: s.get_int("n", minval=1200, maxval=115200),
         "must be at most 115200; got 115201"),
        ("f = -0.5", lambda s: s.get_float("f", minval=0.0), "must be at least 0.0; got -0.5"),
        ("f = 2", lambda s: s.get_float("f", maxval=1.5), "must be at most 1.5; got 2"),
    ],
)
def test_bounds(tmp_path: Path, toml: str, read: Callable[[ConfigSection], Any], expected: str) -> None:
    path = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as exc:
        read(load_toml(path))
    assert str(exc.value).endswith(expected)
    assert str(path) in str(exc.value)


def test_bounds_are_inclusive(tmp_path: Path) -> None:
    root = load_toml(write(tmp_path, "lo = 1200\nhi = 115200\n"))
    assert root.get_int("lo", minval=1200, maxval=115200) == 1200
    assert root.get_int("hi", minval=1200, maxval=115200) == 115200


def test_missing_required_key_and_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[printer]\n")
    root = load_toml(path)
    with pytest.raises(ConfigError) as exc:
        root.get_section("printer").get_str("type")
    assert str(exc.value) == f"{path}: key 'printer.type': is required but missing"
    with pytest.raises(ConfigError, match=r"key 'broker': is required but missing"):
        root.get_section("broker")
    with pytest.raises(ConfigError, match=r"key 'services': is required but missing"):
        root.get_section_list("services")


def test_bad_toml_names_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, 'office = "x"\nbroken = \n')
    with pytest.raises(ConfigError) as exc:
        load_toml(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: not valid TOML:")
    assert "line 2" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_toml(path)


def test_section_lists(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[services]]
id = "A"
name = "Allgemeine Anliegen"

[[services]]
id = "P"
name = "Pass"
colour = "red"
""")
    root = load_toml(path)
    services = root.get_section_list("services")
    assert [s.get_str("id") for s in services] == ["A", "P"]
    assert [s.get_str("name") for s in services] == ["Allgemeine Anliegen", "Pass"]
    assert services[1].key_name("id") == "services[1].id"
    with pytest.raises(ConfigError) as exc:
        root.check_unknown()
    assert str(exc.value) == f"{path}: key 'services[1].colour': is not a known setting (a typo?)"


def test_section_list_errors_and_optional(tmp_path: Path) -> None:
    path = write(tmp_path, "services = []\n[[buttons]]\npin = 17\n[[buttons]]\npin = \"x\"\n")
    root = load_toml(path)
    with pytest.raises(ConfigError, match=r"key 'services': needs at least one entry"):
        root.get_section_list("services")
    assert root.get_section_list("lights", required=False) == []
    buttons = root.get_section_list("buttons")
    assert buttons[0].get_int("pin") == 17
    with pytest.raises(ConfigError, match=r"key 'buttons\[1\]\.pin': expected an integer"):
        buttons[1].get_int("pin")


def test_broker_settings_defaults_and_tls_port(tmp_path: Path) -> None:
    root = load_toml(write(tmp_path, "[broker]\n[tls_broker]\ntls = true\nhost = \"hub.local\"\n"))
    plain = read_broker_settings(root.get_section("broker"))
    assert plain == BrokerSettings()
    secure = read_broker_settings(root.get_section("tls_broker"))
    assert (secure.host, secure.port, secure.tls) == ("hub.local", 8883, True)
    root.check_unknown()


def test_broker_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    path = write(tmp_path, f'[broker]\nusername = "kiosk"\npassword_file = "{secret}"\n'
                           f'[bad]\npassword_file = "{tmp_path / "missing"}"\n[port]\nport = 0\n')
    root = load_toml(path)
    settings = read_broker_settings(root.get_section("broker"))
    assert (settings.username, settings.password) == ("kiosk", "s3cret")
    with pytest.raises(ConfigError, match=r"key 'bad\.password_file': cannot be read"):
        read_broker_settings(root.get_section("bad"))
    with pytest.raises(ConfigError, match=r"key 'port\.port': must be at least 1; got 0"):
        read_broker_settings(root.get_section("port"))


# ---------------------------------------------------------------------------------------------
# topics


def test_topic_builders() -> None:
    o = "amt-1"
    assert topics.office_root(o) == "wartemarke/v1/amt-1"
    assert topics.kiosk_ticket(o, "kiosk-1") == "wartemarke/v1/amt-1/kiosk/kiosk-1/ticket"
    assert topics.kiosk_ack(o, "kiosk-1") == "wartemarke/v1/amt-1/kiosk/kiosk-1/ack"
    assert topics.counter_command(o, "3") == "wartemarke/v1/amt-1/counter/3/command"
    assert topics.counter_state(o, "3") == "wartemarke/v1/amt-1/counter/3/state"
    assert topics.office_command(o) == "wartemarke/v1/amt-1/command"
    assert topics.calls(o) == "wartemarke/v1/amt-1/calls"
    assert topics.queue(o) == "wartemarke/v1/amt-1/queue"
    assert topics.info(o) == "wartemarke/v1/amt-1/info"
    assert topics.history(o) == "wartemarke/v1/amt-1/history"
    assert topics.device_status(o, "display-2") == "wartemarke/v1/amt-1/device/display-2/status"
    h = topics.token_hash(TOKEN)
    assert topics.ticket(o, h) == f"wartemarke/v1/amt-1/ticket/{h}"


def test_filter_and_response_topic_builders() -> None:
    o, root = "amt-1", "wartemarke/v1/amt-1"
    assert topics.office_tree(o) == f"{root}/#"
    assert topics.kiosk_tickets(o) == f"{root}/kiosk/+/ticket"
    assert topics.kiosk_acks(o) == f"{root}/kiosk/+/ack"
    assert topics.counter_commands(o) == f"{root}/counter/+/command"
    assert topics.counter_states(o) == f"{root}/counter/+/state"
    assert topics.tickets(o) == f"{root}/ticket/+"
    assert topics.device_statuses(o) == f"{root}/device/+/status"
    assert topics.counter_response(o, "platz-3", "f00d") == f"{root}/counter/platz-3/response/f00d"
    assert topics.counter_responses(o, "f00d") == f"{root}/counter/+/response/f00d"
    assert topics.supervisor_response(o, "f00d") == f"{root}/supervisor/response/f00d"
    for bad in ("+", "#", "a/b", "", "x" * 65):
        with pytest.raises(topics.TopicError, match="response tag"):
            topics.counter_response(o, "platz-3", bad)


def every_topic(office: str) -> dict[str, str]:
    """One topic of each kind (protocol.topics.parse's kinds), built by the builders."""
    h = topics.token_hash(TOKEN)
    return {
        topics.KIOSK_TICKET: topics.kiosk_ticket(office, "kiosk-1"),
        topics.KIOSK_ACK: topics.kiosk_ack(office, "kiosk-1"),
        topics.COUNTER_COMMAND: topics.counter_command(office, "platz-3"),
        topics.COUNTER_STATE: topics.counter_state(office, "platz-3"),
        topics.COUNTER_RESPONSE: topics.counter_response(office, "platz-3", "f00d"),
        topics.OFFICE_COMMAND: topics.office_command(office),
        topics.SUPERVISOR_RESPONSE: topics.supervisor_response(office, "f00d"),
        topics.CALLS: topics.calls(office), topics.QUEUE: topics.queue(office), topics.INFO: topics.info(office),
        topics.HISTORY: topics.history(office), topics.TICKET: topics.ticket(office, h),
        topics.DEVICE_STATUS: topics.device_status(office, "display-2"),
        topics.CITIZEN_REQUEST: topics.citizen_request(office),
        topics.CITIZEN_RESPONSE: topics.citizen_response(office, "f00d"),
    }


def test_parse_reads_back_every_topic_the_builders_build() -> None:
    ids = {topics.KIOSK_TICKET: "kiosk-1", topics.KIOSK_ACK: "kiosk-1", topics.COUNTER_COMMAND: "platz-3",
           topics.COUNTER_STATE: "platz-3", topics.COUNTER_RESPONSE: "platz-3", topics.TICKET: topics.token_hash(TOKEN),
           topics.DEVICE_STATUS: "display-2"}
    for kind, topic in every_topic("amt-1").items():
        tag = "f00d" if kind in (topics.COUNTER_RESPONSE, topics.SUPERVISOR_RESPONSE, topics.CITIZEN_RESPONSE) else None
        assert topics.parse(topic) == topics.Topic("amt-1", kind, ids.get(kind), tag), topic
    # a status topic says which device it is even when the id is no slug (the broker accepts any level)
    assert topics.parse("wartemarke/v1/amt-1/device/Kiosk 1/status").id == "Kiosk 1"


@pytest.mark.parametrize("bad", [
    "wartemarke/v1/amt-1", "wartemarke/v2/amt-1/queue", "other/v1/amt-1/queue", "wartemarke/v1/amt-1/queue/x",
    "wartemarke/v1/amt-1/kiosk/+/ticket", "wartemarke/v1/amt-1/#", "wartemarke/v1/amt-1/ticket/ABC",
    "wartemarke/v1/amt-1/counter/platz-1/response/a/b", "wartemarke/v1/amt-1/counter//state",
    "wartemarke/v1/amt-1/supervisor/response", "wartemarke/v1/amt-1/kiosk/k1/status", "",
])
def test_parse_refuses_what_is_no_topic_of_the_contract(bad: str) -> None:
    with pytest.raises(topics.TopicError, match="not a topic of the contract"):
        topics.parse(bad)


@pytest.mark.parametrize("bad", ["", "Amt", "a_b", "a/b", "a+b", "#", "a b", "ä", "x" * 41])
def test_slug_validation(bad: str) -> None:
    with pytest.raises(topics.TopicError, match=r"must match \[a-z0-9-\]\{1,40\}"):
        topics.office_root(bad)
    with pytest.raises(topics.TopicError, match="device id"):
        topics.kiosk_ticket("amt-1", bad)
    with pytest.raises(topics.TopicError, match="counter id"):
        topics.counter_command("amt-1", bad)


def test_slug_limits_accepted() -> None:
    assert topics.office_root("x" * 40).endswith("/" + "x" * 40)
    assert topics.device_status("0", "-").endswith("/0/device/-/status")


def test_slug_with_trailing_newline_rejected() -> None:
    with pytest.raises(topics.TopicError):
        topics.office_root("amt\n")


def test_message_field_with_trailing_newline_rejected() -> None:
    with pytest.raises(InvalidMessage, match="'label'"):
        TicketIssued.from_dict(mutate(issued().to_dict(), label="A042\n"))


def test_token_hash_is_sha256_of_upper_case_token() -> None:
    expected = hashlib.sha256(TOKEN.encode("ascii")).hexdigest()
    assert topics.token_hash(TOKEN) == expected
    assert topics.token_hash(TOKEN.lower()) == expected
    assert topics.token_hash(f" {TOKEN.lower()}\n") == expected
    assert len(expected) == 64
    assert expected == expected.lower()


@pytest.mark.parametrize(
    "bad",
    [TOKEN, "0" * 63, "0" * 65, "A" * 64, hashlib.sha256(b"x").hexdigest().upper(), "g" * 64, ""],
)
def test_ticket_topic_rejects_non_hash(bad: str) -> None:
    with pytest.raises(topics.TopicError, match="hex sha256"):
        topics.ticket("amt-1", bad)


def test_topic_error_is_value_error() -> None:
    assert issubclass(topics.TopicError, ValueError)


# ---------------------------------------------------------------------------------------------
# messages

ISSUED_AT = datetime(2026, 3, 29, 9, 15, 30, tzinfo=BERLIN)
DAY = date(2026, 3, 29)


def issued() -> TicketIssued:
    return TicketIssued(id="k1-000042-7f3a", token=TOKEN, service="A", number=42, label="A042",
                        issued_at=ISSUED_AT, day=DAY, device="kiosk-1", seq=57)


def voided() -> TicketVoided:
    return TicketVoided(id="k1-000043-0b1c", reason="printer: paper out", service="P", number=3,
                        label="P003", day=DAY, device="kiosk-1", seq=58)


def wire(data: dict[str, Any]) -> dict[str, Any]:
    """What a consumer sees: encoded for the broker, then decoded."""
    return decode_object(encode_object(data))


def test_ticket_issued_round_trip() -> None:
    msg = issued()
    data = msg.to_dict()
    assert data == {
        "type": "ticket.issued", "id": "k1-000042-7f3a", "token": TOKEN, "service": "A", "number": 42,
        "label": "A042", "issued_at": "2026-03-29T09:15:30+02:00", "day": "2026-03-29",
        "device": "kiosk-1", "seq": 57,
    }
    assert ticket_event_from_dict(wire(data)) == msg
    assert TicketIssued.from_dict(wire(data)) == msg


def test_ticket_voided_round_trip() -> None:
    msg = voided()
    assert ticket_event_from_dict(wire(msg.to_dict())) == msg
    assert msg.to_dict()["type"] == "ticket.voided"


def test_ack_round_trip() -> None:
    msg = Ack(seq=58, day=DAY, last={"A": 42, "P": 3})
    assert msg.to_dict() == {"seq": 58, "day": "2026-03-29", "last": {"A": 42, "P": 3}}
    assert Ack.from_dict(wire(msg.to_dict())) == msg
    assert Ack.from_dict(wire(Ack(seq=0, day=DAY).to_dict())) == Ack(seq=0, day=DAY, last={})


def test_queue_round_trip() -> None:
    msg = QueueState(day=DAY, at=datetime(2026, 3, 29, 7, 0, tzinfo=UTC), services=(
        ServiceQueue(service="A", waiting=12, expected_wait_min=35, issuing=True, ampel="yellow",
                     wait_range_min=(27, 46), calibration=WaitCalibration(41, 4.5, -1.2, 0.48, 0.05, 0.11)),
        ServiceQueue(service="P", waiting=0, expected_wait_min=None, issuing=False,
                     reason="no tickets left today", ampel="red"),
    ))
    back = QueueState.from_dict(wire(msg.to_dict()))
    assert back == msg
    assert back.service("P") == msg.services[1]
    assert back.service("X") is None


def test_device_status_round_trip_keeps_health() -> None:
    msg = DeviceStatus(online=True, role="kiosk", version="0.1.0", at=ISSUED_AT, clock_synced=False,
                       health={"printer": "paper_low", "outbox": 3})
    data = msg.to_dict()
    assert data["printer"] == "paper_low"
    assert DeviceStatus.from_dict(wire(data)) == msg
    will = DeviceStatus(online=False, role="kiosk")
    assert will.to_dict() == {"online": False, "role": "kiosk"}
    assert DeviceStatus.from_dict(wire(will.to_dict())) == will


BERLIN_AT = datetime(2026, 3, 29, 10, 15, 2, tzinfo=BERLIN)
INFO = OfficeInfo(day=DAY, name="Bürgerbüro Mitte", timezone="Europe/Berlin",
                  hours={"mon": ("08:00-12:00", "13:00-16:00"), "sat": ()},
                  services=(ServiceInfo("A", "Allgemeine Anliegen", "General matters"),),
                  counters=(CounterInfo("platz-3", "Platz 3", ("A", "P")),), announcement="Heute bis 12 Uhr",
                  hub="hub-1", ampel=AmpelBands(30.0, 90.0))
# One message per topic kind (and the variants of those whose fields depend on a state), optional fields set.
MESSAGES: list[tuple[str, Any]] = [
    (topics.KIOSK_TICKET, dataclasses.replace(issued(), pending_from=50, assumed_printed=True)),
    (topics.KIOSK_TICKET, voided()),
    (topics.KIOSK_ACK, Ack(seq=58, day=DAY, last={"A": 42, "P": 3}, refused=2)),
    (topics.COUNTER_COMMAND, CommandRequest("req-00000001", "transfer", {"service": "P"})),
    (topics.COUNTER_COMMAND, CommandRequest("req-00000002", "next")),
    (topics.OFFICE_COMMAND, CommandRequest("req-00000003", "announce", {"text": "Heute bis 12 Uhr 🙂"})),
    (topics.COUNTER_RESPONSE, CommandAnswer(True, label="A042", service="A", counter="platz-3", id="req-00000001")),
    (topics.SUPERVISOR_RESPONSE, CommandAnswer(False, error="unknown service 'X'", id="req-00000003")),
    (topics.SUPERVISOR_RESPONSE, CommandAnswer.refused("command: field 'op' must be one of …")),
    (topics.COUNTER_STATE, CounterState(DAY, "platz-3", "serving", "A042", "A")),
    (topics.COUNTER_STATE, CounterState(DAY, "platz-4", "paused")),
    (topics.COUNTER_STATE, CounterState(DAY, "platz-3", "serving", "A043", "A", postponed=1)),
    (topics.CALLS, CallsState(DAY, 17, (Call("A042", "A", "platz-3", "Platz 3", BERLIN_AT, 1),))),
    (topics.QUEUE, QueueState(day=DAY, at=BERLIN_AT, services=(
        ServiceQueue("A", 12, 35, True, None, "yellow", (27, 46), WaitCalibration(41, 4.5, -1.2, 0.48, 0.05, 0.11)),
        ServiceQueue("P", 0, None, False, "no tickets left today", "red")))),
    (topics.TICKET, TicketView(DAY, "A042", "A", "waiting", ISSUED_AT, ahead=6, expected_wait_min=38,
                               wait_range_min=(29, 52))),
    (topics.TICKET, TicketView(DAY, "A042", "A", "waiting", ISSUED_AT, ahead=40)),  # not before closing
    (topics.TICKET, TicketView(DAY, "A042", "A", "called", ISSUED_AT, counter="platz-3", counter_name="Platz 3",
                               called_at=BERLIN_AT, recall=1)),
    (topics.TICKET, TicketView(DAY, "A042", "A", "no_show", ISSUED_AT, grace_until=BERLIN_AT)),
    (topics.TICKET, TicketView(DAY, "A042", "A", "done", ISSUED_AT)),
    (topics.TICKET, TicketView(DAY, "A042", "A", "waiting", ISSUED_AT, ahead=9, expected_wait_min=20, postponed=2)),
    (topics.TICKET, TicketView(DAY, "A042", "A", "cancelled", ISSUED_AT)),
    (topics.CITIZEN_REQUEST, CitizenRequest("req-00000004", "postpone", TOKEN)),
    (topics.CITIZEN_REQUEST, CitizenRequest("req-00000005", "rate", TOKEN, score=4, settled=False)),
    (topics.CITIZEN_REQUEST, CitizenRequest("req-00000006", "rate", TOKEN, score=1)),
    (topics.QUEUE, QueueState(day=DAY, at=BERLIN_AT, services=(
        ServiceQueue("A", 3, 10, True, None, "green", ratings=Ratings((0, 1, 0, 4, 2), 5, 1)),))),
    (topics.TICKET, TicketView(DAY, "A042", "A", "done", ISSUED_AT, rated=True)),
    (topics.CITIZEN_RESPONSE, CommandAnswer(False, error="postponed_twice", id="req-00000004")),
    (topics.INFO, INFO),
    (topics.HISTORY, History("amt-1", 8, DAY, (HistoryCell(0, 9, 20, 14.5), HistoryCell(0, 10, 35, 9.0)),
                             {0: RanOut(2, 8, time(11, 30)), 4: RanOut(1, 8, time(12, 5))})),
    (topics.DEVICE_STATUS, DeviceStatus(online=True, role="kiosk", version="0.1.0", at=ISSUED_AT, clock_synced=True,
                                        health={"printer": {"paper": "ok"}})),
]


def test_every_topic_has_a_message_type() -> None:
    assert set(PARSERS) == set(every_topic("amt-1")) == {kind for kind, _ in MESSAGES}


@pytest.mark.parametrize(("kind", "message"), MESSAGES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(MESSAGES)])
def test_every_message_survives_the_wire(kind: str, message: Any) -> None:
    assert PARSERS[kind](wire(message.to_dict())) == message


def test_a_command_is_parsed_for_the_topic_it_came_on() -> None:
    """The operations of protocol/operations.py, each on its own topic and with exactly its arguments."""
    for name, operation in COUNTER_OPS.items():
        args = {key: "A001" if key == "label" else "A" for key in operation.args}
        sent = wire(CommandRequest("req-00000001", name, args).to_dict())
        assert PARSERS[topics.COUNTER_COMMAND](sent) == CommandRequest("req-00000001", name, args)
        with pytest.raises(InvalidMessage, match="field 'op' must be one of announce, open_service, close_service"):
            PARSERS[topics.OFFICE_COMMAND](sent)
    with pytest.raises(InvalidMessage, match="field 'label' is missing"):
        PARSERS[topics.COUNTER_COMMAND]({"v": 1, "id": "req-00000001", "op": "reactivate"})
    with pytest.raises(InvalidMessage, match="field 'label' is missing"):
        CommandRequest("req-00000001", "reactivate")  # the builder refuses what the hub would
    extra = {"v": 1, "id": "req-00000001", "op": "next", "service": "A"}  # not next's: ignored, like any unknown field
    assert PARSERS[topics.COUNTER_COMMAND](extra) == CommandRequest("req-00000001", "next")


def test_encode_object_is_compact_utf8_with_version() -> None:
    raw = encode_object({"name": "Bürgeramt"})
    assert raw == '{"v":1,"name":"Bürgeramt"}'.encode()


def test_unknown_fields_are_ignored() -> None:
    data = issued().to_dict() | {"printer_model": "TM-T20III", "future": {"x": 1}}
    assert ticket_event_from_dict(wire(data)) == issued()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"type":"ticket.voided"}', r"unsupported protocol version v=None"),
        (b'{"v":2}', r"unsupported protocol version v=2"),
        (b'{"v":"1"}', r"v='1'"),
        (b"not json", r"not UTF-8 JSON"),
        (b"\xff\xfe{}", r"not UTF-8 JSON"),
        (b"", r"not UTF-8 JSON"),
        (b"[1, 2]", r"not a JSON object"),
        (b'"v"', r"not a JSON object"),
        (b"null", r"not a JSON object"),
    ],
)
def test_decode_object_rejects(payload: bytes, expected: str) -> None:
    with pytest.raises(InvalidMessage, match=expected):
        decode_object(payload)


@pytest.mark.parametrize("payload", [b'{"v":true}', b'{"v":1.0}'])
def test_decode_object_rejects_non_integer_version(payload: bytes) -> None:
    with pytest.raises(InvalidMessage):
        decode_object(payload)


DELETE = object()


def mutate(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(data)
    for key, value in changes.items():
        if value is DELETE:
            del out[key]
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"label": "a042"}, "label"),
        ({"label": "A04X"}, "label"),
        ({"label": 42}, "label"),
        ({"issued_at": "2026-03-29T09:15:30"}, "issued_at"),
        ({"issued_at": "yesterday"}, "issued_at"),
        ({"issued_at": 1774768530}, "issued_at"),
        ({"number": True}, "number"),
        ({"number": 0}, "number"),
        ({"number": 42.0}, "number"),
        ({"number": "42"}, "number"),
        ({"seq": -1}, "seq"),
        ({"seq": 0}, "seq"),
        ({"seq": False}, "seq"),
        ({"token": TOKEN.lower()}, "token"),
        ({"token": "ABC"}, "token"),
        ({"token": TOKEN[:-1] + "1"}, "token"),
        ({"service": "a"}, "service"),
        ({"service": "ABCD"}, "service"),
        ({"device": "Kiosk 1"}, "device"),
        ({"id": "short"}, "id"),
        ({"day": "2026-3-29"}, "day"),
        ({"day": "29.03.2026"}, "day"),
        ({"day": 20260329}, "day"),
        ({"id": DELETE}, "id"),
        ({"token": DELETE}, "token"),
        ({"service": DELETE}, "service"),
        ({"number": DELETE}, "number"),
        ({"label": DELETE}, "label"),
        ({"issued_at": DELETE}, "issued_at"),
        ({"day": DELETE}, "day"),
        ({"device": DELETE}, "device"),
        ({"seq": DELETE}, "seq"),
    ],
)
def test_invalid_ticket_issued_names_field(changes: dict[str, Any], field: str) -> None:
    data = wire(mutate(issued().to_dict(), **changes))
    with pytest.raises(InvalidMessage, match=rf"^ticket\.issued: field '{field}' "):
        ticket_event_from_dict(data)


def test_missing_field_says_missing() -> None:
    with pytest.raises(InvalidMessage, match=r"^ticket\.voided: field 'reason' is missing$"):
        ticket_event_from_dict(mutate(voided().to_dict(), reason=DELETE))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "x" * 201}, "reason"),
        ({"seq": -1}, "seq"),
        ({"number": True}, "number"),
        ({"label": "p003"}, "label"),
    ],
)
def test_invalid_ticket_voided_names_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidMessage, match=rf"^ticket\.voided: field '{field}' "):
        ticket_event_from_dict(wire(mutate(voided().to_dict(), **changes)))


@pytest.mark.parametrize("kind", [None, "ticket.printed", 1])
def test_unknown_ticket_event_type(kind: Any) -> None:
    with pytest.raises(InvalidMessage, match="unknown type"):
        ticket_event_from_dict(mutate(issued().to_dict(), type=kind))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"seq": -1, "day": "2026-03-29", "last": {}}, "seq"),
        ({"seq": True, "day": "2026-03-29", "last": {}}, "seq"),
        ({"day": "2026-03-29", "last": {}}, "seq"),
        ({"seq": 1, "last": {}}, "day"),
        ({"seq": 1, "day": "2026-03-29"}, "last"),
        ({"seq": 1, "day": "2026-03-29", "last": [1]}, "last"),
        ({"seq": 1, "day": "2026-03-29", "last": {"A": -1}}, "last"),
        ({"seq": 1, "day": "2026-03-29", "last": {"A": True}}, "last"),
        ({"seq": 1, "day": "2026-03-29", "last": {"A": "3"}}, "last"),
        ({"seq": 1, "day": "2026-03-29", "last": {"A": 2.5}}, "last"),
        ({"seq": 1, "day": "2026-03-29", "last": {"a": 3}}, "last"),
        ({"seq": 1, "day": "2026-03-29", "last": {"ABCD": 3}}, "last"),
    ],
)
def test_invalid_ack_names_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidMessage, match=rf"^ack: field '{field}' "):
        Ack.from_dict(wire(data))


def queue_dict(**service_changes: Any) -> dict[str, Any]:
    service = {"service": "A", "waiting": 3, "expected_wait_min": 10, "issuing": True, "reason": None,
               "ampel": "green"}
    return {"day": "2026-03-29", "at": "2026-03-29T09:00:00+02:00",
            "services": [mutate(service, **service_changes)]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ampel": "blue"}, "ampel"),
        ({"issuing": 1}, "issuing"),
        ({"waiting": -1}, "waiting"),
        ({"expected_wait_min": "10"}, "expected_wait_min"),
        ({"service": "general"}, "service"),
        ({"wait_range_min": [12, 8]}, "wait_range_min"),
        ({"wait_range_min": [12, 18]}, "wait_range_min"),  # must contain the expected wait
        ({"wait_range_min": [5, True]}, "wait_range_min"),
        ({"wait_range_min": [5]}, "wait_range_min"),
        ({"wait_range_min": "5-15"}, "wait_range_min"),
        ({"calibration": [1]}, "calibration"),
    ],
)
def test_invalid_queue_service_names_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidMessage, match=rf"^queue\.services\[\]: field '{field}' "):
        QueueState.from_dict(wire(queue_dict(**changes)))


def test_invalid_queue_names_field() -> None:
    with pytest.raises(InvalidMessage, match=r"^queue: field 'services' must be a list of objects"):
        QueueState.from_dict(mutate(queue_dict(), services=["A"]))
    with pytest.raises(InvalidMessage, match=r"^queue: field 'services' must be a list"):
        QueueState.from_dict(mutate(queue_dict(), services={"A": 1}))
    with pytest.raises(InvalidMessage, match=r"^queue: field 'at' must carry a UTC offset"):
        QueueState.from_dict(mutate(queue_dict(), at="2026-03-29T09:00:00"))
    optional = QueueState.from_dict(queue_dict(expected_wait_min=None, reason=None))
    assert optional.services[0].expected_wait_min is None
    assert optional.services[0].wait_range_min is None and optional.services[0].calibration is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"called": -1}, "called"),
        ({"median_abs_error_min": -2}, "median_abs_error_min"),
        ({"bias_min": "x"}, "bias_min"),
        ({"called_before_share": 1.5}, "called_before_share"),
        ({"late_share": True}, "late_share"),
    ],
)
def test_invalid_queue_calibration_names_field(changes: dict[str, Any], field: str) -> None:
    figures = {"called": 4, "median_abs_error_min": 3.5, "bias_min": -1.0, "called_before_share": 0.5,
               "late_share": 0.0, "below_range_share": None}
    assert QueueState.from_dict(queue_dict(calibration=figures)).services[0].calibration == WaitCalibration(
        4, 3.5, -1.0, 0.5, 0.0, None)
    with pytest.raises(InvalidMessage, match=rf"^queue\.services\[\]\.calibration: field '{field}' "):
        QueueState.from_dict(wire(queue_dict(calibration=mutate(figures, **changes))))


@pytest.mark.parametrize(("published", "shown"), [
    ([27, 41], (25, 45)), ([20, 30], (20, 30)), ([3, 11], (3, 11)), ([10, 12], None), ([0, 0], None),
    ([12, 8], None), (None, None), ("5-15", None), ([5, 15.5], None), ([-5, 10], None)])
def test_the_range_shown_to_citizens(published: Any, shown: tuple[int, int] | None) -> None:
    assert shown_range(published) == shown


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"role": "kiosk"}, "online"),
        ({"online": "yes", "role": "kiosk"}, "online"),
        ({"online": True}, "role"),
        ({"online": True, "role": "kiosk", "at": "noon"}, "at"),
        ({"online": True, "role": "kiosk", "clock_synced": 1}, "clock_synced"),
        ({"online": True, "role": "kiosk", "version": 1}, "version"),
    ],
)
def test_invalid_device_status_names_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidMessage, match=rf"^device status: field '{field}' "):
        DeviceStatus.from_dict(wire(data))


def test_invalid_message_is_value_error() -> None:
    assert issubclass(InvalidMessage, ValueError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                        max_size=3),
    max_leaves=6,
)
VALID_PAYLOADS = [
    issued().to_dict(), voided().to_dict(), Ack(seq=3, day=DAY, last={"A": 2}).to_dict(),
    queue_dict(), DeviceStatus(online=True, role="kiosk", at=ISSUED_AT).to_dict(),
]
FIELD_NAMES = sorted({key for payload in VALID_PAYLOADS for key in payload} | {"v"})
ROBUST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200)


@ROBUST
@given(base=st.sampled_from(VALID_PAYLOADS),
       changes=st.dictionaries(st.sampled_from(FIELD_NAMES), JSON, max_size=4))
def test_parsers_raise_only_invalid_message(base: dict[str, Any], changes: dict[str, Any]) -> None:
    """Whatever a payload holds, parsing either succeeds or raises InvalidMessage — never crashes."""
    data = base | changes
    parsers: list[Callable[[dict[str, Any]], object]] = [
        ticket_event_from_dict, TicketIssued.from_dict, TicketVoided.from_dict, Ack.from_dict,
        QueueState.from_dict, DeviceStatus.from_dict,
    ]
    for parse in parsers:
        with contextlib.suppress(InvalidMessage):
            parse(data)


@ROBUST
@given(st.binary(max_size=64))
def test_decode_object_raises_only_invalid_message(payload: bytes) -> None:
    with contextlib.suppress(InvalidMessage):
        decode_object(payload)


def test_wire_json_is_plain_json() -> None:
    data = json.loads(encode_object(issued().to_dict()))
    assert data["v"] == 1
    assert data["issued_at"] == "2026-03-29T09:15:30+02:00"


# ---------------------------------------------------------------------------------------------
# business day


@pytest.mark.parametrize("reset", [time(2, 0), time(2, 30), time(2, 59, 59)])
def test_reset_in_changeover_hour_rejected(reset: time) -> None:
    assert "outside 02:00–03:00" in (reset_time_problem(reset) or "")


@pytest.mark.parametrize("reset", [time(0, 0), time(1, 59, 59), time(3, 0), time(4, 0), time(5, 30)])
def test_reset_outside_changeover_hour_accepted(reset: time) -> None:
    assert reset_time_problem(reset) is None


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN)


def test_early_morning_belongs_to_previous_day() -> None:
    assert local_business_day(berlin(2026, 6, 10, 1, 0), BERLIN, RESET) == date(2026, 6, 9)
    assert local_business_day(berlin(2026, 6, 10, 3, 59, 59), BERLIN, RESET) == date(2026, 6, 9)
    assert local_business_day(berlin(2026, 6, 10, 4, 0), BERLIN, RESET) == date(2026, 6, 10)
    assert local_business_day(berlin(2026, 6, 10, 23, 59), BERLIN, RESET) == date(2026, 6, 10)
    # The same instant given in UTC: 01:00 CEST is 23:00 UTC the day before.
    assert local_business_day(datetime(2026, 6, 9, 23, 0, tzinfo=UTC), BERLIN, RESET) == date(2026, 6, 9)
    # Midnight reset: the calendar day.
    assert local_business_day(berlin(2026, 6, 10, 0, 0), BERLIN, time(0, 0)) == date(2026, 6, 10)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_spring_forward_2026_03_29() -> None:
    # 02:00 CET jumps to 03:00 CEST. 04:00 CEST = 02:00 UTC.
    assert local_business_day(utc(2026, 3, 29, 0, 59), BERLIN, RESET) == date(2026, 3, 28)  # 01:59 CET
    assert local_business_day(utc(2026, 3, 29, 1, 0), BERLIN, RESET) == date(2026, 3, 28)  # 03:00 CEST
    assert local_business_day(utc(2026, 3, 29, 1, 59, 59), BERLIN, RESET) == date(2026, 3, 28)
    assert local_business_day(utc(2026, 3, 29, 2, 0), BERLIN, RESET) == date(2026, 3, 29)  # 04:00 CEST


def test_fall_back_2026_10_25() -> None:
    # 03:00 CEST falls back to 02:00 CET; 02:00–03:00 happens twice. 04:00 CET = 03:00 UTC.
    assert local_business_day(utc(2026, 10, 25, 0, 30), BERLIN, RESET) == date(2026, 10, 24)  # 02:30 CEST
    assert local_business_day(utc(2026, 10, 25, 1, 30), BERLIN, RESET) == date(2026, 10, 24)  # 02:30 CET
    assert local_business_day(utc(2026, 10, 25, 2, 59, 59), BERLIN, RESET) == date(2026, 10, 24)
    assert local_business_day(utc(2026, 10, 25, 3, 0), BERLIN, RESET) == date(2026, 10, 25)  # 04:00 CET


@pytest.mark.parametrize(
    ("start", "hours_of_short_or_long_day", "day"),
    [(utc(2026, 3, 27), 23, date(2026, 3, 28)), (utc(2026, 10, 23), 25, date(2026, 10, 24))],
)
def test_dst_weekend_days_are_monotonic_and_change_once_at_reset(start: datetime,
                                                                 hours_of_short_or_long_day: int,
                                                                 day: date) -> None:
    minutes: dict[date, int] = {}
    previous: date | None = None
    for minute in range(4 * 24 * 60):
        now = start + timedelta(minutes=minute)
        current = local_business_day(now, BERLIN, RESET)
        if previous is not None and current != previous:
            assert current == previous + timedelta(days=1)
            local = now.astimezone(BERLIN)
            assert (local.hour, local.minute) == (4, 0)
        previous = current
        minutes[current] = minutes.get(current, 0) + 1
    assert minutes[day] == hours_of_short_or_long_day * 60


def test_never_backwards() -> None:
    assert next_business_day(date(2026, 3, 29), date(2026, 3, 28), True, None) == date(2026, 3, 29)
    assert next_business_day(date(2026, 3, 29), date(2020, 1, 1), True, date(2026, 3, 27)) == date(2026, 3, 29)


def test_advances_with_synced_clock() -> None:
    assert next_business_day(date(2026, 3, 28), date(2026, 3, 29), True, None) == date(2026, 3, 29)
    assert next_business_day(date(2026, 3, 28), date(2026, 3, 30), True, date(2026, 3, 29)) == date(2026, 3, 30)


def test_no_advance_with_unsynced_clock_unless_hub_says_so() -> None:
    # A Pi that booted without network may believe any date; only the hub's day moves it on.
    assert next_business_day(date(2026, 3, 28), date(2026, 3, 29), False, None) == date(2026, 3, 28)
    assert next_business_day(date(2026, 3, 28), date(2026, 3, 29), False, date(2026, 3, 28)) == date(2026, 3, 28)
    assert next_business_day(date(2026, 3, 28), date(2026, 3, 29), False, date(2026, 3, 29)) == date(2026, 3, 29)
    assert next_business_day(date(2026, 3, 28), date(1970, 1, 1), False, date(2026, 3, 29)) == date(2026, 3, 29)
    # A retained message from yesterday never moves the day back.
    assert next_business_day(date(2026, 3, 29), date(2026, 3, 29), False, date(2026, 3, 28)) == date(2026, 3, 29)


def test_first_start() -> None:
    assert next_business_day(None, date(2026, 3, 29), True, None) == date(2026, 3, 29)
    assert next_business_day(None, date(2026, 3, 29), True, date(2026, 3, 28)) == date(2026, 3, 29)
    assert next_business_day(None, date(1970, 1, 1), False, date(2026, 3, 29)) == date(2026, 3, 29)
    # Nothing better is known: the own (unsynced) clock is the only candidate.
    assert next_business_day(None, date(1970, 1, 1), False, None) == date(1970, 1, 1)


DATES = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))


@settings(deadline=None)
@given(stored=DATES, candidate=DATES, synced=st.booleans(), hub_day=st.none() | DATES)
def test_next_business_day_never_before_stored(stored: date, candidate: date, synced: bool,
                                               hub_day: date | None) -> None:
    result = next_business_day(stored, candidate, synced, hub_day)
    assert result >= stored
    assert result in {stored, candidate, hub_day}
    if not synced:
        assert result == max(stored, hub_day or stored)


# ---------------------------------------------------------------------------------------------
# clock


def test_fake_clock() -> None:
    clock = FakeClock(utc(2026, 3, 29, 1, 59), synced=False)
    assert not clock.synced()
    mono = clock.monotonic()
    clock.advance(60)
    assert clock.now() == utc(2026, 3, 29, 2, 0)
    assert clock.monotonic() == mono + 60
    clock.set(utc(2026, 3, 30))
    clock.set_synced(True)
    assert (clock.now(), clock.synced()) == (utc(2026, 3, 30), True)


# ---------------------------------------------------------------------------------------------
# docs/protocol.md: every example is a valid message and survives a round trip unchanged

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
EXAMPLES = {  # the name of each example in the document → the topic it is sent on
    "ticket.issued": topics.KIOSK_TICKET, "ticket.voided": topics.KIOSK_TICKET, "ack": topics.KIOSK_ACK,
    "queue": topics.QUEUE, "status": topics.DEVICE_STATUS, "will": topics.DEVICE_STATUS, "calls": topics.CALLS,
    "command": topics.COUNTER_COMMAND, "office_command": topics.OFFICE_COMMAND, "answer": topics.COUNTER_RESPONSE,
    "refusal": topics.SUPERVISOR_RESPONSE, "counter_state": topics.COUNTER_STATE, "ticket": topics.TICKET,
    "info": topics.INFO, "history": topics.HISTORY, "citizen_request": topics.CITIZEN_REQUEST,
    "citizen_answer": topics.CITIZEN_RESPONSE,
}


def doc_examples() -> dict[str, str]:
    found: dict[str, str] = {}
    for match in re.finditer(r"<!-- example: (\S+) -->\n```json\n(.*?)```", DOC.read_text("utf-8"), re.S):
        found[match.group(1)] = match.group(2)
    return found


def test_docs_have_an_example_of_every_topic() -> None:
    assert sorted(doc_examples()) == sorted(EXAMPLES)
    assert set(EXAMPLES.values()) == set(PARSERS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docs_example_is_valid(name: str) -> None:
    """Parsed with the type of its topic, and built again from that type: the very same JSON."""
    text = doc_examples()[name]
    message: Any = PARSERS[EXAMPLES[name]](decode_object(text.encode()))
    assert json.loads(encode_object(message.to_dict())) == json.loads(text)


def test_docs_will_example_is_what_the_link_sends() -> None:
    will = encode_object(DeviceStatus(online=False, role="kiosk").to_dict())
    assert json.loads(will) == json.loads(doc_examples()["will"])


def test_docs_token_hash_example() -> None:
    assert topics.token_hash("CAIREEYUCULBOGAZDINRYHI6D4") in DOC.read_text("utf-8")


def test_pending_from_is_optional_and_checked() -> None:
    msg = dataclasses.replace(voided(), pending_from=40)
    assert msg.to_dict()["pending_from"] == 40
    assert ticket_event_from_dict(wire(msg.to_dict())) == msg
    assert "pending_from" not in voided().to_dict()  # older kiosks send none: still valid
    with pytest.raises(InvalidMessage, match="pending_from"):
        ticket_event_from_dict(wire({**msg.to_dict(), "pending_from": 0}))


def test_a_rating_has_a_score_and_only_a_rating_has_one() -> None:
    for build in (lambda: CitizenRequest("req-00000007", "rate", TOKEN),
                  lambda: CitizenRequest("req-00000007", "rate", TOKEN, score=6),
                  lambda: CitizenRequest("req-00000007", "cancel", TOKEN, score=3),
                  lambda: CitizenRequest("req-00000007", "postpone", TOKEN, settled=True)):
        with pytest.raises(InvalidMessage):
            build()
    for data in ({"id": "req-00000008", "op": "rate", "token": TOKEN},
                 {"id": "req-00000008", "op": "rate", "token": TOKEN, "score": 0},
                 {"id": "req-00000008", "op": "rate", "token": TOKEN, "score": 3, "settled": "ja"},
                 {"id": "req-00000008", "op": "next", "token": TOKEN},
                 {"id": "req-00000008", "op": "cancel", "token": TOKEN.lower()}):
        with pytest.raises(InvalidMessage):
            CitizenRequest.from_dict(data)
    assert CitizenRequest.from_dict({"id": "req-00000009", "op": "cancel", "token": TOKEN, "score": 3}).score is None
