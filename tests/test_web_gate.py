"""The web's connection gate and stream limits, one rule at a time, over real TCP against a real Hub
with its web (small limits in its config), and the accept loop running out of file descriptors in a
web process of its own (web/gate.py, web/streams.py). The whole attack is tests/test_web_flood.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.broker import free_port
from tests.web_harness import WebHub, get, wait_until, write_web_hub_config

LIMITS = """
max_connections = 16
max_connections_per_client = 4
header_timeout_s = 1
request_timeout_s = 1
max_streams = 3
max_streams_per_client = 2
"""


@pytest.fixture
def small_web(tmp_path: Path, shared_broker: Any, topic_office: str,
              request: pytest.FixtureRequest) -> Iterator[WebHub]:
    """A hub's web with the small LIMITS; `@pytest.mark.parametrize("small_web", [30], indirect=True)` sets
    another header timeout."""
    timeout = getattr(request, "param", 1)
    config = write_web_hub_config(tmp_path, shared_broker.port, topic_office, free_port(),
                                  extra_web=LIMITS.replace("header_timeout_s = 1", f"header_timeout_s = {timeout}"))
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        yield web
    finally:
        web.stop()


def connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))


def closed_by_server(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection (fails the test if it does not)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {timeout} s")
    return data


def test_one_address_gets_a_few_connections_and_a_clear_refusal_beyond(small_web: WebHub) -> None:
    held = [connect(small_web.port, "127.0.9.1") for _ in range(4)]
    refused = connect(small_web.port, "127.0.9.1")
    answer = closed_by_server(refused)
    assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 10" in answer
    assert get(small_web.url + "/healthz").status == 200  # another address is served
    for sock in held:
        sock.close()


def test_headers_that_never_end_and_bodies_that_never_come_are_cut_off(small_web: WebHub) -> None:
    silent = connect(small_web.port, "127.0.9.2")
    slow_headers = connect(small_web.port, "127.0.9.3")
    slow_headers.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the empty line never comes
    slow_body = connect(small_web.port, "127.0.9.4")
    slow_body.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1000\r\n\r\nuser=")
    idle = connect(small_web.port, "127.0.9.5")
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then kept alive: idle
    started = time.monotonic()
    for sock in (silent, slow_headers, slow_body, idle):
        closed_by_server(sock, timeout=5)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("small_web", [30], indirect=True)  # nothing times out while the test looks
def test_when_full_the_silent_and_idle_make_room_for_a_clerk(small_web: WebHub) -> None:
    held = [connect(small_web.port, f"127.0.10.{i}") for i in range(1, 17)]  # 16 silent sockets: full
    wait_until(lambda: small_web.server._gate is not None and small_web.server._gate.open >= 16,
               what="16 open connections")
    for i in range(5):  # every new client gets in; an old silent one goes each time
        assert get(small_web.url + f"/healthz?{i}").status == 200
    closed = [sock for sock in held if is_closed(sock)]
    assert 1 <= len(closed) <= 5 and closed == held[:len(closed)]  # the oldest made room; the rest stay open
    for sock in held:
        sock.close()


@pytest.mark.parametrize("small_web", [30], indirect=True)
def test_bodies_sent_slowly_make_room_for_a_clerk_too(small_web: WebHub) -> None:
    """A connection sending its body byte by byte waits for its client like one sending its headers: when
    the server is full, the oldest of them is closed for a new client (review of issue 10, item 1)."""
    held = []
    for i in range(16):  # 4 addresses x 4 (the per-client limit): the server is full
        sock = connect(small_web.port, f"127.0.12.{i % 4 + 1}")
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 60000\r\n\r\nuser=")
        held.append(sock)
    gate = small_web.server._gate
    wait_until(lambda: gate is not None and gate.open >= 16 and not gate._silent, what="16 bodies on their way")
    for i in range(5):
        assert get(small_web.url + f"/healthz?{i}").status == 200
    closed = [sock for sock in held if is_closed(sock)]
    assert 1 <= len(closed) <= 5 and closed == held[:len(closed)]
    for sock in held:
        sock.close()


def is_closed(sock: socket.socket) -> bool:
    sock.settimeout(0.2)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_event_streams_are_limited_per_client_and_in_total(small_web: WebHub) -> None:
    def stream(source: str) -> tuple[int, bytes, socket.socket]:
        sock = connect(small_web.port, source)
        sock.sendall(b"GET /events/offices HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sock.recv(4096)
        return int(head.split(b" ", 2)[1]), head, sock

    opened = [stream("127.0.11.1"), stream("127.0.11.1")]
    per_client = stream("127.0.11.1")
    assert per_client[0] == 429 and b"Retry-After: 30" in per_client[1]
    opened.append(stream("127.0.11.2"))
    total = stream("127.0.11.3")
    assert total[0] == 503 and b"Retry-After: 30" in total[1]
    assert [status for status, _, _ in opened] == [200, 200, 200]
    for _, _, sock in [*opened, per_client, total]:
        sock.close()
    wait_until(lambda: stream("127.0.11.4")[0] == 200, what="a stream once the others have ended")


def test_tracking_streams_are_limited_per_client_and_ticket(small_web: WebHub) -> None:
    """Phones in a waiting room on one guest Wi-Fi (one address) each get their own ticket's stream; one
    ticket's streams from that address are limited as before."""
    first, second = small_web.issue().token, small_web.issue().token

    def stream(token: str) -> tuple[int, socket.socket]:
        sock = connect(small_web.port, "127.0.12.1")
        sock.sendall(f"GET /t/{token}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return int(sock.recv(4096).split(b" ", 2)[1]), sock

    opened = [stream(first), stream(first)]
    again = stream(first)
    other = stream(second)  # the same address, another ticket: its own count
    assert [status for status, _ in opened] == [200, 200]
    assert again[0] == 429
    assert other[0] == 200
    for _, sock in [*opened, again, other]:
        sock.close()


OUT_OF_FILES = textwrap.dedent("""
    import logging, os, resource, sys
    from process.clock import SystemClock
    from protocol.link import BrokerSettings
    from process.startup import setup_logging
    from web.app import WebServer
    from web.config import HUB_LIMITS, WebSettings

    setup_logging("INFO")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))  # the web cannot raise it: max_connections shrinks
    settings = WebSettings(host="127.0.0.1", port=int(sys.argv[1]), public_url="x", offices=("t-files",),
                           operator="x", privacy_url="x", imprint_url="x", access_log=True, session_secret=b"x" * 32,
                           miss_limit_per_min=5, trust_forwarded=False, limits=HUB_LIMITS)
    server = WebServer(settings, BrokerSettings(port=int(sys.argv[2])), "files", SystemClock())
    server.start()
    import threading
    connected = threading.Event()
    while not connected.wait(0.05):  # the broker connection first: it needs files of its own
        if server.mirror.mqtt_connected:
            connected.set()
    hoard = []
    try:
        while True:
            hoard.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    for _ in range(8):  # a few left: the first accepts succeed, then EMFILE
        os.close(hoard.pop())
    print("full", flush=True)
    sys.stdin.readline()  # the test has hammered the full process
    for fd in hoard:
        os.close(fd)
    print("freed", flush=True)
    sys.stdin.readline()
    server.stop()
""")


def test_running_out_of_file_descriptors_is_counted_not_logged_per_attempt(shared_broker: Any) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", OUT_OF_FILES, str(port), str(shared_broker.port)],
                               cwd=Path(__file__).resolve().parents[1], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    try:
        assert process.stdout.readline().strip() == "full"
        clients = []
        for _ in range(200):  # the kernel completes them; the process cannot accept them
            try:
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # let the accept loop run into EMFILE again and again
            time.sleep(0.1)
        for sock in clients:
            sock.close()
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "freed"
        wait_until(lambda: get(f"http://127.0.0.1:{port}/").status == 200, timeout=10,
                   what="the web to accept again")
        process.stdin.write("\n")
        process.stdin.flush()
        process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    log = process.stderr.read()
    accept_lines = [line for line in log.splitlines() if "accept" in line.lower()]
    assert 1 <= len(accept_lines) <= 2, log[-3000:]
    assert "EMFILE" in accept_lines[0] and "Traceback" not in log, log[-3000:]
    assert "max_connections 1000 does not fit the limit of 256 open files: using 128" in log
