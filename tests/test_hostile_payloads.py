"""Hostile text and hostile payloads (issue 10, finding 7): the contract refuses control characters
and over-long text in every human text field, the hub answers such an announcement with a clear
`ok: false`, and no consumer — the real display process, the web, the kiosk process — dies on, or
shows, any payload in any topic it reads, retained or not.

The catalogue is built from good messages: every string field gets a NUL, escape and bell, a line
feed, a bidi override, a lone surrogate and 200 kB of text; every field gets values of every wrong
type; and then payloads that are not the contract at all (invalid UTF-8, 200,000-deep nesting, …).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pygame
import pytest

from devtools.hub_harness import write_hub_config
from devtools.kiosk_harness import FAST_A, write_config
from display.layout import Rect, board_layout
from hub.app import Hub
from hub.config import load_hub_config
from process.clock import SystemClock
from protocol import VERSION, topics
from protocol.businessday import WEEKDAYS
from protocol.fields import InvalidMessage, decode_object
from protocol.link import BrokerSettings, MqttLink
from protocol.messages import PARSERS, CommandAnswer, OfficeInfo
from protocol.requests import command_expiry_s, request_properties
from tests.staff_harness import Browser, counter_path
from tests.test_kiosk_crash import KioskProcess
from tests.test_web_internal import web_only  # noqa: F401 (a fixture)
from tests.web_harness import get, wait_until

REPO = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
HOSTILE_TEXT = {
    "NUL": "Platz\x00 1", "escape and bell": "\x1b[2J\x07", "line feed": "Heute\ngeschlossen",
    "bidi override": "\u202eGNUTHCA", "lone surrogate": "\ud800", "200 kB": "W" * 200_000,
    "only zero-width characters": "\u200b\u200d\ufeff\u00ad",
}
WRONG_VALUES: tuple[Any, ...] = (None, 7, -1, 2**60, 1.5, True, "x", [], {}, [["nested"]])
NOT_THE_CONTRACT = {
    "invalid UTF-8": b'{"v": 1, "name": "\xff\xfe"}',
    "UTF-8 of a surrogate": b'{"v": 1, "name": "\xed\xa0\x80"}',
    "200,000-deep nesting": b'{"v": 1, "calls": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
    "not JSON": b"\x00\x01\x02", "a list": b"[1, 2]", "null": b"null", "wrong version": b'{"v": 2}',
    "only v": b'{"v": 1}',
}
TOKEN_HASH = topics.token_hash("CAIREEYUCULBOGAZDINRYHI6D4")


def today() -> date:
    return datetime.now(UTC).astimezone(BERLIN).date()


def good_messages(day: date, hub: str = "hub-1") -> dict[str, dict[str, Any]]:
    """One good message of every kind a consumer reads, keyed by the topic suffix."""
    now = datetime.now(UTC).astimezone(BERLIN).replace(microsecond=0).isoformat()
    call = {"label": "A001", "service": "A", "counter": "platz-1", "counter_name": "Platz 1", "called_at": now,
            "recall": 0}
    return {
        "info": {"v": 1, "day": day.isoformat(), "name": "Bürgerbüro Test", "timezone": "Europe/Berlin",
                 "hours": {d: ["00:00-23:59"] for d in WEEKDAYS},
                 "services": [{"id": "A", "name": {"de": "Anliegen", "en": "Matters"}}],
                 "counters": [{"id": "platz-1", "name": "Platz 1"}], "announcement": "Heute bis 18 Uhr",
                 "hub": hub},
        "calls": {"v": 1, "day": day.isoformat(), "seq": 1, "calls": [call]},
        "queue": {"v": 1, "day": day.isoformat(), "at": now, "services": [
            {"service": "A", "waiting": 3, "expected_wait_min": 12, "issuing": False, "reason": "quota reached",
             "ampel": "red"}]},
        f"device/{hub}/status": {"v": 1, "online": True, "role": "hub", "version": VERSION, "at": now,
                                 "clock_synced": True},
        "history": {"v": 1, "office": "t-history", "weeks": 8, "until": day.isoformat(),
                    "cells": [{"weekday": 0, "hour": 9, "typical_wait_min": 20, "tickets_per_day": 14.5}],
                    "ran_out": {"0": {"days": 2, "of_days": 8, "typical_time": "11:30"}}},
        f"ticket/{TOKEN_HASH}": {"v": 1, "day": day.isoformat(), "label": "A001", "service": "A", "state": "called",
                                 "issued_at": now, "counter": "platz-1", "counter_name": "Platz 1",
                                 "called_at": now, "recall": 0},
        "counter/platz-1/state": {"v": 1, "day": day.isoformat(), "counter": "platz-1", "state": "serving",
                                  "label": "A001", "service": "A"},
        "kiosk/kiosk-1/ack": {"v": 1, "seq": 0, "day": day.isoformat(), "last": {"A": 0}},
    }


def parser(suffix: str) -> Callable[[Mapping[str, Any]], object]:
    """The contract's parser for a topic suffix (the consumers' own)."""
    return PARSERS[topics.parse(f"{topics.office_root('t-any')}/{suffix}").kind]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replaced(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    target: Any = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def rejected(suffix: str, payload: bytes) -> bool:
    try:
        parser(suffix)(decode_object(payload))
    except InvalidMessage:
        return True
    return False


def hostile_payloads(suffix: str, good: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Every payload of the catalogue for one topic that the contract refuses (hostile text in a string
    field always is: test_every_hostile_text_is_refused_by_the_contract)."""
    out = list(NOT_THE_CONTRACT.items())
    for path, value in _leaves(good):
        if path == ("v",):
            continue
        candidates = [(f"{'.'.join(map(str, path))}: {name}", text) for name, text in HOSTILE_TEXT.items()]
        candidates += [(f"{'.'.join(map(str, path))} = {wrong!r}", wrong) for wrong in WRONG_VALUES
                       if type(wrong) is not type(value)]
        for name, replacement in candidates:
            payload = json.dumps(_replaced(good, path, replacement)).encode()
            if rejected(suffix, payload):
                out.append((name, payload))
    return out


