"""The waiting-room display: layout rules, and the running board against a real broker."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pygame
import pytest

from display.board import Board
from display.cli import main as display_main
from display.fonts import FontBook
from display.layout import board_layout, inside, overlaps
from display.render import BACKGROUND, BANNER_BG, FOREGROUND, HIGHLIGHT, MUTED, Renderer, View
from display.sample import sample_calls, sample_info, sample_queue
from protocol import topics
from protocol.businessday import WEEKDAYS
from protocol.fields import encode_object
from protocol.messages import Call, CallsState, OfficeInfo
from tests.display_harness import DisplayThread, write_display_config

BERLIN = ZoneInfo("Europe/Berlin")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def luminance(color: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_colours_meet_7_to_1():
    for fg, bg in [(FOREGROUND, BACKGROUND), (HIGHLIGHT, BACKGROUND), (MUTED, BACKGROUND), (BACKGROUND, BANNER_BG),
                   (BACKGROUND, HIGHLIGHT)]:
        assert contrast(fg, bg) >= 7.0, (fg, bg)


def sample_board(now: datetime, mono: float = 100.0) -> Board:
    board = Board("buergerbuero-mitte", BERLIN)
    day = board.today(now)
    board.broker_connected = True
    board.set_info(sample_info(day), mono)
    board.set_calls(sample_calls(day, now), now, mono, 10)
    board.set_queue(sample_queue(day, now), now, mono)
    return board


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (3840, 2160), (1080, 1920)])
def test_layout_fits_and_the_newest_label_is_large_enough(size):
    pygame.display.init()
    pygame.font.init()
    try:
        surface = pygame.Surface(size)
        layout = board_layout(*size)
        fonts = FontBook()
        renderer = Renderer(surface, layout, fonts, View(language_mode="both"))
        now = datetime.now(UTC)
        board = sample_board(now)
        board.calls = (Call("A1042", "A", "platz-12", "Platz 12", now, 1), *board.calls[1:])  # a wide label
        renderer.render(board, now, 100.0, None)
        regions = layout.regions()
        names = list(regions)
        for i, a in enumerate(names):
            assert inside(regions[a], (0, 0, *size)), a
            for b in names[i + 1:]:
                assert not overlaps(regions[a], regions[b]), (a, b)
        for region, boxes in renderer.drawn.items():
            outer = layout.clock if region == "clock" else regions.get(region, layout.banner)
            assert boxes, region
            for box in boxes:
                assert inside(box, outer), (region, box, outer)
        board.calls = (Call("A042", "A", "platz-3", "Platz 3", now, 0), *board.calls[1:])
        renderer.invalidate()
        renderer.render(board, now, 100.0, None)
        assert renderer.label_box is not None
        glyph = fonts.glyph_height("A042", renderer.fonts.fit("A042", layout.label_px, layout.newest[2],
                                                                 round(layout.newest[3] * layout.label_share),
                                                                 True), True)
        assert glyph >= 0.12 * size[1], (glyph, size)
    finally:
        pygame.display.quit()


def white_share(image: pygame.Surface, rect: tuple[int, int, int, int]) -> float:
    x, y, w, h = rect
    # white, not the grey of "no calls yet"
    lit = sum(1 for i in range(x, x + w, 4) for j in range(y, y + h, 4) if sum(image.get_at((i, j))[:3]) > 700)
    return lit / max(1, len(range(x, x + w, 4)) * len(range(y, y + h, 4)))


def test_snapshot_from_retained_state_shows_the_newest_call(tmp_path, shared_broker, recorder_factory, topic_office):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    config = write_display_config(tmp_path, shared_broker.port, topic_office, width=1920, height=1080)
    empty = tmp_path / "empty.png"
    assert display_main(["snapshot", "--config", str(config), "--out", str(empty), "--wait", "1"]) == 0
    now = datetime.now(UTC)
    day = now.astimezone(BERLIN).date()
    info = sample_info(day)
    rec.publish(topics.info(topic_office), json.dumps({"v": 1, "day": day.isoformat(), "name": info.name,
                "timezone": info.timezone, "hours": {k: list(v) for k, v in info.hours.items()},
                "services": [{"id": s.id, "name": {"de": s.name_de, "en": s.name_en}} for s in info.services],
                "counters": [{"id": c.id, "name": c.name} for c in info.counters], "announcement": ""}).encode(),
                retain=True)
    rec.publish(topics.calls(topic_office), encode_object(sample_calls(day, now).to_dict()), retain=True)
    rec.publish(topics.queue(topic_office), encode_object(sample_queue(day, now).to_dict()), retain=True)
    full = ARTIFACTS / "display-board-1920x1080.png"  # kept as a test artefact
    assert display_main(["snapshot", "--config", str(config), "--out", str(full)]) == 0
    layout = board_layout(1920, 1080)
    x, y, w, h = layout.newest
    label_band = (x, y + round(h * 0.14), w, round(h * 0.58))
    shown, blank = pygame.image.load(str(full)), pygame.image.load(str(empty))
    assert white_share(shown, label_band) > 0.15  # the big label's strokes
    assert white_share(blank, label_band) < 0.02
    counter_band = (x, y + round(h * 0.72), w, round(h * 0.28))
    assert white_share(shown, counter_band) > 0.05  # "→ Platz 3"


@pytest.fixture
def running(tmp_path, shared_broker, recorder_factory, topic_office):
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    display = DisplayThread(write_display_config(tmp_path, shared_broker.port, topic_office))
    yield display, rec, topic_office
    display.stop()


def calls_payload(day: date, seq: int, labels: list[str]) -> bytes:
    now = datetime.now(UTC)
    state = CallsState(day=day, seq=seq, calls=tuple(Call(lab, lab[0], "platz-1", "Platz 1", now, 0) for lab in labels))
    return encode_object(state.to_dict())


def today() -> date:
    return datetime.now(UTC).astimezone(BERLIN).date()


def test_new_calls_are_shown_highlighted_and_announced_in_order(running):
    display, rec, office = running
    rec.publish(topics.calls(office), calls_payload(today(), 5, ["A040"]), retain=True)
    app = display.start()
    assert display.wait(lambda a: a.board.calls_seq == 5)
    assert display.announcer.announced == []  # what was retained at start is not news
    rec.publish(topics.calls(office), calls_payload(today(), 6, ["A041", "A040"]), retain=True)
    rec.publish(topics.calls(office), calls_payload(today(), 7, ["P007", "A041", "A040"]), retain=True)
    assert display.wait(lambda a: a.board.calls_seq == 7 and len(display.announcer.announced) == 2)
    assert [a.label for a in display.announcer.announced] == ["A041", "P007"]
    assert app.board.calls[0].label == "P007" and app.board.highlighted(app.clock.monotonic())
    assert display.announcer.wait_idle(10) and display.announcer.requests.count("chime") >= 1
    assert display.wait(lambda a: not a.board.highlighted(a.clock.monotonic()), timeout=10)  # then steady


def test_offline_banner_and_recovery(running, shared_broker):
    display, rec, office = running
    rec.publish(topics.calls(office), calls_payload(today(), 1, ["A001"]), retain=True)
    app = display.start()
    assert display.wait(lambda a: a.board.calls_seq == 1 and a.last_stale is None)
    shared_broker.stop()
    try:
        assert display.wait(lambda a: a.last_stale == "broker", timeout=app.config.stale_after_s + 5)
        assert display.wait(lambda a: "banner" in a.renderer.drawn and a.screen.get_at((2, 2))[:3] == BANNER_BG)
    finally:
        shared_broker.start()
    assert display.wait(lambda a: a.last_stale is None, timeout=15)
    assert rec.wait_ready(10)
    rec.publish(topics.calls(office), calls_payload(today(), 2, ["A002", "A001"]), retain=True)
    assert display.wait(lambda a: a.board.calls and a.board.calls[0].label == "A002")
    assert app.screen.get_at((2, 2))[:3] != BANNER_BG


def test_silence_from_the_hub_while_open_shows_the_banner(running):
    display, rec, office = running
    app = display.start()
    assert display.wait(lambda a: a.board.broker_connected)
    assert display.wait(lambda a: a.last_stale == "silent", timeout=app.config.stale_after_s + 5)
    rec.publish(topics.calls(office), calls_payload(today(), 1, ["A001"]), retain=True)
    assert display.wait(lambda a: a.last_stale is None)


def test_hostile_payloads_do_not_break_the_board(running):
    display, rec, office = running
    app = display.start()
    assert display.wait(lambda a: a.board.broker_connected)  # subscribed: the live messages below reach it
    day = today().isoformat()
    rec.publish(topics.calls(office), b"\xff\xfe not utf-8", retain=True)
    rec.publish(topics.calls(office), json.dumps({"v": 1, "day": day, "seq": "x", "calls": []}).encode())
    rec.publish(topics.calls(office), json.dumps({"v": 1, "day": day, "seq": 3, "calls": [
        {"label": "A" + "9" * 100000, "service": "A", "counter": "platz-1", "counter_name": "x",
         "called_at": "2026-11-25T10:00:00+01:00", "recall": 0}]}).encode())
    many = [{"label": f"A{i % 999 + 1:03d}", "service": "A", "counter": "platz-1", "counter_name": "P" * 5000,
             "called_at": "2026-11-25T10:00:00+01:00", "recall": 0} for i in range(5000)]
    rec.publish(topics.calls(office), json.dumps({"v": 1, "day": day, "seq": 4, "calls": many}).encode())
    rec.publish(topics.queue(office), json.dumps({"v": 1, "day": day, "at": 5, "services": {}}).encode())
    rec.publish(topics.info(office), json.dumps({"v": 1, "day": day, "name": ["x"]}).encode())
    rec.publish(topics.calls(office), calls_payload(today(), 9, ["A009"]), retain=True)
    assert display.wait(lambda a: a.board.calls_seq == 9)
    assert app.link.invalid_messages >= 6 and display.thread.is_alive()
    assert app.board.calls[0].label == "A009"


def test_yesterdays_retained_calls_are_not_shown(running):
    display, rec, office = running
    rec.publish(topics.calls(office), calls_payload(today() - timedelta(days=1), 40, ["A099"]), retain=True)
    app = display.start()
    assert display.wait(lambda a: a.board.broker_connected)
    rec.publish(topics.calls(office) + "/probe", b"x")  # a message after the retained one, as a marker
    assert display.wait(lambda a: a.counters.frames >= 2)
    assert app.board.calls == () and app.board.calls_seq == -1


def test_the_board_goes_dark_outside_opening_hours(running):
    display, rec, office = running
    closed = {"v": 1, "day": today().isoformat(), "name": "Bürgerbüro", "timezone": "Europe/Berlin", "hours": {},
              "services": [], "counters": [], "announcement": ""}
    rec.publish(topics.info(office), json.dumps(closed).encode(), retain=True)
    app = display.start()
    assert display.wait(lambda a: a.board.info is not None and "dark" in a.renderer.drawn)
    assert app.screen.get_at((app.screen.get_width() // 3, app.screen.get_height() // 3))[:3] == BACKGROUND
    assert app.last_stale is None  # a closed office is not "out of date"


def test_the_hubs_info_parses_for_the_display():
    import tempfile
    from pathlib import Path

    from devtools.hub_harness import write_hub_config
    from hub.config import load_hub_config
    from hub.engine import OfficeEngine
    from hub.views import office_info

    config = load_hub_config(write_hub_config(Path(tempfile.mkdtemp()), 1883, "t-info"))
    office = config.offices[0]
    info = OfficeInfo.from_dict({"v": 1, **office_info(office, OfficeEngine(office, today())).to_dict()})
    assert info.name == "Bürgerbüro Test" and info.service("P") is not None and len(info.counters) == 3


def info_payload(day: date, hub: str | None = "hub-1", **extra: object) -> bytes:
    """The hub's `info`, open all day (so the board is never dark while a test runs)."""
    info = {"v": 1, "day": day.isoformat(), "name": "Bürgerbüro Test", "timezone": "Europe/Berlin",
            "hours": {d: ["00:00-23:59"] for d in WEEKDAYS},
            "services": [{"id": "A", "name": {"de": "Anliegen", "en": "Matters"}}],
            "counters": [{"id": "platz-1", "name": "Platz 1"}], "announcement": "", **extra}
    if hub is not None:
        info["hub"] = hub
    return json.dumps(info).encode()


