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
        """GET and HEAD: the index, one day's file, /healthz; any other method 405. Every answer, errors of
        the HTTP parser included, is JSON or CSV with the documented headers — never the standard library's
        HTML error page. No request is logged (nginx has the access log)."""

        timeout = 10
        server_version = "wartemarke-archive"

        def version_string(self) -> str:
            return self.server_version  # the Server header names no Python version

        def do_GET(self) -> None:
            self._send(*self._answer())

        def do_HEAD(self) -> None:
            self._send(*self._answer(), head=True)

        def _other_method(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, "application/json", b'{"error": "method not allowed"}')

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _other_method

        def _answer(self) -> tuple[HTTPStatus, str, bytes, str | None]:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                connected = service.link.connected.is_set()
                return (HTTPStatus.OK if connected else HTTPStatus.SERVICE_UNAVAILABLE, "application/json",
                        json.dumps({"status": "ok", "mqtt_connected": connected}).encode(), None)
            if path == PREFIX:
                return HTTPStatus.OK, "application/json", json.dumps(service.index(), ensure_ascii=False).encode(), None
            if path.startswith(PREFIX) and (match := FILE_RE.match(path.removeprefix(PREFIX))):
                try:
                    body = (service.config.directory / match.group(0)).read_bytes()
                except OSError:
                    body = b""
                if body:
                    return HTTPStatus.OK, "text/csv; charset=utf-8", body, match.group(1)
                return HTTPStatus.NOT_FOUND, "application/json", b'{"error": "no archive for this day"}', None
            return HTTPStatus.NOT_FOUND, "application/json", b'{"error": "not found"}', None

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The parser's refusals (a request line too long, a malformed header) as JSON, closing."""
            self.close_connection = True
            try:
                status = HTTPStatus(code)
            except ValueError:
                status = HTTPStatus.BAD_REQUEST
            self._send(status, "application/json", json.dumps({"error": status.phrase.lower()}).encode(),
                       head=getattr(self, "command", None) == "HEAD")

        def _send(self, status: HTTPStatus, content_type: str, body: bytes, day: str | None = None,
                  head: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "public, max-age=60")
            self.send_header("Link", f'<{service.config.licence_url}>; rel="license"')
            if status == HTTPStatus.METHOD_NOT_ALLOWED:
                self.send_header("Allow", "GET, HEAD")
            if day is not None:
                self.send_header("Content-Disposition", f'attachment; filename="wartemarke-{day}.csv"')
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
