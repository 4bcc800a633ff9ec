"""The city tier (issue 13): one office's change on every citizen's screen, and what the central broker and
the replicas cost per office and per stream.

The city is built from the playbook's own templates (bench/city/topology.py): a city CA, the central
mosquitto (roles/central, TLS, an account per bridge and per replica, the ACL), two replicas on two
loopback "hosts" (127.0.0.1, 127.0.0.2; roles/web's web.toml.j2 in city mode, each logged in to the
central broker with its own account) and one nginx (roles/web's site, TLS, both replicas as upstreams).
The only changes to the rendered configs: the replicas' `max_streams`/`max_connections` (the role keeps
the defaults, 8,000 streams per replica) and the main nginx.conf's `worker_connections`,
`worker_rlimit_nofile`, `worker_processes` and `accept_mutex on` (the role keeps Debian's nginx.conf), sized
for the largest stream count and the hard open-files limit (measure.py `_nginx_sizing`).

1. **Office change → last citizen's screen.** The measured office runs for real: its mosquitto from
   roles/broker, bridged out to the central broker as in a city, and `python -m hubprocess run` (a real
   hub). The other offices are simulated (bench/city/offices.py: one connection each with the office's
   bridge account, publishing a hub's public topics with the real message types at a realistic rate).
   N event streams (default 10 % on the Ampel `/events/offices`, the rest on the tracking pages
   `/t/{token}/events` of every office's waiting tickets, evenly) are opened over TLS through nginx by
   two client processes (bench/city/clients.py: raw sockets with SSLObject, TLS sessions resumed once
   nginx gave a ticket, every four streams from their own loopback address, as nginx allows 8 per
   address; kernel receive stamps, merged over the processes). Then K calls: a clerk's
   `next` in the measured office (MQTT v5 request at its broker) changes the office's waiting count on
   every Ampel screen and the "Vor Ihnen" of every tracking page of that office. Per call: the time from
   sending the command to the first, median and last of those screens (the kernel's stamp of the segment
   that completed the event, i.e. nginx's write); p50/p99 over the calls. Baseline, interleaved with every
   call: the bare hop chain — a ticket view published at the office broker → the bridge → received by a
   client of the central broker. Also: the replicas' (and nginx's) CPU per delivered event, RSS per stream.
   First, nginx as the web role leaves it (Debian's `worker_connections`) is asked for
   max(1,000, workers × worker_connections) streams: how many it lets through.
2. **Growth with the number of offices** (1, 23, 100 simulated offices, no real hub): the central broker's
   CPU (share of a core over a window) and RSS, per office; the same with S streams open on the replicas
   (the streams never reach the central broker: the difference is its cost per 1,000 streams); the
   replicas' CPU per delivered event.

    .venv/bin/python -m bench.city [--streams 1000 5000 20000] [--offices 23] [--growth 1 23 100]
        [--growth-streams 1000] [--updates 20] [--window 15] [--ampel-share 0.1] [--interval 20] [--markdown]
        [--client-processes 2] [--full-handshakes]

0. **A replica's CPU per ticket view**, in-process: today's dispatch, hand-over, apply and shared render
   beside e3b81dd's way, interleaved (bench/city/per_view.py).

The load generators run on the same machine as everything else. The Web Push notifier in this city
(subscriptions and tracking pages through nginx) is measured by `python -m bench.push --city`
(bench/city/push.py).
"""
