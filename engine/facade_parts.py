"""What the facade's mixins (queries, messages, releases, governance, breaches) use of ``Callgov``.

The mixins keep each audience's use cases in a module of its own; this base declares, for type
checkers only, the parts of ``Callgov`` they call, so each mixin need not repeat them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine import definitions as defs
    from engine.clock import Clock
    from engine.db import Database
    from engine.instances import CaseRecord, InstanceRunner, WorkflowSummary
    from engine.operations import OperationRegistry
    from engine.releases import AccessDecision
    from engine.views import InstanceView, Person


class FacadeParts:
    """The attributes and helpers of ``Callgov`` that its mixins rely on."""

    if TYPE_CHECKING:
        db: Database
        clock: Clock
        specs: defs.SpecCache
        services: Any
        operations: OperationRegistry

        def _tx(self) -> AbstractContextManager[Session]: ...

        def _active_user(self, session: Session, username: str) -> Person: ...

        def _require_admin(self, session: Session, actor: str, *, to: str = "manage users") -> Person: ...

        def _audit(self, session: Session, action: str, actor: str, **fields: Any) -> None: ...

        def _runner(self, session: Session) -> InstanceRunner: ...

        def _view(self, session: Session, case: CaseRecord, summary: WorkflowSummary, process_name: str,
                  version: int, ready: Any = None, history: Any = None) -> InstanceView: ...

        def _start_case(self, s: Session, process_id: str, starter: str, data: Mapping[str, Any] | None, *,
                        entry: str | None = None, detail: Mapping[str, Any] | None = None) -> InstanceView: ...

        def _schedule_starts(self, s: Session, version_id: int) -> None: ...

        def _listen_decision(self, s: Session, username: str, recording_id: int) -> AccessDecision: ...

        def instance(self, ref: str | int, *, user: str | None = None) -> InstanceView: ...

        def start(self, process_id: str, *, user: str, data: Mapping[str, Any] | None = None) -> InstanceView: ...

        def complete_task(self, task_id: str, *, user: str, data: Mapping[str, Any]) -> InstanceView: ...

        def deliver_mail(self, ids: Sequence[int] | None = None, *, limit: int = 200) -> dict[str, int]: ...
