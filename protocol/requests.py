"""Commands over MQTT v5 request/response (docs/protocol.md §3.6), both ends: the requester's
`Requester` (a private response topic, correlation data, a message expiry shorter than its wait) and the
hub's `read_command` and `reply`.

The requester's core is thread-based (`concurrent.futures`: paho's network thread resolves the answer),
so a command-line tool blocks on it (`request`) and an asyncio server awaits it (`request_async`)
without a second implementation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import uuid
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol import topics
from protocol.fields import InvalidMessage, decode_object, encode_object
from protocol.link import MqttLink
from protocol.messages import CitizenRequest, CommandAnswer, CommandRequest
from protocol.operations import CITIZEN, COUNTER, OFFICE

log = logging.getLogger("wartemarke.requests")

COMMAND_MAX_EXPIRY_S = 60  # the hub refuses a command that may wait at the broker longer than this
ANSWER_MARGIN_S = 2  # a requester waits this much longer than its command may wait at the broker


def command_expiry_s(timeout_s: float) -> int:
    """The message expiry for a command whose requester waits `timeout_s` for the answer: short enough
    that the hub, if it gets the command at all, answers before the requester gives up (for timeouts of
    at least 3 s); the broker, not any clock of the requester's machine, enforces it."""
    return max(1, min(COMMAND_MAX_EXPIRY_S, int(timeout_s) - ANSWER_MARGIN_S))


def request_properties(response_topic: str, correlation: bytes, expiry_s: int | None = None) -> Properties:
    """A request's properties. `expiry_s` (MQTT v5 message expiry): the broker discards the request if it
    cannot hand it to the hub within that time — the requester must not wait for an answer any shorter
    (`command_expiry_s`), so a command it gave up on is never executed later."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = response_topic
    props.CorrelationData = correlation
    if expiry_s is not None:
        props.MessageExpiryInterval = expiry_s
    return props


def response_properties(correlation: bytes | None) -> Properties:
    """Properties of a reply: the request's correlation data, so the requester can match it."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if correlation is not None:
        props.CorrelationData = correlation
    return props


class CommandRefused(InvalidMessage):
    """A readable command the hub refuses unexecuted (no message expiry, or a longer one than allowed): its
    answer names the request's id, like any other answer (docs/protocol.md §3.6)."""

    def __init__(self, message: str, request_id: str) -> None:
        super().__init__(message)
        self.request_id = request_id


class PublishRefused(Exception):
    """The broker refused the command (MQTT v5 PUBACK ≥ 0x80, e.g. 0x87 "Not authorized": this account
    may not send commands to that counter). It never reached the hub; waiting longer changes nothing."""


class Requester:
    """Sends commands on one link and matches the hub's answers by their correlation data. Answers come
    to topics private to this requester (its `tag`); `listen` subscribes them, before or after the link
    has started."""

    def __init__(self, link: MqttLink, tag: str | None = None) -> None:
        self.link = link
        self.tag = tag or uuid.uuid4().hex[:12]
        self._pending: dict[bytes, concurrent.futures.Future[CommandAnswer]] = {}
        self._by_mid: dict[int, concurrent.futures.Future[CommandAnswer]] = {}
        self._lock = threading.Lock()
        link.on_publish_refused(self._on_refused)

    def listen(self, office: str, counter: str | None = None) -> None:
        """Answers for commands to `counter` only (a counter client's account may read no other), or with
        None to every counter and to the office (the clerk's and supervisor's web pages)."""
        if counter is not None:
            self.link.subscribe_requests(topics.counter_response(office, counter, self.tag), self._on_answer)
            return
        self.link.subscribe_requests(topics.counter_responses(office, self.tag), self._on_answer)
        self.link.subscribe_requests(topics.supervisor_response(office, self.tag), self._on_answer)

    def send(self, office: str, counter: str | None, request: CommandRequest,
             timeout_s: float) -> concurrent.futures.Future[CommandAnswer] | None:
        """Publish a counter command (or, with counter None, an office command) that expires at the broker
        before `timeout_s` is over (`command_expiry_s`); None when not connected. The future is forgotten
        once done or cancelled: cancel it when giving up."""
        if counter is not None:
            topic = topics.counter_command(office, counter)
            response = topics.counter_response(office, counter, self.tag)
        else:
            topic, response = topics.office_command(office), topics.supervisor_response(office, self.tag)
        return self._send(topic, response, request.to_dict(), timeout_s)

    def listen_citizen(self, office: str) -> None:
        """Answers to this requester's citizen requests (a web server's tracking pages)."""
        self.link.subscribe_requests(topics.citizen_response(office, self.tag), self._on_answer)

    async def citizen_async(self, office: str, request: CitizenRequest, timeout_s: float = 5.0) -> CommandAnswer | None:
        """A ticket holder's request (docs/protocol.md §3.12), like `request_async`."""
        future = self._send(topics.citizen_request(office), topics.citizen_response(office, self.tag),
                            request.to_dict(), timeout_s)
        return await self._wait(future, timeout_s)

    def _send(self, topic: str, response: str, payload: dict[str, Any],
              timeout_s: float) -> concurrent.futures.Future[CommandAnswer] | None:
        correlation = uuid.uuid4().bytes
        future: concurrent.futures.Future[CommandAnswer] = concurrent.futures.Future()
        with self._lock:
            self._pending[correlation] = future
        props = request_properties(response, correlation, command_expiry_s(timeout_s))
        info = self.link.publish_tracked(topic, encode_object(payload), properties=props)
        if info is None:
            future.cancel()
            self._forget(correlation)
            return None
        with self._lock:
            self._by_mid[info.mid] = future
        future.add_done_callback(lambda _: self._forget(correlation, info.mid))
        reason = self.link.refusal(info.mid)  # refused before it was registered above
        if reason is not None:
            self._on_refused(info.mid, reason)
        return future

    def request(self, office: str, counter: str | None, request: CommandRequest,
                timeout_s: float = 10.0) -> CommandAnswer | None:
        """Send and wait (blocking) for the answer; None when the hub did not answer within `timeout_s`,
        PublishRefused at once when the broker refused the command. A link that is still connecting gets up
        to `timeout_s` for it first."""
        if not self.link.connected.wait(timeout_s):
            return None
        future = self.send(office, counter, request, timeout_s)
        if future is None:
            return None
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return None

    async def request_async(self, office: str, counter: str | None, request: CommandRequest,
                            timeout_s: float = 5.0) -> CommandAnswer | None:
        """`request` for an asyncio loop: never blocks it; None when not connected or no answer in time."""
        return await self._wait(self.send(office, counter, request, timeout_s), timeout_s)

    @staticmethod
    async def _wait(future: concurrent.futures.Future[CommandAnswer] | None, timeout_s: float) -> CommandAnswer | None:
        if future is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except TimeoutError:
            return None  # wait_for cancelled the future: it is forgotten
        except PublishRefused as exc:
            return CommandAnswer(False, str(exc))

    def _forget(self, correlation: bytes, mid: int | None = None) -> None:
        with self._lock:
            self._pending.pop(correlation, None)
            if mid is not None:
                self._by_mid.pop(mid, None)

    def _on_refused(self, mid: int, reason: str) -> None:
        with self._lock:
            future = self._by_mid.get(mid)
        if future is not None and not future.done():
            future.set_exception(PublishRefused(f"the broker refused the command ({reason})"))

    def _on_answer(self, topic: str, payload: bytes, properties: Any) -> None:
        answer = CommandAnswer.from_dict(decode_object(payload))  # invalid: logged and counted by the link
        with self._lock:
            future = self._pending.get(getattr(properties, "CorrelationData", None) or b"")
        if future is not None and not future.done():
            future.set_result(answer)


