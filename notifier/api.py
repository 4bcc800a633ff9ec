"""The notifier's HTTP interface, which nginx routes `/push/` to (docs/http.md, "Web Push").

A subscription is made and removed with the ticket's token, the one secret its holder has: whoever can
open the tracking page may subscribe it, nobody else. CSRF: only `application/json` bodies are read (a
cross-site form cannot send one without a CORS preflight, which is never granted) and a request that
names an `Origin` must name the tracking pages' own.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from language.catalogue import LANGUAGES
from notifier.config import NotifierConfig
from notifier.rules import CHOICES, DEFAULT_CHOICE
from notifier.store import Store, Subscription
from process.ratelimit import MissLimiter, forwarded_client
from protocol.messages import TOKEN_RE, TicketView
from protocol.topics import token_hash

log = logging.getLogger("wartemarke.notifier.api")
MAX_BODY = 4096
KEY_PATH = "/push/v1/key"
SUBSCRIPTION_PATH = "/push/v1/subscriptions/{token}"
SUBSCRIBABLE = ("waiting", "called")

Lookup = Callable[[str], tuple[str, TicketView] | None]  # hash → (office, view)
Changed = Callable[[str], None]  # a subscription was made: act on the current view at once


class Api:
    def __init__(self, config: NotifierConfig, store: Store, key: str, lookup: Lookup, changed: Changed) -> None:
        self.config, self.store, self.key, self.lookup, self.changed = config, store, key, lookup, changed
        self.misses = MissLimiter(config.miss_limit_per_min)

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._cors])
        app.router.add_get(KEY_PATH, self.vapid_key)
        path = SUBSCRIPTION_PATH
        app.router.add_get(path, self.show)
        app.router.add_put(path, self.subscribe)
        app.router.add_delete(path, self.unsubscribe)
        app.router.add_route("OPTIONS", path, self.preflight)
        app.router.add_route("OPTIONS", KEY_PATH, self.preflight)
        return app

    @web.middleware
    async def _cors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Where the notifier has a host name of its own, the tracking pages' origin — and only it — may call
        it from a page (behind nginx on the same origin no browser asks)."""
        response: web.StreamResponse = await handler(request)
        if request.headers.get("Origin") == _origin(self.config.public_url):
            response.headers["Access-Control-Allow-Origin"] = _origin(self.config.public_url)
            response.headers["Vary"] = "Origin"
        return response

    async def preflight(self, request: web.Request) -> web.Response:
        if request.headers.get("Origin") != _origin(self.config.public_url):
            return _error(403, "cross-site request refused")
        return web.Response(status=204, headers={"Access-Control-Allow-Methods": "GET, PUT, DELETE",
                                                 "Access-Control-Allow-Headers": "Content-Type",
                                                 "Access-Control-Max-Age": "600"})

    async def vapid_key(self, request: web.Request) -> web.Response:
        return web.json_response({"key": self.key}, headers={"Cache-Control": "public, max-age=3600"})

    def _ticket(self, request: web.Request) -> tuple[str, str, TicketView] | web.Response:
        token = request.match_info["token"]
        found = self.lookup(token_hash(token)) if TOKEN_RE.match(token) else None
        if found is None:
            return self._too_many_misses(request) or _error(404, "unknown or expired ticket")
        return token_hash(token), *found

    def _too_many_misses(self, request: web.Request) -> web.Response | None:
        """A 429 for a client that named too many unknown tickets (guessing tokens, as on the tracking
        pages: the same rule, process/ratelimit.py); otherwise count this miss."""
        forwarded = request.headers.get("X-Forwarded-For") if self.config.trust_forwarded else None
        if self.misses.take(forwarded_client(forwarded, request.remote)):
            return None
        log.debug("refused a client naming too many unknown tickets")
        return web.json_response({"error": "too many unknown tickets from this address: try again in a minute"},
                                 status=429, headers={"Retry-After": "60", "Cache-Control": "no-store"})

    async def show(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        if isinstance(ticket, web.Response):
            return ticket
        subscription = self.store.get(ticket[0])
        if subscription is None:
            return _error(404, "not subscribed")
        return web.json_response({"notify": subscription.choice, "sent": self.store.sent_kinds(ticket[0])},
                                 headers={"Cache-Control": "no-store"})

    async def subscribe(self, request: web.Request) -> web.Response:
        refused = self._cross_site(request)
        if refused is not None:
            return refused
        ticket = self._ticket(request)
        if isinstance(ticket, web.Response):
            return ticket
        digest, office, view = ticket
        if view.state not in SUBSCRIBABLE:
            return _error(409, f"the ticket is {view.state}: nothing more to notify")
        try:
            body = json.loads(await request.read())
            subscription = self._subscription(body, digest, office, view.day.isoformat())
        except (ValueError, RecursionError, web.HTTPRequestEntityTooLarge) as exc:  # RecursionError: deep JSON
            return _error(400, f"invalid subscription: {exc}")
        existed = self.store.get(digest) is not None
        self.store.subscribe(subscription)
        log.info("subscription %s for a ticket of %s (%s)", "renewed" if existed else "made", office,
                 subscription.choice)
        self.changed(digest)
        return web.json_response({"notify": subscription.choice}, status=200 if existed else 201,
                                 headers={"Cache-Control": "no-store"})

    async def unsubscribe(self, request: web.Request) -> web.Response:
        refused = self._cross_site(request)
        if refused is not None:
            return refused
        token = request.match_info["token"]
        if not TOKEN_RE.match(token) or self.lookup(token_hash(token)) is None:
            refused = self._too_many_misses(request)  # an ended ticket's subscription is gone already
            if refused is not None:
                return refused
        if TOKEN_RE.match(token):
            self.store.delete(token_hash(token))
        return web.Response(status=204, headers={"Cache-Control": "no-store"})  # idempotent

    def _cross_site(self, request: web.Request) -> web.Response | None:
        if request.content_type != "application/json" and request.method != "DELETE":
            return _error(415, "send the subscription as application/json")
        origin = request.headers.get("Origin")
        if origin is not None and origin != _origin(self.config.public_url):
            return _error(403, "cross-site request refused")
        return None

    def _subscription(self, body: Any, digest: str, office: str, day: str) -> Subscription:
        if not isinstance(body, dict) or not isinstance(body.get("subscription"), dict):
            raise ValueError("expected {\"subscription\": {endpoint, keys}, \"notify\": …}")
        sub = body["subscription"]
        endpoint, keys = sub.get("endpoint"), sub.get("keys")
        if not isinstance(endpoint, str) or len(endpoint) > 1024 or not isinstance(keys, dict):
            raise ValueError("endpoint and keys are required")
        self._check_endpoint(endpoint)
        p256dh, auth = keys.get("p256dh"), keys.get("auth")
        if len(_b64url(p256dh, "keys.p256dh")) != 65 or len(_b64url(auth, "keys.auth")) != 16:
            raise ValueError("keys.p256dh must be a P-256 point (65 bytes) and keys.auth 16 bytes")
        choice = body.get("notify", DEFAULT_CHOICE)
        if not isinstance(choice, str) or choice not in CHOICES:
            raise ValueError(f"notify must be one of {', '.join(CHOICES)}")
        lang = body.get("lang", LANGUAGES[0])
        if not isinstance(lang, str) or lang not in LANGUAGES:
            raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}")
        assert isinstance(p256dh, str) and isinstance(auth, str)
        return Subscription(digest, office, endpoint, p256dh, auth, choice, lang, day)

    def _check_endpoint(self, endpoint: str) -> None:
        parts = urlsplit(endpoint)
        schemes = ("https", "http") if self.config.allow_http_endpoints else ("https",)
        if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
            raise ValueError("the endpoint must be an https URL of a push service")
        host = parts.hostname.lower()
        if not any(host == h or host.endswith("." + h) for h in self.config.push_hosts):
            raise ValueError(f"{host} is not a push service this notifier sends to")


def _b64url(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or len(value) > 200:
        raise ValueError(f"{name} must be base64url text")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not base64url") from None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers={"Cache-Control": "no-store"})
