"""An outsider's attacks on the tracking page's own operations (docs/protocol.md §3.12, docs/http.md §2),
against the hub's real process, its web over real HTTP and a real mosquitto (the `web_hub` fixture)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devtools.broker import free_port
from hub.citizen import MAX_REQUESTS_PER_TICKET
from protocol import topics
from protocol.topics import token_hash
from tests.test_web_citizen import SAME_SITE, form_rid, post, view
from tests.web_harness import WebHub, get, random_token, wait_until, write_web_hub_config


def test_a_request_id_of_another_ticket_is_a_new_request_for_this_one(web_hub: WebHub) -> None:
    """Request ids are the holder's: one ticket's id, sent again with another ticket's token, must neither
    answer with the first ticket's label nor skip the second ticket's operation."""
    first, second, _ = (web_hub.issue().token for _ in range(3))
    rid = form_rid(web_hub, first, "postpone")
    assert post(web_hub, f"/t/{first}/postpone", {"rid": rid}, SAME_SITE).status == 303
    wait_until(lambda: view(web_hub, first).postponed == 1, what="the first ticket postponed")
    again = post(web_hub, f"/t/{second}/cancel", {"rid": rid}, SAME_SITE)
    assert again.status == 303
    wait_until(lambda: view(web_hub, second).state == "cancelled", what="the second ticket cancelled")
    assert view(web_hub, first).state == "waiting" and view(web_hub, first).postponed == 1


@pytest.mark.parametrize("headers", [
    {"Origin": "{url}", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "{url}", "Sec-Fetch-Site": "same-site"},
    {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"},
])
def test_sec_fetch_site_other_than_same_origin_is_refused_whatever_the_origin(web_hub: WebHub,
                                                                              headers: dict[str, str]) -> None:
    token = web_hub.issue().token
    sent = {k: v.format(url=web_hub.url) for k, v in headers.items()}
    reply = post(web_hub, f"/t/{token}/cancel", {"rid": "cross-site-2"}, sent)
    assert reply.status == 403, sent
    assert view(web_hub, token).state == "waiting"


def test_an_invalid_token_in_a_request_is_never_echoed(web_hub: WebHub, caplog: pytest.LogCaptureFixture) -> None:
    """A citizen request whose token is misspelled (lower case, padded) still names a real ticket: neither the
    hub's log nor its answer (on a topic every replica of the office reads) may repeat it."""
    token = web_hub.issue().token
    tag = uuid.uuid4().hex[:12]
    answers: list[bytes] = []
    listener = web_hub.clerk
    listener.subscribe_requests(topics.citizen_response(web_hub.office, tag), lambda t, p, props: answers.append(p))
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = topics.citizen_response(web_hub.office, tag)
    props.CorrelationData = b"c1"
    props.MessageExpiryInterval = 10
    caplog.set_level(logging.INFO)
    for spelled in (token.lower(), f" {token}"):
        listener.publish(topics.citizen_request(web_hub.office),
                         f'{{"v": 1, "id": "echo-{len(answers)}-req", "op": "cancel", "token": "{spelled}"}}'.encode(),
                         properties=props)
    wait_until(lambda: len(answers) == 2, what="the hub's two answers")
    for text in [a.decode() for a in answers] + [caplog.text]:
        assert token not in text.upper(), text
    assert view(web_hub, token).state == "waiting"


def test_one_ticket_cannot_fill_the_hubs_input_log(web_hub: WebHub) -> None:
    """Every request with a real token used to be committed to the hub's input log (a synced SQLite write),
    refused or not: one ticket holder re-posting with fresh request ids (20 a second pass nginx) grew it
    without bound. At most MAX_REQUESTS_PER_TICKET are logged; beyond them the hub refuses unlogged."""
    token = web_hub.issue().token
    web_hub.issue()
    assert post(web_hub, f"/t/{token}/cancel", {"rid": "flood-cancel-0"}, SAME_SITE).status == 303
    replies = [post(web_hub, f"/t/{token}/postpone", {"rid": f"flood-postpone-{n}"}, SAME_SITE)
               for n in range(MAX_REQUESTS_PER_TICKET + 10)]
    assert {r.status for r in replies} == {409}
    assert "Zu viele Anfragen" in replies[-1].text
    runtime = web_hub.hub.runtimes[web_hub.office]
    logged = [i for i in runtime.store.inputs(web_hub.office, runtime.engine.day) if i.kind == "citizen"]
    assert len(logged) == MAX_REQUESTS_PER_TICKET
    assert len(runtime.engine.citizen_answers) == MAX_REQUESTS_PER_TICKET
    # a repeat of a logged request still gets its first answer
    assert post(web_hub, f"/t/{token}/cancel", {"rid": "flood-cancel-0"}, SAME_SITE).status == 303


def request_properties(response_topic: str, expiry: int | None = 10) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = response_topic
    props.CorrelationData = b"c2"
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    return props


