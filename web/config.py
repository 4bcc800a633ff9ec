"""Web settings: a `[web]` table in the hub's config (all pages) or in a public replica's config."""

from __future__ import annotations

import ipaddress
import re
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from process.config import ConfigSection, load_toml
from protocol.fields import SLUG_RE, slug_problem
from protocol.link import BrokerSettings, read_broker_settings
from protocol.opendata import DEFAULT_LICENCE, DEFAULT_LICENCE_URL
from protocol.text import human_text, text_problem, url_problem
from web.identity import ROLES


@dataclass(frozen=True)
class Limits:
    """What one client, and all of them together, may hold of the web server (web/gate.py, web/streams.py).

    0 means "no limit" for the per-client values (a replica behind nginx sees every connection come from
    nginx's address; nginx limits per client there)."""

    max_connections: int  # open connections; when full, the oldest idle one makes room, else a new one is refused
    max_connections_per_client: int  # per client address, at accept time
    header_timeout_s: float  # to send a request's headers: from connecting, or from the end of the last response
    request_timeout_s: float  # to send the body and get the answer (event streams excepted)
    max_streams: int  # open public event streams (tracking, Ampel); staff streams are not counted here
    max_streams_per_client: int


HUB_LIMITS = Limits(max_connections=1000, max_connections_per_client=64, header_timeout_s=10.0,
                    request_timeout_s=30.0, max_streams=500, max_streams_per_client=8)
REPLICA_LIMITS = Limits(max_connections=10000, max_connections_per_client=0, header_timeout_s=10.0,
                        request_timeout_s=30.0, max_streams=8000, max_streams_per_client=8)


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.key)
        return context


# -- the accessibility statement's facts (web/statement.py)

STATUSES = ("full", "partial", "none")  # the model statement's "fully / partially / not compliant"
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
ARBITRATION_URL = "https://www.schlichtungsstelle-bgg.de"  # the federal one (§ 16 BGG); a Land may have its own


@dataclass(frozen=True)
class Statement:
    contact: str = ""  # an e-mail address or a web address for reports of barriers; "" points to the imprint
    assessed: str = "2026-11-29"  # the date of the last assessment (this release's self-assessment)
    method: str = "self"  # "self" (self-assessment) or "external" (an audit by a third party)
    status: str = "partial"
    arbitration_url: str = ARBITRATION_URL
    sign_language_url: str = ""  # the office's video in German Sign Language; "" says there is none yet


def read_statement(section: ConfigSection) -> Statement:
    default = Statement()
    assessed = section.get_str("assessed", default.assessed)
    if not DATE_RE.match(assessed):
        raise section.error("assessed", f"must be a date as YYYY-MM-DD; got {assessed!r}")
    urls = {key: section.get_str(key, getattr(default, key)) for key in ("arbitration_url", "sign_language_url")}
    for key, url in urls.items():
        if url and not url.startswith(("https://", "http://", "/")):
            raise section.error(key, f"must be a web address (https://…) or a path on this site; got {url!r}")
    return Statement(contact=section.get_str("contact", default.contact), assessed=assessed,
                     method=section.get_str("method", default.method, choices=("self", "external")),
                     status=section.get_str("status", default.status, choices=STATUSES), **urls)


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
    tls: TlsFiles | None = None  # HTTPS on `port`; None: plain HTTP (a loopback address only, for staff pages)
    redirect_port: int | None = None  # with tls: plain HTTP here answers with a redirect to HTTPS, nothing else
    limits: Limits = HUB_LIMITS
    embed_frame_ancestors: tuple[str, ...] = ("*",)  # who may frame /embed (CSP frame-ancestors)
    statement: Statement = field(default_factory=Statement)
    push_url: str | None = None  # the notifier's /push/v1 as the page reaches it; None: no notification button
    licence: str = DEFAULT_LICENCE  # the open data's (/api/v1/offices, history): named in the answers
    licence_url: str = DEFAULT_LICENCE_URL
    attribution: str = ""  # whom users of the open data must name (the licence's "Namensnennung")


# What only the hub's web reads (it has the staff pages and its own broker account next to the hub's): in a
# replica's [web] these keys would do nothing, so they are an error there.
STAFF_KEYS = ("session_secret_file", "broker_username", "broker_password_file", "device_roles")


