"""archive.toml: which offices, where the files go, how they are served and under which licence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from process.config import ConfigSection, load_toml
from protocol.fields import slug_problem
from protocol.link import BrokerSettings, read_broker_settings
from protocol.opendata import DEFAULT_LICENCE, DEFAULT_LICENCE_URL


@dataclass(frozen=True)
class ArchiveConfig:
    path: Path
    device: str
    offices: tuple[str, ...]
    directory: Path
    interval_min: int
    timezone: ZoneInfo
    flush_s: float
    host: str
    port: int
    licence: str
    licence_url: str
    attribution: str
    broker: BrokerSettings


def load_archive_config(path: Path) -> ArchiveConfig:
    root = load_toml(path)
    section = root.get_section("archive")
    offices = tuple(section.get_str_list("offices"))
    if not offices:
        raise section.error("offices", "the archive needs the list of offices it records")
    for office in offices:
        problem = slug_problem(office)
        if problem:
            raise section.error("offices", f"{office!r}: {problem}")
    interval = section.get_int("interval_min", 15, minval=1, maxval=60)
    if 60 % interval:
        raise section.error("interval_min", "must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)")
    config = ArchiveConfig(
        path=path, device=section.get_str("device", check=slug_problem), offices=offices,
        directory=section.get_path("directory"), interval_min=interval,
        timezone=section.get_zone("timezone"), flush_s=section.get_float("flush_s", 60.0, minval=1, maxval=3600),
        host=section.get_str("host", "127.0.0.1"), port=section.get_int("port", 8090, minval=1, maxval=65535),
        licence=section.get_str("licence", DEFAULT_LICENCE), licence_url=section.get_str("licence_url",
                                                                                        DEFAULT_LICENCE_URL),
        attribution=section.get_str("attribution"), broker=read_broker_settings(root.get_section("broker")))
    _check_directory(section, config.directory)
    root.check_unknown()
    return config


def _check_directory(section: ConfigSection, directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise section.error("directory", f"{directory} exists and is not a folder")
