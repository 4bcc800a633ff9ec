"""The web server's front door: every connection is counted from accept to close, so that neither one
client nor many can take the office web down by holding sockets (docs/architecture.md, "web/").

asyncio's own accept loop hands each connection to the protocol at once and, when the process runs out
of file descriptors, logs a traceback per attempt. Here our own accept loop reads the listening socket:

- an address that already holds `max_connections_per_client` connections is refused at once (closed;
  on plain HTTP after a one-line 503) before a TLS handshake or a parser costs anything;
- a new connection is "silent" until its first bytes arrive: only then does its TLS handshake (or
  its HTTP parser) start, so a socket that never says a word costs a descriptor and nothing else;
- when `max_connections` are open, the oldest silent connection is closed to make room, else the one
  that has waited longest for a request (a TLS handshake, headers that never finish, an idle
  keep-alive); only when every open connection is busy is the new one refused. So a clerk still gets
  in while an attacker holds thousands of sockets: the attacker's own idle sockets make room, and a
  clerk's connection, which speaks at once, is not closed while silent ones remain;
- a connection must finish its request headers within `header_timeout_s` (from connecting, or from the
  end of its last response), and then its body within `header_timeout_s` again (web/bodies.py: while
  the body arrives the connection waits for its client, so it may be closed to make room); a request
  other than an event stream must be answered within `request_timeout_s`;
- accept errors (EMFILE, ENFILE, …) pause accepting for a moment and are counted, never logged per
  attempt. Refusals are counted by a Tally too (web/limits.py): the first of each kind is logged,
  the rest as one summary line a minute.

`track` (an aiohttp middleware) tells the gate when a request starts and ends; web/streams.py tells it
when a request becomes an event stream (no request timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import socket
import ssl
from asyncio import sslproto
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web

from web.config import Limits
from web.limits import Tally

log = logging.getLogger("wartemarke.web.gate")

ACCEPT_BATCH = 128  # connections taken from the backlog per wake-up
ACCEPT_RETRY_S = 0.5  # after EMFILE and friends: let closing connections free descriptors
SWEEP_S = 0.5
RESERVED_FILES = 128  # descriptors kept free for the broker connection, SQLite, logs, TLS files
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nConnection: close\r\n"
           b"Content-Type: text/plain\r\nContent-Length: 20\r\n\r\ntoo many connections")
SILENT, WAITING, BUSY, STREAM = "silent", "waiting", "busy", "stream"
# asyncio gives every TLS connection a read buffer of SSLProtocol.max_size (256 KiB) from the start: 2,000
# held connections would hold half a gigabyte. A TLS record is at most 16 KiB; 32 KiB reads are plenty.
TLS_READ_BUFFER = 32 * 1024


class Conn:
    """One accepted connection and what it is doing."""

    __slots__ = ("address", "closed", "listener", "since", "sock", "state", "transport")

    def __init__(self, address: str, sock: socket.socket, now: float, listener: Listener) -> None:
        self.address, self.sock, self.since, self.listener = address, sock, now, listener
        self.state = SILENT
        self.transport: asyncio.Transport | None = None
        self.closed = False


class Gate:
    def __init__(self, limits: Limits, tally: Tally) -> None:
        self.limits, self.tally = limits, tally
        self.max_connections = limits.max_connections
        self.open = 0
        self._per_address: Counter[str] = Counter()
        self._silent: dict[Conn, None] = {}  # insertion order = oldest first
        self._waiting: dict[Conn, None] = {}
        self._busy: dict[Conn, None] = {}
        self._by_transport: dict[asyncio.BaseTransport, Conn] = {}
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- start and stop -----------------------------------------------------------------------------

    def fit_to_open_files(self) -> None:
        """Raise the soft RLIMIT_NOFILE to the hard limit; keep max_connections below it."""
        files = raise_open_files_limit()
        room = max(16, files - RESERVED_FILES)
        if self.max_connections > room:
            log.warning("max_connections %d does not fit the limit of %d open files: using %d (raise LimitNOFILE)",
                        self.max_connections, files, room)
            self.max_connections = room

    def listen(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol],
               tls: ssl.SSLContext | None) -> None:
        self.loop = asyncio.get_running_loop()
        if tls is not None:
            sslproto.SSLProtocol.max_size = min(sslproto.SSLProtocol.max_size, TLS_READ_BUFFER)
        listener = Listener(self, sock, factory, tls)
        self._listeners.append(listener)
        listener.start()
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(SWEEP_S, self._sweep)

    def stop_listening(self) -> None:
        for listener in self._listeners:
            listener.stop()
        self._listeners.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._tasks):  # connections still in their TLS handshake
            task.cancel()
        for conn in list(self._silent):
            self.close(conn)

    # -- accepting ----------------------------------------------------------------------------------

    def admit(self, sock: socket.socket, address: str, listener: Listener) -> None:
        sock.setblocking(False)
        per_client = self.limits.max_connections_per_client
        if per_client and self._per_address[address] >= per_client:
            self._refuse(sock, listener, "connections refused: too many from one address")
            return
        if self.open >= self.max_connections and not self._make_room():
            self._refuse(sock, listener, "connections refused: every connection busy")
            return
        assert self.loop is not None
        conn = Conn(address, sock, self.loop.time(), listener)
        self.open += 1
        self._per_address[address] += 1
        self._silent[conn] = None
        self.loop.add_reader(sock.fileno(), self._first_bytes, conn)

    def _first_bytes(self, conn: Conn) -> None:
        """The client spoke: now its TLS handshake and HTTP parser may cost something."""
        assert self.loop is not None
        self.loop.remove_reader(conn.sock.fileno())
        self.set_state(conn, WAITING)
        task = self.loop.create_task(self._attach(conn, conn.listener))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse(self, sock: socket.socket, listener: Listener, reason: str) -> None:
        if listener.tls is None:
            with contextlib.suppress(OSError):
                sock.send(REFUSAL)
        sock.close()
        self.tally.count(reason)

    def _make_room(self) -> bool:
        """Close the oldest silent connection, else the one that has waited longest for a request; False
        when all are busy. A "silent" one whose first bytes have arrived but were not read yet (a clerk
        accepted a moment ago, in the same batch) is not silent: it starts instead."""
        while self._silent:
            conn = next(iter(self._silent))
            if not _has_spoken(conn.sock):
                self.close(conn)
                self.tally.count("silent connections closed to make room")
                return True
            self._first_bytes(conn)
        if self._waiting:
            self.close(next(iter(self._waiting)))
            self.tally.count("idle connections closed to make room")
            return True
        return False

    async def _attach(self, conn: Conn, listener: Listener) -> None:
        assert self.loop is not None
        options: dict[str, Any] = {}
        if listener.tls is not None:
            options = {"ssl": listener.tls, "ssl_handshake_timeout": self.limits.header_timeout_s}
        try:
            await self.loop.connect_accepted_socket(lambda: GuardedProtocol(self, conn, listener.factory()),
                                                    conn.sock, **options)
        except asyncio.CancelledError:
            self.close(conn)
            raise
        except Exception:
            self.release(conn)

    # -- what a connection does (called by the protocol, the middleware and web/streams.py) -----------

    def made(self, conn: Conn, transport: asyncio.BaseTransport) -> None:
        conn.transport = cast(asyncio.Transport, transport)
        if not conn.closed:
            self._by_transport[transport] = conn

    def lookup(self, request: web.BaseRequest) -> Conn | None:
        transport = request.transport
        return None if transport is None else self._by_transport.get(transport)

    def set_state(self, conn: Conn, state: str) -> None:
        if conn.closed or self.loop is None:
            return
        self._silent.pop(conn, None)
        self._waiting.pop(conn, None)
        self._busy.pop(conn, None)
        conn.state, conn.since = state, self.loop.time()
        if state == WAITING:
            self._waiting[conn] = None
        elif state == BUSY:
            self._busy[conn] = None

    def release(self, conn: Conn) -> None:
        """Forget a connection that is closed or closing (idempotent)."""
        if conn.closed:
            return
        conn.closed = True
        self.open -= 1
        self._per_address[conn.address] -= 1
        if self._per_address[conn.address] <= 0:
            del self._per_address[conn.address]
        if conn.state == SILENT and self.loop is not None and conn.sock.fileno() >= 0:
            self.loop.remove_reader(conn.sock.fileno())
        self._silent.pop(conn, None)
        self._waiting.pop(conn, None)
        self._busy.pop(conn, None)
        if conn.transport is not None:
            self._by_transport.pop(conn.transport, None)

    def close(self, conn: Conn) -> None:
        silent = conn.state == SILENT
        self.release(conn)
        if silent:  # asyncio has not seen it yet: ours to close
            conn.sock.close()
            return
        if conn.transport is not None:
            conn.transport.abort()
            return
        with contextlib.suppress(OSError):  # still in its TLS handshake: its transport sees the end and closes
            conn.sock.shutdown(socket.SHUT_RDWR)

    def _sweep(self) -> None:
        assert self.loop is not None
        now = self.loop.time()
        for table, timeout in ((self._silent, self.limits.header_timeout_s),
                               (self._waiting, self.limits.header_timeout_s),
                               (self._busy, self.limits.request_timeout_s)):
            while table:
                conn = next(iter(table))
                if now - conn.since < timeout:
                    break
                self.close(conn)
        self.tally.flush()
        self._sweeper = self.loop.call_later(SWEEP_S, self._sweep)


def _has_spoken(sock: socket.socket) -> bool:
    """Bytes (or the end) are waiting to be read — without reading them."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True  # an error to be found by whoever reads it
    return True


