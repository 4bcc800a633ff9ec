"""The running kiosk: wires panel, store, printer, delivery and the MQTT link together.

Threads: gpiozero's callbacks only enqueue presses; one *print worker* handles them in order
(allocate → print → release for delivery); the *delivery worker* talks to the hub; the *monitor*
polls the printer, drives the status LED and republishes the device status when it changes.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import Any

from kiosk.config import KioskConfig
from kiosk.delivery import OutboxDelivery
from kiosk.hubview import HubView
from kiosk.panel import LedPattern, Panel
from kiosk.printer.base import PaperState, PrinterFault, PrinterStatus, TicketPrinter
from kiosk.store import Allocation, KioskStore
from kiosk.ticket import Document, TicketContent, no_tickets_slip, status_document, ticket_document
from kiosk.tracking import new_token, qr_link, short_link
from process.clock import Clock
from protocol import VERSION, topics
from protocol.businessday import local_business_day
from protocol.fields import decode_object
from protocol.link import MqttLink
from protocol.messages import Ack, QueueState, ServiceQueue, TicketIssued, TicketVoided
from protocol.wait_range import shown_range

log = logging.getLogger("wartemarke.kiosk")


@dataclass(frozen=True)
class Press:
    service: str
    at: float  # monotonic time of the press


class StatusRequest:
    """The technician held the service button: print a status ticket."""


Job = Press | StatusRequest | None


class Kiosk:
    """One ticket kiosk. `start()` runs it in background threads; `stop()` shuts down cleanly."""

    def __init__(self, config: KioskConfig, clock: Clock, pin_factory: Any = None,
                 printer: TicketPrinter | None = None) -> None:
        self.config = config
        self.clock = clock
        self.store = KioskStore(config.state_dir / "kiosk.sqlite3")
        self.printer = printer or config.printer.open()
        self.link = MqttLink(config.broker, config.office, config.device, "kiosk", VERSION, clock,
                             health=self.health)
        self.delivery = OutboxDelivery(self.store, self.link, clock, config.resend_after_s, on_ack=self._on_ack)
        self.link.subscribe_state(topics.queue(config.office), self._on_queue_message)
        self.link.on_connection_change(self._on_connection)
        self.panel = Panel(config.services, config.status_led_pin, config.technician_pin,
                           config.technician_hold_s, on_press=self.press,
                           on_technician=self.request_status_ticket, pin_factory=pin_factory, speech=config.speech)
        self.ready = threading.Event()
        self.printed_labels: deque[str] = deque(maxlen=1000)  # recent labels, for the status ticket and tests
        self._jobs: queue.Queue[Job] = queue.Queue(maxsize=50)
        self._stop = threading.Event()
        self._wake = threading.Event()  # hub state changed: refresh LED, lights and status now
        self._last_accepted: dict[str, float] = {}
        self.hub = HubView(config.queue_max_age_s)
        self._connected_at: float | None = None
        self._printing = False
        self._printer_status = PrinterStatus(online=True, paper=PaperState.UNKNOWN)
        self._last_error: str | None = None
        self._published_health: dict[str, Any] | None = None
        self._indicating = threading.RLock()  # worker and monitor refresh: an older one must not land last
        self._handled = 0
        self._handled_cond = threading.Condition()
        self.worker_beat = clock.monotonic()
        self.monitor_beat = clock.monotonic()
        self._worker = threading.Thread(target=self._work, name="kiosk-print", daemon=True)
        self._monitor = threading.Thread(target=self._watch, name="kiosk-monitor", daemon=True)

    def start(self) -> None:
        c = self.config
        log.info("wartemarke kiosk %s starting: office %s, device %s, config %s", VERSION, c.office, c.device,
                 c.path)
        log.info("services %s; numbering: kiosk %d of %d; printer: %s; state %s",
                 ", ".join(s.id for s in c.services), c.numbering.kiosk_index + 1, c.numbering.kiosk_count,
                 self.printer.describe(), self.store.path)
        initialized = self.store.is_initialized()
        if not initialized:
            log.warning("no local numbering state: waiting for the hub's ack to resume seq and numbers")
        for event in self.store.flag_unprinted():
            log.warning("ticket %s (seq %d): the kiosk stopped before its print finished; it is sent to the hub as "
                        "assumed printed", event.label, event.seq)
        self._printer_status = self.printer.status(self.store.roll_count())
        self.printer.warm_up()  # import and render once now, so the first citizen does not wait for it
        self.delivery.start()
        self._worker.start()
        self._monitor.start()
        self.link.start()
        if initialized:
            self._become_ready()
        self._refresh_indicators()

    def _become_ready(self) -> None:
        if not self.ready.is_set():
            self.ready.set()
            log.info("ready: a press prints a ticket")

    def stop(self) -> None:
        log.info("kiosk stopping")
        self._stop.set()
        self._wake.set()
        self._jobs.put(None)
        self._worker.join(timeout=30)
        self._monitor.join(timeout=5)
        self.delivery.stop()
        self.link.stop()
        self.panel.close()
        self.printer.close()
        self.store.close()

    # -- inputs (any thread) ----------------------------------------------------------------------

    def press(self, service: str) -> None:
        """A service button was pressed (gpiozero thread): hand it to the print worker."""
        self._enqueue(Press(service, self.clock.monotonic()))

    def request_status_ticket(self) -> None:
        self._enqueue(StatusRequest())

    def _enqueue(self, job: Job) -> None:
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            log.warning("press queue full: %r dropped", job)

    def _on_connection(self, connected: bool) -> None:
        self._connected_at = self.clock.monotonic() if connected else None

    def _on_ack(self, ack: Ack, live: bool) -> None:
        self._heard(ack.day, live)
        today = self.current_day()
        if ack.day != today:
            log.info("ack from %s (today is %s): only its seq %d is used", ack.day, today, ack.seq)
        if self.store.resume(ack, today):
            log.info("resumed from the hub's ack: seq %d, last numbers %s", ack.seq, ack.last)
        if self.hub.take_ack(ack, today):  # more of this kiosk's tickets refused
            self._last_error = (f"the hub refused {ack.refused} ticket(s) of another day (hub's day {ack.day}): "
                                "check this kiosk's clock")
            log.error("%s", self._last_error)
        self._become_ready()
        self._wake.set()

    def _on_queue_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if not payload:
            return
        state = QueueState.from_dict(decode_object(payload))
        self._heard(state.day, not retained)
        today = self.current_day()
        if state.day != today:
            log.warning("ignoring queue state of %s (today is %s)", state.day, today)
            return
        self.hub.take_queue(state, not retained, self.clock.monotonic())
        self._wake.set()

    def _heard(self, day: date, live: bool) -> None:
        """A message of the hub's. A live hub's day is the office's day, whatever this kiosk's clock says:
        the kiosk stores it, so it keeps that day if the hub goes away again."""
        self.hub.heard(day, live, self.clock.monotonic())
        stored = self.store.stored_day()
        if live and stored is not None and stored != day:
            log.warning("following the hub's business day %s (this kiosk had %s; its clock says %s)", day, stored,
                        self._clock_day())
            self.store.set_day(day)

    # -- state ------------------------------------------------------------------------------------

    def _clock_day(self) -> date:
        return local_business_day(self.clock.now(), self.config.timezone, self.config.day_reset)

    def current_day(self) -> date:
        """The hub's day while it is live (it decides, docs/protocol.md §6); else the kiosk's own rules."""
        return self.hub.day(self.store.stored_day(), self._clock_day(), self.clock.synced(), self.clock.monotonic())

    def fresh_queue(self) -> QueueState | None:
        """The hub's queue state if it is today's and recent; None means 'hub unreachable'."""
        return self.hub.fresh_queue(self.current_day(), self.clock.monotonic(), self.clock.now(), self.clock.synced())

    def service_state(self, service: str) -> ServiceQueue | None:
        state = self.fresh_queue()
        return None if state is None else state.service(service)

    def issuing(self, service: str) -> bool:
        """False only when the hub's fresh state says no more tickets today; offline, we issue."""
        state = self.service_state(service)
        return state is None or state.issuing

    def health(self) -> dict[str, Any]:
        status = self._printer_status
        return {
            "ready": self.ready.is_set(),
            "day": self.current_day().isoformat(),
            "printer": {"online": status.online, "paper": status.paper.value, "detail": status.detail,
                        "sensor": status.sensor},
            "roll_used": self.store.roll_count(),
            "last_error": self._last_error,
            "hub_reachable": self.fresh_queue() is not None,
            "issuing": {s.id: self.issuing(s.id) for s in self.config.services},
            "invalid_messages": self.link.invalid_messages,
            "hub_refused": self.hub.refused,
            **self.delivery.summary(),
        }

    # -- print worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            self.worker_beat = self.clock.monotonic()
            try:
                job = self._jobs.get(timeout=1.0)
            except queue.Empty:
                continue
            if job is None:
                return
            try:
                if isinstance(job, StatusRequest):
                    self._print_status_ticket()
                else:
                    self._handle_press(job)
            except Exception:
                log.exception("handling %r failed", job)
                self._last_error = f"internal error handling {job!r}"
            self._refresh_indicators()
            with self._handled_cond:
                self._handled += 1
                self._handled_cond.notify_all()

    def wait_handled(self, count: int, timeout: float) -> bool:
        """Wait until `count` jobs (presses, status requests) were handled since start."""
        with self._handled_cond:
            return self._handled_cond.wait_for(lambda: self._handled >= count, timeout)

    def _handle_press(self, press: Press) -> None:
        button = self.config.service(press.service)
        if button is None:
            log.warning("press for unknown service %r ignored", press.service)
            return
        last = self._last_accepted.get(press.service)
        if last is not None and press.at - last < button.min_interval_s:
            log.info("press of %s ignored: %.1f s after the last one (minimum %.1f s)", press.service,
                     press.at - last, button.min_interval_s)
            return
        self._last_accepted[press.service] = press.at
        while not self.ready.wait(timeout=1.0):
            self.worker_beat = self.clock.monotonic()
            if self._stop.is_set():
                return
        if not self.issuing(press.service):
            self._print_slip(press.service)
            return
        self._issue(press.service)

    def _issue(self, service: str) -> None:
        button = self.config.service(service)
        assert button is not None
        self._printer_status = self.printer.status(self.store.roll_count())
        if not self._printer_status.can_print:
            self._last_error = f"printer cannot print: {self._printer_status.detail or 'paper out'}"
            log.error("press of %s not served, no number used: %s", service, self._last_error)
            return
        day = self.current_day()
        token, now = new_token(), self.clock.now()

        def make_event(a: Allocation) -> TicketIssued:
            return TicketIssued(id=str(uuid.uuid4()), token=token, service=service, number=a.number,
                                label=a.label, issued_at=now, day=day, device=self.config.device, seq=a.seq)

        event = self.store.allocate(service, day, self.config.numbering, make_event,
                                    self.hub.number_floor(service, day))
        try:  # from here on, whatever happens, the event is released for delivery (issued or voided)
            self._printing = True
            self.panel.show(LedPattern.PRINTING)  # only the LED: nothing else between commit and first byte
            self._print_ticket(event, button.name_de, button.name_en)
        finally:
            self._printing = False
            self.delivery.release(event.seq)

    def _print_ticket(self, event: TicketIssued, name_de: str, name_en: str) -> None:
        """Print, and note it (so a restart knows it came out); void the event when it did not."""
        sq = self.service_state(event.service)
        content = TicketContent(
            office_name=self.config.office_name, label=event.label, service_de=name_de, service_en=name_en,
            issued_at=event.issued_at.astimezone(self.config.timezone), extra_language=self.config.ticket_language,
            ahead=sq.waiting if sq else None, wait_min=sq.expected_wait_min if sq else None,
            tracking_url=qr_link(self.config.tracking_url, event.token),
            short_url=short_link(self.config.tracking_url, event.token),
            wait_range=shown_range(sq.wait_range_min) if sq else None, large_label=self.config.large_label,
        )
        try:
            size = self.printer.print_document(ticket_document(content), event.label)
        except Exception as exc:  # PrinterFault, or a bug while rendering: the ticket did not come out
            self._last_error = str(exc)
            log.error("ticket %s (seq %d) did not print, voiding it: %s", event.label, event.seq, exc)
            self.store.void(TicketVoided(id=event.id, reason=str(exc)[:200], service=event.service,
                                         number=event.number, label=event.label, day=event.day,
                                         device=event.device, seq=event.seq))
            self._printer_status = PrinterStatus(online=False, paper=PaperState.UNKNOWN, detail=str(exc))
            return
        self.store.mark_printed(event.seq)
        self._last_error = None
        self.printed_labels.append(event.label)
        log.info("printed %s (seq %d, %d bytes)", event.label, event.seq, size)
        self.panel.voice.ticket(event.label, content.ahead)  # after the last byte, on the voice's own thread

    def _print_slip(self, service: str) -> None:
        button = self.config.service(service)
        assert button is not None
        sq = self.service_state(service)
        log.info("no tickets left for %s today (%s): printing a slip, no number used", service, sq and sq.reason)
        doc = no_tickets_slip(self.config.office_name, button.name_de, button.name_en, self.config.booking_url,
                              self.clock.now().astimezone(self.config.timezone), self.config.ticket_language)
        self._print_quietly(doc, f"slip-{service}")
        self.panel.voice.no_tickets(service)  # after the slip, on the voice's own thread

    def _print_status_ticket(self) -> None:
        health = self.health()
        lines = [("Gerät", self.config.device), ("Büro", self.config.office), ("Version", VERSION),
                 ("Tag", health["day"]), ("Uhr synchron", "ja" if self.clock.synced() else "NEIN"),
                 ("Broker", "verbunden" if self.link.connected.is_set() else "GETRENNT"),
                 ("Hub", "erreichbar" if health["hub_reachable"] else "NICHT ERREICHBAR"),
                 ("Papier", health["printer"]["paper"]), ("Rolle", str(health["roll_used"])),
                 ("Ausstehend", str(health["outbox_pending"])), ("Letzter Fehler", health["last_error"] or "-")]
        self._print_quietly(status_document("Statusbericht", lines, self.clock.now().astimezone(
            self.config.timezone)), "status")

    def _print_quietly(self, doc: Document, name: str) -> None:
        try:
            self.printer.print_document(doc, name)
        except PrinterFault as exc:
            self._last_error = str(exc)
            log.error("could not print %s: %s", name, exc)

    # -- monitor ----------------------------------------------------------------------------------

    def _watch(self) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.monitor_beat = now = self.clock.monotonic()
            try:
                self._maybe_resume_fresh(now)
                if now >= next_poll and not self._printing:
                    self._printer_status = self.printer.status(self.store.roll_count())
                    next_poll = now + self.config.printer.status_poll_s
                    self.store.checkpoint()
                self._refresh_indicators()
            except Exception:
                log.exception("monitor pass failed")

    def _maybe_resume_fresh(self, now: float) -> None:
        """A new kiosk whose hub holds no ack for it starts numbering from scratch."""
        connected_at = self._connected_at
        if self.ready.is_set() or connected_at is None or now - connected_at < self.config.resume_wait_s:
            return
        log.warning("no ack retained for %s after %.0f s connected: starting numbering as a new kiosk",
                    self.config.device, self.config.resume_wait_s)
        self.store.resume(None, self.current_day())
        self._become_ready()

    def _refresh_indicators(self) -> None:
        with self._indicating:
            health = self.health()  # first: the LED then reflects at least what the published status says
            self.panel.show(self._led_pattern())
            for service in self.config.services:
                self.panel.set_light(service.id, self.issuing(service.id))
            if health != self._published_health and self.link.connected.is_set():
                self._published_health = health
                self.link.publish_status()

    def _led_pattern(self) -> LedPattern:
        status = self._printer_status
        if not status.online or (status.paper == PaperState.OUT) or self._last_error:
            return LedPattern.PRINTER_FAULT
        if self._printing:
            return LedPattern.PRINTING
        if not self.ready.is_set():
            return LedPattern.STARTING
        if not self.link.connected.is_set() or self.fresh_queue() is None:
            return LedPattern.OFFLINE
        return LedPattern.READY