def read_web_settings(section: ConfigSection, offices: tuple[str, ...], staff: bool = False) -> WebSettings:
    """`staff`: the hub's web with the login and clerk pages — it needs HTTPS unless it binds to loopback."""
    if not staff:
        for key in STAFF_KEYS:
            if section.has(key):
                raise section.error(key, "is a setting of the hub's web (staff pages, its own broker account); "
                                         "a public replica has no use for it")
    secret = section.get_file_bytes("session_secret_file") if staff else None
    if secret is not None and len(secret) < 16:
        raise section.error("session_secret_file", "holds fewer than 16 bytes")
    host = section.get_str("host", "127.0.0.1")
    tls = _tls(section)
    if staff and tls is None and not _loopback(host):
        raise section.error("host", f"{host!r} is not a loopback address: the staff pages need HTTPS there; set "
                                    "tls_certificate and tls_key (plain HTTP only on 127.0.0.1, e.g. make demo)")
    redirect_port = section.get_int("redirect_port", None, minval=1, maxval=65535)
    if redirect_port is not None and tls is None:
        raise section.error("redirect_port", "redirects to HTTPS, so it needs tls_certificate and tls_key")
    operator = section.get_str("operator", "Stadt", check=human_text(120))
    return WebSettings(
        host=host,
        port=section.get_int("port", 8080, minval=1, maxval=65535),
        public_url=section.get_str("public_url", "http://localhost:8080").rstrip("/"),
        offices=tuple(section.get_str_list("offices", list(offices))),
        operator=operator,
        privacy_url=section.get_str("privacy_url", "/datenschutz", check=link_problem),
        imprint_url=section.get_str("imprint_url", "/impressum", check=link_problem),
        access_log=section.get_bool("access_log", True),
        session_secret=secret if secret is not None else secrets.token_bytes(32),
        miss_limit_per_min=section.get_int("miss_limit_per_min", 20, minval=1, maxval=10000),
        trust_forwarded=section.get_bool("trust_forwarded", False),
        broker_username=section.get_str("broker_username", None) if staff else None,
        broker_password=section.get_password_file("broker_password_file") if staff else None,
        device_roles=_device_roles(section.get_section("device_roles", required=False)) if staff else {},
        tls=tls,
        redirect_port=redirect_port,
        limits=_limits(section, HUB_LIMITS if staff else REPLICA_LIMITS),
        embed_frame_ancestors=_frame_ancestors(section),
        statement=read_statement(section.get_section("accessibility", required=False)),
        push_url=_push_url(section),
        licence=section.get_str("licence", DEFAULT_LICENCE, check=human_text(200)),
        licence_url=section.get_str("licence_url", DEFAULT_LICENCE_URL, check=lambda v: url_problem(v, 500)),
        attribution=section.get_str("attribution", operator, check=human_text(200)),
    )


FRAME_SOURCE_RE = re.compile(r"^(\*|'self'|https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?)\Z")


def _frame_ancestors(section: ConfigSection) -> tuple[str, ...]:
    """`embed_frame_ancestors = ["https://www.example.org"]`: the sites that may show /embed in a frame."""
    sources = tuple(section.get_str_list("embed_frame_ancestors", ["*"]))
    bad = [s for s in sources if not FRAME_SOURCE_RE.match(s)]
    if bad or not sources:
        raise section.error("embed_frame_ancestors", "must list \"*\", \"'self'\" or origins like "
                                                     f"\"https://www.example.org\"; got {bad or 'none'}")
    return sources


def link_problem(value: str) -> str | None:
    """Why `value` is no link for the pages' footer (None: it is): a path on this site, or a web address
    by the same rule as the kiosk's printed links (protocol.text.url_problem)."""
    problem = text_problem(value, 500)
    if problem is not None:
        return problem
    if value.startswith(("http://", "https://")):
        return url_problem(value, 500)
    if not value.startswith("/") or value.startswith("//") or re.search(r"\s", value):
        return f"must be a path on this site (/impressum) or an http(s) URL without spaces; got {value!r}"
    return None


def _push_url(section: ConfigSection) -> str | None:
    """`/push/v1` behind nginx (same origin), or the notifier's own https URL (it allows our origin)."""
    url = section.get_str("push_url", None)
    if url is not None and not (url.startswith("/") or url.startswith(("https://", "http://"))):
        raise section.error("push_url", f"must be a path such as /push/v1 or an http(s) URL; got {url!r}")
    return None if url is None else url.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls(section: ConfigSection) -> TlsFiles | None:
    certificate, key = section.get_path("tls_certificate", None), section.get_path("tls_key", None)
    if certificate is None and key is None:
        return None
    if certificate is None or key is None:
        raise section.error("tls_key" if key is None else "tls_certificate",
                            "tls_certificate and tls_key go together")
    files = TlsFiles(certificate, key)
    try:
        files.context()
    except (OSError, ssl.SSLError) as exc:
        raise section.error("tls_certificate", f"certificate and key cannot be used: {exc}") from None
    return files


def _limits(section: ConfigSection, default: Limits) -> Limits:
    return Limits(
        max_connections=section.get_int("max_connections", default.max_connections, minval=16, maxval=1_000_000),
        max_connections_per_client=section.get_int("max_connections_per_client", default.max_connections_per_client,
                                                   minval=0, maxval=1_000_000),
        header_timeout_s=section.get_float("header_timeout_s", default.header_timeout_s, minval=0.5, maxval=300),
        request_timeout_s=section.get_float("request_timeout_s", default.request_timeout_s, minval=1, maxval=600),
        max_streams=section.get_int("max_streams", default.max_streams, minval=1, maxval=1_000_000),
        max_streams_per_client=section.get_int("max_streams_per_client", default.max_streams_per_client,
                                               minval=0, maxval=1_000_000),
    )


def _device_roles(section: ConfigSection) -> dict[str, str]:
    """`device_roles = { "mitte-kiosk-1" = "kiosk", … }`: who is who, from the inventory."""
    roles = {}
    for device in section.own_keys():
        if not SLUG_RE.match(device):
            raise section.error(device, "is not a device id (a slug of a-z, 0-9 and '-')")
        roles[device] = section.get_str(device, choices=ROLES)
    return roles


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
    web = read_web_settings(web_section, ())
    if not web.offices:
        raise web_section.error("offices", "a replica needs the list of offices it serves")
    config = ReplicaConfig(path=path, device=replica.get_str("device", check=slug_problem), web=web,
                           broker=read_broker_settings(root.get_section("broker")))
    root.check_unknown()
    return config
