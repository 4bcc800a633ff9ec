"""The running archive: reads every office's public `queue` and `info` (in a city: from the central broker,
with an account that may only read them), writes one CSV per business day and serves the files over HTTP
(behind nginx: `/api/v1/archive/`).

Files are rewritten whole, atomically (a temporary file renamed over the old one), every `flush_s` and on
stop; after a restart today's file is read back first, so the day's earlier rows stay. Messages arrive on
paho's thread; one lock guards the table.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from archive.config import ArchiveConfig
from archive.table import FIELDS, Archive
from process.clock import Clock
from protocol import VERSION, topics
from protocol.fields import decode_object
from protocol.link import MqttLink
from protocol.messages.info import OfficeInfo
from protocol.messages.queue import QueueState

log = logging.getLogger("wartemarke.archive")
PREFIX = "/api/v1/archive/"
FILE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.csv\Z")


class ArchiveService:
    def __init__(self, config: ArchiveConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.table = Archive(config.interval_min, config.timezone)
        self.lock = threading.Lock()
        self.beat = clock.monotonic()
        self._stop = threading.Event()
        self.link = MqttLink(config.broker, config.offices[0], config.device, "archive", VERSION, clock)
        for office in config.offices:
            self.link.subscribe(topics.info(office), self._on_info)
            self.link.subscribe(topics.queue(office), self._on_queue)
        self._flusher = threading.Thread(target=self._flush_loop, name="archive-flush", daemon=True)
        self.server = ThreadingHTTPServer((config.host, config.port), _handler(self))
        self._http = threading.Thread(target=self.server.serve_forever, name="archive-http", daemon=True)

    def start(self) -> None:
        self.config.directory.mkdir(parents=True, exist_ok=True)
        self._restore(self.clock.now().date())
        self._flusher.start()
        self._http.start()
        self.link.start()
        log.info("archive of %d offices into %s, served on %s:%d", len(self.config.offices),
                 self.config.directory, self.config.host, self.config.port)

    def stop(self) -> None:
        self._stop.set()
        self.link.stop()
        self._flusher.join(5)
        self.flush()
        self.server.shutdown()
        self.server.server_close()

    # -- MQTT (paho's thread) ----------------------------------------------------------------------

    def _on_info(self, topic: str, payload: bytes) -> None:
        if payload:
            info = OfficeInfo.from_dict(decode_object(payload))  # InvalidMessage: logged and dropped by the link
            with self.lock:
                self.table.record_info(topics.parse(topic).office, info)

    def _on_queue(self, topic: str, payload: bytes) -> None:
        if payload:
            queue = QueueState.from_dict(decode_object(payload))
            with self.lock:
                self.table.record(topics.parse(topic).office, queue)

    # -- files ---------------------------------------------------------------------------------------

    def path(self, day: date) -> Path:
        return self.config.directory / f"{day.isoformat()}.csv"

    def _restore(self, today: date) -> None:
        """Read back the files of the last two days (a business day may end after midnight)."""
        for day in sorted({today, date.fromordinal(today.toordinal() - 1)}):
            if self.path(day).exists():
                try:
                    with self.lock:
                        self.table.load(day, self.path(day).read_text(encoding="utf-8"))
                except (ValueError, KeyError) as exc:
                    log.error("%s cannot be read back (%s): it is rewritten from what arrives now", self.path(day), exc)

    def flush(self) -> None:
        """Write every day with new rows (whole file, atomically)."""
        with self.lock:
            days = sorted(self.table.changed)
            texts = {day: self.table.csv(day) for day in days}
            self.table.changed.clear()
            if days:
                self.table.forget_before(days[-1])
        for day, text in texts.items():
            temporary = self.path(day).with_suffix(".csv.tmp")
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path(day))

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.config.flush_s):
            try:
                self.flush()
            except OSError:
                log.exception("writing the archive failed; trying again in %.0f s", self.config.flush_s)
            self.beat = self.clock.monotonic()

    def index(self) -> dict[str, Any]:
        days = sorted((p for p in self.config.directory.glob("*.csv") if FILE_RE.match(p.name)), reverse=True)
        return {"licence": {"name": self.config.licence, "url": self.config.licence_url},
                "attribution": self.config.attribution, "interval_min": self.config.interval_min,
                "fields": list(FIELDS),
                "days": [{"date": p.stem, "url": f"{PREFIX}{p.name}", "bytes": p.stat().st_size} for p in days]}


def _handler(service: ArchiveService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """GET only: the index, one day's file, /healthz. No request is logged (nginx has the access log)."""

        timeout = 10
        server_version = "wartemarke-archive"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                connected = service.link.connected.is_set()
                self._send(HTTPStatus.OK if connected else HTTPStatus.SERVICE_UNAVAILABLE, "application/json",
                           json.dumps({"status": "ok", "mqtt_connected": connected}).encode())
            elif path == PREFIX:
                self._send(HTTPStatus.OK, "application/json", json.dumps(service.index(), ensure_ascii=False).encode())
            elif path.startswith(PREFIX) and (match := FILE_RE.match(path.removeprefix(PREFIX))):
                file = service.config.directory / match.group(0)
                try:
                    body = file.read_bytes()
                except OSError:
                    body = b""
                if not body:
                    self._send(HTTPStatus.NOT_FOUND, "application/json", b'{"error": "no archive for this day"}')
                else:
                    self._send(HTTPStatus.OK, "text/csv; charset=utf-8", body, day=match.group(1))
            else:
                self._send(HTTPStatus.NOT_FOUND, "application/json", b'{"error": "not found"}')

        def _send(self, status: HTTPStatus, content_type: str, body: bytes, day: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "public, max-age=60")
            self.send_header("Link", f'<{service.config.licence_url}>; rel="license"')
            if day is not None:
                self.send_header("Content-Disposition", f'attachment; filename="wartemarke-{day}.csv"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
