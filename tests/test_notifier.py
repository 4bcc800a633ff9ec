"""The notifier (issue 15, server side): a real hub publishes ticket views on a real mosquitto, the real
`wartemarke-notifier` process sends Web Push to a local push service over real HTTP that checks every
VAPID signature and decrypts every aes128gcm payload with the subscription's private key, as a browser.

Each notification goes out once per ticket and event — also across `kill -9` of the notifier, and with a
crash between the push service's 201 and the notifier's record of it (the re-sent copy has the same Topic,
so the push service replaces it: the browser gets one); 404/410 delete the subscription; 429 and 5xx
are retried; a subscription is gone when its ticket ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from devtools.notifier_harness import NotifierProcess, running_notifier
from devtools.push_service import PushService
from notifier.rules import due, ended, is_near
from protocol import topics
from protocol.messages import TicketView
from tests.web_harness import WebHub, random_token


@pytest.fixture
def notifier(tmp_path, shared_broker, web_hub: WebHub, push: PushService) -> Iterator[NotifierProcess]:
    with running_notifier(tmp_path / "notifier", shared_broker.port, (web_hub.office,), web_hub.url, push) as process:
        yield process


def kinds(push: PushService, name: str) -> list[str]:
    return [message["kind"] for message in push.delivered(name)]


def posted(push: PushService, name: str) -> list[str]:
    return [p.message["kind"] for p in push.posts if p.name == name]


def subscribed(notifier: NotifierProcess, token: str) -> bool:
    return notifier.request("GET", f"/push/v1/subscriptions/{token}")[0] == 200


def recorded_sent(notifier: NotifierProcess, token: str) -> list[str]:
    """What the notifier has recorded as taken by the push service."""
    status, body = notifier.request("GET", f"/push/v1/subscriptions/{token}")
    return body["sent"] if status == 200 else []


def test_a_ticket_is_told_near_called_recalled_and_no_show_once_each(web_hub: WebHub, notifier, push) -> None:
    first, mine = web_hub.issue(), web_hub.issue()
    browser = push.subscription("anna")
    status, body = notifier.subscribe(mine.token, browser.info, notify="5places")
    assert (status, body) == (201, {"notify": "5places"})
    push.wait_for(lambda: posted(push, "anna") == ["near"], what="turn near (1 ahead ≤ 5 places)")
    assert web_hub.command("platz-1", "next").label == first.label  # someone else is called: nothing for anna
    assert web_hub.command("platz-2", "next").label == mine.label
    push.wait_for(lambda: posted(push, "anna") == ["near", "called"])
    web_hub.command("platz-2", "recall")
    push.wait_for(lambda: posted(push, "anna") == ["near", "called", "recalled"])
    web_hub.command("platz-2", "no_show")
    push.wait_for(lambda: posted(push, "anna") == ["near", "called", "recalled", "no_show"])
    messages = {p.message["kind"]: p for p in push.posts if p.name == "anna"}
    called = messages["called"].message
    assert called["title"] == f"{mine.label}: Sie sind dran"
    assert called["body"] == "Jetzt bitte zu Platz 2"
    assert messages["recalled"].message["body"] == "Jetzt bitte zu Platz 2"
    assert re.search(r"Melden Sie sich bis \d\d:\d\d Uhr", messages["no_show"].message["body"])
    assert messages["called"].urgency == "high" and messages["near"].urgency == "normal"
    assert len({p.topic for p in messages.values()}) == 4, "each event has its own Topic"
    assert {p.message["tag"] for p in messages.values()} == {p.topic for p in messages.values()}
    assert called["ticket"] == mine_hash(mine.token)
    assert not push.rejected, push.rejected
    assert subscribed(notifier, mine.token), "a no-show may still come within the grace period"


def mine_hash(token: str) -> str:
    from protocol.topics import token_hash
    return token_hash(token)


def test_the_subscription_is_gone_when_the_ticket_is_done(web_hub: WebHub, notifier, push) -> None:
    ticket = web_hub.issue()
    browser = push.subscription("ben")
    assert notifier.subscribe(ticket.token, browser.info, notify="30min", lang="en")[0] == 201
    web_hub.command("platz-1", "next")
    push.wait_for(lambda: "called" in posted(push, "ben"))
    assert push.delivered("ben")[-1]["body"] == "Please go to Platz 1 now"
    web_hub.command("platz-1", "done")
    deadline_wait(lambda: not subscribed(notifier, ticket.token), "the subscription to be deleted")
    status, body = notifier.subscribe(ticket.token, browser.info)
    assert status == 409 and "done" in body["error"]


def deadline_wait(predicate: Any, what: str, timeout: float = 15.0) -> None:
    from tests.web_harness import wait_until
    wait_until(predicate, timeout, what)


def test_410_deletes_the_subscription_and_429_and_5xx_are_retried(web_hub: WebHub, notifier, push) -> None:
    gone, busy = web_hub.issue(), web_hub.issue()
    push.answer("gone", 410)
    push.answer("busy", 429, 503, 500)
    assert notifier.subscribe(gone.token, push.subscription("gone").info, notify="5places")[0] == 201
    assert notifier.subscribe(busy.token, push.subscription("busy").info, notify="5places")[0] == 201
    deadline_wait(lambda: not subscribed(notifier, gone.token), "the 410 to delete the subscription")
    push.wait_for(lambda: posted(push, "busy") == ["near"], what="the retried notification")
    assert not push._answers["busy"], "429, 503 and 500 were each answered to one attempt"
    assert subscribed(notifier, busy.token)


def test_a_killed_notifier_sends_nothing_twice_and_loses_nothing(web_hub: WebHub, notifier, push) -> None:
    ticket = web_hub.issue()
    assert notifier.subscribe(ticket.token, push.subscription("cem").info, notify="5places")[0] == 201
    push.wait_for(lambda: posted(push, "cem") == ["near"])
    deadline_wait(lambda: recorded_sent(notifier, ticket.token) == ["near"], "the notifier to record it")
    notifier.kill()
    assert web_hub.command("platz-1", "next").label == ticket.label  # called while the notifier is down
    notifier.start()
    push.wait_for(lambda: posted(push, "cem") == ["near", "called"], what="the call made while it was down")
    deadline_wait(lambda: recorded_sent(notifier, ticket.token) == ["near", "called"], "the notifier to record it")
    # A crash after the push service took the recall and before the notifier recorded that it did:
    push.hold("cem")
    web_hub.command("platz-1", "recall")
    assert push.held.wait(15), "the recall was not sent"
    notifier.kill()
    push.release("cem")
    notifier.start()
    push.wait_for(lambda: posted(push, "cem") == ["near", "called", "recalled", "recalled"],
                  what="the recall sent again after the restart")
    recalls = [p for p in push.posts if p.name == "cem" and p.message["kind"] == "recalled"]
    assert recalls[0].topic == recalls[1].topic and recalls[0].message["tag"] == recalls[1].message["tag"]
    assert kinds(push, "cem") == ["near", "called", "recalled"], "the push service collapsed the copy by Topic"
    deadline_wait(lambda: recorded_sent(notifier, ticket.token) == ["near", "called", "recalled"], "the record")
    notifier.kill()  # and a restart now sends nothing again
    notifier.start()
    web_hub.command("platz-1", "done")
    deadline_wait(lambda: not subscribed(notifier, ticket.token), "the subscription to end")
    assert posted(push, "cem") == ["near", "called", "recalled", "recalled"]


def test_subscriptions_are_refused_clearly(web_hub: WebHub, notifier, push) -> None:
    ticket = web_hub.issue()
    info = push.subscription("dora").info
    for garbage in (b"\xff", b"[]", b'{"v": 1, "state": "called"}', b"{" * 5000):  # on the broker: never a crash
        web_hub.clerk.publish(topics.ticket(web_hub.office, "0" * 64), garbage, retain=False)
    assert notifier.subscribe(random_token(), info, when_known=False)[0] == 404
    elsewhere = {**info, "endpoint": "https://attacker.example.net/push/1"}
    status, body = notifier.subscribe(ticket.token, elsewhere)
    assert status == 400 and "not a push service" in body["error"]
    status, body = notifier.subscribe(ticket.token, {**info, "keys": {"p256dh": "AAAA", "auth": "AAAA"}})
    assert status == 400 and "P-256" in body["error"]
    assert notifier.subscribe(ticket.token, info, notify="1min")[0] == 400
    hostile: list[Any] = [[], "x", {"subscription": []}, {"subscription": {**info, "endpoint": ["a"]}},
                          {"subscription": info, "notify": ["15min"]}, {"subscription": info, "lang": {"de": 1}},
                          {"subscription": info, "lang": "fr"},
                          {"subscription": {**info, "keys": {"p256dh": 5, "auth": None}}}]
    for body in hostile:
        assert notifier.request("PUT", f"/push/v1/subscriptions/{ticket.token}", body)[0] == 400, body
    conn_status = notifier.request("PUT", f"/push/v1/subscriptions/{ticket.token}", None,
                                   headers={"Content-Type": "application/json"})[0]
    assert conn_status == 400, "an empty body"
    path = f"/push/v1/subscriptions/{ticket.token}"
    assert notifier.request("PUT", path, {"subscription": info},
                            headers={"Origin": "https://evil.example.net"})[0] == 403
    assert notifier.request("PUT", path, {"subscription": info}, headers={"Content-Type": "text/plain"})[0] == 415
    assert notifier.request("PUT", path, {"subscription": info}, headers={"Origin": web_hub.url})[0] == 201
    assert notifier.request("DELETE", path)[0] == 204
    assert not subscribed(notifier, ticket.token)
    assert notifier.request("DELETE", path)[0] == 204, "unsubscribing is idempotent"
    later = web_hub.issue()  # a view that arrives after the garbage still reaches the notifier
    deadline_wait(lambda: notifier.subscribe(later.token, push.subscription("erik").info)[0] == 201,
                  "the notifier to take views after the garbage")


# -- the rules, pure ----------------------------------------------------------------------------------

def view(**fields: Any) -> TicketView:
    base: dict[str, Any] = {"day": date(2026, 11, 25), "label": "A042", "service": "A", "state": "waiting",
                            "issued_at": datetime(2026, 11, 25, 9, 0, tzinfo=UTC)}
    return TicketView(**{**base, **fields})


def test_turn_near_is_decided_from_the_low_end_of_the_range() -> None:
    assert is_near(view(expected_wait_min=22, wait_range_min=(14, 35), ahead=6), "15min")
    assert not is_near(view(expected_wait_min=14, wait_range_min=(16, 20), ahead=6), "15min")
    assert is_near(view(expected_wait_min=12, ahead=9), "15min"), "no range: the median"
    assert not is_near(view(expected_wait_min=None, ahead=9), "15min"), "unknown wait: not near"
    assert is_near(view(expected_wait_min=40, wait_range_min=(30, 60), ahead=9), "30min")
    assert is_near(view(expected_wait_min=90, wait_range_min=(60, 120), ahead=5), "5places")
    assert not is_near(view(expected_wait_min=9, wait_range_min=(5, 12), ahead=6), "5places")


def test_a_postponed_ticket_is_told_near_again_when_its_later_turn_is_near() -> None:
    """"Ich brauche mehr Zeit" after "bald dran": the ticket moves back ~15 min, so its new nearness is news."""
    near = view(expected_wait_min=12, wait_range_min=(9, 16), ahead=3)
    keys = [due(near, "15min", "de"), due(replace(near, postponed=1), "15min", "de"),
            due(replace(near, postponed=2), "15min", "de")]
    assert [n.key if n else None for n in keys] == ["near", "near:1", "near:2"]


def test_each_event_has_its_own_key_and_the_end_is_the_end() -> None:
    called_at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    first = due(view(state="called", counter="platz-3", counter_name="Platz 3", called_at=called_at, recall=0),
                "15min", "de")
    again = due(view(state="called", counter="platz-3", counter_name="Platz 3", called_at=called_at, recall=1),
                "15min", "de")
    assert first is not None and again is not None
    assert (first.kind, again.kind) == ("called", "recalled") and first.key != again.key
    assert first.body == "Jetzt bitte zu Platz 3"
    closed = due(view(state="closed"), "15min", "en")
    assert closed is not None and closed.title == "A042: the office has closed"
    turkish = due(view(state="called", counter="platz-3", counter_name="Platz 3", called_at=called_at, recall=0),
                  "15min", "tr")  # the page's language, any of ours (README.md "Languages")
    assert turkish is not None and (turkish.title, turkish.body) == ("A042: sıra sizde",
                                                                     "Lütfen şimdi şuraya gidin: Platz 3")
    arabic = due(view(state="closed"), "15min", "ar")
    assert arabic is not None and arabic.title == "أُغلق المكتب: \u2066A042\u2069"  # the label isolated, left to right
    grace = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert not ended(view(state="no_show", grace_until=grace), datetime(2026, 11, 25, 10, 29, tzinfo=UTC))
    assert ended(view(state="no_show", grace_until=grace), datetime(2026, 11, 25, 10, 31, tzinfo=UTC))
    assert ended(view(state="done"), called_at) and ended(None, called_at)
    assert due(view(state="done"), "15min", "de") is None
    # a ticket its holder cancelled (docs/protocol.md §3.12) is over: nothing to send, its subscription goes
    assert ended(view(state="cancelled"), called_at) and due(view(state="cancelled"), "15min", "de") is None


def test_a_restarted_hub_republishing_every_view_sends_nothing_again(tmp_path, shared_broker, web_hub: WebHub,
                                                                    notifier, push) -> None:
    ticket = web_hub.issue()
    assert notifier.subscribe(ticket.token, push.subscription("emil").info, notify="5places")[0] == 201
    web_hub.command("platz-1", "next")
    push.wait_for(lambda: posted(push, "emil") == ["near", "called"])
    web_hub.stop()  # the hub goes; on its return it replays its log and republishes every view
    again = WebHub.start(web_hub.config, web_hub.office, web_hub.broker_port)
    try:
        web_hub.process = again.process  # the fixture stops whichever process runs at the end
        again.command("platz-1", "recall")
        push.wait_for(lambda: posted(push, "emil") == ["near", "called", "recalled"])
        assert not push.rejected
    finally:
        if again._clerk is not None:  # its process is stopped by the fixture, as web_hub's
            again._clerk.stop()