def test_only_the_hub_named_in_info_can_say_the_hub_is_offline(running):
    display, rec, office = running
    rec.publish(topics.info(office), info_payload(today()), retain=True)
    rec.publish(topics.calls(office), calls_payload(today(), 1, ["A001"]), retain=True)
    display.start()
    assert display.wait(lambda a: a.last_stale is None and a.board.calls_seq == 1 and a.board.info is not None)
    # A kiosk (it may write only its own status topic) claims to be the hub, offline.
    rec.publish(topics.device_status(office, "kiosk-1"), b'{"v": 1, "online": false, "role": "hub"}', retain=True)
    rec.publish(topics.calls(office), calls_payload(today(), 2, ["A002", "A001"]), retain=True)  # a marker after it
    assert display.wait(lambda a: a.board.calls_seq == 2)
    assert display.app is not None and display.app.last_stale is None and display.app.board.hub_online is None
    # The hub itself, on its own topic — whatever role its payload claims.
    rec.publish(topics.device_status(office, "hub-1"), b'{"v": 1, "online": false, "role": "kiosk"}', retain=True)
    assert display.wait(lambda a: a.last_stale == "hub")
    rec.publish(topics.device_status(office, "hub-1"), b'{"v": 1, "online": true, "role": "hub"}', retain=True)
    assert display.wait(lambda a: a.last_stale is None)
    for device in ("kiosk-1", "hub-1"):
        rec.clear_retained(topics.device_status(office, device))


def test_a_missing_video_driver_fails_with_a_clear_message(tmp_path, capsys, monkeypatch):
    config = write_display_config(tmp_path, 1883, "t-kms")
    config.write_text(config.read_text().replace('video_driver = "dummy"', 'video_driver = "kmsdrm"'))
    monkeypatch.setenv("SDL_VIDEODRIVER", "kmsdrm")
    assert display_main(["run", "--config", str(config)]) == 1
    assert "cannot open the screen with video driver 'kmsdrm'" in capsys.readouterr().err
    pygame.display.quit()
