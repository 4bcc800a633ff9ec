"""The tracking page's "Ich brauche mehr Zeit" / "Ich komme nicht mehr" over real HTTP, through the hub's
real process and a real mosquitto (the `web_hub` fixture): the hub's answer, idempotence, the refusals'
wording, CSRF and unknown tokens."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlencode

from language.catalogue import translate
from protocol.topics import token_hash
from tests.web_harness import TIMEOUT_S, Reply, WebHub, get, random_token, wait_until

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}


def post(web: WebHub, path: str, fields: dict[str, str], headers: dict[str, str]) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=TIMEOUT_S)
    try:
        conn.request("POST", path, body=urlencode(fields),
                     headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def view(web: WebHub, token: str):  # type: ignore[no-untyped-def]
    return web.mirror.tickets[token_hash(token)][1]


def form_rid(web: WebHub, token: str, op: str) -> str:
    """The request id the page's form for `op` carries."""
    page = get(f"{web.url}/t/{token}")
    assert page.status == 200
    found = re.search(rf'action="/t/{token}/{op}">\s*<input type="hidden" name="rid" value="([^"]+)"', page.text)
    assert found, f"no {op} form on the page"
    return found.group(1)


def test_postpone_moves_the_ticket_back_once_per_request_and_says_so(web_hub: WebHub) -> None:
    first, second, third = (web_hub.issue().token for _ in range(3))
    rid = form_rid(web_hub, first, "postpone")
    reply = post(web_hub, f"/t/{first}/postpone", {"rid": rid}, SAME_SITE)
    assert reply.status == 303 and reply.headers["location"] == f"/t/{first}?done=postpone"
    wait_until(lambda: view(web_hub, first).postponed == 1, what="the postponed view")
    again = post(web_hub, f"/t/{first}/postpone", {"rid": rid}, SAME_SITE)  # a double tap: the same form again
    assert again.status == 303
    engine = web_hub.hub.runtimes[web_hub.office].engine
    assert [t.postponed for t in engine.tickets.values() if t.token_hash == token_hash(first)] == [1]
    page = get(f"{web_hub.url}/t/{first}?done=postpone")
    assert "Ihre Nummer wurde nach hinten verschoben." in page.text and "Noch 1-mal möglich." in page.text
    order = [t.token_hash for t in engine.waiting("A")]
    assert order.index(token_hash(first)) >= 1 and order[0] == token_hash(second)  # it let the next go first
    assert token_hash(third) in order


def test_cancel_ends_the_ticket_and_the_queue_moves_up(web_hub: WebHub) -> None:
    first, second = web_hub.issue().token, web_hub.issue().token
    wait_until(lambda: view(web_hub, second).ahead == 1, what="the second ticket behind the first")
    reply = post(web_hub, f"/t/{first}/cancel", {"rid": form_rid(web_hub, first, "cancel")}, SAME_SITE)
    assert reply.status == 303
    wait_until(lambda: view(web_hub, first).state == "cancelled", what="the cancelled view")
    wait_until(lambda: view(web_hub, second).ahead == 0, what="the next to move up")
    page = get(f"{web_hub.url}/t/{first}")
    assert "Sie haben diese Wartemarke storniert." in page.text and 'action="/t/' not in page.text
    refused = post(web_hub, f"/t/{first}/postpone", {"rid": "fresh-request-1"}, {**SAME_SITE, "Accept-Language": "en"})
    assert refused.status == 409 and "This ticket is no longer active." in refused.text


def test_refused_once_called_with_the_reason_in_the_pages_language(web_hub: WebHub) -> None:
    token = web_hub.issue().token
    assert web_hub.command("platz-1", "next").ok
    wait_until(lambda: view(web_hub, token).state == "called", what="the call")
    refused = post(web_hub, f"/t/{token}/cancel", {"rid": "fresh-request-2"}, SAME_SITE)
    assert refused.status == 409 and "Sie wurden schon aufgerufen" in refused.text
    assert view(web_hub, token).state == "called"


