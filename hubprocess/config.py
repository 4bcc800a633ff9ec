"""hub.toml as a whole: the hub's tables (hub/config.py) and, when present, `[web]` (web/config.py).

Every key of the file must be read by one of them: an unknown key, in the hub's tables or in `[web]`,
stops the hub at start-up with the file and the dotted key named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.config import HubConfig, read_hub_config
from process.config import ConfigSection, load_toml
from protocol.link import BrokerSettings
from web.config import WebSettings, read_web_settings


@dataclass(frozen=True)
class HubProcessConfig:
    path: Path
    hub: HubConfig
    web: WebSettings | None  # the web tier in the hub's process (all pages), when [web] is present


def load_hub_process_config(path: Path) -> HubProcessConfig:
    root = load_toml(path)
    hub = read_hub_config(root, path)
    web = None
    if root.has("web"):
        section = root.get_section("web")
        web = read_web_settings(section, tuple(o.id for o in hub.offices), staff=True)
        _check_own_account(section, hub.broker, web)
    root.check_unknown()
    return HubProcessConfig(path, hub, web)


def _check_own_account(section: ConfigSection, broker: BrokerSettings, web: WebSettings) -> None:
    """The broker binds client ids to usernames: a web logged in as the hub would disconnect the hub
    (and the hub it) for ever. With a broker account, the web needs one of its own."""
    if broker.username is not None and web.broker_username in (None, broker.username):
        raise section.error("broker_username", "the hub's web needs its own broker account (e.g. "
                            f"'{broker.username}-web'): sharing the hub's would make them disconnect each other")
