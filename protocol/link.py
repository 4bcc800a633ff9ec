"""The one MQTT link every wartemarke process uses.

paho-mqtt 2 with callback API v2 and MQTT v5; `connect_async` + `loop_start` so a broker that is down
at boot is retried in the background (with backoff) instead of raising; a persistent session
(`clean_start=False` + session expiry) so subscribers miss nothing while briefly away. Availability
follows ESPHome: retained `device/{id}/status` with `online: true` and health on connect, a last will
with `online: false`, and an explicit offline on clean shutdown. Handlers never crash the network
thread: invalid payloads are logged, counted and dropped.

Nothing from an earlier connection is sent again after a reconnect: paho would re-send its unconfirmed
publishes *after* what the owner republishes on connect, so retained state would go backwards for a
moment (docs/protocol.md §1 "Sessions"). Retained state is republished fresh by its owner, ticket events
are re-sent by the kiosk's outbox, and a command is repeated only by its requester (same request id).
Requests and answers are never taken from a retained message.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.matcher import MQTTMatcher
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from process.clock import Clock
from process.config import ConfigSection
from process.log_limit import LogLimiter
from protocol import topics
from protocol.fields import InvalidMessage, encode_object
from protocol.messages import DeviceStatus

log = logging.getLogger("wartemarke.link")
INVALID_LOG_INTERVAL_S = 60.0  # invalid messages of one sender are logged once per this interval, then counted

Handler = Callable[[str, bytes], None]
RequestHandler = Callable[[str, bytes, Properties | None], None]  # gets the MQTT v5 properties too
StateHandler = Callable[[str, bytes, bool], None]  # also told whether the broker handed over a stored message
HealthProvider = Callable[[], dict[str, Any]]
Delivery = Callable[[mqtt.MQTTMessage], None]


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and how to authenticate; read from a config's [broker] table."""

    host: str = "localhost"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 3600
    reconnect_max_s: int = 30


def read_broker_settings(section: ConfigSection) -> BrokerSettings:
    """Typed [broker] table; `password_file` (preferred) keeps the secret out of the config file."""
    password = section.get_str("password", None)
    from_file = section.get_password_file("password_file")
    tls = section.get_bool("tls", False)
    return BrokerSettings(
        host=section.get_str("host", "localhost"),
        port=section.get_int("port", 8883 if tls else 1883, minval=1, maxval=65535),
        username=section.get_str("username", None),
        password=from_file if from_file is not None else password,
        tls=tls,
        ca_file=section.get_str("ca_file", None),
        keepalive_s=section.get_int("keepalive_s", 30, minval=5, maxval=3600),
        session_expiry_s=section.get_int("session_expiry_s", 3600, minval=0, maxval=7 * 86400),
        reconnect_max_s=section.get_int("reconnect_max_s", 30, minval=1, maxval=600),
    )


