"""Delivery of ticket events from the outbox to the hub, acknowledged end to end.

A background worker publishes outbox entries in `seq` order (QoS 1) once their print outcome is known,
deletes them only when the hub's retained `ack` covers their `seq` (the hub acks after its own commit),
and re-sends whatever stays unacked after a timeout (doubling while the hub acks nothing, up to 5 min)
or at once after a reconnect. A broker that lost its queue, a hub
that was down, a bridge that dropped a message: the kiosk re-sends, the hub dedupes by ticket id.
Printing never waits for any of this.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from kiosk.store import KioskStore
from process.clock import Clock
from protocol import topics
from protocol.fields import decode_object, encode_object
from protocol.link import MqttLink
from protocol.messages import Ack, TicketIssued

log = logging.getLogger("wartemarke.kiosk.delivery")
BATCH = 100  # events in flight at most: a long outage does not flood the broker on reconnect
MAX_BACKOFF_S = 300.0


class OutboxDelivery:
    """Publishes outbox entries until the hub's ack covers them."""

    def __init__(self, store: KioskStore, link: MqttLink, clock: Clock, resend_after_s: float,
                 on_ack: Callable[[Ack, bool], None] | None = None) -> None:
        self.store = store
        self.link = link
        self.clock = clock
        self.resend_after_s = resend_after_s
        self.on_ack = on_ack
        self.topic = topics.kiosk_ticket(link.office, link.device)
        self.ack_topic = topics.kiosk_ack(link.office, link.device)
        self._cond = threading.Condition()
        # After a restart every entry in the outbox has a known outcome: a crash mid-print counts as
        # printed. Later entries become sendable as `release()` is called for them.
        self._releasable = store.max_outbox_seq()
        self._acked = 0
        self._sent_at: dict[int, float] = {}
        self._backoff = resend_after_s  # doubles (up to MAX_BACKOFF_S) while the hub acks nothing
        self._next_due = 0.0
        self._dirty = True
        self._deleted_upto = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-delivery", daemon=True)
        self.last_beat = clock.monotonic()
        self.published = 0
        link.subscribe_state(self.ack_topic, self._on_ack_message)
        link.on_connection_change(self._on_connection)

    @property
    def acked_seq(self) -> int:
        return self._acked

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        self._thread.join(timeout=5)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _on_connection(self, connected: bool) -> None:
        # The broker may have lost what it held for us: re-send everything unacked promptly.
        with self._cond:
            self._sent_at.clear()
            self._backoff = self.resend_after_s
            self._dirty = True
            self._cond.notify_all()

    def _on_ack_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if not payload:
            return
        ack = Ack.from_dict(decode_object(payload))
        with self._cond:
            if ack.seq > self._acked:
                self._acked = ack.seq
                self._backoff = self.resend_after_s  # the hub is taking events again
                self._dirty = True
            self._cond.notify_all()
        if self.on_ack is not None:
            self.on_ack(ack, not retained)  # a live ack: the hub is up now

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_beat = self.clock.monotonic()
            try:
                self._pass()
            except Exception:
                log.exception("delivery pass failed; retrying")
            with self._cond:
                if not self._dirty:
                    self._cond.wait(timeout=1.0)

    def _pass(self) -> None:
        with self._cond:
            acked, releasable, dirty = self._acked, self._releasable, self._dirty
            self._dirty = False
            for seq in [s for s in self._sent_at if s <= acked]:
                del self._sent_at[seq]
        if acked > self._deleted_upto:
            self.store.delete_acked(acked)
            self._deleted_upto = acked
        now = self.clock.monotonic()
        if not self.link.connected.is_set() or (not dirty and now < self._next_due):
            return
        resent: list[int] = []
        next_due = now + self._backoff
        pending = self.store.pending(limit=BATCH)
        pending_from = pending[0].seq if pending else None  # nothing below it is left here
        for event in pending:
            if event.seq > releasable:
                break
            if event.seq <= acked:
                continue
            sent = self._sent_at.get(event.seq)
            if sent is not None and now - sent < self._backoff:
                next_due = min(next_due, sent + self._backoff)
                continue
            message = dataclasses.replace(event, pending_from=pending_from)
            if isinstance(message, TicketIssued):  # the hub dates the ticket by its own clock from this
                message = dataclasses.replace(message, sent_at=self.clock.now())
            if not self.link.publish(self.topic, encode_object(message.to_dict()), qos=1):
                break
            if sent is not None:
                resent.append(event.seq)
            self._sent_at[event.seq] = now
            self.published += 1
        self._next_due = next_due
        if resent:
            log.info("re-sent %d unacknowledged event(s), seq %d..%d (no ack for %.0f s)", len(resent), resent[0],
                     resent[-1], self._backoff)
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)

    def release(self, seq: int) -> None:
        """The print outcome of `seq` is known (printed or voided): it may be sent now."""
        with self._cond:
            self._releasable = max(self._releasable, seq)
            self._dirty = True
            self._cond.notify_all()

    def summary(self) -> dict[str, int]:
        """Counts for the device status: unacked events and the ack position."""
        return {"outbox_pending": self.store.pending_count(), "acked_seq": self._acked}
