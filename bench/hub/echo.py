"""The echo responder of the hub benchmark, in its own process: what the hub does minus SQLite, the engine
and its state.

    python -m bench.hub.echo HOST PORT READY_FILE [--nodelay]
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from bench.mqtt_clients import tcp_nodelay
from protocol.fields import decode_object, encode_object

ECHO_ROOT = "bench/echo"  # requests on ECHO_ROOT/+/command


def echo_main(host: str, port: int, ready_file: Path) -> int:
    """Reply to every request on `bench/echo/+/command` with `{"v": 1, "id": …, "ok": true}`, the
    request's correlation data, QoS 1: what the hub does minus SQLite, the engine and its state."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from protocol.requests import response_properties

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"bench-echo-{os.getpid()}", protocol=mqtt.MQTTv5)
    stop = threading.Event()

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        c.subscribe(f"{ECHO_ROOT}/+/command", qos=1)

    def on_subscribe(c: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        ready_file.write_text("ready\n", encoding="utf-8")

    def on_message(c: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        props = message.properties
        request = decode_object(bytes(message.payload))
        response_topic = getattr(props, "ResponseTopic", None)
        if response_topic:
            answer = encode_object({"v": 1, "id": request.get("id"), "ok": True})
            c.publish(response_topic, answer, qos=1,
                      properties=response_properties(getattr(props, "CorrelationData", None)))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.connect(host, port, keepalive=30)
    client.loop_start()
    while not stop.wait(0.5):
        pass
    client.disconnect()
    client.loop_stop()
    return 0



def main(argv: list[str]) -> int:
    if "--nodelay" in argv:
        tcp_nodelay()
    return echo_main(argv[0], int(argv[1]), Path(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
