"""`notifier.toml`: the notifier's own settings, its broker and the offices it serves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from process.config import load_toml
from protocol.fields import slug_problem
from protocol.link import BrokerSettings, read_broker_settings

#: The push services of the browsers people use (Chrome/Android, Firefox, Safari/iOS, Edge): a subscription
#: whose endpoint is elsewhere is refused, so nobody can make the notifier post to a host of their choice.
PUSH_HOSTS = ("fcm.googleapis.com", "updates.push.services.mozilla.com", "push.services.mozilla.com",
              "web.push.apple.com", "notify.windows.com")


@dataclass(frozen=True)
class NotifierConfig:
    path: Path
    device: str
    offices: tuple[str, ...]
    host: str
    port: int
    public_url: str  # where citizens reach the tracking pages: the only Origin accepted, the click's fallback
    database: Path
    vapid_key_file: Path
    vapid_subject: str  # mailto: or https: — who runs this, for the push services
    proxy: str | None  # http://proxy:3128, the city's way out; None: direct
    push_hosts: tuple[str, ...]  # an endpoint's host must be one of these or end in "." + one
    allow_http_endpoints: bool  # tests and the demo only: a push endpoint over plain HTTP
    request_timeout_s: float
    retry_initial_s: float
    retry_max_s: float
    broker: BrokerSettings
    trust_forwarded: bool = False  # behind our reverse proxy: the client is the last X-Forwarded-For entry
    miss_limit_per_min: int = 20  # unknown tickets' tokens per client and minute before 429 (as web.toml's)


def load_notifier_config(path: Path) -> NotifierConfig:
    root = load_toml(path)
    section = root.get_section("notifier")
    subject = section.get_str("vapid_subject")
    if not subject.startswith(("mailto:", "https://")):
        raise section.error("vapid_subject", "must be a mailto: or https: URL (RFC 8292: a contact for the push "
                                             "services)")
    proxy = section.get_str("proxy", None)
    if proxy is not None and urlsplit(proxy).scheme not in ("http", "https"):
        raise section.error("proxy", f"must be an http:// or https:// URL; got {proxy!r}")
    offices = tuple(section.get_str_list("offices"))
    for office in offices:
        problem = slug_problem(office)
        if problem is not None:
            raise section.error("offices", problem)
    if not offices:
        raise section.error("offices", "names no office")
    initial = section.get_float("retry_initial_s", 5.0, minval=0.1, maxval=3600)
    config = NotifierConfig(
        path=path,
        device=section.get_str("device", check=slug_problem),
        offices=offices,
        host=section.get_str("host", "127.0.0.1"),
        port=section.get_int("port", 8091, minval=1, maxval=65535),
        public_url=section.get_str("public_url").rstrip("/"),
        database=section.get_path("database"),
        vapid_key_file=section.get_path("vapid_key_file"),
        vapid_subject=subject,
        proxy=proxy,
        push_hosts=tuple(section.get_str_list("push_hosts", list(PUSH_HOSTS))),
        allow_http_endpoints=section.get_bool("allow_http_endpoints", False),
        request_timeout_s=section.get_float("request_timeout_s", 10.0, minval=0.5, maxval=120),
        retry_initial_s=initial,
        retry_max_s=section.get_float("retry_max_s", 300.0, minval=initial, maxval=86400),
        broker=read_broker_settings(root.get_section("broker")),
        trust_forwarded=section.get_bool("trust_forwarded", False),
        miss_limit_per_min=section.get_int("miss_limit_per_min", 20, minval=1, maxval=10000),
    )
    root.check_unknown()
    return config

