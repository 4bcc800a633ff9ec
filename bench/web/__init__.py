"""The web tier: server-sent-event fan-out to thousands of clients, `/api/v1/offices` under wrk, page bytes.

Everything runs against a **public replica in its own process**, as deployed: `python -m bench.web.replica
run --config X` is `python -m web run --config X` (web.cli.main) with the soft RLIMIT_NOFILE raised to
the hard limit first (one SSE client is one socket). Its config is a replica TOML ([replica] device,
[web] three offices, access log on as in deploy/examples/web.toml, [broker]) against a private mosquitto
(devtools/broker.py, mosquitto's default log levels). The benchmark publishes, retained and QoS 1 as the
hub does, `info`, `queue` and `history` (8 weeks × Mon–Fri × 11 hours, some days "ran out") for three
offices, and `ticket/{sha256(token)}` tracking views (hub/views.py ticket_view's fields). No product
code is changed. The load generators (SSE clients, wrk) run on the same 2 cores as the replica.

1. **SSE fan-out.** N clients (1, 1,000 and 5,000) open `/events/offices` — the Ampel stream, where
   everyone watches the same thing — from one client process (`bench.web.sse_clients`: asyncio with raw
   non-blocking sockets and `recvmsg`, not aiohttp's client, whose per-event parsing would compete with
   the replica for the two cores). Then K retained `queue` updates of one office, each carrying a marker
   (the waiting count of service A, 900000 + k), each published when every client has seen the previous
   one. Every client socket has SO_TIMESTAMPNS set: the kernel stamps each received segment, and on
   loopback the receiver's segment is stamped inside the sender's `send()`, so the stamp of the segment
   that completes a client's event is the replica's write of that event to that client, measured from
   outside. Clocks: CLOCK_REALTIME in both processes (kernel stamps are realtime; one machine, one
   clock; monotonic would not compare with the stamps). Per update: publish → first, median and last
   client; reported: p50/p99 over updates of publish → last client, and the spread last − first.
   Baselines in the same run: the same with 1 client, and a bare MQTT publish → receive (a subscriber
   in this process, interleaved with every update). CPU per delivered event: the replica's CPU time
   (sum over its threads of /proc/PID/task/*/schedstat, ns) over the K updates / events delivered.
   Also: the time for N clients to connect and receive the initial state (every office), the replica's
   RSS per client, and what happens to the streams of clients that went away.
   Then a **tracking** burst: 200 waiting tickets, one client each on `/t/{token}/events`, and K
   bursts of 200 retained ticket updates back to back (what the hub publishes after a `next`: every
   waiting ticket's `ahead` changed); publish of the first → the last client's event, beside the bare
   subscriber's receipt of the last of the 200 messages.
   In-process (this process, no network): the per-client work of each stream's `make()` — for the
   Ampel, `office_summary` + `history_chart` + `office.html` + `json.dumps`, as `ampel_events` does for
   every client and every update — to say how much of the per-event CPU it is.
2. **`/api/v1/offices` requests per second** with `wrk -t2 -c64 -d10s --latency`, beside `/healthz`
   of the same process (the trivial endpoint), no SSE clients connected; the replica's CPU per request.
3. **Bytes for `/t/{token}`**: the whole HTTP response (status line, headers, body) for a waiting and a
   called ticket, requested with `Accept-Encoding: gzip, deflate, br` (the server does not compress: the
   gzip size of the body is shown for reference), plus the first event of the page's event stream,
   which the page opens at once; the same for `/` (three offices, their charts). The pages have no
   sub-resources (inline CSS and script, `data:` favicon). Without TLS.

    .venv/bin/python -m bench.web [--clients 1000 5000] [--wrk-seconds 10] [--markdown]

`bench.web.measure.run()` returns the table rows (devtools.stats.Row) for `python -m bench web`. The parts:
`replica.py` (the replica process), `payloads.py` (what the hub would publish), `markers.py`,
`sse_clients.py` (the client process), `fanout.py`, `throughput.py` (wrk), `fetch.py` (plain HTTP and
page bytes), `renders.py` (the in-process per-client work), `measure.py`, `report.py`.
"""