# -- the contract -------------------------------------------------------------------------------------

def test_every_hostile_text_is_refused_by_the_contract() -> None:
    for suffix, good in good_messages(today()).items():
        assert not rejected(suffix, json.dumps(good).encode()), suffix
        for path, value in _leaves(good):
            if isinstance(value, str):
                for name, text in HOSTILE_TEXT.items():
                    assert rejected(suffix, json.dumps(_replaced(good, path, text)).encode()), (suffix, path, name)


def _office_command(link: MqttLink, office: str, body: dict[str, Any]) -> CommandAnswer:
    """A raw office command (the builder would refuse this text) and the hub's answer."""
    answer: dict[str, Any] = {}
    done = threading.Event()
    response = topics.supervisor_response(office, uuid.uuid4().hex[:12])

    def on_reply(_topic: str, payload: bytes, _properties: Any) -> None:
        answer.update(json.loads(payload))
        done.set()

    link.subscribe_requests(response, on_reply)
    link.publish(topics.office_command(office), json.dumps({"v": 1, **body}).encode(),
                 properties=request_properties(response, uuid.uuid4().bytes, command_expiry_s(10)))
    assert done.wait(10), "the hub did not answer"
    return CommandAnswer.from_dict(answer)


def test_the_hub_refuses_a_hostile_announcement_with_a_clear_answer(tmp_path, shared_broker, recorder_factory,
                                                                   topic_office):
    rec = recorder_factory(shared_broker, [topics.info(topic_office)])
    hub = Hub(load_hub_config(write_hub_config(tmp_path, shared_broker.port, topic_office)),
              SystemClock(assume_synced=True))
    hub.start()
    link = MqttLink(BrokerSettings(port=shared_broker.port), topic_office, "supervisor-test", "cli", VERSION,
                    SystemClock(), availability=False)
    link.start()
    try:
        assert link.connected.wait(10)
        rec.wait_for_json(topics.info(topic_office), lambda i: i.get("hub") == "hub-test")  # names itself
        for name, text in HOSTILE_TEXT.items():
            answer = _office_command(link, topic_office, {"id": uuid.uuid4().hex, "op": "announce", "text": text})
            assert answer.ok is False and "field 'text'" in (answer.error or ""), (name, answer)
        assert hub.runtimes[topic_office].engine.announcement == ""
        answer = _office_command(link, topic_office, {"id": uuid.uuid4().hex, "op": "announce", "text": "Heute 🙂"})
        assert answer.ok is True
        rec.wait_for_json(topics.info(topic_office), lambda i: i["announcement"] == "Heute 🙂")
    finally:
        link.stop()
        hub.stop()


# -- the real display process ---------------------------------------------------------------------------

class DisplayProcess:
    """`wartemarke-display run` as a subprocess (SDL dummy drivers), its board written as PNG."""

    def __init__(self, directory: Path, port: int, office: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "display.toml"
        self.config.write_text(textwrap.dedent(f"""
            [display]
            office = "{office}"
            device = "display-1"
            languages = ["de"]
            stale_after_s = 3600
            highlight_s = 1

            [screen]
            video_driver = "dummy"
            width = 1280
            height = 720

            [sound]
            chime = false

            [broker]
            host = "127.0.0.1"
            port = {port}
            reconnect_max_s = 1
        """), encoding="utf-8")
        self.png = directory / "board.png"
        self.log = directory / "display.log"
        self.layout = board_layout(1280, 720)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYTHONUNBUFFERED": "1"}
        self.png.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "display", "run", "--config", str(self.config),
                                          "--snapshot", str(self.png)], stdout=log, stderr=log, cwd=REPO, env=env)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)

    def regions(self) -> dict[str, bytes] | None:
        """The pixels of every region but the clock, from the last PNG the display wrote."""
        try:
            image = pygame.image.load(str(self.png))
        except (FileNotFoundError, pygame.error):
            return None
        lay = self.layout
        header: Rect = (lay.header[0], lay.header[1], lay.clock[0] - lay.header[0], lay.header[3])
        rects = {"header": header, "newest": lay.newest, "recent": lay.recent, "services": lay.services,
                 "footer": lay.footer}
        return {name: pygame.image.tobytes(image.subsurface(rect), "RGB") for name, rect in rects.items()}

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def lit(pixels: bytes) -> int:
    """White pixels (text strokes of names, labels, the announcement; hints are grey, the board black)."""
    return sum(1 for i in range(0, len(pixels), 3) if pixels[i] + pixels[i + 1] + pixels[i + 2] > 700)


@pytest.fixture
def display_process(tmp_path, shared_broker, topic_office) -> Iterator[DisplayProcess]:
    process = DisplayProcess(tmp_path / "display", shared_broker.port, topic_office)
    try:
        yield process
    finally:
        process.stop()


def publish_all(rec: Any, office: str, messages: dict[str, dict[str, Any]], suffixes: tuple[str, ...]) -> None:
    for suffix in suffixes:
        rec.publish(f"{topics.office_root(office)}/{suffix}", json.dumps(messages[suffix]).encode(), retain=True)


DISPLAY_TOPICS = ("info", "queue", "calls", "device/hub-1/status")


