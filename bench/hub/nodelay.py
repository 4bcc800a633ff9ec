"""The hub as `python -m hubprocess run --config CONFIG`, with TCP_NODELAY on its sockets (paho does not set it):
the hub of the benchmark's TCP_NODELAY variant.

    python -m bench.hub.nodelay CONFIG
"""

from __future__ import annotations

import sys

from bench.mqtt_clients import tcp_nodelay


def main(argv: list[str]) -> int:
    tcp_nodelay()
    from hubprocess.cli import main as hub_main

    return hub_main(["run", "--config", argv[0]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
