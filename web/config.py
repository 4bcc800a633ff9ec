"""Web settings: a `[web]` table in the hub's config (all pages) or in a public replica's config."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from protocol.config import SLUG_RE, ConfigSection, load_toml
from protocol.link import BrokerSettings, read_broker_settings
from web.identity import ROLES


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    public_url: str  # where citizens reach the tracking pages, e.g. https://warte.example.org
    offices: tuple[str, ...]  # offices to mirror
    operator: str
    privacy_url: str
    imprint_url: str
    access_log: bool  # without IP addresses in any case
    session_secret: bytes
    miss_limit_per_min: int  # unknown tracking tokens per client and minute before 429
    trust_forwarded: bool  # behind our reverse proxy: the client is the last X-Forwarded-For entry
    broker_username: str | None = None  # the hub's web: its own broker account (least privilege)
    broker_password: str | None = None
    device_roles: dict[str, str] = field(default_factory=dict)  # the inventory: device id → role (web/identity.py)


def read_web_settings(section: ConfigSection, offices: tuple[str, ...], base: Path) -> WebSettings:
    secret_file = section.get_str("session_secret_file", None)
    secret = secrets.token_bytes(32)
    if secret_file is not None:
        path = (base / secret_file) if not Path(secret_file).is_absolute() else Path(secret_file)
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise section.error("session_secret_file", f"cannot be read: {exc}") from None
        if len(secret) < 16:
            raise section.error("session_secret_file", "holds fewer than 16 bytes")
    return WebSettings(
        host=section.get_str("host", "127.0.0.1"),
        port=section.get_int("port", 8080, minval=1, maxval=65535),
        public_url=section.get_str("public_url", "http://localhost:8080").rstrip("/"),
        offices=tuple(section.get_str_list("offices", list(offices))),
        operator=section.get_str("operator", "Stadt"),
        privacy_url=section.get_str("privacy_url", "/datenschutz"),
        imprint_url=section.get_str("imprint_url", "/impressum"),
        access_log=section.get_bool("access_log", True),
        session_secret=secret,
        miss_limit_per_min=section.get_int("miss_limit_per_min", 20, minval=1, maxval=10000),
        trust_forwarded=section.get_bool("trust_forwarded", False),
        broker_username=section.get_str("broker_username", None),
        broker_password=_password(section),
        device_roles=_device_roles(section.get_section("device_roles", required=False)),
    )


def _device_roles(section: ConfigSection) -> dict[str, str]:
    """`device_roles = { "mitte-kiosk-1" = "kiosk", … }`: who is who, from the inventory."""
    roles = {}
    for device in section.own_keys():
        if not SLUG_RE.match(device):
            raise section.error(device, "is not a device id (a slug of a-z, 0-9 and '-')")
        roles[device] = section.get_str(device, choices=ROLES)
    return roles


def _password(section: ConfigSection) -> str | None:
    path = section.get_str("broker_password_file", None)
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise section.error("broker_password_file", f"cannot be read: {exc}") from None


@dataclass(frozen=True)
class ReplicaConfig:
    """`wartemarke-web run --config PATH`: a public replica (no clerk or technician pages)."""

    path: Path
    device: str
    web: WebSettings
    broker: BrokerSettings


def load_replica_config(path: Path) -> ReplicaConfig:
    root = load_toml(path)
    replica = root.get_section("replica")
    web_section = root.get_section("web")
    web = read_web_settings(web_section, (), path.parent)
    if not web.offices:
        raise web_section.error("offices", "a replica needs the list of offices it serves")
    config = ReplicaConfig(path=path, device=replica.get_slug("device"), web=web,
                           broker=read_broker_settings(root.get_section("broker")))
    root.check_unknown()
    return config
