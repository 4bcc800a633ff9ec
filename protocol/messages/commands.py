"""Commands (`…/counter/{counter}/command`, `…/command`) and their answers, docs/protocol.md §3.6."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.fields import LABEL_RE, SERVICE_RE, TICKET_ID_RE, Fields, InvalidMessage
from protocol.operations import ARG_MAX, ARGUMENTS, BY_NAME, COUNTER, COUNTER_OPS, OFFICE_OPS
from protocol.text import text_problem


@dataclass(frozen=True)
class CommandRequest:
    """A clerk's or supervisor's command; `id` makes a repeated request return the first answer."""

    id: str
    op: str
    args: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, **self.args}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], scope: str) -> CommandRequest:
        """A command sent on a topic of `scope` (COUNTER or OFFICE): one of its operations, with exactly
        that operation's arguments (others are ignored, like any unknown field)."""
        f = Fields(data, "command")
        ops = COUNTER_OPS if scope == COUNTER else OFFICE_OPS
        name = f.text("op", max_len=40)
        if name not in ops:
            raise f.fail("op", f"must be one of {', '.join(ops)}; got {name!r}")
        args = {key: f.human(key, ARG_MAX) for key in ops[name].args}
        return cls(id=f.text("id", TICKET_ID_RE), op=name, args=args)

    def __post_init__(self) -> None:
        """The builder keeps the parser's rule: a request the hub would refuse for its arguments is never
        built (an unknown `op` is for the hub to refuse)."""
        operation = BY_NAME.get(self.op)
        for key in operation.args if operation is not None else ():
            if key not in self.args:
                raise InvalidMessage(f"command: field '{key}' is missing")
        for key, value in self.args.items():
            problem = "is not an argument of any command" if key not in ARGUMENTS else text_problem(value, ARG_MAX)
            if problem is not None:
                raise InvalidMessage(f"command: field '{key}' {problem}")


ERROR_MAX = 1000  # an answer's error text; longer ones (a quoted hostile value) are cut


@dataclass(frozen=True)
class CommandAnswer:
    """The hub's answer to a command: `ok`, or refused with `error`; the ticket it concerns (`label`,
    `service`) and the `counter`. `id` is the request's (absent when the request was unreadable)."""

    ok: bool
    error: str | None = None
    label: str | None = None
    service: str | None = None
    counter: str | None = None
    id: str | None = None

    @classmethod
    def refused(cls, error: str, counter: str | None = None) -> CommandAnswer:
        return cls(False, error if len(error) <= ERROR_MAX else error[:ERROR_MAX - 1] + "…", counter=counter)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {} if self.id is None else {"id": self.id}
        data["ok"] = self.ok
        for name in ("error", "label", "service", "counter"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CommandAnswer:
        f = Fields(data, "answer")
        return cls(ok=f.flag("ok"), error=f.opt_human("error", ERROR_MAX), label=f.opt_text("label", LABEL_RE),
                   service=f.opt_text("service", SERVICE_RE), counter=f.opt_slug("counter"),
                   id=f.opt_text("id", TICKET_ID_RE))