def test_hostile_citizen_requests_change_nothing_and_answer_nowhere_else(web_hub: WebHub, recorder_factory: Any,
                                                                        shared_broker: Any) -> None:
    """What a replica's account may send on `citizen/request`: garbage, a hash instead of the token, the
    retain flag, no expiry, an answer topic that is not a citizen response topic. The hub stays up, no
    ticket changes, and nothing is published anywhere but a citizen response topic of this office."""
    office = web_hub.office
    token = web_hub.issue().token
    web_hub.issue()
    rec = recorder_factory(shared_broker, [topics.office_tree(office), "wartemarke/v1/+/citizen/response/+"])
    mine = topics.citizen_response(office, uuid.uuid4().hex[:12])
    cancel = {"v": 1, "op": "cancel", "token": token}
    hostile: list[tuple[bytes, Properties, bool]] = [
        (b"\x00" * 64, request_properties(mine), False),
        (b"[" * 5000 + b"]" * 5000, request_properties(mine), False),
        (json.dumps({"v": 1, "id": "x" * 200_000, "op": "cancel", "token": token}).encode(),
         request_properties(mine), False),
        (json.dumps({**cancel, "id": 12345678}).encode(), request_properties(mine), False),
        (json.dumps({**cancel, "id": "hash-instead-1", "token": token_hash(token)}).encode(),
         request_properties(mine), False),
        (json.dumps({**cancel, "id": "hash-upper-1", "token": token_hash(token).upper()}).encode(),
         request_properties(mine), False),
        (json.dumps({**cancel, "id": "no-expiry-1"}).encode(), request_properties(mine, None), False),
        (json.dumps({**cancel, "id": "long-expiry-1"}).encode(), request_properties(mine, 3600), False),
        (json.dumps({**cancel, "id": "retained-1"}).encode(), request_properties(mine), True),
        (json.dumps({**cancel, "id": "rate-cancel-1", "op": "rate", "score": True}).encode(),
         request_properties(mine), False),
    ]
    elsewhere = [topics.calls(office), topics.queue(office), topics.counter_response(office, "platz-1", "x"),
                 topics.citizen_response(f"{office}-other", "x"), f"{topics.office_root(office)}/citizen/request"]
    for n, topic in enumerate(elsewhere):  # answers asked onto another topic: carried out (a rating refused
        # before the visit, so nothing changes here) but not answered there (docs/protocol.md §3.6)
        hostile.append((json.dumps({**cancel, "op": "rate", "score": 5, "id": f"elsewhere-{n}-x"}).encode(),
                        request_properties(topic), False))
    mark = rec.mark()
    for body, props, retain in hostile:
        web_hub.clerk.publish(topics.citizen_request(office), body, retain=retain, properties=props)
    web_hub.clerk.publish(topics.citizen_request(office), b"", retain=True)  # clears the retained one
    # the hub is still there and in order: a later, valid request is carried out
    second = web_hub.tokens[1]
    web_hub.clerk.publish(topics.citizen_request(office),
                          json.dumps({"v": 1, "op": "cancel", "token": second, "id": "valid-after-1"}).encode(),
                          properties=request_properties(mine))
    wait_until(lambda: view(web_hub, second).state == "cancelled", what="the valid request after the hostile ones")
    assert view(web_hub, token).state == "waiting" and not view(web_hub, token).postponed
    rec.wait_for_json(mine, lambda a: a.get("id") == "valid-after-1", since=mark)
    published = [m for m in rec.records()[mark:] if m.topic != topics.citizen_request(office)]
    answers = [m for m in published if "/citizen/response/" in m.topic]
    assert {m.topic for m in answers} == {mine}
    assert all(token not in m.payload.decode(errors="replace").upper() for m in published)
    assert not [m for m in published if m.topic in elsewhere and b'"ok"' in m.payload]  # no answer there


def test_a_percent_encoded_token_is_not_a_second_spelling(web_hub: WebHub) -> None:
    """docs/protocol.md §5: one spelling only. aiohttp matched `/t/%43AIREE…` (a letter of the token percent-
    encoded) to the ticket: the page, its stream, the API and the operations answered under a second form."""
    token = web_hub.issue().token
    web_hub.issue()
    encoded = f"%{ord(token[0]):02X}{token[1:]}"
    for path in (f"/t/{encoded}", f"/t/{encoded}/events", f"/api/v1/tickets/{encoded}"):
        assert get(f"{web_hub.url}{path}").status == 404, path
    assert post(web_hub, f"/t/{encoded}/postpone", {"rid": "encoded-token-1"}, SAME_SITE).status == 404
    assert not view(web_hub, token).postponed
    assert get(f"{web_hub.url}/t/{token}").status == 200


