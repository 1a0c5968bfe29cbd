"""Specs as dictionaries, so that SpiffWorkflow's diff can compare two versions of a process.

The state serializer never writes specs (``engine.bpmn.serializer``), but ``SpecDiff`` aligns
and compares task specs through a serializer registry. This one knows SpiffWorkflow's Camunda
specs and ours: a user task's candidates, assignee, due date and extensions, a service task's
topic. It is used for comparing only; nothing it produces is stored.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.camunda.serializer.task_spec import UserTaskConverter

from engine.bpmn.serializer import state_config
from engine.bpmn.specs import ExternalTaskSpec, HumanTaskSpec


class HumanTaskSpecConverter(UserTaskConverter):
    """A user task with who may do it and by when."""

    def to_dict(self, spec: HumanTaskSpec) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct.update(candidate_groups=list(spec.candidate_groups), assignee=spec.assignee, due_date=spec.due_date,
                   extensions=dict(spec.extensions))
        return dct


class ExternalTaskSpecConverter(BpmnTaskSpecConverter):
    """A service task with the operation topic it calls."""

    def to_dict(self, spec: ExternalTaskSpec) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct["topic"] = spec.topic
        return dct


@lru_cache(maxsize=1)
def spec_registry() -> DefaultRegistry:
    """A registry that turns every spec our parser produces into a comparable dictionary (built once)."""
    config = state_config()
    config[HumanTaskSpec] = HumanTaskSpecConverter
    config[ExternalTaskSpec] = ExternalTaskSpecConverter
    registry: DefaultRegistry = BpmnWorkflowSerializer.configure(config)
    return registry