GATE = web.AppKey("gate", Gate)


@web.middleware
async def track(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """Tell the gate that a request is being answered (it gets `request_timeout_s`) and when it is done."""
    gate = request.app[GATE]
    conn = gate.lookup(request)
    if conn is not None:
        gate.set_state(conn, BUSY)
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        if conn is not None:
            gate.set_state(conn, WAITING)


class Listener:
    """One listening socket read by our accept loop."""

    def __init__(self, gate: Gate, sock: socket.socket, factory: Callable[[], asyncio.Protocol],
                 tls: ssl.SSLContext | None) -> None:
        self.gate, self.sock, self.factory, self.tls = gate, sock, factory, tls
        self._retry: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._retry = None
        assert self.gate.loop is not None
        self.gate.loop.add_reader(self.sock.fileno(), self._accept)

    def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        if self.gate.loop is not None and self.sock.fileno() >= 0:
            self.gate.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self._pause(exc)
                return
            self.gate.admit(sock, str(address[0]), self)

    def _pause(self, exc: OSError) -> None:
        """Out of descriptors or memory: stop accepting briefly instead of spinning (and logging) per attempt."""
        assert self.gate.loop is not None
        reason = "accept failed: " + (errno.errorcode.get(exc.errno or 0, "") or str(exc))
        self.gate.tally.count(reason)
        self.gate.loop.remove_reader(self.sock.fileno())
        self._retry = self.gate.loop.call_later(ACCEPT_RETRY_S, self.start)


class GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the gate told when the connection is made and lost."""

    def __init__(self, gate: Gate, conn: Conn, inner: asyncio.Protocol) -> None:
        self.gate, self.conn, self.inner = gate, conn, inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.gate.made(self.conn, transport)
        self.inner.connection_made(transport)
        if self.conn.closed:  # made room for another while its TLS handshake finished
            cast(asyncio.Transport, transport).abort()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gate.release(self.conn)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def raise_open_files_limit(wanted: int = 1 << 20) -> int:
    """Raise the soft RLIMIT_NOFILE as far as the hard limit allows (systemd's LimitNOFILE sets both);
    return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft
