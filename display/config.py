"""The display's configuration (TOML, validated like the kiosk's: unknown keys are errors)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from display.signals import CounterSignal, read_signals
from language.catalogue import LANGUAGES, RIGHT_TO_LEFT
from process.config import ConfigSection, load_checked
from protocol.fields import service_problem, slug_problem
from protocol.link import BrokerSettings, read_broker_settings

VIDEO_DRIVERS = ("kmsdrm", "window", "dummy")
# The board draws left to right (pygame's fonts, DejaVu Sans: Latin, Turkish, Cyrillic): every language but Arabic.
BOARD_LANGUAGES = tuple(lang for lang in LANGUAGES if lang not in RIGHT_TO_LEFT)


@dataclass(frozen=True)
class DisplayConfig:
    path: Path
    office: str
    device: str
    services: tuple[str, ...]  # empty: all services
    counters: tuple[str, ...]  # empty: all counters
    video_driver: str
    width: int
    height: int
    languages: tuple[str, ...]
    language_mode: str  # "alternate" (switch every language_switch_s) or "both"
    language_switch_s: float
    highlight_s: float
    stale_after_s: float
    recent_calls: int
    chime: bool
    speech: bool
    max_pending_speech: int
    snapshot_dir: Path | None
    broker: BrokerSettings
    signals: tuple[CounterSignal, ...] = ()  # a light and/or buzzer per counter (display/signals.py)


def load_display_config(path: Path) -> DisplayConfig:
    return load_checked(path, _read)


def _read(root: ConfigSection, path: Path) -> DisplayConfig:
    d = root.get_section("display")
    screen = root.get_section("screen", required=False)
    sound = root.get_section("sound", required=False)
    services = tuple(d.get_str_list("services", []))
    for service in services:
        if (problem := service_problem(service)) is not None:
            raise d.error("services", problem)
    counters = tuple(d.get_str_list("counters", []))
    for counter in counters:
        if (problem := slug_problem(counter)) is not None:
            raise d.error("counters", problem)
    languages = tuple(d.get_str_list("languages", ["de", "en"]))
    if not languages or any(lang not in BOARD_LANGUAGES for lang in languages):
        raise d.error("languages", f"choose from {', '.join(BOARD_LANGUAGES)} (the board does not write right to "
                                   f"left, so no Arabic); got {list(languages)}")
    orientation = screen.get_str("orientation", "landscape", choices=("landscape", "portrait"))
    width = screen.get_int("width", 1920 if orientation == "landscape" else 1080, minval=320, maxval=7680)
    height = screen.get_int("height", 1080 if orientation == "landscape" else 1920, minval=240, maxval=7680)
    if (orientation == "portrait") != (height > width):
        raise screen.error("orientation", f"{orientation} does not match the size {width}×{height}")
    return DisplayConfig(
        path=path,
        office=d.get_str("office", check=slug_problem),
        device=d.get_str("device", check=slug_problem),
        services=services,
        counters=counters,
        video_driver=screen.get_str("video_driver", "kmsdrm", choices=VIDEO_DRIVERS),
        width=width,
        height=height,
        languages=languages,
        language_mode=d.get_str("language_mode", "alternate", choices=("alternate", "both")),
        language_switch_s=d.get_float("language_switch_s", 8.0, minval=2, maxval=120),
        highlight_s=d.get_float("highlight_s", 10.0, minval=1, maxval=120),
        stale_after_s=d.get_float("stale_after_s", 150.0, minval=5, maxval=3600),
        recent_calls=d.get_int("recent_calls", 6, minval=1, maxval=12),
        chime=sound.get_bool("chime", True),
        speech=sound.get_bool("speech", False),
        max_pending_speech=sound.get_int("max_pending", 3, minval=1, maxval=20),
        snapshot_dir=screen.get_path("snapshot_dir", None),
        broker=read_broker_settings(root.get_section("broker")),
        signals=read_signals(root.get_section_list("signals", required=False)),
    )
