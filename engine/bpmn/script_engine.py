"""The only script engine our workflows ever get: every expression goes to the safe language.

SpiffWorkflow evaluates conditions, timers and scripts through ``workflow.script_engine``. This
subclass overrides every entry point, so SpiffWorkflow's own ``eval``/``exec`` never sees diagram
text (DESIGN decision 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.bpmn.compiler import unwrap_expression
from engine.clock import Clock
from engine.errors import BusinessError, CallgovError, ExpressionError
from engine.expressions import CompiledScript, compile_expression, compile_script, evaluate, parse_timer_literal

OperationCaller = Callable[[Any, str], Mapping[str, Any] | None]
"""Calls the operation for a topic with the SpiffWorkflow task; returns values to merge into its data."""


@lru_cache(maxsize=512)
def _compiled_script(source: str) -> CompiledScript:
    return compile_script(source)


class SafeScriptEngine(PythonScriptEngine):
    """Evaluates diagram text with ``engine.expressions``; dispatches external tasks to operations."""

    def __init__(self, clock: Clock, call_operation: OperationCaller | None = None) -> None:
        super().__init__()
        self.clock = clock
        self._call_operation = call_operation

    def validate(self, expression: str) -> None:
        compile_expression(expression)

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        text = unwrap_expression(expression)
        if parse_timer_literal(text) is not None:
            return text
        try:
            return evaluate(text, task.data, clock=self.clock)
        except ExpressionError as error:
            raise WorkflowTaskException(f"Expression '{text}' failed: {error}", task=task, exception=error) from None

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        try:
            assignments = _compiled_script(script or "").run(task.data, clock=self.clock)
        except ExpressionError as error:
            raise WorkflowTaskException(f"Script failed: {error}", task=task, exception=error) from None
        task.data.update(assignments)
        return True

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise WorkflowTaskException("Only external service tasks with a topic are supported", task=task)

    def call_operation(self, task: Any, topic: str) -> None:
        """Run the operation registered for ``topic`` and merge what it returns into the task data."""
        if self._call_operation is None:
            raise WorkflowTaskException(f"No operations are available to run '{topic}'", task=task)
        try:
            result = self._call_operation(task, topic)
        except BusinessError:
            raise
        except CallgovError as error:
            raise WorkflowTaskException(f"Operation '{topic}' failed: {error}", task=task, exception=error) from None
        if result:
            task.data.update(result)
