"""Guessing tokens at /push/ (issue 15's deployment): the real `wartemarke-notifier` answers a client that
named too many unknown tickets — subscribing, looking up or unsubscribing — with 429 and a clear JSON body,
per client (the last X-Forwarded-For entry behind our proxy, the replicas' rule), while the client's real
ticket still works; and through the real nginx from the web role's template, whose own request limit on
/push/ answers 429 with a JSON body too and whose access log names no token."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devtools.broker import free_port
from devtools.notifier_harness import NotifierProcess, generate_key, running_notifier, write_notifier_config
from devtools.push_service import PushService
from tests.test_nginx import self_signed, start_nginx
from tests.test_web_citizen import SAME_SITE, form_rid, post
from tests.web_harness import WebHub, random_token, wait_until

LIMIT = 3


@pytest.fixture
def notifier(tmp_path: Path, shared_broker: Any, web_hub: WebHub, push: PushService) -> Iterator[NotifierProcess]:
    with running_notifier(tmp_path / "notifier", shared_broker.port, (web_hub.office,), web_hub.url, push,
                          extra=f"miss_limit_per_min = {LIMIT}\ntrust_forwarded = true\n") as process:
        yield process


def from_client(notifier: NotifierProcess, client: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return notifier.request(method, path, body, headers={"X-Forwarded-For": client})


def known_to_notifier(notifier: NotifierProcess, token: str) -> None:
    """Wait until the notifier holds the ticket's view (asked as a client of its own: waiting costs misses)."""
    wait_until(lambda: from_client(notifier, "10.9.9.9", "GET", f"/push/v1/subscriptions/{token}")[1]
               == {"error": "not subscribed"}, what="the notifier to read the ticket's view")


def test_a_client_naming_unknown_tickets_is_refused_with_429_but_not_others_or_its_own_ticket(
        web_hub: WebHub, notifier: NotifierProcess, push: PushService) -> None:
    mine = web_hub.issue()
    known_to_notifier(notifier, mine.token)
    guesser = "10.0.0.1"
    body = {"subscription": push.subscription("guess").info}
    for _ in range(LIMIT):
        status, answer = from_client(notifier, guesser, "PUT", f"/push/v1/subscriptions/{random_token()}", body)
        assert (status, answer) == (404, {"error": "unknown or expired ticket"})
    for method in ("PUT", "GET", "DELETE"):  # subscribing, looking up and unsubscribing alike
        status, answer = from_client(notifier, guesser, method, f"/push/v1/subscriptions/{random_token()}",
                                     body if method == "PUT" else None)
        assert status == 429, method
        assert answer == {"error": "too many unknown tickets from this address: try again in a minute"}
    # Only the last X-Forwarded-For entry counts (our proxy appends it): a prefix the client made up changes nothing.
    assert from_client(notifier, f"192.0.2.7, {guesser}", "GET", f"/push/v1/subscriptions/{random_token()}")[0] == 429
    # Another client is not affected, and the guesser's own ticket still works (only misses are limited).
    assert from_client(notifier, "10.0.0.2", "GET", f"/push/v1/subscriptions/{random_token()}")[0] == 404
    # An IPv6 client is its /64: a new address from the same network per guess does not buy more guesses.
    def guess_from(address: str) -> int:
        return from_client(notifier, address, "GET", f"/push/v1/subscriptions/{random_token()}")[0]

    assert [guess_from(f"2001:db8:7:7::{n + 1:x}") for n in range(LIMIT)] == [404] * LIMIT
    assert guess_from("2001:db8:7:7:ffff::9") == 429
    assert guess_from("2001:db8:7:8::1") == 404  # the next /64: another client
    status, answer = from_client(notifier, guesser, "PUT", f"/push/v1/subscriptions/{mine.token}",
                                 {"subscription": push.subscription("anna").info})
    assert (status, answer) == (201, {"notify": "15min"})
    assert from_client(notifier, guesser, "DELETE", f"/push/v1/subscriptions/{mine.token}")[0] == 204


def test_without_trust_forwarded_the_header_is_ignored(tmp_path: Path, shared_broker: Any, topic_office: str) -> None:
    """A notifier reached directly (no proxy of ours) must not let a client pick its own identity."""
    config = write_notifier_config(tmp_path / "n", shared_broker.port, (topic_office,), "https://warte.test",
                                   extra=f"miss_limit_per_min = {LIMIT}\n")
    generate_key(config)
    process = NotifierProcess.for_config(config)
    process.start()
    try:
        statuses = [from_client(process, f"10.0.1.{n}", "GET", f"/push/v1/subscriptions/{random_token()}")[0]
                    for n in range(LIMIT + 1)]
        assert statuses == [404] * LIMIT + [429]
    finally:
        process.stop()


