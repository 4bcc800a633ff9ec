"""Hub throughput and call latency through a real broker, beside bare MQTT measured in the same run.

The hub runs as in production, in its own process (`python -m hubprocess run --config …`, INFO log to a
file as to journald, the production tick of 15 s), so its CPU and GIL are not shared with the load
generator in this process. Its state directory is on the same disk as the temp dir. Each variant
(below) gets its own private mosquitto (devtools/broker.py, logging at mosquitto's default levels
rather than the test broker's per-packet `log_type all`) and its own hub with fresh state.

1. **Commands per second with durable state.** Kiosk "kiosk-1" fills the queue to `waiting` tickets
   (`ticket.issued` events published back to back; done when the hub's ack reaches the last seq: the
   ingest rate is reported too). Then K clients (own MQTT connections, own counters) each send
   `next`, `done`, `next`, … as MQTT v5 requests, each after the reply to the previous one (closed
   loop). A round ends when half the queue has been called and the queue is refilled (untimed), so
   it stays between `waiting` and `waiting / 2` (the hub's work per command grows with it); rounds
   repeat until `duration` seconds were measured. Every command is one synced SQLite commit (WAL,
   synchronous=FULL) before its reply. Baseline, same clients, same run: an echo responder in another
   process (no SQLite, no engine; it decodes the request and replies on the response topic with the
   correlation data, QoS 1 like the hub).
2. **`next` → retained `calls` update.** One counter presses `next` one at a time (a short pause
   between presses; the queue refilled to `waiting` whenever 50 were called); a subscriber to the
   office's `calls` topic timestamps the message with the expected `seq`. Interleaved with every
   press: an echo round trip (client → broker → echo process → broker → client: the same two hops as
   a command and its calls update) and a bare publish → receive through the broker (one hop).

Variants: **TCP_NODELAY** — the broker with `set_tcp_nodelay true` (as the tests and deploy/ configure
it) and TCP_NODELAY on every client socket (MqttLink sets it since this benchmark found the cost of
leaving it off). **Nagle** (only with `--shipped-duration S` > 0) — mosquitto's default
`set_tcp_nodelay false` and plain client sockets: a small MQTT packet sent while the previous one is
unacknowledged waits for the peer's delayed ACK (~40 ms on Linux), so every request/response round
trip cost ~2 × 40 ms whatever the hub did (measured 2026-11-25: 88 ms per command, 46 ms next → calls).

Also measured once: a raw `write + fsync` on the state disk (the floor of any durable commit), the
hub's own commit (`HubStore.append`) alone, and, in this process with a stub link, how one command's
time splits into commit + engine, what it changes directly (`OfficePublisher.publish_direct`: calls,
counter states, acks, before the hub takes the next input) and the forecast thread's part
(`publish_forecast`: `forecast()`, `queue` and every tracking view whose page changed; after a `next`
that is every waiting ticket, since each one's `ahead` dropped by one). In the hub the forecast
thread runs at most every `FORECAST_INTERVAL_S` (0.1 s), so under a burst it runs once for many inputs;
here it runs after each command.

    .venv/bin/python -m bench.hub [--waiting 200] [--duration 5] [--clients 1 4] [--presses 300]

`bench.hub.measure.run()` returns the table rows (devtools.stats.Row) for `python -m bench`. The parts:
`office.py` (the queue and the closed-loop clients), `echo.py` and `nodelay.py` (the child processes
beside the hub), `breakdown.py` (the in-process probes), `measure.py`, `report.py`.
"""
