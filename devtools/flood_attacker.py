"""The attacker of devtools/flood_harness.py in a process of its own:
`python -m devtools.flood_attacker PORT CA_FILE` holds sockets on the office web at 127.0.0.1:PORT as
told on stdin, one JSON command a line, and answers each with one JSON line on stdout:

- `{"op": "hold", "sources": [...], "streams": N, "slow_tls": N, "slow_headers": N, "slow_bodies": N}`:
  open that many event streams, connections that never start TLS, requests whose headers never end and
  login forms whose body never ends, from the given client addresses (round-robin); answer
  `{"outcomes": {what happened: count}, "held": sockets still held}`;
- `{"op": "release"}`: close every socket; answer `{"held": 0}`. End of input: exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import sys
from collections import Counter
from typing import Any

from web.gate import raise_open_files_limit

CONNECTING_AT_ONCE = 256
SLOW_HEADERS = b"GET /counter HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow"  # never finished
SLOW_BODY = (b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 60000\r\n"
             b"Content-Type: application/x-www-form-urlencoded\r\n\r\nuser=")  # never finished
STREAM = b"GET /events/offices HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"


class Sockets:
    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        self.port, self.context = port, context
        self.held: list[Any] = []  # transports, and stream writers (a collected writer closes its socket)

    async def hold(self, sources: list[str], streams: int, slow_tls: int, slow_headers: int,
                   slow_bodies: int) -> Counter[str]:
        kinds = (["stream"] * streams + ["slow-tls"] * slow_tls + ["slow-headers"] * slow_headers
                 + ["slow-body"] * slow_bodies)
        gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
        outcomes: Counter[str] = Counter()

        async def one(kind: str, source: str) -> None:
            async with gate:
                outcomes[await self._open(kind, source)] += 1

        await asyncio.gather(*(one(kind, sources[i % len(sources)]) for i, kind in enumerate(kinds)))
        return outcomes

    async def _open(self, kind: str, source: str) -> str:
        loop = asyncio.get_running_loop()
        try:
            if kind == "slow-tls":  # connect and never say a word (no TLS ClientHello)
                transport, _ = await asyncio.wait_for(loop.create_connection(
                    asyncio.Protocol, "127.0.0.1", self.port, local_addr=(source, 0)), 15)
                self.held.append(transport)
                return "slow-tls held"
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", self.port, ssl=self.context, server_hostname="localhost", local_addr=(source, 0)), 15)
            self.held.append(writer)
            if kind != "stream":
                writer.write(SLOW_HEADERS if kind == "slow-headers" else SLOW_BODY)
                return f"{kind} held"
            writer.write(STREAM)
            status = await asyncio.wait_for(reader.readline(), 15)
            match = re.match(rb"HTTP/1\.1 (\d+)", status)
            return f"stream {match.group(1).decode()}" if match else "stream closed"
        except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError) as exc:
            return f"{kind} refused ({type(exc).__name__})"

    def release(self) -> None:
        for held in self.held:
            (held.transport if isinstance(held, asyncio.StreamWriter) else held).abort()
        self.held.clear()


async def main(port: int, ca_file: str) -> None:
    raise_open_files_limit()
    os.nice(5)  # an attacker's machine is not the server's: on a shared test machine it yields first
    sockets = Sockets(port, ssl.create_default_context(cafile=ca_file))
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        answer: dict[str, Any] = {}
        if command["op"] == "hold":
            counted = await sockets.hold(command["sources"], command["streams"], command["slow_tls"],
                                         command["slow_headers"], command["slow_bodies"])
            answer["outcomes"] = dict(counted)
        else:
            sockets.release()
        answer["held"] = len(sockets.held)
        print(json.dumps(answer), flush=True)
    sockets.release()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
