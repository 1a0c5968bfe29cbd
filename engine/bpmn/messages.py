"""Message events of our dialect: named messages correlated on one case-data value.

A catch event (intermediate catch, boundary, event-based gateway branch) waits for a message of its
``bpmn:message`` name whose correlation carries, under the event's ``correlationKey`` (a
``camunda:properties`` property; default ``case_ref``), the value the waiting case holds under that
name. A throw event (intermediate throw, end) sends a message correlated on ``correlationKey`` =
the value of its ``camunda:expression`` (the safe language; default: the thrower's own field of
that name), carrying the fields named by its ``payload`` property (default: ``case_ref`` and the
correlation key) — never the whole case data.

A message start event says which message starts a new case; like a timer start, the case itself
never waits at its start (``start_message`` on the spec, see ``engine.bpmn.parser``).

What SpiffWorkflow's own message classes would do and ours do not: evaluate Camunda's
``camunda:expression`` as a payload through ``eval``, copy the whole task data into a thrown
message, and correlate through workflow-wide correlation properties.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent

from engine.errors import InvalidInput
from engine.views import json_ready

MAX_PAYLOAD_BYTES = 16 * 1024
MAX_VALUE_CHARS = 200
DEFAULT_KEY = "case_ref"
RESERVED_FIELDS = ("case_ref", "started_by", "started_at")
"""Case fields a message never overwrites: they arrive as ``sender_case_ref`` and so on."""

Subscription = tuple[str, str, str | None]
"""(message name, correlation key, correlation value) a waiting case is subscribed on."""


class MessageDefinition(MessageEventDefinition):
    """``bpmn:messageEventDefinition`` as callgov runs it (see the module docstring)."""

    def __init__(self, name: str, correlation_key: str = DEFAULT_KEY, payload_fields: Iterable[str] = (),
                 expression: str | None = None, description: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, description=description)
        self.correlation_key = correlation_key or DEFAULT_KEY
        self.payload_fields = tuple(payload_fields)
        self.expression = expression or None

    @property
    def _slot(self) -> str:
        return f"message:{self.name}"

    def catches(self, my_task: Any, event: Any) -> bool:
        if not self == event.event_definition:
            return False
        if isinstance(my_task.task_spec, StartEvent):
            return True
        value = correlation_text(my_task.data.get(self.correlation_key))
        return value is not None and event.correlations.get(self.correlation_key) == value

    def catch(self, my_task: Any, event: Any = None) -> None:
        my_task.internal_data[self._slot] = dict(event.payload or {}) if event is not None else {}
        my_task._set_internal_data(event_fired=True)

    def update_task_data(self, my_task: Any) -> None:
        payload = my_task.internal_data.get(self._slot)
        if payload:
            my_task.data.update(as_received(payload))

    def reset(self, my_task: Any) -> None:
        my_task.internal_data.pop(self._slot, None)
        my_task._set_internal_data(event_fired=False)

    def throw(self, my_task: Any) -> None:
        data = my_task.data
        if self.expression:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        else:
            value = data.get(self.correlation_key)
        text = correlation_text(value)
        if text is None:
            raise WorkflowTaskException(
                f"The message '{self.name}' has no {self.correlation_key} to be correlated on", task=my_task)
        fields = self.payload_fields or dict.fromkeys((DEFAULT_KEY, self.correlation_key))
        payload = {name: data[name] for name in fields if name in data}
        payload.setdefault(self.correlation_key, value)
        try:
            payload = checked_payload(json_ready(payload))
        except InvalidInput as error:
            raise WorkflowTaskException(f"The message '{self.name}' cannot be sent: {error}", task=my_task) from None
        event = BpmnEvent(self, payload=payload, correlations={self.correlation_key: text})
        my_task.workflow.top_workflow.catch(event)

    def details(self, my_task: Any) -> Any:
        pending = super().details(my_task)
        pending.correlations = {self.correlation_key: correlation_text(my_task.data.get(self.correlation_key))}
        return pending


def message_event(name: str, correlation: Mapping[str, str], payload: Mapping[str, Any]) -> BpmnEvent:
    """The SpiffWorkflow event that delivers a message to a waiting case."""
    return BpmnEvent(MessageDefinition(name), payload=dict(payload), correlations=dict(correlation))


def correlation_text(value: Any) -> str | None:
    """How a correlation value is compared and stored: text, or None when there is none."""
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)[:MAX_VALUE_CHARS]


def as_received(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload as merged into a receiving case: reserved fields come in as ``sender_<field>``."""
    return {f"sender_{k}" if k in RESERVED_FIELDS else k: v for k, v in payload.items()}


def checked_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` if it is JSON (text keys, no NaN) of at most 16 KB; otherwise ``InvalidInput``."""
    if not isinstance(payload, Mapping):
        raise InvalidInput("A message payload must be a mapping of field names to values")
    for key, value in payload.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput("Message payload field names must be text", {"payload": "field names must be text"})
        _check_json(value, key)
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"The message payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} are allowed",
                           {"payload": "too large"})
    return dict(payload)


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    if depth > 20:
        raise InvalidInput(f"The payload field '{where}' is nested too deeply", {"payload": "too deep"})
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
    elif isinstance(value, list):
        for item in value:
            _check_json(item, where, depth + 1)
        return
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                break
            _check_json(item, where, depth + 1)
        else:
            return
    raise InvalidInput(f"The payload field '{where}' is not plain JSON (text, numbers, true/false, lists, "
                       "mappings)", {"payload": f"'{where}' is not JSON"})


def message_definitions(task_spec: Any) -> list[MessageDefinition]:
    """Our message definitions on a task spec (one, or several behind an event-based gateway)."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions if isinstance(d, MessageDefinition)]
    return [definition] if isinstance(definition, MessageDefinition) else []


def subscriptions_of(workflow: Any) -> frozenset[Subscription]:
    """The messages a workflow waits for now, each with the correlation value its task holds."""
    found = set()
    for task in workflow.event_manager.tasks.values():
        for definition in message_definitions(task.task_spec):
            key = definition.correlation_key
            found.add((definition.name, key, correlation_text(task.data.get(key))))
    return frozenset(found)


def take_thrown(workflow: Any) -> list[BpmnEvent]:
    """Remove and return the messages the workflow threw that nobody in it caught."""
    thrown = [e for e in workflow.bpmn_events if isinstance(e.event_definition, MessageDefinition)]
    if thrown:
        workflow.bpmn_events = [e for e in workflow.bpmn_events if e not in thrown]
    return thrown
