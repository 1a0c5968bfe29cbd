"""The registry of operations that external service tasks call by topic.

A diagram says ``camunda:topic="locate_recordings"``; the engine looks the topic up here and calls
the Python function registered for it with an ``OperationContext``. Whatever mapping the function
returns is merged into the task's data. An operation signals a business outcome the diagram may
catch with an error boundary event by raising ``engine.errors.BusinessError(code)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy.orm import Session

from engine.clock import Clock


@dataclass(frozen=True)
class OperationContext:
    """What an operation may see and use: the case, its data (read-only), time, and services."""

    case_ref: str
    process_id: str
    instance_id: int | None
    started_by: str
    element_id: str
    data: Mapping[str, Any]
    clock: Clock
    session: Session
    services: Any = None
    """The connectors (telephony, storage, mail) the application was configured with."""

    def now(self) -> datetime:
        """The current time from the engine's clock."""
        return self.clock.now()


Operation = Callable[[OperationContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class RegisteredOperation:
    """An operation with the description shown to governance staff in the editor."""

    topic: str
    function: Operation
    description: str = ""
    outputs: tuple[str, ...] = field(default=())


class OperationRegistry:
    """Topic -> operation. Topics are checked at deploy: an unknown one is a validation error."""

    def __init__(self) -> None:
        self._operations: dict[str, RegisteredOperation] = {}

    def register(self, topic: str, function: Operation, *, description: str = "",
                 outputs: tuple[str, ...] = ()) -> None:
        """Make ``function`` callable from diagrams as ``topic``."""
        if topic in self._operations:
            raise ValueError(f"operation {topic!r} is already registered")
        self._operations[topic] = RegisteredOperation(topic, function, description, outputs)

    def operation(self, topic: str, *, description: str = "",
                  outputs: tuple[str, ...] = ()) -> Callable[[Operation], Operation]:
        """Decorator form of ``register``."""

        def decorate(function: Operation) -> Operation:
            self.register(topic, function, description=description, outputs=outputs)
            return function

        return decorate

    def get(self, topic: str) -> RegisteredOperation | None:
        """The operation for ``topic``, or None."""
        return self._operations.get(topic)

    def topics(self) -> frozenset[str]:
        """Every registered topic."""
        return frozenset(self._operations)

    def __iter__(self) -> Iterator[RegisteredOperation]:
        return iter(sorted(self._operations.values(), key=lambda op: op.topic))


def read_only(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of task data for an operation."""
    return MappingProxyType(dict(data))