class MqttLink:
    """A device's connection to the office broker, with availability and safe dispatch."""

    def __init__(self, settings: BrokerSettings, office: str, device: str, role: str, version: str,
                 clock: Clock, health: HealthProvider | None = None, availability: bool = True) -> None:
        self.settings = settings
        self.office = office
        self.device = device
        self.role = role
        self.version = version
        self.clock = clock
        self._health = health or dict
        self.availability = availability  # False: a diagnostic connection that must not touch the status
        self.status_topic = topics.device_status(office, device)
        self.connected = threading.Event()
        self._subscriptions: list[tuple[str, Delivery, bool]] = []  # filter, delivery, retain-as-published
        # filter → [(its place in _subscriptions, delivery)], see dispatch
        self._matcher = MQTTMatcher()  # type: ignore[no-untyped-call]
        self._listeners: list[Callable[[bool], None]] = []
        self._lock = threading.Lock()
        self.invalid_messages = 0
        self._invalid_log = LogLimiter(log, INVALID_LOG_INTERVAL_S)  # a flood of invalid messages: bounded lines
        self._refusal_listeners: list[weakref.WeakMethod[Callable[[int, str], None]]] = []
        self._refused: dict[int, str] = {}  # mid → the broker's reason, until someone asks (`refusal`)
        self._stopping = False
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"wm-{self.office}-{self.device}" + ("" if self.availability else "-check"),
            protocol=mqtt.MQTTv5,
        )
        if self.settings.username is not None:
            client.username_pw_set(self.settings.username, self.settings.password)
        if self.settings.tls:
            client.tls_set(ca_certs=self.settings.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        if self.availability:
            will = encode_object(DeviceStatus(online=False, role=self.role).to_dict())
            client.will_set(self.status_topic, will, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=self.settings.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # -- public API -------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Register a handler; subscriptions are (re)made on every connect."""
        self._add(topic_filter, lambda m: handler(m.topic, bytes(m.payload)))

    def subscribe_state(self, topic_filter: str, handler: StateHandler) -> None:
        """Like subscribe; the handler also learns whether the message is a retained one the broker handed
        over on subscribing (stored, maybe old) rather than one published just now (the publisher is alive)."""
        self._add(topic_filter, lambda m: handler(m.topic, bytes(m.payload), bool(m.retain)))

    def subscribe_requests(self, topic_filter: str, handler: RequestHandler) -> None:
        """Like subscribe, for requests and answers: the handler also gets the message's v5 properties
        (response topic, correlation data). A message published with the retain flag is never handed on
        (dropped, logged and counted), so a retained command cannot run at any later subscription."""

        def deliver(message: mqtt.MQTTMessage) -> None:
            payload = bytes(message.payload)
            if message.retain:
                if payload:  # (an empty one only clears a retained message)
                    raise InvalidMessage("published with the retain flag: requests are never retained, "
                                         "so it is not executed")
                return
            handler(message.topic, payload, message.properties)

        self._add(topic_filter, deliver, retain_as_published=True)

    def _add(self, topic_filter: str, deliver: Delivery, retain_as_published: bool = False) -> None:
        with self._lock:
            place = len(self._subscriptions)
            self._subscriptions.append((topic_filter, deliver, retain_as_published))
            try:
                self._matcher[topic_filter].append((place, deliver))
            except KeyError:
                self._matcher[topic_filter] = [(place, deliver)]
            connected = self.connected.is_set()
        if connected:
            self._client.subscribe(topic_filter, options=_options(retain_as_published))

    def on_connection_change(self, listener: Callable[[bool], None]) -> None:
        self._listeners.append(listener)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                properties: Properties | None = None) -> bool:
        """Hand a message to paho; False when not connected (the caller decides whether to retry)."""
        return self.publish_tracked(topic, payload, qos, retain, properties) is not None

    def publish_tracked(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                        properties: Properties | None = None) -> mqtt.MQTTMessageInfo | None:
        """Like publish; the returned info's `is_published()` says when the broker has confirmed it. A
        message not confirmed before the connection drops never is: publish it again after reconnecting."""
        if not self.connected.is_set():
            return None
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        return info if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    def on_publish_refused(self, listener: Callable[[int, str], None]) -> None:
        """`listener(mid, reason)` (a bound method, held weakly: a short-lived requester is not kept alive)
        when the broker refuses a QoS 1 publish (MQTT v5 PUBACK reason code ≥ 0x80, e.g. 0x87 "Not
        authorized": the account may not write that topic)."""
        with self._lock:
            self._refusal_listeners = [ref for ref in self._refusal_listeners if ref() is not None]
            self._refusal_listeners.append(weakref.WeakMethod(listener))  # type: ignore[arg-type]

    def refusal(self, mid: int) -> str | None:
        """The broker's reason if it already refused the publish `mid` (its PUBACK may come before the
        publisher has registered interest in it)."""
        with self._lock:
            return self._refused.pop(mid, None)

    def publish_status(self) -> None:
        """Publish the retained online status with fresh health (call it when health changes)."""
        if self.availability:
            self.publish(self.status_topic, self._status_payload(online=True), retain=True)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        log.info("connecting to broker %s:%d as %s (tls=%s)", self.settings.host, self.settings.port,
                 self.settings.username or "anonymous", self.settings.tls)
        if not self.availability:  # a diagnostic connection starts clean and leaves no session behind
            props.SessionExpiryInterval = 0
        self._client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive_s,
                                   clean_start=not self.availability, properties=props)
        self._client.loop_start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Clean shutdown: say offline (retained) before leaving, so nobody waits for the will."""
        if self.connected.is_set() and self.availability:
            info = self._client.publish(self.status_topic, self._status_payload(online=False),
                                        qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("offline status not confirmed before shutdown: %s", exc)
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    # -- paho callbacks ---------------------------------------------------------------------

    def _status_payload(self, online: bool) -> bytes:
        health = {} if not online else self._health()
        status = DeviceStatus(online=online, role=self.role, version=self.version, at=self.clock.now(),
                              clock_synced=self.clock.synced(), health={"device": self.device, **health})
        return encode_object(status.to_dict())

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        stale = client.drop_out_messages()  # before anything new: see the module docstring
        log.info("connected to broker (session present: %s)%s", flags.session_present,
                 f"; {len(stale)} unconfirmed publish(es) of the last connection dropped" if stale else "")
        _no_delay(client)
        with self._lock:  # with subscribe(): a filter added now is either in this list or subscribed there
            filters: dict[str, bool] = {}
            for topic_filter, _, as_published in self._subscriptions:
                filters[topic_filter] = filters.get(topic_filter, False) or as_published
            self.connected.set()
        for topic_filter, as_published in filters.items():
            client.subscribe(topic_filter, options=_options(as_published))
        if self.availability:
            client.publish(self.status_topic, self._status_payload(online=True), qos=1, retain=True)
        self._notify(True)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if self._stopping:
            log.info("disconnected from broker")
        elif was_connected:
            log.warning("lost the broker connection (%s); reconnecting in the background", reason_code)
            self._notify(False)

    def _notify(self, connected: bool) -> None:
        for listener in self._listeners:
            try:
                listener(connected)
            except Exception:
                log.exception("connection listener failed")

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        failed = bool(getattr(reason_code, "is_failure", False))
        with self._lock:
            if not failed:
                self._refused.pop(mid, None)
                return
            self._refused[mid] = str(reason_code)
            if len(self._refused) > 1000:  # nobody asked about these: keep the newest only
                del self._refused[next(iter(self._refused))]
            listeners = [ref() for ref in self._refusal_listeners]
        for listener in listeners:
            if listener is not None:
                listener(mid, str(reason_code))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.dispatch(message)

    def dispatch(self, message: mqtt.MQTTMessage) -> None:
        """A received message to the handlers of every filter it matches (paho's thread; benchmarks call it
        directly to measure the link's cost per message)."""
        # One walk of a prefix tree of the filters (paho's own matcher), in the order they were subscribed:
        # a replica subscribes to 5 filters per office, and matching each with `topic_matches_sub` (which
        # builds a tree per call) cost ~0.6 ms per message for a city's 23 offices (docs/benchmarks.md).
        with self._lock:
            found = self._matcher.iter_match(message.topic)  # type: ignore[no-untyped-call]
            deliveries = sorted((d for ds in found for d in ds), key=lambda placed: placed[0])
        for _place, deliver in deliveries:
            try:
                deliver(message)
            except InvalidMessage as exc:
                self.invalid_messages += 1
                self._invalid_log.warn(_sender(message.topic), "dropped invalid message on %r: %s", message.topic,
                                       exc)
            except Exception:
                self.invalid_messages += 1
                self._invalid_log.warn(_sender(message.topic), "handler for %r failed; message dropped",
                                       message.topic, exc_info=True)


def _sender(topic: str) -> str:
    """Who sent a message, for the invalid-message log limit: the topic's kind and the device or counter
    it belongs to (a tracking view's hash is no sender: all of them are one key)."""
    try:
        where = topics.parse(topic)
    except topics.TopicError:
        return "topics outside the contract"
    if where.id is None or where.kind == topics.TICKET:
        return f"{where.kind} of {where.office[:40]}"
    return f"{where.kind} of {where.id[:40]!r} in {where.office[:40]}"


def _options(retain_as_published: bool) -> SubscribeOptions:
    """QoS 1; requests are subscribed with retain-as-published, so a live message still shows whether its
    publisher set the retain flag (without it, the broker clears the flag on live deliveries)."""
    return SubscribeOptions(qos=1, retainAsPublished=retain_as_published)


def _no_delay(client: mqtt.Client) -> None:
    """Disable Nagle's algorithm: a small publish right after another would otherwise wait ~40 ms for
    the peer's delayed ACK — twice per request/response, and on every call a display shows."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            log.debug("TCP_NODELAY not set: %s", exc)
