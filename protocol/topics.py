"""The wire vocabulary: every topic and topic filter of the `wartemarke/v1/{office}` tree is built here,
and `parse` reads any of them back (docs/protocol.md §2 has the table).

Building and reading topics in one place keeps publishers, subscribers and broker ACLs in agreement.
Builders refuse ids that are not slugs (`TopicError`), so no id can inject `/`, `+` or `#`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from protocol.fields import SLUG_RE

ROOT = "wartemarke/v1"
ANY = "+"  # one topic level, in a filter
TAG_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")  # a requester's private response topic level
HASH_RE = re.compile(r"^[0-9a-f]{64}\Z")

# What `parse` tells a topic is (Topic.kind).
KIOSK_TICKET, KIOSK_ACK = "kiosk_ticket", "kiosk_ack"
COUNTER_COMMAND, COUNTER_STATE, COUNTER_RESPONSE = "counter_command", "counter_state", "counter_response"
OFFICE_COMMAND, SUPERVISOR_RESPONSE = "office_command", "supervisor_response"
CALLS, QUEUE, INFO, HISTORY, TICKET, DEVICE_STATUS = "calls", "queue", "info", "history", "ticket", "device_status"
CITIZEN_REQUEST, CITIZEN_RESPONSE = "citizen_request", "citizen_response"


class TopicError(ValueError):
    """An office, device or counter id that is not a slug, or a topic outside the contract."""


def _slug(kind: str, value: str) -> str:
    if not SLUG_RE.match(value):
        raise TopicError(f"{kind} id must match [a-z0-9-]{{1,40}}; got {value!r}")
    return value


def _tag(value: str) -> str:
    if not TAG_RE.match(value):
        raise TopicError(f"a response tag must match [A-Za-z0-9_-]{{1,64}}; got {value!r}")
    return value


def office_root(office: str) -> str:
    return f"{ROOT}/{_slug('office', office)}"


# -- topics ---------------------------------------------------------------------------------------


def kiosk_ticket(office: str, device: str) -> str:
    return f"{office_root(office)}/kiosk/{_slug('device', device)}/ticket"


def kiosk_ack(office: str, device: str) -> str:
    return f"{office_root(office)}/kiosk/{_slug('device', device)}/ack"


def counter_command(office: str, counter: str) -> str:
    return f"{office_root(office)}/counter/{_slug('counter', counter)}/command"


def counter_state(office: str, counter: str) -> str:
    return f"{office_root(office)}/counter/{_slug('counter', counter)}/state"


def counter_response(office: str, counter: str, tag: str) -> str:
    """A requester's private answer topic for its commands to `counter` (`tag`: random, its own)."""
    return f"{office_root(office)}/counter/{_slug('counter', counter)}/response/{_tag(tag)}"


def office_command(office: str) -> str:
    return f"{office_root(office)}/command"


def supervisor_response(office: str, tag: str) -> str:
    """A requester's private answer topic for its office commands."""
    return f"{office_root(office)}/supervisor/response/{_tag(tag)}"


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
    if not HASH_RE.match(token_sha256):
        raise TopicError("ticket topics are keyed by the hex sha256 of the token, never the token")
    return f"{office_root(office)}/ticket/{token_sha256}"


def device_status(office: str, device: str) -> str:
    return f"{office_root(office)}/device/{_slug('device', device)}/status"


def citizen_request(office: str) -> str:
    """A ticket holder's request ("more time", "not coming"), sent by a web server with the token: the one
    topic a city carries *into* an office (docs/protocol.md §3.12); only the hub may read it."""
    return f"{office_root(office)}/citizen/request"


def citizen_response(office: str, tag: str) -> str:
    """A web server's private answer topic for its citizen requests."""
    return f"{office_root(office)}/citizen/response/{_tag(tag)}"


# -- filters (for subscribing) --------------------------------------------------------------------


def office_tree(office: str) -> str:
    """Every topic of an office (an observer's filter: diagnostics, tests)."""
    return f"{office_root(office)}/#"


def kiosk_tickets(office: str) -> str:
    """Every kiosk's ticket events (only the hub may read them: they carry tracking tokens)."""
    return f"{office_root(office)}/kiosk/{ANY}/ticket"


def kiosk_acks(office: str) -> str:
    return f"{office_root(office)}/kiosk/{ANY}/ack"


def counter_commands(office: str) -> str:
    return f"{office_root(office)}/counter/{ANY}/command"


def counter_states(office: str) -> str:
    return f"{office_root(office)}/counter/{ANY}/state"


def counter_responses(office: str, tag: str) -> str:
    """A requester's answers for commands to any counter."""
    return f"{office_root(office)}/counter/{ANY}/response/{_tag(tag)}"


def tickets(office: str) -> str:
    return f"{office_root(office)}/ticket/{ANY}"


def device_statuses(office: str) -> str:
    return f"{office_root(office)}/device/{ANY}/status"


# -- reading a topic ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A topic of the contract, read back: its office, what it is (one of the kinds above), the device,
    counter or token hash it belongs to, and a response topic's requester tag."""

    office: str
    kind: str
    id: str | None = None
    tag: str | None = None


_OFFICE_WIDE = {("calls",): CALLS, ("queue",): QUEUE, ("info",): INFO, ("history",): HISTORY,
                ("command",): OFFICE_COMMAND, ("citizen", "request"): CITIZEN_REQUEST}
_PER_ID = {("kiosk", "ticket"): KIOSK_TICKET, ("kiosk", "ack"): KIOSK_ACK, ("counter", "command"): COUNTER_COMMAND,
           ("counter", "state"): COUNTER_STATE, ("device", "status"): DEVICE_STATUS}


def parse(topic: str) -> Topic:
    """What a topic is; `TopicError` for anything outside the contract (a wildcard included). The ids are
    taken as they are (a broker accepts any topic level: a status topic of a device whose id is no slug
    still says which device it is)."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] + "/" + parts[1] != ROOT or any(p in ("", ANY, "#") for p in parts):
        raise TopicError(f"not a topic of the contract: {topic!r}")
    office, rest = parts[2], tuple(parts[3:])
    if rest in _OFFICE_WIDE:
        return Topic(office, _OFFICE_WIDE[rest])
    if len(rest) == 2 and rest[0] == "ticket" and HASH_RE.match(rest[1]):
        return Topic(office, TICKET, rest[1])
    if len(rest) == 3 and (rest[0], rest[2]) in _PER_ID:
        return Topic(office, _PER_ID[(rest[0], rest[2])], rest[1])
    if len(rest) == 4 and rest[0] == "counter" and rest[2] == "response" and TAG_RE.match(rest[3]):
        return Topic(office, COUNTER_RESPONSE, rest[1], rest[3])
    if len(rest) == 3 and rest[:2] == ("supervisor", "response") and TAG_RE.match(rest[2]):
        return Topic(office, SUPERVISOR_RESPONSE, tag=rest[2])
    if len(rest) == 3 and rest[:2] == ("citizen", "response") and TAG_RE.match(rest[2]):
        return Topic(office, CITIZEN_RESPONSE, tag=rest[2])
    raise TopicError(f"not a topic of the contract: {topic!r}")
