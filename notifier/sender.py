"""Sending one notification to one push service: RFC 8291 encryption (aes128gcm, by pywebpush and
http-ece) and an RFC 8292 VAPID signature (py-vapid), through the city's HTTP proxy when one is configured.

What the push service answers decides what happens to the notification (docs/protocol.md §8.3):
201/202 sent; 404/410 the subscription is gone (deleted); 429 and 5xx, a time-out or a refused connection
are retried with back-off (honouring Retry-After); any other answer is a permanent failure (logged).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from notifier.store import Outgoing

log = logging.getLogger("wartemarke.notifier.sender")
VAPID_LIFETIME_S = 12 * 3600  # RFC 8292: at most 24 hours


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # 404/410: the subscription no longer exists
    RETRY = "retry"  # 429, 5xx, network
    FAILED = "failed"  # refused for good (400, 403, 413, …)


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None  # the push service's HTTP status (None: no answer)
    retry_after_s: float | None = None


def load_vapid(path: Path) -> Vapid:
    return Vapid.from_file(str(path))


def public_key(vapid: Vapid) -> str:
    """The applicationServerKey a page subscribes with: the uncompressed P-256 point, base64url."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate_key(path: Path) -> Vapid:
    """A new VAPID key pair; the private key (PEM) is written to `path`, readable by its owner only."""
    vapid = Vapid()
    vapid.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = vapid.private_pem()
    path.touch(mode=0o600)
    path.write_bytes(pem)
    path.chmod(0o600)
    return vapid


def topic(token_hash: str, key: str) -> str:
    """RFC 8030 §5.4 `Topic`: the same for every attempt at one notification, so a push service that still
    holds an undelivered copy replaces it instead of delivering two. 32 characters of base64url."""
    digest = hashlib.sha256(f"{token_hash}/{key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def payload(item: Outgoing, public_url: str) -> bytes:
    """What the service worker gets: the texts, a tag that makes a repeated delivery replace the shown
    notification instead of adding one, and the ticket's hash (the page stored its link under it)."""
    tag = topic(item.subscription.hash, item.key)
    return json.dumps({"v": 1, "kind": item.kind, "title": item.title, "body": item.body, "tag": tag,
                       "ticket": item.subscription.hash, "lang": item.subscription.lang,
                       "fallback_url": public_url + "/"}, ensure_ascii=False).encode()


class Sender:
    def __init__(self, vapid: Vapid, subject: str, public_url: str, proxy: str | None, timeout_s: float) -> None:
        self.vapid, self.subject, self.public_url, self.timeout_s = vapid, subject, public_url, timeout_s
        self.session = requests.Session()
        self.session.trust_env = False  # the proxy is the config's, not the environment's
        self.proxy = proxy
        if proxy:
            self.session.proxies = {"http": proxy, "https": proxy}

    def close(self) -> None:
        self.session.close()

    def headers(self, endpoint: str, item: Outgoing) -> dict[str, str]:
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": self.subject,
                  "exp": int(time.time()) + VAPID_LIFETIME_S}
        signed: dict[str, str] = self.vapid.sign(claims)
        urgency = "high" if item.kind in ("called", "recalled") else "normal"
        return {**signed, "Topic": topic(item.subscription.hash, item.key), "Urgency": urgency}

    def send(self, item: Outgoing) -> Result:
        endpoint = item.subscription.endpoint
        try:
            pusher = WebPusher(item.subscription.info(), requests_session=self.session)
            response = pusher.send(payload(item, self.public_url), headers=self.headers(endpoint, item),
                                   ttl=item.ttl_s, content_encoding="aes128gcm", timeout=self.timeout_s)
        except (WebPushException, ValueError) as exc:  # the subscription's keys are unusable
            log.warning("notification %s cannot be encrypted for its subscription: %s", item.kind, exc)
            return Result(Outcome.FAILED, None)
        except requests.RequestException as exc:
            # the proxy's host and port, never its credentials (user:password@) in the journal
            through = f" through the proxy {urlsplit(self.proxy).netloc.rpartition('@')[2]}" if self.proxy else ""
            log.info("push service unreachable%s (%s): will retry", through, type(exc).__name__)
            return Result(Outcome.RETRY, None)
        status = int(response.status_code)
        if status in (200, 201, 202):
            return Result(Outcome.SENT, status)
        if status in (404, 410):
            return Result(Outcome.GONE, status)
        if status == 429 or status >= 500:
            return Result(Outcome.RETRY, status, _retry_after(response.headers.get("Retry-After")))
        log.warning("push service refused a %s notification with %d: %s", item.kind, status, response.text[:200])
        return Result(Outcome.FAILED, status)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the back-off decides
