"""The public web's nginx configuration, rendered from the web role's template and run for real in
front of a real replica: `nginx -t` accepts it, the API is cached, event streams pass, office pages
are refused."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from devtools.broker import free_port, reserved_port
from process.clock import SystemClock
from protocol import topics
from protocol.link import BrokerSettings
from tests.web_harness import nginx_listens, random_token, wait_until
from web.app import WebServer
from web.config import REPLICA_LIMITS, WebSettings

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "deploy" / "roles" / "web" / "templates"


def render(template: str = "nginx-wartemarke.conf.j2", **variables) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(template).render(**variables)


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    http_port: int
    https_port: int
    main: Path  # nginx.conf
    site: Path  # wartemarke.conf


def start_nginx(directory: Path, cert: Path, key: Path, worker_connections: int = 256, **site: Any) -> Nginx | None:
    """nginx from the role's two templates (nginx.conf.j2 with a test's paths, one worker) with the site
    template's variables `site`; its ports, cache and access log in `directory`. None: it did not start."""
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    for _ in range(5):  # a port may still be taken before nginx binds it: new ports then
        # below the kernel's ephemeral range: no other test's outgoing connection holds one meanwhile
        http_port = reserved_port("0.0.0.0")
        https_port = next(port for port in iter(lambda: reserved_port("0.0.0.0"), 0) if port != http_port)
        site_file = directory / "wartemarke.conf"
        site_file.write_text(render(web_tls_certificate=str(cert), web_tls_key=str(key), web_http_port=http_port,
                                    web_https_port=https_port, web_cache_dir=str(directory / "cache"),
                                    web_access_log=str(directory / "access.log"), **site))
        main = directory / "nginx.conf"
        main.write_text(render("nginx.conf.j2", web_nginx_user="root" if os.geteuid() == 0 else "",
                               web_nginx_worker_processes=1, web_nginx_pid=str(directory / "nginx.pid"),
                               web_nginx_modules="", web_nginx_error_log=str(directory / "error.log"),
                               web_nginx_worker_connections=worker_connections,
                               web_nginx_worker_rlimit_nofile=4096, web_nginx_temp_dir=str(temp),
                               web_nginx_sites=str(site_file)))
        check = subprocess.run(["nginx", "-t", "-c", str(main)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen(["nginx", "-c", str(main), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        if nginx_listens(nginx, directory / "nginx.pid"):
            return Nginx(nginx, http_port, https_port, main, site_file)
        nginx.wait(10)
    return None


@pytest.fixture
def proxy(tmp_path, shared_broker, recorder_factory, topic_office, request):
    """nginx from the role's two templates in front of a replica (start_nginx);
    `@pytest.mark.parametrize("proxy", [N], indirect=True)` gives the worker N connections."""
    cert, key = self_signed(tmp_path)
    replica_port = free_port()
    settings = WebSettings(host="127.0.0.1", port=replica_port, public_url="https://localhost", offices=(topic_office,),
                           operator="Test", privacy_url="/datenschutz", imprint_url="/impressum", access_log=True,
                           session_secret=b"x" * 32, miss_limit_per_min=20, trust_forwarded=True,
                           limits=REPLICA_LIMITS)
    replica = WebServer(settings, BrokerSettings(port=shared_broker.port), "web-nginx", SystemClock())
    replica.start()
    nginx = start_nginx(tmp_path, cert, key, getattr(request, "param", 256),
                        web_replicas=[f"127.0.0.1:{replica_port}"], web_metrics_allow=["127.0.0.2"])
    if nginx is None:
        replica.stop()
        pytest.fail(f"nginx did not start: {(tmp_path / 'error.log').read_text()[-2000:]}")
    error_logs = {Path(p) for p in re.findall(r"^\s*error_log (\S+)", nginx.main.read_text() + nginx.site.read_text(),
                                              re.M)}
    http_port, https_port = nginx.http_port, nginx.https_port
    rec = recorder_factory(shared_broker, [topics.office_tree(topic_office)])
    try:
        context = ssl.create_default_context(cafile=str(cert))
        yield {"base": f"https://localhost:{https_port}", "context": context, "rec": rec, "office": topic_office,
               "http": f"http://127.0.0.1:{http_port}", "log": tmp_path / "access.log", "port": https_port,
               "http_port": http_port, "replica": replica,
               "logs": [tmp_path / "access.log", *(p for p in error_logs if p != Path("/dev/null"))]}
    finally:
        nginx.process.terminate()
        nginx.process.wait(10)
        replica.stop()


def fetch(proxy, path: str):
    return urllib.request.urlopen(proxy["base"] + path, context=proxy["context"], timeout=10)


def test_nginx_caches_the_api_and_refuses_office_pages(proxy, caplog):
    caplog.set_level(logging.DEBUG)
    queue = {"v": 1, "day": "2026-11-25", "at": "2026-11-25T10:00:00+01:00", "services": [
        {"service": "A", "waiting": 4, "expected_wait_min": 20, "issuing": True, "reason": None, "ampel": "green"}]}
    proxy["rec"].publish(topics.queue(proxy["office"]), json.dumps(queue).encode(), retain=True)
    first = fetch(proxy, "/api/v1/offices")
    assert first.status == 200 and first.headers["Access-Control-Allow-Origin"] == "*"
    second = fetch(proxy, "/api/v1/offices")
    assert second.headers["X-Cache-Status"] == "HIT"
    hsts = "max-age=31536000"  # on every location, also where one adds headers of its own
    assert first.headers["Strict-Transport-Security"] == hsts and second.headers["Strict-Transport-Security"] == hsts
    for path in ("/counter", "/devices", "/login", "/account", "/api/internal/session", "/Counter", "/metrics"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            fetch(proxy, path)
        assert refused.value.code == (403 if path == "/metrics" else 404)
        assert refused.value.headers["Strict-Transport-Security"] == hsts, path
    assert fetch(proxy, "/").status == 200 and fetch(proxy, "/").headers["Strict-Transport-Security"] == hsts
    assert fetch(proxy, "/events/offices").headers["Strict-Transport-Security"] == hsts
    redirect = urllib.request.Request(proxy["http"] + "/", method="GET")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as moved:
        opener.open(redirect, timeout=10)
    assert moved.value.code == 301 and moved.value.headers["Location"].startswith("https://")
    log = proxy["log"].read_text()
    assert "127.0.0.1" not in log and "/api/v1/offices" in log
    for _ in range(3):  # a compressed body through nginx: the replica refuses it, without a traceback
        encoded = urllib.request.Request(proxy["base"] + "/", data=b"abcde", method="POST",
                                         headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(encoded, context=proxy["context"], timeout=10)
        assert refused.value.code == 415
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_ampel_streams_are_limited_per_address(proxy):
    streams = [raw(proxy, "/events/offices", keep=True, source="127.0.0.4") for _ in range(8)]
    try:
        assert [status for status, _ in streams] == [200] * 8
        assert raw(proxy, "/events/offices", source="127.0.0.4")[0] == 429  # the 9th
        assert raw(proxy, "/events/offices?service=A", source="127.0.0.4")[0] == 429  # with any query
    finally:
        for _, sock in streams:
            sock.close()


def test_event_streams_pass_through_unbuffered(proxy):
    stream = fetch(proxy, "/events/offices")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.readline().decode() == "retry: 2000\n"  # the stream's first bytes, without waiting for more
    assert stream.readline().decode() == "\n"
    stream.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# -- no tracking token in any log, one spelling for the stream limit, /metrics refused -----------------------

def raw(proxy, path: str, source: str = "127.0.0.1", keep: bool = False, tls: bool = True):
    """A GET with the path exactly as given (no client-side normalising). Returns (status, socket or None)."""
    port = proxy["port"] if tls else proxy["http_port"]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    if tls:
        sock = proxy["context"].wrap_socket(sock, server_hostname="localhost")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {'keep-alive' if keep else 'close'}\r\n\r\n"
                 .encode("latin-1"))
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, f"{path}: no answer"
        head += chunk
    status = int(head.split(b" ", 2)[1])
    if keep:
        return status, sock
    while sock.recv(65536):
        pass
    sock.close()
    return status, None


def tracked_ticket(proxy) -> str:
    """A ticket's retained view on the broker, mirrored by the replica: its token."""
    token = random_token()
    view = {"v": 1, "day": "2026-11-25", "label": "A001", "service": "A", "state": "waiting",
            "issued_at": "2026-11-25T09:00:00+01:00", "ahead": 0}
    proxy["rec"].publish(topics.ticket(proxy["office"], topics.token_hash(token)), json.dumps(view).encode(),
                         retain=True)
    wait_until(lambda: topics.token_hash(token) in proxy["replica"].mirror.tickets, what="the replica's ticket")
    return token


def test_no_log_line_of_nginx_or_the_replica_keeps_a_token_in_any_spelling(proxy, caplog):
    caplog.set_level(logging.DEBUG)
    token = tracked_ticket(proxy)
    expected = {f"/t/{token}": 200, f"/T/{token}": 301, f"/t/{token.lower()}": 301, f"/T/{token.lower()}": 301,
                f"/t/%20{token}": 404, f"/t/{token}%20": 404, f"/t/%20{token}%20": 404,
                f"/t/{token[:10]}%2F{token[10:]}": 404, f"/t%2F{token}": 404, f"//t/{token}": 404,
                f"/t//{token}": 404, f"/t/{token}/": 404, f"/t/%{ord(token[0]):02X}{token[1:]}": 404,  # one spelling
                f"/api/v1/tickets/{token}": 200, f"/api/v1/tickets/%20{token}": 404,
                f"/api/v1/tickets/{token.lower()}": 404, f"/x/{token}": 404, f"/{token}": 404,
                f"/t/%20{token}/events": 404, f"/t/{token.lower()}/events": 404}
    for path, status in expected.items():
        assert raw(proxy, path)[0] == status, path
    assert raw(proxy, f"/t/{token}", tls=False)[0] == 301  # the plain-HTTP redirect logs too

    streams = [raw(proxy, f"/t/{token}/events", keep=True) for _ in range(8)]  # nginx: 8 per client
    try:
        assert [status for status, _ in streams] == [200] * 8
        assert raw(proxy, f"/t/{token}/events", keep=True)[0] == 429  # the 9th: limited
        for odd in (f"/t/%20{token}/events", f"/T/{token}/events", f"/t/{token}/events%20"):
            assert raw(proxy, odd)[0] in (301, 404), odd  # no other spelling opens a stream past the limit
        assert raw(proxy, f"/t/{token}/events", keep=True, source="127.0.0.3")[0] == 200  # another client may
        other = raw(proxy, f"/t/{tracked_ticket(proxy)}/events", keep=True)  # the same address, another ticket
        streams.append(other)
        assert other[0] == 200  # a waiting room on one guest Wi-Fi: each phone its own ticket's stream
        burst = [raw(proxy, f"/t/{token}")[0] for _ in range(80)]  # 20 r/s, burst 40: rate-limit lines
        assert 429 in burst
    finally:
        for _, sock in streams:
            sock.close()

    assert raw(proxy, "/metrics")[0] == 403  # /metrics: only web_metrics_allow
    assert raw(proxy, "/%6Detrics")[0] == 403 and raw(proxy, "//metrics")[0] == 403
    assert raw(proxy, "/metrics", source="127.0.0.2")[0] == 200

    texts = {str(path): path.read_text() if path.exists() else "" for path in proxy["logs"]}
    texts["replica"] = "\n".join(r.getMessage() for r in caplog.records)
    for where, text in texts.items():
        for part in (token, token.lower(), token[:10], token[10:], token[10:].lower()):
            assert part not in text, f"a piece of the token in {where}"
        assert "limiting" not in text, where
    access = texts[str(proxy["log"])]
    assert '"GET /t/{token}" 200' in access and '"GET /t/{token}" 301' in access and '"GET (other)" 404' in access
    assert '"GET /t/{token}/events" 429' in access and "127.0.0.1" not in access


@pytest.mark.parametrize("proxy", [40], indirect=True)
def test_a_worker_out_of_connections_writes_no_token_to_any_log(proxy):
    """More streams than nginx's worker has connections for (each is two: the client's and the replica's):
    nginx refuses some, and its lines about them (at `alert`, with the request line) reach no log file
    (review of issue 10, item 5). The real host's worker has 20,480 (deploy/roles/web/defaults)."""
    token = tracked_ticket(proxy)
    held, statuses = [], []
    try:
        for i in range(40):  # from 40 addresses: nginx's 8 streams per client do not apply
            try:
                status, sock = raw(proxy, f"/t/{token}/events", source=f"127.0.13.{i + 1}", keep=True)
            except (OSError, AssertionError):
                statuses.append(0)  # refused before a response
                continue
            statuses.append(status)
            held.append(sock)
        assert statuses.count(200) < 40 and 200 in statuses, statuses  # the worker ran out, and served some
    finally:
        for sock in held:
            sock.close()
    for path in proxy["logs"]:
        text = path.read_text() if path.exists() else ""
        assert token not in text and "127.0.13." not in text, f"{path}: {text[-2000:]}"


def test_the_cached_api_answers_each_language_in_its_own(proxy):
    """/api/v1/offices names services in the language of `?lang=` or Accept-Language, and nginx caches it
    for 5 s: the answer says `Vary: Accept-Language`, so one client's English never reaches a German one."""
    office = proxy["office"]
    info = {"v": 1, "day": "2026-11-25", "name": "Bürgerbüro Test", "timezone": "Europe/Berlin", "hours": {},
            "services": [{"id": "A", "name": {"de": "Allgemeine Anliegen", "en": "General concerns"}}],
            "counters": [], "announcement": "", "ampel": {"green_max_min": 30.0, "yellow_max_min": 90.0},
            "hub": "hub-test"}
    queue = {"v": 1, "day": "2026-11-25", "at": "2026-11-25T10:00:00+01:00", "services": [
        {"service": "A", "waiting": 4, "expected_wait_min": 20, "issuing": True, "reason": None, "ampel": "green"}]}
    proxy["rec"].publish(topics.info(office), json.dumps(info).encode(), retain=True)
    proxy["rec"].publish(topics.queue(office), json.dumps(queue).encode(), retain=True)

    def names(language: str) -> tuple[str, str]:
        request = urllib.request.Request(proxy["base"] + "/api/v1/offices", headers={"Accept-Language": language})
        reply = urllib.request.urlopen(request, context=proxy["context"], timeout=10)
        services = json.loads(reply.read())["offices"][0]["services"]
        return (services[0]["name"] if services else ""), reply.headers["X-Cache-Status"]

    wait_until(lambda: names("en")[0] == "General concerns", what="the replica to mirror the office")
    assert names("de")[0] == "Allgemeine Anliegen"  # within the 5 s the English answer is cached
    assert names("en") == ("General concerns", "HIT")  # still cached for the same language
    assert "Accept-Language" in fetch(proxy, "/api/v1/offices").headers["Vary"]
    assert names("tr-TR,de;q=0.5")[0] == "Allgemeine Anliegen"  # Turkish pages show the German names
