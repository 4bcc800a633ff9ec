"""The contract's message types, one module per kind of topic; each type has `to_dict()` and a validating
`from_dict()`.

`from_dict` raises `InvalidMessage` (naming the field) for anything off-contract; unknown fields are
ignored so newer publishers do not break older consumers. docs/protocol.md §2 lists the topics and
§3 the messages; tests/test_protocol.py round-trips every one and checks the document's examples.
"""

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from protocol import topics
from protocol.businessday import WEEKDAYS
from protocol.fields import TICKET_ID_RE, TOKEN_RE
from protocol.messages.calls import MAX_CALLS, Call, CallsState
from protocol.messages.citizen import CITIZEN_REFUSALS, MAX_POSTPONES, CitizenRequest
from protocol.messages.commands import CommandAnswer, CommandRequest
from protocol.messages.counters import COUNTER_STATES, CounterState
from protocol.messages.history import History, HistoryCell, RanOut
from protocol.messages.info import AmpelBands, CounterInfo, Location, OfficeInfo, ServiceInfo
from protocol.messages.queue import AMPEL_LEVELS, QueueState, Ratings, ServiceQueue, WaitCalibration
from protocol.messages.status import DeviceStatus
from protocol.messages.tickets import Ack, TicketEvent, TicketIssued, TicketVoided, ticket_event_from_dict
from protocol.messages.tracking import TICKET_STATES, TicketView
from protocol.operations import COUNTER, OFFICE

# Every topic's message type (by protocol.topics.parse's kind): what a consumer parses a payload with.
PARSERS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    topics.KIOSK_TICKET: ticket_event_from_dict, topics.KIOSK_ACK: Ack.from_dict,
    topics.COUNTER_COMMAND: partial(CommandRequest.from_dict, scope=COUNTER),
    topics.OFFICE_COMMAND: partial(CommandRequest.from_dict, scope=OFFICE),
    topics.COUNTER_RESPONSE: CommandAnswer.from_dict, topics.SUPERVISOR_RESPONSE: CommandAnswer.from_dict,
    topics.COUNTER_STATE: CounterState.from_dict, topics.CALLS: CallsState.from_dict,
    topics.QUEUE: QueueState.from_dict, topics.TICKET: TicketView.from_dict, topics.INFO: OfficeInfo.from_dict,
    topics.HISTORY: History.from_dict, topics.DEVICE_STATUS: DeviceStatus.from_dict,
    topics.CITIZEN_REQUEST: CitizenRequest.from_dict, topics.CITIZEN_RESPONSE: CommandAnswer.from_dict,
}

__all__ = [
    "AMPEL_LEVELS",
    "CITIZEN_REFUSALS",
    "COUNTER_STATES",
    "MAX_CALLS",
    "MAX_POSTPONES",
    "PARSERS",
    "TICKET_ID_RE",
    "TICKET_STATES",
    "TOKEN_RE",
    "WEEKDAYS",
    "Ack",
    "AmpelBands",
    "Call",
    "CallsState",
    "CitizenRequest",
    "CommandAnswer",
    "CommandRequest",
    "CounterInfo",
    "CounterState",
    "DeviceStatus",
    "History",
    "HistoryCell",
    "Location",
    "OfficeInfo",
    "QueueState",
    "RanOut",
    "Ratings",
    "ServiceInfo",
    "ServiceQueue",
    "TicketEvent",
    "TicketIssued",
    "TicketView",
    "TicketVoided",
    "WaitCalibration",
    "ticket_event_from_dict",
]
