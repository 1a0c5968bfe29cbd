"""Task specs for our dialect: user tasks that know who may do them, external service tasks.

These subclass SpiffWorkflow's Camunda specs; the extra attributes are read by the runtime when a
task becomes ready (candidates, assignee, due date) or runs (the operation topic).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.camunda.specs.user_task import UserTask

from engine.errors import BusinessError


class HumanTaskSpec(UserTask):
    """A ``bpmn:userTask`` with Camunda form data and assignment.

    ``candidate_groups`` are role keys (resolved from names at parse time); ``assignee`` and
    ``due_date`` are either literals or ``${expression}`` in the safe language.
    """

    def __init__(
        self,
        wf_spec: Any,
        bpmn_id: str,
        form: Any,
        candidate_groups: list[str] | None = None,
        assignee: str | None = None,
        due_date: str | None = None,
        extensions: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(wf_spec, bpmn_id, form, **kwargs)
        self.extensions = dict(extensions or {})
        self.candidate_groups = list(candidate_groups or [])
        self.assignee = assignee
        self.due_date = due_date


class ExternalTaskSpec(ServiceTask):
    """A ``bpmn:serviceTask`` with ``camunda:type="external"`` and a ``camunda:topic``.

    Running it calls the operation registered for the topic through the script engine. A
    ``BusinessError`` from the operation is parked on the task (which stays started) so that the
    runtime can throw it to an error boundary event once the engine step is over.
    """

    def __init__(self, wf_spec: Any, bpmn_id: str, topic: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _run_hook(self, my_task: Any) -> bool | None:
        try:
            my_task.workflow.script_engine.call_operation(my_task, self.topic)
        except BusinessError as error:
            my_task.internal_data["business_error"] = {"code": error.code, "message": str(error)}
            return None
        return True
