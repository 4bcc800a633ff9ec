"""The office web over HTTPS with a certificate from an office CA (as the playbook issues it), a plain
port that only redirects, cookies marked Secure — and plain HTTP refused anywhere but on loopback."""

from __future__ import annotations

import http.client
import ssl
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from devtools.broker import free_port
from devtools.office_ca import OfficeCA, make_office_ca
from hubprocess.config import load_hub_process_config
from process.config import ConfigError
from protocol.topics import token_hash
from tests.staff_harness import PASSWORD, add_users
from tests.web_harness import WebHub, write_web_hub_config


def tls_web(directory: Path, broker_port: int, office: str, ca: OfficeCA, redirect_port: int) -> Path:
    return write_web_hub_config(directory, broker_port, office, free_port(), extra_web=f"""
        tls_certificate = "{ca.server_cert}"
        tls_key = "{ca.server_key}"
        redirect_port = {redirect_port}
    """)


@pytest.fixture
def office_ca(tmp_path: Path) -> OfficeCA:
    return make_office_ca(tmp_path / "ca", hosts=("localhost",), ips=("127.0.0.1",))


def https(port: int, ca: OfficeCA, method: str, path: str, body: str | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, list[str]], str]:
    context = ssl.create_default_context(cafile=str(ca.ca_cert))  # the clerk PC trusts the office CA
    conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=context)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        found: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            found.setdefault(name.lower(), []).append(value)
        return response.status, found, response.read().decode()
    finally:
        conn.close()


def plain(port: int, method: str, path: str) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body="user=clara" if method == "POST" else None)
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def test_the_office_web_serves_https_and_its_plain_port_only_redirects(tmp_path: Path, shared_broker: Any,
                                                                        topic_office: str,
                                                                        office_ca: OfficeCA) -> None:
    redirect_port = free_port()
    config = tls_web(tmp_path / "hub", shared_broker.port, topic_office, office_ca, redirect_port)
    add_users(load_hub_process_config(config).hub.state_dir / "hub.sqlite3")
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        status, headers, page = https(web.port, office_ca, "GET", "/login")
        assert status == 200 and headers["strict-transport-security"] == ["max-age=31536000"]
        nonce = SimpleCookie(headers["set-cookie"][0])["wm_login"].value
        token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
        form = urlencode({"token": token, "user": "clara", "password": PASSWORD, "next": ""})
        status, headers, _ = https(web.port, office_ca, "POST", "/login", form, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"wm_login={nonce}"})
        assert status == 303 and headers["location"] == ["/counter"]
        session = next(c for c in headers["set-cookie"] if c.startswith("wm_session="))
        assert "Secure" in session and "HttpOnly" in session and "SameSite=Strict" in session

        for method, path in (("GET", "/counter?office=x"), ("POST", "/login"), ("GET", "/t/ABC")):
            status, moved = plain(redirect_port, method, path)
            assert status == 301, (method, path)  # nothing but the redirect, not even a login
            assert moved["location"] == f"https://127.0.0.1:{web.port}{path}"
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            plain(web.port, "GET", "/login")  # no plain HTTP on the HTTPS port
        assert https(web.port, office_ca, "GET", "/healthz")[0] == 200
    finally:
        web.stop()


def test_plain_http_only_on_loopback_and_tls_settings_are_checked(tmp_path: Path, office_ca: OfficeCA) -> None:
    def load(extra: str, host: str = "0.0.0.0") -> None:
        config = write_web_hub_config(tmp_path / "hub", 1883, "t-tls", 8443, extra_web=f'host = "{host}"\n' + extra)
        load_hub_process_config(config)

    with pytest.raises(ConfigError, match=r"hub\.toml: key 'web\.host'.*HTTPS.*tls_certificate"):
        load("")
    load("", host="127.0.0.1")  # make demo: plain HTTP on loopback
    load(f'tls_certificate = "{office_ca.server_cert}"\ntls_key = "{office_ca.server_key}"\nredirect_port = 8080\n')
    with pytest.raises(ConfigError, match=r"key 'web\.redirect_port'.*needs tls_certificate"):
        load("redirect_port = 8080\n", host="127.0.0.1")
    with pytest.raises(ConfigError, match=r"key 'web\.tls_key'.*go together"):
        load(f'tls_certificate = "{office_ca.server_cert}"\n')
    with pytest.raises(ConfigError, match=r"key 'web\.tls_certificate'.*cannot be used"):
        load(f'tls_certificate = "{tmp_path / "missing.crt"}"\ntls_key = "{office_ca.server_key}"\n')
    with pytest.raises(ConfigError, match=r"key 'web\.tls_certificate'.*cannot be used"):
        load(f'tls_certificate = "{office_ca.ca_cert}"\ntls_key = "{office_ca.server_key}"\n')  # key does not match


def test_an_http_origin_of_this_host_is_another_site_for_the_https_web(tmp_path: Path, shared_broker: Any,
                                                                       topic_office: str,
                                                                       office_ca: OfficeCA) -> None:
    """An older browser sends `Origin` without `Sec-Fetch-Site`: `http://localhost:PORT` (a page a network
    attacker serves over plain HTTP) is not this HTTPS site, for the citizens' forms and the login alike."""
    config = tls_web(tmp_path / "hub", shared_broker.port, topic_office, office_ca, free_port())
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        token = web.issue("A").token
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for origin in (f"http://localhost:{web.port}", f"HTTP://localhost:{web.port}", "http://[localhost"):
            status, _, text = https(web.port, office_ca, "POST", f"/t/{token}/cancel", "rid=plain-http-origin",
                                    {**form, "Origin": origin})
            assert status == 403, (origin, status, text)
            status, _, _ = https(web.port, office_ca, "POST", "/login", "user=clara", {**form, "Origin": origin})
            assert status == 403, origin
        assert web.mirror.tickets[token_hash(token)][1].state == "waiting"
        status, headers, _ = https(web.port, office_ca, "POST", f"/t/{token}/cancel", "rid=https-origin-1",
                                   {**form, "Origin": f"https://localhost:{web.port}"})
        assert status == 303 and headers["location"] == [f"/t/{token}?done=cancel"]  # our own page's form
    finally:
        web.stop()
