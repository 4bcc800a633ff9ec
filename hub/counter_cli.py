"""`wartemarke-counter`: a clerk's counter commands from the command line, over MQTT v5 request/response.

Prints the result (`A042 → Platz 3`); exit code 0 when the hub accepted, 1 when it refused (nobody
waiting, counter paused, …), 2 for a usage or config error, 3 when the hub did not answer in time, 4
when the broker refused the command (this account may not send to that counter: it never reached the
hub). The command carries an MQTT v5 message expiry 2 s shorter than the wait, so one that did not
reach the hub in time is dropped by the broker, never executed later. After exit 3 the hub may still
have executed it (the answer was lost): repeating it with the printed `--request-id` is safe — the hub
answers a known request id with its first answer and executes an unknown one once.
"""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from pathlib import Path

from hub.config import load_hub_config
from process.cli import load_config
from process.clock import SystemClock
from protocol import VERSION
from protocol.fields import TICKET_ID_RE, InvalidMessage, slug_problem
from protocol.link import MqttLink
from protocol.messages import CommandAnswer, CommandRequest
from protocol.operations import ARGUMENTS, COUNTER_OPS
from protocol.requests import ANSWER_MARGIN_S, COMMAND_MAX_EXPIRY_S, PublishRefused, Requester

MIN_TIMEOUT_S = ANSWER_MARGIN_S + 1  # the command may wait at the broker ≥ 1 s and the answer still come in time
MAX_TIMEOUT_S = COMMAND_MAX_EXPIRY_S + ANSWER_MARGIN_S  # the hub refuses commands that may wait longer


def send_command(link: MqttLink, office: str, counter: str, request: CommandRequest,
                 timeout_s: float = 10.0) -> CommandAnswer | None:
    """Publish a command and wait for the hub's answer on a private response topic (None: no answer).
    The broker drops the command unless it reaches the hub within its expiry."""
    requester = Requester(link)
    requester.listen(office, counter)
    return requester.request(office, counter, request, timeout_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wartemarke-counter", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="a hub config (for the broker settings)")
    parser.add_argument("--office", required=True, type=_slug, help="the office id (as in the config)")
    parser.add_argument("--counter", required=True, type=_slug, help="the counter id (as in the config)")
    parser.add_argument("--timeout", type=_timeout, default=10.0,
                        help=f"seconds to wait for the answer, {MIN_TIMEOUT_S}–{MAX_TIMEOUT_S} (default 10); the "
                             f"command expires at the broker {ANSWER_MARGIN_S} s sooner (whole seconds)")
    parser.add_argument("--request-id", type=_request_id,
                        help="repeat an earlier request (printed when the hub did not answer): never executed twice")
    parser.add_argument("op", choices=[name.replace("_", "-") for name in COUNTER_OPS],
                        help="; ".join(f"{name.replace('_', '-')}: {op.help}" for name, op in COUNTER_OPS.items()))
    parser.add_argument("arg", nargs="?", help=", ".join(f"{op.args[0].upper()} for {name.replace('_', '-')}"
                                                         for name, op in COUNTER_OPS.items() if op.args))
    args = parser.parse_args(argv)
    # A hub.toml's [web] is the hub's web's (wartemarke-hub check-config validates it); this tool needs
    # only [broker] and the offices.
    config = load_config(lambda path: load_hub_config(path, other_tables=("web",)), args.config,
                         "wartemarke-counter")
    if config is None:
        return 2
    # (The hub's web never logs in as [broker]'s account: wartemarke-hub refuses a [web] that shares it.)
    if config.broker.username is not None and config.broker.username == config.device:
        print(f"wartemarke-counter: {args.config} logs in as {config.broker.username!r}, an account of the running "
              "hub; the broker binds client ids to usernames, so this would disconnect it. Use a counter "
              "client's account (broker_extra_clients, docs/operations.md §4).", file=sys.stderr)
        return 2
    office_def = config.office(args.office)
    if office_def is None or office_def.counter(args.counter) is None:
        what = f"office {args.office!r}" if office_def is None else f"counter {args.counter!r} of {args.office}"
        print(f"wartemarke-counter: {args.config} has no {what} (offices: "
              f"{', '.join(o.id for o in config.offices)})", file=sys.stderr)
        return 2
    op = COUNTER_OPS[args.op.replace("-", "_")]
    if op.args and not args.arg:
        print(f"wartemarke-counter: {args.op} needs {op.args[0].upper()}: {ARGUMENTS[op.args[0]]}", file=sys.stderr)
        return 2
    extra = {op.args[0]: args.arg} if op.args else {}
    try:  # the contract's text rule, before connecting
        request = CommandRequest(args.request_id or uuid.uuid4().hex, op.name, extra)
    except InvalidMessage as exc:
        print(f"wartemarke-counter: {exc}", file=sys.stderr)
        return 2
    link = MqttLink(config.broker, args.office, f"{args.counter}-cli-{uuid.uuid4().hex[:6]}", "counter-cli",
                    VERSION, SystemClock(), availability=False)
    link.start()
    try:
        answer = send_command(link, args.office, args.counter, request, args.timeout)
    except PublishRefused as exc:
        print(f"{exc}: this account ({config.broker.username or 'anonymous'}) may not send commands to "
              f"{args.counter} of {args.office}, so the hub never got it. Use the counter client account of "
              f"that counter (docs/operations.md).", file=sys.stderr)
        return 4
    finally:
        link.stop()
    if answer is None:
        print(f"the hub did not answer within {args.timeout:.0f} s (hub or broker unreachable). If the hub got "
              f"the command, it was carried out; to find out without doing it twice, repeat it with "
              f"--request-id {request.id}", file=sys.stderr)
        return 3
    if not answer.ok:
        print(f"refused: {answer.error or 'unknown reason'}", file=sys.stderr)
        return 1
    counter = office_def.counter(args.counter)
    name = counter.name if counter else args.counter
    print(f"{answer.label} → {name}" if answer.label else f"{op.name}: ok ({name})")
    return 0


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or not MIN_TIMEOUT_S <= value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be {MIN_TIMEOUT_S} to {MAX_TIMEOUT_S} seconds; got {text!r}")
    return value


def _slug(text: str) -> str:
    problem = slug_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _request_id(text: str) -> str:
    if not TICKET_ID_RE.match(text):
        raise argparse.ArgumentTypeError("8 to 64 letters, digits or '-'")
    return text


if __name__ == "__main__":
    sys.exit(main())