@pytest.fixture
def nginx(tmp_path: Path, notifier: NotifierProcess) -> Iterator[dict[str, Any]]:
    """nginx from the web role's templates with the notifier on this host (web_notifier_host set)."""
    cert, key = self_signed(tmp_path)
    nginx = start_nginx(tmp_path, cert, key, web_replicas=[f"127.0.0.1:{free_port()}"], web_notifier_host="web-1",
                        web_notifier_address="127.0.0.1", web_notifier_port=notifier.port)
    if nginx is None:
        pytest.fail(f"nginx did not start: {(tmp_path / 'error.log').read_text()[-2000:]}")
    try:
        yield {"port": nginx.https_port, "context": ssl.create_default_context(cafile=str(cert)),
               "log": tmp_path / "access.log"}
    finally:
        nginx.process.terminate()
        nginx.process.wait(10)


def through(nginx: dict[str, Any], method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPSConnection("localhost", nginx["port"], context=nginx["context"], timeout=15)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        return response.status, dict(response.headers), json.loads(raw) if raw else None
    finally:
        conn.close()


def test_through_nginx_guessing_is_refused_per_real_client_and_no_token_is_logged(
        web_hub: WebHub, notifier: NotifierProcess, nginx: dict[str, Any]) -> None:
    status, _, answer = through(nginx, "GET", "/push/v1/key")
    assert status == 200 and len(answer["key"]) == 87
    guesses = [random_token() for _ in range(LIMIT + 1)]
    # A made-up X-Forwarded-For does not help: nginx appends the real address, which the notifier counts.
    answers = [through(nginx, "PUT", f"/push/v1/subscriptions/{token}", {"subscription": {}},
                       {"X-Forwarded-For": f"198.51.100.{n}"}) for n, token in enumerate(guesses)]
    assert [a[0] for a in answers] == [404] * LIMIT + [429]
    assert answers[-1][1]["Retry-After"] == "60"
    assert answers[-1][2] == {"error": "too many unknown tickets from this address: try again in a minute"}
    logged = nginx["log"].read_text()
    assert '"PUT /push/v1/subscriptions/{token}" 429' in logged
    assert not any(token in logged for token in guesses), "the access log must name no token"


def test_nginx_limits_requests_to_push_with_a_json_429(notifier: NotifierProcess, nginx: dict[str, Any]) -> None:
    """Above web_api_rate_per_s (10/s, a burst of 20) per client, nginx itself answers 429 — in JSON, as the
    page's script reads it — before the notifier sees the request."""
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: through(nginx, "GET", "/push/v1/key"), range(100)))
    refused = [a for a in answers if a[0] == 429]
    assert refused, [a[0] for a in answers]
    assert {a[0] for a in answers} == {200, 429}
    _, headers, body = refused[0]
    assert body == {"error": "too many requests from this address: try again in a second"}
    assert headers["Content-Type"] == "application/json" and headers["Retry-After"] == "1"


HOSTILE_BODIES = (b"[" * 2000 + b"]" * 2000, b'{"subscription": ' * 1000 + b"1" + b"}" * 1000, b"\xff\xfe{}", b"\x00",
                  b"9" * 4000, b'{"subscription": {"endpoint": "\\ud800"}}')


def test_a_hostile_subscription_body_gets_400_never_a_500(web_hub: WebHub, notifier: NotifierProcess) -> None:
    """The body of PUT /push/v1/subscriptions/{TOKEN} is the ticket holder's to choose: JSON nested deeper than
    the parser's recursion limit once made the notifier answer 500 with a traceback."""
    mine = web_hub.issue()
    known_to_notifier(notifier, mine.token)
    for body in HOSTILE_BODIES:
        conn = http.client.HTTPConnection("127.0.0.1", notifier.port, timeout=10)
        try:
            conn.request("PUT", f"/push/v1/subscriptions/{mine.token}", body=body,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            status, raw = response.status, response.read()
        finally:
            conn.close()
        assert status == 400 and json.loads(raw)["error"].startswith("invalid subscription"), (body[:20], status, raw)


def test_cancelling_on_the_tracking_page_deletes_the_push_subscription(web_hub: WebHub, notifier: NotifierProcess,
                                                                       push: PushService) -> None:
    """"Ich komme nicht mehr" ends the ticket: the only personal data the notifier keeps (the subscription)
    goes with it, and nothing more is sent for it."""
    mine = web_hub.issue()
    web_hub.issue()
    known_to_notifier(notifier, mine.token)
    status, _ = notifier.request("PUT", f"/push/v1/subscriptions/{mine.token}",
                                 {"subscription": push.subscription("leaver").info})
    assert status == 201
    assert post(web_hub, f"/t/{mine.token}/cancel", {"rid": form_rid(web_hub, mine.token, "cancel")},
                SAME_SITE).status == 303
    gone = (404, {"error": "not subscribed"})
    wait_until(lambda: notifier.request("GET", f"/push/v1/subscriptions/{mine.token}") == gone,
               what="the subscription to go with the cancelled ticket")
    assert notifier.request("PUT", f"/push/v1/subscriptions/{mine.token}",
                            {"subscription": push.subscription("leaver2").info})[0] == 409
