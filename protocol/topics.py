"""Topic builders for the `wartemarke/v1/{office}` tree (docs/protocol.md has the table).

Building topics in one place keeps publishers, subscribers and broker ACLs in agreement.
"""

from __future__ import annotations

import hashlib

from protocol.fields import SLUG_RE

ROOT = "wartemarke/v1"


class TopicError(ValueError):
    """An office, device or counter id that is not a slug, or a topic outside the contract."""


def _slug(kind: str, value: str) -> str:
    if not SLUG_RE.match(value):
        raise TopicError(f"{kind} id must match [a-z0-9-]{{1,40}}; got {value!r}")
    return value


def office_root(office: str) -> str:
    return f"{ROOT}/{_slug('office', office)}"


def kiosk_ticket(office: str, device: str) -> str:
    return f"{office_root(office)}/kiosk/{_slug('device', device)}/ticket"


def kiosk_ack(office: str, device: str) -> str:
    return f"{office_root(office)}/kiosk/{_slug('device', device)}/ack"


def counter_command(office: str, counter: str) -> str:
    return f"{office_root(office)}/counter/{_slug('counter', counter)}/command"


def counter_state(office: str, counter: str) -> str:
    return f"{office_root(office)}/counter/{_slug('counter', counter)}/state"


def office_command(office: str) -> str:
    return f"{office_root(office)}/command"


def calls(office: str) -> str:
    return f"{office_root(office)}/calls"


def queue(office: str) -> str:
    return f"{office_root(office)}/queue"


def info(office: str) -> str:
    return f"{office_root(office)}/info"


def history(office: str) -> str:
    return f"{office_root(office)}/history"


def token_hash(token: str) -> str:
    """The public key of a ticket: sha256 of its canonical (upper-case) token, hex.

    The broker only ever sees this hash, so reading the broker never yields a tracking link.
    """
    return hashlib.sha256(token.strip().upper().encode("ascii")).hexdigest()


def ticket(office: str, token_sha256: str) -> str:
    if len(token_sha256) != 64 or any(c not in "0123456789abcdef" for c in token_sha256):
        raise TopicError("ticket topics are keyed by the hex sha256 of the token, never the token")
    return f"{office_root(office)}/ticket/{token_sha256}"


def device_status(office: str, device: str) -> str:
    return f"{office_root(office)}/device/{_slug('device', device)}/status"