# -- the hub's end ------------------------------------------------------------------------------------


def read_command(payload: bytes, properties: Any, scope: str) -> CommandRequest:
    """A valid command of `scope` (COUNTER or OFFICE), or InvalidMessage. A command must carry a message
    expiry of at most COMMAND_MAX_EXPIRY_S: the broker drops it unless the hub gets it in time, so a
    command its requester gave up on is never executed later."""
    request = CommandRequest.from_dict(decode_object(payload), scope)
    _check_expiry(properties, f"command {request.id}", request.id)
    return request


def read_citizen_request(payload: bytes, properties: Any) -> CitizenRequest:
    """A valid citizen request (docs/protocol.md §3.12), with the same expiry rule as a command."""
    request = CitizenRequest.from_dict(decode_object(payload))
    _check_expiry(properties, f"citizen request {request.id}", request.id)
    return request


def _check_expiry(properties: Any, what: str, request_id: str) -> None:
    expiry = getattr(properties, "MessageExpiryInterval", None) if properties is not None else None
    if expiry is None or expiry > COMMAND_MAX_EXPIRY_S:
        raise CommandRefused(f"{what}: needs an MQTT message expiry of at most "
                             f"{COMMAND_MAX_EXPIRY_S} s, so it is never executed after its requester gave up (got "
                             + ("none" if expiry is None else f"{expiry} s") + ")", request_id)


def reply(link: MqttLink, properties: Any, answer: CommandAnswer, office: str, counter: str | None,
          scope: str | None = None) -> None:
    """Answer on the request's response topic — only on a response topic of the same counter (or, for an
    office command, the supervisor's; for a citizen request, a citizen response topic), so a request
    cannot make the hub publish onto `calls`, `queue`, a kiosk's `ack` or another counter's answers."""
    response_topic = getattr(properties, "ResponseTopic", None) if properties is not None else None
    if not response_topic:
        return
    try:
        where = topics.parse(str(response_topic))
    except topics.TopicError:
        where = None
    scope = scope or (COUNTER if counter is not None else OFFICE)
    wanted = {COUNTER: topics.COUNTER_RESPONSE, OFFICE: topics.SUPERVISOR_RESPONSE,
              CITIZEN: topics.CITIZEN_RESPONSE}[scope]
    if where is None or (where.office, where.kind, where.id) != (office, wanted, counter):
        log.warning("not answering on response topic %r (must be a %s topic of office %s%s)", response_topic,
                    wanted, office, "" if counter is None else f", counter {counter}")
        return
    correlation = getattr(properties, "CorrelationData", None)
    link.publish(str(response_topic), encode_object(answer.to_dict()), properties=response_properties(correlation))
