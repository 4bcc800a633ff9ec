"""`Notifier`: the ticket views of every office from the (central) broker, the subscriptions in SQLite,
a sender thread and the HTTP interface on an event loop thread.

The order that makes a notification go out once, also across a `kill -9` (docs/architecture.md,
"notifier/"): a view arrives → the notification it calls for is **recorded** (one SQLite commit, keyed by
ticket and event: recording it again changes nothing) → the sender posts it to the push service → on 201
it is **marked sent**. A crash before the record loses nothing: the broker hands the retained view over
again at the restart and it is recorded then. A crash between the post and the mark re-sends it after the
restart with the same `Topic` (the push service replaces a copy it has not delivered yet) and the same
notification tag (a browser that got it already replaces it on the screen): the citizen sees it once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import date, timedelta

from aiohttp import web

from notifier.api import Api
from notifier.config import NotifierConfig
from notifier.rules import due, ended
from notifier.sender import Outcome, Sender, load_vapid, public_key
from notifier.store import FAILED, SENT, Outgoing, Store
from process.clock import Clock
from protocol import VERSION, topics
from protocol.fields import decode_object
from protocol.link import MqttLink
from protocol.messages import TicketView

log = logging.getLogger("wartemarke.notifier")
SWEEP_S = 30.0  # no-shows whose grace is over, subscriptions of past days


class Notifier:
    def __init__(self, config: NotifierConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self.store = Store(config.database)
        vapid = load_vapid(config.vapid_key_file)
        self.key = public_key(vapid)
        self.sender = Sender(vapid, config.vapid_subject, config.public_url, config.proxy, config.request_timeout_s)
        self._views: dict[str, tuple[str, TicketView]] = {}  # hash → (office, view)
        self._lock = threading.Lock()  # the views, and deciding on one ticket at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.sent = 0
        self.link = MqttLink(config.broker, config.offices[0], config.device, "notifier", VERSION, clock,
                             health=lambda: {"subscriptions": self.store.count(), "sent": self.sent})
        for office in config.offices:
            self.link.subscribe(topics.tickets(office), self._on_view)
        self._threads = [threading.Thread(target=self._send_loop, name="sender", daemon=True),
                         threading.Thread(target=self._sweep_loop, name="sweep", daemon=True),
                         threading.Thread(target=self._serve, name="http", daemon=True)]
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.http_ready = threading.Event()
        self.beat = clock.monotonic()

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self.link.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.link.stop()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        for thread in self._threads:
            thread.join(5)
        self.sender.close()
        self.store.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        api = Api(self.config, self.store, self.key, self.view, self.decide)
        self._runner = web.AppRunner(api.application(), access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        self._loop.run_until_complete(site.start())
        self.http_ready.set()
        self._loop.run_forever()

    # -- views and decisions ------------------------------------------------------------------------

    def view(self, token_hash: str) -> tuple[str, TicketView] | None:
        with self._lock:
            return self._views.get(token_hash)

    def _on_view(self, topic: str, payload: bytes) -> None:
        """A view, or None when cleared. An invalid one raises: the link logs, counts and drops it."""
        where = topics.parse(topic)
        digest = where.id or ""
        view = TicketView.from_dict(decode_object(payload)) if payload else None
        with self._lock:
            if view is None:
                self._views.pop(digest, None)
            else:
                self._views[digest] = (where.office, view)
        self.decide(digest)

    def decide(self, token_hash: str) -> None:
        """Record what the ticket's current view calls for; end its subscription when the ticket is over."""
        with self._lock:
            found = self._views.get(token_hash)
            subscription = self.store.get(token_hash)
            if subscription is None:
                return
            view = found[1] if found is not None else None
            if view is not None:
                notification = due(view, subscription.choice, subscription.lang)
                if notification is not None and self.store.record(token_hash, notification, time.time()):
                    log.info("recorded a %s notification", notification.kind)
                    self._wake.set()
            if ended(view, self.clock.now()):
                self.store.end(token_hash)

    def _sweep_loop(self) -> None:
        while not self._stop.wait(SWEEP_S):
            self.beat = self.clock.monotonic()
            for digest in self.store.hashes():
                self.decide(digest)
            yesterday = (date.today() - timedelta(days=1)).isoformat()
            gone = self.store.delete_days_before(yesterday)
            if gone:
                log.info("deleted %d subscriptions of past days", gone)

    # -- sending ------------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self.beat = self.clock.monotonic()
            for item in self.store.due(time.time()):
                if self._stop.is_set():
                    return
                self._send(item)
            next_at = self.store.next_due()
            wait = 30.0 if next_at is None else min(30.0, max(0.0, next_at - time.time()))
            self._wake.wait(wait)
            self._wake.clear()

    def _send(self, item: Outgoing) -> None:
        digest = item.subscription.hash
        if time.time() > item.recorded_at + item.ttl_s:
            log.info("a %s notification expired before the push service took it", item.kind)
            self.store.settle(digest, item.key, FAILED)
            return
        result = self.sender.send(item)
        if result.outcome is Outcome.SENT:
            self.store.settle(digest, item.key, SENT)
            self.sent += 1
        elif result.outcome is Outcome.GONE:
            log.info("push service answered %s: subscription deleted", result.status)
            self.store.delete(digest)
        elif result.outcome is Outcome.RETRY:
            delay = min(self.config.retry_max_s, self.config.retry_initial_s * 2 ** item.attempts)
            if result.retry_after_s is not None:
                delay = max(delay, min(result.retry_after_s, self.config.retry_max_s))
            log.info("push service answered %s: retry in %.1f s", result.status or "nothing", delay)
            self.store.retry(digest, item.key, time.time() + delay)
        else:
            self.store.settle(digest, item.key, FAILED)