def test_the_display_process_survives_every_hostile_payload_and_keeps_its_last_good_board(
        display_process, shared_broker, recorder_factory, topic_office):
    display, office = display_process, topic_office
    rec = recorder_factory(shared_broker, [topics.device_status(office, "display-1")])
    good = good_messages(today())
    publish_all(rec, office, good, DISPLAY_TOPICS)
    display.start()

    def good_board() -> dict[str, bytes] | None:
        regions = display.regions()
        ok = regions is not None and all(lit(regions[n]) > 50 for n in ("header", "newest", "services", "footer"))
        return regions if ok else None

    baseline = wait_until(good_board, timeout=30, what=f"the first good board\n{display.text()}")
    hostile = [(suffix, payload) for suffix in DISPLAY_TOPICS
               for _name, payload in hostile_payloads(suffix, good[suffix])]
    hostile += [("device/kiosk-1/status", payload) for suffix, payload in hostile if suffix.startswith("device/")]
    forged = {**good["device/hub-1/status"], "role": "hub", "online": False}  # valid, but a kiosk's topic
    rec.publish(topics.device_status(office, "kiosk-1"), json.dumps(forged).encode(), retain=True)
    for suffix, payload in hostile:
        rec.publish(f"{topics.office_root(office)}/{suffix}", payload, retain=True)
    # A last good call on the same connection: once the board shows it, every payload before it was handled.
    marker = {**good["calls"], "seq": 2, "calls": [{**good["calls"]["calls"][0], "label": "A002"},
                                                   good["calls"]["calls"][0]]}
    rec.publish(topics.calls(office), json.dumps(marker).encode(), retain=True)

    def marker_shown() -> dict[str, bytes] | None:
        regions = display.regions()
        return regions if regions is not None and regions["newest"] != baseline["newest"] else None

    after = wait_until(marker_shown, timeout=30, what=f"the marker call on the board\n{display.text()[-3000:]}")
    assert display.alive(), display.text()[-3000:]
    for region in ("header", "services", "footer"):  # no hostile info, queue or hub status got through
        assert after[region] == baseline[region], region
    log = display.text()
    # each dropped and counted; logged once per sender and minute (5 senders here), not once each
    assert 1 <= log.count("dropped invalid message") <= 2 * 5 < len(hostile), log[-3000:]
    assert "Traceback" not in log and "failed" not in log, log[-3000:]

    # A restart with a hostile message retained in every topic it reads: up, and an empty board, not a crash.
    display.stop()
    for suffix in DISPLAY_TOPICS:
        nul = json.dumps(_replaced(good[suffix], _first_text_path(good[suffix]), "Platz\x00 1")).encode()
        rec.publish(f"{topics.office_root(office)}/{suffix}", nul, retain=True)
    since = rec.mark()
    display.start()
    rec.wait_for_json(topics.device_status(office, "display-1"), lambda s: s["online"], since=since, timeout=30)
    wait_until(lambda: display.regions() is not None, timeout=30, what="a board after the restart")
    assert display.alive(), display.text()[-3000:]
    publish_all(rec, office, good, DISPLAY_TOPICS)  # and the hub's next good state is shown again
    recovered = wait_until(good_board, timeout=30, what=f"the good board again\n{display.text()[-3000:]}")
    assert display.alive()
    for region in ("header", "newest", "services", "footer"):
        assert recovered[region] == baseline[region], region


def test_the_board_draws_a_text_of_only_zero_width_characters_as_nothing() -> None:
    """The last line of defence behind the contract: were such an announcement to reach a display anyway
    (an older hub, a path that forgot the rule), pygame's "Text has zero width" must not break the footer."""
    from display.board import Board
    from display.fonts import FontBook
    from display.render import Renderer, View

    pygame.display.init()
    pygame.font.init()
    try:
        screen = pygame.display.set_mode((1280, 720))
        fonts = FontBook()
        assert fonts.render("\u200b\u200d\ufeff\u00ad", 40, (255, 255, 255)).get_width() == 0
        info = OfficeInfo.from_dict(good_messages(today())["info"])
        board = Board("t-zw", BERLIN, info=dataclasses.replace(info, announcement="\u200b\ufeff"))
        renderer = Renderer(screen, board_layout(1280, 720), fonts, View())
        renderer.render(board, datetime.now(UTC), 1.0, None)
        assert "footer" in renderer.drawn
    finally:
        pygame.display.quit()


def _first_text_path(message: dict[str, Any]) -> tuple[Any, ...]:
    """Where a person-readable text sits in a message (the announcement, a counter name, a reason, …)."""
    for key in ("announcement", "reason", "counter_name", "version"):
        for path, _value in _leaves(message):
            if path[-1] == key:
                return path
    raise AssertionError(f"no text field in {message}")


# -- the web and the kiosk process --------------------------------------------------------------------

WEB_TOPICS = ("info", "queue", "calls", "history", f"ticket/{TOKEN_HASH}", "counter/platz-1/state",
              "device/hub-1/status")


