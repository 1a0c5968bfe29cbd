"""The one exception hierarchy of callgov's engine.

Everything the engine raises to its callers (web UI, CLI, jobs) is a ``CallgovError``; errors from
SpiffWorkflow, SQLAlchemy and the connectors are wrapped at the boundary. ``webui/errors.py`` maps
these classes to HTTP status codes in one place.

    CallgovError             base class; never raised itself
    ├── NotFound             a definition, instance, task or user does not exist (404)
    ├── PermissionDenied     the caller may not do this (not a candidate, excluded, wrong role) (403)
    ├── Conflict             someone else changed the instance or completed the task first (409)
    ├── InvalidInput         submitted data is malformed; ``problems`` maps field -> message (400)
    │   └── FormInvalid      a task form failed validation; ``problems`` maps field id -> message
    ├── ExpressionError      an expression is not in the safe language, or failed when evaluated
    ├── DefinitionInvalid    a BPMN file failed validation; ``problems`` lists every Problem found
    ├── BusinessError        an operation raised a business error that the diagram may catch
    └── WorkflowFailed       the process itself failed while running (a bug in a diagram or operation)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class CallgovError(Exception):
    """Base of every error the engine raises to its callers."""


class NotFound(CallgovError):
    """A definition, instance, task or user that does not exist."""


class PermissionDenied(CallgovError):
    """The caller is not allowed to perform the action."""


class Conflict(CallgovError):
    """Another writer changed the instance first; the caller should reload and retry."""


class InvalidInput(CallgovError):
    """Input data was malformed; ``problems`` maps a field name to a message for a person."""

    def __init__(self, message: str, problems: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems: dict[str, str] = dict(problems or {})


class FormInvalid(InvalidInput):
    """A user task's form failed server-side validation."""


class ExpressionError(CallgovError):
    """An expression is outside the safe language, or failed when it was evaluated."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a process definition, located at a BPMN element when possible."""

    message: str
    element_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"[{self.element_id}] " if self.element_id else ""
        line = f" (line {self.line})" if self.line else ""
        return f"{where}{self.message}{line}"


class DefinitionInvalid(CallgovError):
    """A BPMN definition failed validation; every problem found is listed in ``problems``."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        summary = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"The process definition has {len(self.problems)} problem(s): {summary}{more}")


class BusinessError(CallgovError):
    """Raised by an operation to signal a business outcome a BPMN error boundary event may catch.

    ``code`` is matched against the ``errorCode`` of the diagram's ``bpmn:error``.
    """

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class WorkflowFailed(CallgovError):
    """The process failed while running: a diagram or operation error not caught by the diagram."""
