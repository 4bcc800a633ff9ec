"""A tracking stream's event is rendered once per change for all streams of that ticket in one language
(web/streams.py SharedEvents): every stream still gets its own language and the newest state, also a
stream opened after its ticket changed while no stream was open. Real hub, real mosquitto, real HTTP."""

from __future__ import annotations

from devtools.broker import free_port
from protocol import topics
from protocol.fields import encode_object
from tests.web_harness import SseClient, WebHub, get, random_token, wait_until, write_web_hub_config
from web import streams as web_streams
from web.streams import SharedEvents


def test_shared_events_render_once_per_stamp_and_again_when_it_changes() -> None:
    shared, made = SharedEvents(), []

    def make(text: str) -> str:
        made.append(text)
        return text

    assert shared.get("k", (1, "a"), lambda: make("first")) == "first"
    assert shared.get("k", (1, "a"), lambda: make("again")) == "first"  # an equal stamp: not rendered again
    assert shared.get("k", (2, "a"), lambda: make("second")) == "second"
    assert shared.get("other", (2, "a"), lambda: make("other")) == "other"  # per key
    shared.forget("k")
    assert shared.get("k", (2, "a"), lambda: make("third")) == "third"
    assert made == ["first", "second", "other", "third"]


def test_streams_of_one_ticket_get_their_language_and_the_newest_state(tmp_path, shared_broker, topic_office):
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port())
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        web.issue("A")
        mine = web.issue("A")
        url = f"{web.url}/t/{mine.token}/events"
        with SseClient(url) as de_1, SseClient(url) as de_2, SseClient(f"{url}?lang=en") as en:
            firsts = [stream.next_event()[1]["html"] for stream in (de_1, de_2, en)]
            assert "Vor Ihnen: 1" in firsts[0] and firsts[0] == firsts[1]
            assert "Ahead of you: 1" in firsts[2] and "Vor Ihnen" not in firsts[2]
        # no stream open: the ticket ahead is called, this ticket's view changes
        assert web.command("platz-1", "next").ok
        key = topics.token_hash(mine.token)
        wait_until(lambda: web.mirror.tickets[key][1].ahead == 0, what="the new view in the web's mirror")
        with SseClient(url) as again:
            assert "Vor Ihnen: 0" in again.next_event()[1]["html"]
        assert "Vor Ihnen: 0" in get(f"{web.url}/t/{mine.token}").text
    finally:
        web.stop()


def test_a_burst_of_views_reaches_the_mirror_in_order_and_bad_ones_are_dropped(
        tmp_path, shared_broker, topic_office, recorder_factory, caplog):
    """The bridge hands paho's messages to the loop in batches (web/bridge.py): order kept, a malformed
    payload in the middle of a burst is logged, counted and dropped, the rest still applied."""
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port())
    web = WebHub.start(config, topic_office, shared_broker.port)
    token = random_token()
    topic = topics.ticket(web.office, topics.token_hash(token))
    rec = recorder_factory(shared_broker, [topics.tickets(web.office)])
    marker_hash = topics.token_hash(random_token())
    marker = topics.ticket(web.office, marker_hash)
    try:
        invalid = web.mirror.invalid
        view = {"v": 1, "day": "2026-11-25", "label": "A009", "service": "A", "state": "waiting",
                "issued_at": "2026-11-25T09:00:00+01:00", "ahead": 3, "expected_wait_min": 9}
        for n in range(1, 301):  # back to back (paho queues them in order), as the hub publishes after a call
            rec.client.publish(topic, encode_object({**view, "recall": n}), qos=1, retain=True)
            if n == 150:
                rec.client.publish(topic, b'{"v": 1, "label": "not a view"}', qos=1, retain=True)
                rec.client.publish(topic, b"\xff not json", qos=1, retain=True)
        rec.publish(marker, encode_object(view), retain=True)  # after the burst on the same connection
        wait_until(lambda: marker_hash in web.mirror.tickets, what="the marker after the burst")
        assert web.mirror.tickets[topics.token_hash(token)][1].recall == 300  # the last one, applied last
        assert web.mirror.invalid == invalid + 2
        assert sum("dropped invalid message" in r.getMessage() for r in caplog.records) == 2
        assert "A009" in get(f"{web.url}/t/{token}").text
    finally:
        rec.clear_retained(topic)
        rec.clear_retained(marker)
        web.stop()


def test_a_quiet_stream_gets_heartbeats_and_then_the_next_change(tmp_path, shared_broker, topic_office, monkeypatch):
    monkeypatch.setattr(web_streams, "HEARTBEAT_S", 0.3)
    config = write_web_hub_config(tmp_path / "hub", shared_broker.port, topic_office, free_port())
    web = WebHub.start(config, topic_office, shared_broker.port)
    try:
        mine = web.issue("A")
        with SseClient(f"{web.url}/t/{mine.token}/events") as stream:
            assert stream.next_event()[1]["state"] == "waiting"
            lines = [stream.response.readline() for _ in range(4)]  # each read bounded by the socket timeout
            assert lines.count(b": keep-alive\n") == 2, lines
            assert web.command("platz-1", "next").ok
            assert stream.wait_for(lambda data: data["state"] == "called")
    finally:
        web.stop()
