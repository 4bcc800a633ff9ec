"""A local push service over real HTTP, playing what Chrome's or Firefox's push service does for the
notifier — and the browser behind it: it checks every request's VAPID signature (RFC 8292) and decrypts
the aes128gcm payload (RFC 8291) with the subscription's private key, as the browser would.

- `PushService().start()`; `browser = service.subscription("anna")` makes a browser's key pair and auth
  secret and gives the PushSubscription JSON a page would send (`browser.info`).
- `service.answer("anna", 410)` queues an answer for that subscription's next request(s) (default 201);
  `service.hold("anna")` keeps the next answer back until `release("anna")` (a crash test kills the
  notifier meanwhile).
- `service.posts` lists every request that passed the checks (the decrypted message, its Topic, TTL);
  `service.rejected` every one that did not, with the reason. `delivered(name)` applies RFC 8030 §5.4:
  a message with the Topic of one not yet delivered replaces it (the test's browser never comes online,
  so nothing is delivered before the test looks).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from devtools.broker import free_port


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Browser:
    """One subscription's browser side: the keys the page's PushSubscription holds."""

    name: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def info(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                            serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}


@dataclass
class Post:
    name: str
    topic: str | None
    ttl: int
    urgency: str | None
    message: dict[str, Any]
    at: float
    via: str | None = None  # the Via header: the proxy the request came through, if any


@dataclass
class PushService:
    vapid_key: str | None = None  # the notifier's public key; None: take whatever key signed (still verified)
    subject: str | None = None  # the `sub` claim expected
    port: int = field(default_factory=free_port)
    browsers: dict[str, Browser] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _answers: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _holds: dict[str, threading.Event] = field(default_factory=dict)
    held: threading.Event = field(default_factory=threading.Event)  # set when a held request has arrived
    changed: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PushService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status = service.receive(self)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                if status == 201:
                    self.send_header("Location", f"{service.origin}/message/{time.monotonic_ns()}")
                if status == 429:
                    self.send_header("Retry-After", "0.2")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def subscription(self, name: str) -> Browser:
        browser = Browser(name, f"{self.origin}/push/{name}", ec.generate_private_key(ec.SECP256R1()),
                          secrets.token_bytes(16))
        self.browsers[name] = browser
        return browser

    def answer(self, name: str, *statuses: int) -> None:
        self._answers[name].extend(statuses)

    def hold(self, name: str) -> None:
        self._holds[name] = threading.Event()

    def release(self, name: str) -> None:
        self._holds.pop(name).set()

    # -- what the push service and the browser do with a request -----------------------------------------

    def receive(self, request: BaseHTTPRequestHandler) -> int:
        name = request.path.rsplit("/", 1)[-1]
        body = request.rfile.read(int(request.headers.get("Content-Length", "0")))
        browser = self.browsers.get(name)
        if browser is None:
            return 404
        problem = self._check_vapid(request.headers.get("Authorization", ""))
        if problem is None and request.headers.get("Content-Encoding") != "aes128gcm":
            problem = f"Content-Encoding is {request.headers.get('Content-Encoding')!r}"
        if problem is None and request.headers.get("TTL") is None:
            problem = "no TTL header"
        message = None
        if problem is None:
            try:
                plain = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth,
                                         version="aes128gcm")
                message = json.loads(plain)
            except Exception as exc:  # the browser could not read it: a test failure, reported
                problem = f"cannot decrypt: {exc!r}"
        if problem is not None or message is None:
            with self.changed:
                self.rejected.append(f"{name}: {problem}")
                self.changed.notify_all()
            return 401 if problem and problem.startswith("VAPID") else 400
        queued = self._answers.get(name)
        status = queued.pop(0) if queued else 201
        if status == 201:
            with self.changed:
                self.posts.append(Post(name, request.headers.get("Topic"), int(request.headers["TTL"]),
                                       request.headers.get("Urgency"), message, time.time(),
                                       request.headers.get("Via")))
                self.changed.notify_all()
        hold = self._holds.get(name)
        if hold is not None:
            self.held.set()
            hold.wait(30)
        return status

    def _check_vapid(self, authorization: str) -> str | None:
        """RFC 8292 §3: `vapid t=<JWT>, k=<public key>`; an ES256 JWT with aud, exp (≤ 24 h) and sub."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return f"VAPID: Authorization scheme {scheme!r}"
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        token, key = fields.get("t", ""), fields.get("k", "")
        if self.vapid_key is not None and key != self.vapid_key:
            return "VAPID: signed with another key"
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
            raw = b64url_decode(signature_b64)
            signature = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except (ValueError, InvalidSignature) as exc:
            return f"VAPID: invalid JWT ({exc!r})"
        if header.get("alg") != "ES256":
            return f"VAPID: alg {header.get('alg')!r}"
        if claims.get("aud") != self.origin:
            return f"VAPID: aud {claims.get('aud')!r}, not {self.origin}"
        if not time.time() < float(claims.get("exp", 0)) <= time.time() + 24 * 3600:
            return "VAPID: exp missing, past or more than 24 h ahead"
        if self.subject is not None and claims.get("sub") != self.subject:
            return f"VAPID: sub {claims.get('sub')!r}"
        return None

    # -- what tests look at ---------------------------------------------------------------------------------

    def delivered(self, name: str) -> list[dict[str, Any]]:
        """The messages the browser would get: one per Topic (a later one replaces an undelivered earlier)."""
        by_topic: dict[str, dict[str, Any]] = {}
        untitled: list[dict[str, Any]] = []
        for post in self.posts:
            if post.name == name:
                if post.topic:
                    by_topic.pop(post.topic, None)
                    by_topic[post.topic] = post.message
                else:
                    untitled.append(post.message)
        return untitled + list(by_topic.values())

    def wait_for(self, predicate: Any, timeout: float = 15.0, what: str = "push messages") -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; posts: "
                                         f"{[(p.name, p.message.get('kind')) for p in self.posts]}; "
                                         f"rejected: {self.rejected}")
                self.changed.wait(left)