def test_the_web_survives_every_hostile_payload_and_keeps_the_last_good_state(
        web_only, shared_broker, recorder_factory, topic_office):  # noqa: F811 (the imported fixture)
    server = web_only(True)
    rec = recorder_factory(shared_broker, [])
    good = good_messages(today())
    good["history"]["office"] = topic_office
    publish_all(rec, topic_office, good, WEB_TOPICS)
    mirror = server.mirror
    wait_until(lambda: TOKEN_HASH in mirror.tickets and mirror.office(topic_office).history is not None
               and "hub-1" in mirror.office(topic_office).devices, what="the good state in the mirror")
    before = mirror.invalid
    count = 0
    for suffix in WEB_TOPICS:
        for _name, payload in hostile_payloads(suffix, good[suffix]):
            rec.publish(f"{topics.office_root(topic_office)}/{suffix}", payload, retain=True)
            count += 1
    wait_until(lambda: mirror.invalid - before >= count, timeout=30, what="every hostile payload dropped")
    office = mirror.office(topic_office)
    parsed = {suffix: PARSERS[topics.parse(f"{topics.office_root(topic_office)}/{suffix}").kind](good[suffix])
              for suffix in WEB_TOPICS}  # the mirror keeps the parsed objects of the last good messages
    assert (office.info, office.queue, office.calls, office.history) == tuple(
        parsed[suffix] for suffix in ("info", "queue", "calls", "history"))
    assert mirror.tickets[TOKEN_HASH][1] == parsed[f"ticket/{TOKEN_HASH}"]
    assert office.counters["platz-1"] == parsed["counter/platz-1/state"]
    assert office.devices["hub-1"] == parsed["device/hub-1/status"]
    base = f"http://127.0.0.1:{server.settings.port}"
    for path in ("/", "/healthz", "/metrics", "/api/v1/offices", f"/api/v1/offices/{topic_office}/history",
                 "/t/CAIREEYUCULBOGAZDINRYHI6D4", "/api/v1/tickets/CAIREEYUCULBOGAZDINRYHI6D4"):
        reply = get(base + path)
        assert reply.status == 200, (path, reply.status, reply.text[:300])
    assert "Bürgerbüro Test" in get(base + "/").text
    technician, supervisor = Browser(server.settings.port), Browser(server.settings.port)
    technician.login("tina")
    supervisor.login("sven")
    for browser, path in ((technician, "/devices"), (technician, "/api/internal/devices"),
                          (supervisor, counter_path(topic_office)),
                          (supervisor, f"/api/internal/counter?office={topic_office}&counter=platz-1")):
        page = browser.get(path)
        assert page.status == 200, (path, page.status, page.text[:300])


def test_the_kiosk_process_survives_hostile_acks_and_queues(tmp_path, shared_broker, recorder_factory,
                                                           topic_office):
    rec = recorder_factory(shared_broker, [])
    good = good_messages(today())
    for suffix in ("kiosk/kiosk-1/ack", "queue", "info"):
        for _name, payload in hostile_payloads(suffix, good[suffix]):
            rec.publish(f"{topics.office_root(topic_office)}/{suffix}", payload, retain=True)
    kiosk = KioskProcess(write_config(tmp_path, shared_broker.port, topic_office, services=FAST_A))
    try:
        assert kiosk.ready.wait(30), "".join(kiosk.lines[-40:])
        kiosk.press("A")
        assert kiosk.wait_printed(1, 30), "".join(kiosk.lines[-40:])
        for suffix in ("kiosk/kiosk-1/ack", "queue"):  # and live, while it runs
            for _name, payload in hostile_payloads(suffix, good[suffix]):
                rec.publish(f"{topics.office_root(topic_office)}/{suffix}", payload)
        kiosk.press("A")
        assert kiosk.wait_printed(2, 30), "".join(kiosk.lines[-40:])
        assert kiosk.proc.poll() is None
        dropped = sum("dropped invalid message" in line or "more like it from" in line for line in kiosk.lines)
        assert 1 <= dropped <= 2 * 4, "logged once per sender and minute, not once per message"
        assert not any("Traceback" in line for line in kiosk.lines), "".join(kiosk.lines[-40:])
    finally:
        kiosk.terminate()