def test_a_cross_site_post_is_refused_and_changes_nothing(web_hub: WebHub) -> None:
    token = web_hub.issue().token
    for headers in ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
                    {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
        reply = post(web_hub, f"/t/{token}/cancel", {"rid": "cross-site-1"}, headers)
        assert reply.status == 403 and "nicht von dieser Seite" in reply.text, headers
    turkish = post(web_hub, f"/t/{token}/cancel?lang=tr", {"rid": "cross-site-1"}, {"Sec-Fetch-Site": "cross-site"})
    assert turkish.status == 403 and turkish.text == translate("tr", "citizen_forbidden") + "\n"  # the page's language
    assert get(f"{web_hub.url}/t/{token}/cancel").status == 404  # POST only: a GET (a link, an image) does nothing
    assert view(web_hub, token).state == "waiting"
    same = post(web_hub, f"/t/{token}/cancel", {"rid": "same-site-1"}, {"Origin": web_hub.url})
    assert same.status == 303  # our own page's form (an older browser: Origin without Sec-Fetch-Site)
    wait_until(lambda: view(web_hub, token).state == "cancelled", what="the cancelled view")


def test_an_unknown_token_reveals_nothing_and_counts_as_a_miss(web_hub: WebHub) -> None:
    web_hub.issue()
    unknown = get(f"{web_hub.url}/t/{random_token()}")
    statuses = []
    for _ in range(25):
        reply = post(web_hub, f"/t/{random_token()}/postpone", {"rid": "unknown-1"}, SAME_SITE)
        statuses.append(reply.status)
        if reply.status == 404:
            assert reply.text == unknown.text  # the same page as an unknown link
    assert statuses[0] == 404 and statuses[-1] == 429  # rate-limited like every token miss


def test_after_the_visit_one_rating_is_counted_per_service_for_the_open_data(web_hub: WebHub) -> None:
    token = web_hub.issue().token
    assert "/rate" not in get(f"{web_hub.url}/t/{token}").text  # only after the visit
    early = post(web_hub, f"/t/{token}/rate", {"rid": "rate-early-1", "score": "5"}, SAME_SITE)
    assert early.status == 409 and "erst, wenn Ihr Anliegen bearbeitet wurde" in early.text
    assert web_hub.command("platz-1", "next").ok and web_hub.command("platz-1", "done").ok
    wait_until(lambda: view(web_hub, token).state == "done", what="the done view")
    page = get(f"{web_hub.url}/t/{token}")
    rid = re.search(r'action="/t/[A-Z2-7]+/rate"[^>]*>\s*<input type="hidden" name="rid" value="([^"]+)"', page.text)
    assert rid and "Ist Ihr Anliegen erledigt?" in page.text
    missing = post(web_hub, f"/t/{token}/rate", {"rid": rid.group(1), "settled": "yes"}, SAME_SITE)
    assert missing.status == 409 and "Zahl von 1 bis 5" in missing.text
    rated = post(web_hub, f"/t/{token}/rate", {"rid": rid.group(1), "score": "4", "settled": "yes"}, SAME_SITE)
    assert rated.status == 303 and rated.headers["location"].endswith("?done=rate")
    queue = wait_until(lambda: next((s for s in web_hub.mirror.office(web_hub.office).queue.services
                                     if s.service == "A" and s.ratings is not None), None), what="the count")
    assert (queue.ratings.scores, queue.ratings.settled_yes, queue.ratings.settled_no) == ((0, 0, 0, 1, 0), 1, 0)
    wait_until(lambda: view(web_hub, token).rated, what="the rated view")
    assert "/rate" not in get(f"{web_hub.url}/t/{token}").text  # once per ticket
    again = post(web_hub, f"/t/{token}/rate", {"rid": "rate-again-1", "score": "1"}, SAME_SITE)
    assert again.status == 409 and "schon bewertet" in again.text


def test_a_post_without_the_forms_request_id_is_a_clear_400_and_changes_nothing(web_hub: WebHub) -> None:
    """Every form of the page carries its request id; a POST without one (no body at all, no `rid`, not a
    request id) is refused, not given a fresh id — repeating it must not postpone the ticket twice."""
    first, second, _ = (web_hub.issue().token for _ in range(3))
    engine = web_hub.hub.runtimes[web_hub.office].engine
    for _ in range(2):  # a bodyless POST, repeated: the same answer, no effect
        bare = get(f"{web_hub.url}/t/{first}/postpone", headers={**SAME_SITE, "Accept-Language": "tr"}, method="POST")
        assert bare.status == 400 and bare.text == translate("tr", "citizen_no_request_id") + "\n"
    for fields in ({}, {"rid": ""}, {"rid": "short"}, {"rid": "not a request id"}, {"score": "5"}):
        for op in ("postpone", "cancel", "rate"):
            reply = post(web_hub, f"/t/{second}/{op}", fields, SAME_SITE)
            assert reply.status == 400 and "Kennung des Formulars" in reply.text, (op, fields)
    mine = [t for t in engine.tickets.values() if t.token_hash in (token_hash(first), token_hash(second))]
    assert [(t.state, t.postponed) for t in mine] == [("waiting", 0), ("waiting", 0)]
    assert post(web_hub, f"/t/{first}/postpone", {"rid": form_rid(web_hub, first, "postpone")},
                SAME_SITE).status == 303  # the page's own form still works
