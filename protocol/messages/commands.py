"""Commands (`…/counter/{counter}/command`, `…/command`) and their answers, docs/protocol.md §3.6."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.fields import TICKET_ID_RE, Fields, InvalidMessage
from protocol.text import text_problem

COMMAND_OPS = ("next", "recall", "no_show", "reactivate", "done", "transfer", "pause", "resume")
OFFICE_OPS = ("announce", "open_service", "close_service")
COMMAND_ARGS = ("label", "service", "text")
COMMAND_TEXT_MAX = 300  # the announcement's limit; labels and services are far shorter


@dataclass(frozen=True)
class CommandRequest:
    """A clerk's or supervisor's command; `id` makes a repeated request return the first answer."""

    id: str
    op: str
    args: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, **self.args}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], ops: tuple[str, ...]) -> CommandRequest:
        f = Fields(data, "command")
        op = f.text("op", max_len=40)
        if op not in ops:
            raise f.fail("op", f"must be one of {', '.join(ops)}; got {op!r}")
        args: dict[str, Any] = {}
        for key in COMMAND_ARGS:
            if data.get(key) is not None:
                args[key] = f.human(key, COMMAND_TEXT_MAX)
        return cls(id=f.text("id", TICKET_ID_RE), op=op, args=args)

    def __post_init__(self) -> None:
        """The builder keeps the parser's rule: a request the hub would refuse is never built."""
        for key, value in self.args.items():
            problem = "is not an argument of any command" if key not in COMMAND_ARGS else \
                text_problem(value, COMMAND_TEXT_MAX)
            if problem is not None:
                raise InvalidMessage(f"command: field '{key}' {problem}")
