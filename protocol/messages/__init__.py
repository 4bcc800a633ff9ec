"""The contract's message types, one module per kind of topic; each type has `to_dict()` and a validating
`from_dict()`.

`from_dict` raises `InvalidMessage` (naming the field) for anything off-contract; unknown fields are
ignored so newer publishers do not break older consumers. docs/protocol.md §2 lists the topics and
§3 the messages; tests/test_protocol.py round-trips every one and checks the documents' examples.
"""

from protocol.fields import TICKET_ID_RE, TOKEN_RE
from protocol.messages.calls import MAX_CALLS, Call, CallsState
from protocol.messages.commands import COMMAND_ARGS, COMMAND_OPS, COMMAND_TEXT_MAX, OFFICE_OPS, CommandRequest
from protocol.messages.info import WEEKDAYS, CounterInfo, OfficeInfo, ServiceInfo
from protocol.messages.queue import AMPEL_LEVELS, QueueState, ServiceQueue, WaitCalibration
from protocol.messages.status import DeviceStatus
from protocol.messages.tickets import Ack, TicketEvent, TicketIssued, TicketVoided, ticket_event_from_dict

__all__ = [
    "AMPEL_LEVELS", "COMMAND_ARGS", "COMMAND_OPS", "COMMAND_TEXT_MAX", "MAX_CALLS", "OFFICE_OPS", "TICKET_ID_RE",
    "TOKEN_RE", "WEEKDAYS", "Ack", "Call", "CallsState", "CommandRequest", "CounterInfo", "DeviceStatus",
    "OfficeInfo", "QueueState", "ServiceInfo", "ServiceQueue", "TicketEvent", "TicketIssued", "TicketVoided",
    "WaitCalibration", "ticket_event_from_dict",
]
