"""Instance state as JSON, without the specs.

SpiffWorkflow's serializer writes the whole process specification into every saved workflow. Our
specs come from an immutable definition version that every instance row already references, so we
store only the run-time state (tasks, data, subprocesses, events) and hand the parsed specs back on
restore. That keeps rows small and saves a spec round trip on every load and save.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.spec import EventDefinitionConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from engine.bpmn.messages import MessageDefinition
from engine.bpmn.timers import ClockCycle, ClockDuration, ClockTimeDate


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Converts a top-level workflow leaving out ``spec`` and ``subprocess_specs``."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["spec_name"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], *, spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        if spec is None:
            raise ValueError("restoring an instance needs the parsed spec of its definition version")
        if dct.get("spec_name") not in (None, spec.name):
            raise ValueError(f"state belongs to process {dct.get('spec_name')!r}, not {spec.name!r}")
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class MessageDefinitionConverter(EventDefinitionConverter):
    """Our message definitions, as an event-based gateway keeps the events it saw."""

    def to_dict(self, event_definition: MessageDefinition) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(event_definition)
        dct["correlation_key"] = event_definition.correlation_key
        dct["payload_fields"] = list(event_definition.payload_fields)
        dct["expression"] = event_definition.expression
        return dct


def state_config() -> dict[type, Any]:
    """SpiffWorkflow's Camunda converters, with ours: state-only workflows, clock timers, messages."""
    config = dict(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = StateOnlyWorkflowConverter
    # Our clock-aware timers may sit in a task's internal data (events an event-based gateway saw).
    for ours, theirs in ((ClockTimeDate, TimeDateEventDefinition), (ClockDuration, DurationTimerEventDefinition),
                         (ClockCycle, CycleTimerEventDefinition)):
        config[ours] = config[theirs]
    config[MessageDefinition] = MessageDefinitionConverter
    return config


class StateSerializer:
    """Turns a workflow into a JSON string of its state and back (given the specs)."""

    VERSION = "callgov-1"
    """Bumped, with a migration, whenever the stored shape changes."""

    def __init__(self) -> None:
        registry = BpmnWorkflowSerializer.configure(state_config())
        registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
        self._serializer = BpmnWorkflowSerializer(registry)

    def register(self, cls: type, to_dict: Any, from_dict: Any) -> None:
        """Teach the serializer a value type that may appear in task data."""
        self._serializer.registry.register(cls, to_dict, from_dict)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        """The workflow's state as a JSON string."""
        registry = self._serializer.registry
        registry._encoder_mode = True
        try:
            dct = self._serializer.to_dict(workflow)
            return json.dumps(dct, cls=self._serializer._encoder_cls, separators=(",", ":"))
        finally:
            registry._encoder_mode = False

    def loads(self, state: str, version: str, spec: Any, subprocess_specs: Any) -> BpmnWorkflow:
        """Rebuild the workflow from ``state`` written by ``dumps`` under serializer ``version``."""
        if version != self.VERSION:
            raise ValueError(f"unknown instance state version {version!r}")
        dct = json.loads(state)
        workflow: BpmnWorkflow = self._serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
        return workflow