def test_racing_postpones_from_two_connections_move_the_ticket_at_most_twice(web_hub: WebHub) -> None:
    token = web_hub.issue().token
    for _ in range(4):
        web_hub.issue()
    rid = form_rid(web_hub, token, "postpone")
    with ThreadPoolExecutor(4) as pool:  # the same form twice at once (a double tap on two connections)
        same = list(pool.map(lambda _: post(web_hub, f"/t/{token}/postpone", {"rid": rid}, SAME_SITE).status,
                             range(4)))
    assert same == [303] * 4
    engine = web_hub.hub.runtimes[web_hub.office].engine
    assert [t.postponed for t in engine.tickets.values() if t.token_hash == token_hash(token)] == [1]
    with ThreadPoolExecutor(4) as pool:  # four different forms at once: one more move, then "twice already"
        fresh = list(pool.map(lambda n: post(web_hub, f"/t/{token}/postpone", {"rid": f"race-fresh-{n}"},
                                             SAME_SITE).status, range(4)))
    assert sorted(fresh) == [303, 409, 409, 409]
    assert [t.postponed for t in engine.tickets.values() if t.token_hash == token_hash(token)] == [2]


def test_no_rating_and_no_move_for_a_cancelled_or_no_show_ticket(web_hub: WebHub) -> None:
    cancelled, absent = web_hub.issue().token, web_hub.issue().token
    web_hub.issue()
    assert post(web_hub, f"/t/{cancelled}/cancel", {"rid": "end-cancel-1"}, SAME_SITE).status == 303
    assert web_hub.command("platz-1", "next").ok and web_hub.command("platz-1", "no_show").ok
    wait_until(lambda: view(web_hub, absent).state == "no_show", what="the no-show")
    for token in (cancelled, absent):
        rated = post(web_hub, f"/t/{token}/rate", {"rid": f"end-rate-{token[:8]}", "score": "1"}, SAME_SITE)
        assert rated.status == 409 and "erst, wenn Ihr Anliegen bearbeitet wurde" in rated.text
        for op in ("postpone", "cancel"):
            assert post(web_hub, f"/t/{token}/{op}", {"rid": f"end-{op}-{token[:8]}"}, SAME_SITE).status == 409
    assert view(web_hub, cancelled).state == "cancelled" and view(web_hub, absent).state == "no_show"
    assert web_hub.hub.runtimes[web_hub.office].engine.ratings == {}


def test_guessed_tokens_over_mqtt_leave_no_line_in_the_hubs_journal(web_hub: WebHub,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A replica's account may send requests with any token (the web sends only tokens it knows): a flood of
    guesses is answered `unknown_ticket`, neither logged in the input log nor journalled line by line."""
    office = web_hub.office
    token = web_hub.issue().token
    mine = topics.citizen_response(office, uuid.uuid4().hex[:12])
    answers: list[bytes] = []
    web_hub.clerk.subscribe_requests(mine, lambda t, p, props: answers.append(p))
    caplog.set_level(logging.INFO)
    for n in range(30):
        web_hub.clerk.publish(topics.citizen_request(office), json.dumps(
            {"v": 1, "op": "cancel", "token": random_token(), "id": f"guess-{n:04d}"}).encode(),
            properties=request_properties(mine))
    wait_until(lambda: len(answers) == 30, what="the 30 answers")
    assert all(json.loads(a)["error"] == "unknown_ticket" for a in answers)
    assert not [r for r in caplog.records if r.name.startswith("wartemarke.hub") and r.levelno >= logging.INFO
                and "guess-" in r.getMessage()]
    runtime = web_hub.hub.runtimes[office]
    assert not [i for i in runtime.store.inputs(office, runtime.engine.day) if i.kind == "citizen"]
    assert view(web_hub, token).state == "waiting"


@pytest.fixture
def proxied_web(shared_broker: Any, topic_office: str, tmp_path: Path) -> Iterator[WebHub]:
    """The web behind our TLS proxy: plain HTTP here, the browser's scheme in X-Forwarded-Proto."""
    config = write_web_hub_config(tmp_path, shared_broker.port, topic_office, free_port(),
                                  extra_web="trust_forwarded = true\n")
    web = WebHub.start(config, topic_office, shared_broker.port)
    yield web
    web.stop()


def test_behind_the_tls_proxy_an_http_origin_is_refused_like_a_foreign_one(proxied_web: WebHub) -> None:
    token = proxied_web.issue().token
    host = f"127.0.0.1:{proxied_web.port}"
    for origin in (f"http://{host}", "https://evil.example", "http://[127.0.0.1"):
        refused = post(proxied_web, f"/t/{token}/cancel", {"rid": "proxied-http-1"},
                       {"Origin": origin, "X-Forwarded-Proto": "https"})
        assert refused.status == 403, origin
    assert view(proxied_web, token).state == "waiting"
    same = post(proxied_web, f"/t/{token}/cancel", {"rid": "proxied-https-1"},
                {"Origin": f"https://{host}", "X-Forwarded-Proto": "https"})
    assert same.status == 303
    wait_until(lambda: view(proxied_web, token).state == "cancelled", what="the cancelled view")
