"""Messages between cases and from outside: send, deliver once, start cases, keep what nobody takes.

Every message is first written to ``message_undelivered`` — by ``send_message`` in its own small
transaction, or by the case that threw it in that case's own transaction (an outbox) — and is then
*dispatched*:

1. to every running case whose ``message_subscription`` matches its name and one of its
   correlation pairs, each case in its own transaction that locks the message row and the case
   row and asks the restored workflow itself whether it still waits (so two senders, or two
   dispatchers, never deliver one message twice, and a case that moved on is skipped);
2. if it reached nobody, to a new case of every published process with a message start event for
   its name (``message_start``, written at publish), in one transaction with the row's deletion;
3. otherwise it stays in the table: kept, visible (``undelivered_messages``), audited once as
   ``message.kept``, and retried when a case starts waiting for it and by ``redeliver_kept``.

A row is deleted only in a transaction that delivered it (or started cases with it), so a crash at
any point leaves the message to be dispatched again, never lost; the per-case re-check means it is
never delivered twice to the same wait.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine.bpmn.compiler import CompiledDefinition
from engine.bpmn.messages import Subscription, as_received, checked_payload, correlation_text, message_event
from engine.errors import CallgovError, InvalidInput, NotFound, PermissionDenied, WorkflowFailed
from engine.facade_parts import FacadeParts
from engine.instances import KEPT, SUBSCRIPTIONS, Snapshot, load_case
from engine.models import MessageStart
from engine.views import json_ready

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

SYSTEM_SENDER = "system:messages"
MAX_FOLLOW_ON = 100
"""Messages dispatched after one use case (chains of cases messaging cases); the rest wait for
``redeliver_kept``, so two processes messaging each other forever cannot hold a request."""
MAX_CORRELATION_PAIRS = 10
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
STARTS = cast(Table, MessageStart.__table__)

_SUBSCRIBERS = select(SUBSCRIPTIONS.c.instance_id).where(
    SUBSCRIPTIONS.c.message_name == bindparam("name"), SUBSCRIPTIONS.c.correlation_key == bindparam("key"),
    SUBSCRIPTIONS.c.correlation_value == bindparam("value"))
_STARTS_FOR = select(STARTS.c.process_id, STARTS.c.element_id).where(
    STARTS.c.message_name == bindparam("name")).order_by(STARTS.c.process_id)
_KEPT_BY_ID = select(KEPT).where(KEPT.c.id == bindparam("message_id"))
_KEPT_BY_ID_LOCKED = _KEPT_BY_ID.with_for_update()
_KEPT_BY_NAME = select(KEPT).where(KEPT.c.name == bindparam("name")).order_by(KEPT.c.id)
_INSERT_KEPT = insert(KEPT).returning(KEPT.c.id)
_DELETE_KEPT = delete(KEPT).where(KEPT.c.id == bindparam("message_id"))
_COUNT_DELIVERY = update(KEPT).where(KEPT.c.id == bindparam("key_id")).values(delivered=KEPT.c.delivered + 1)
_NOTE_ATTEMPT = update(KEPT).where(KEPT.c.id == bindparam("key_id")).values(
    attempts=KEPT.c.attempts + 1, last_attempt_at=bindparam("at"), last_error=bindparam("error"))
_DELETE_STARTS = delete(STARTS).where(STARTS.c.process_id == bindparam("process_id"))
_INSERT_START = insert(STARTS)


@dataclass(frozen=True)
class MessageResult:
    """What became of one message: the cases it reached or started, or that it was kept."""

    message_id: int
    name: str
    delivered_to: tuple[str, ...] = ()
    started: tuple[str, ...] = ()
    kept: bool = False
    failed: tuple[str, ...] = ()
    """Cases or processes where delivery failed (the message is kept and retried)."""

    @property
    def outcome(self) -> str:
        """``delivered``, ``started``, ``failed``, ``kept``, or ``taken`` (another dispatcher had it)."""
        if self.delivered_to:
            return "delivered"
        if self.started:
            return "started"
        if self.failed:
            return "failed"
        return "kept" if self.kept else "taken"

    def to_dict(self) -> dict[str, Any]:
        return {**json_ready(self.__dict__), "outcome": self.outcome}


@dataclass(frozen=True)
class KeptMessage:
    """A message no case has taken yet, as ``callgov messages list`` shows it."""

    id: int
    name: str
    correlation: dict[str, str]
    payload: dict[str, Any]
    sent_at: datetime
    sender: str
    source_case_ref: str | None
    attempts: int
    last_attempt_at: datetime | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(json_ready(self.__dict__))


@dataclass(frozen=True)
class WaitingCase:
    """A running case waiting for a message, and the value it correlates on."""

    case_ref: str
    message_name: str
    correlation_key: str
    correlation_value: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_message(name: str, correlation: Mapping[str, Any],
                  payload: Mapping[str, Any] | None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A message's name, correlation and payload as stored, or ``InvalidInput`` saying what is wrong."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("A message needs a name of at most 200 characters", {"name": "required"})
    if not isinstance(correlation, Mapping) or len(correlation) > MAX_CORRELATION_PAIRS:
        raise InvalidInput(f"The correlation must map at most {MAX_CORRELATION_PAIRS} field names to values",
                           {"correlation": "invalid"})
    pairs = {}
    for key, value in correlation.items():
        text = correlation_text(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
        if not isinstance(key, str) or not _KEY.fullmatch(key) or text is None:
            raise InvalidInput(f"Correlation '{key}' must be a field name with a text or number value",
                               {"correlation": f"'{key}' is invalid"})
        pairs[key] = text
    return name, pairs, checked_payload(payload or {})


def schedule_starts(connection: Connection, version_id: int, compiled: CompiledDefinition) -> None:
    """Replace the message starts of ``compiled``'s process with those of this (published) version."""
    connection.execute(_DELETE_STARTS, {"process_id": compiled.process_id})
    rows = {name: {"message_name": name, "process_id": compiled.process_id, "element_id": element_id,
                   "definition_version_id": version_id} for element_id, name in reversed(compiled.start_messages)}
    if rows:
        connection.execute(_INSERT_START, list(rows.values()))


def receivers(connection: Connection, name: str, correlation: Mapping[str, str]) -> list[int]:
    """Ids of the cases subscribed to ``name`` on any of the correlation pairs, in lock order."""
    found: set[int] = set()
    for key, value in correlation.items():
        found.update(connection.execute(_SUBSCRIBERS, {"name": name, "key": key, "value": value}).scalars())
    return sorted(found)


def kept_matching(connection: Connection, subscriptions: Iterable[Subscription]) -> list[int]:
    """Ids of kept messages (oldest first) that one of these new subscriptions would take."""
    wanted: dict[str, set[tuple[str, str]]] = {}
    for name, key, value in subscriptions:
        if value is not None:
            wanted.setdefault(name, set()).add((key, value))
    found = set()
    for name, pairs in wanted.items():
        for row in connection.execute(_KEPT_BY_NAME, {"name": name}):
            if any((key, value) in pairs for key, value in (row.correlation or {}).items()):
                found.add(row.id)
    return sorted(found)


def _kept_view(row: Any) -> KeptMessage:
    return KeptMessage(row.id, row.name, dict(row.correlation or {}), dict(row.payload or {}), row.sent_at,
                       row.sender, row.source_case_ref, row.attempts, row.last_attempt_at, row.last_error)


class MessagesMixin(FacadeParts):
    """The facade's message use cases (mixed into ``Callgov``)."""

    def _init_messages(self) -> None:
        self._follow_on = threading.local()

    # -- use cases -------------------------------------------------------------------------------

    def send_message(self, name: str, correlation: Mapping[str, str], payload: Mapping[str, Any] | None = None,
                     *, actor: str) -> MessageResult:
        """Send a message from outside the engine (web UI, monitoring rules, the CLI).

        It reaches every case waiting for ``name`` on one of the ``correlation`` pairs (for
        example ``{"case_ref": "REL-2026-00001"}`` or ``{"recording_id": "..."}``), its ``payload``
        merged into their data; else it starts a case of each process with a message start event
        for ``name`` (``actor`` is the starter, the payload its initial data); else it is kept.
        ``actor`` is a username or ``system:<job>``.
        """
        name, pairs, body = check_message(name, correlation, payload)
        with self._tx() as s:
            if not actor.startswith("system:"):
                actor = self._active_user(s, actor).username
            elif len(actor) > 120:
                raise InvalidInput("The sender's name is too long", {"actor": "too long"})
            now = self.clock.now()
            message_id = s.connection().execute(_INSERT_KEPT, {
                "name": name, "correlation": pairs, "payload": body, "sent_at": now, "sender": actor,
                "source_case_ref": None, "attempts": 0, "delivered": 0}).scalar_one()
            self._audit(s, "message.sent", actor, detail={"message_id": message_id, "name": name,
                                                          "correlation": pairs, "fields": sorted(body)[:50]})
        return self._dispatch(message_id)

    def redeliver_kept(self, *, limit: int = 100) -> list[MessageResult]:
        """Try every kept message again (least recently tried first); for the scheduler.

        Picks up messages whose dispatch was interrupted (the process stopped after the sender
        committed) and messages for which a receiver or a message start has appeared since.
        """
        with self.db.reading() as s:
            ids = list(s.connection().execute(select(KEPT.c.id).order_by(
                KEPT.c.last_attempt_at.is_not(None), KEPT.c.last_attempt_at, KEPT.c.id).limit(limit)).scalars())
        return [self._dispatch(message_id) for message_id in ids]

    def undelivered_messages(self, *, name: str | None = None, case_ref: str | None = None,
                             limit: int = 100) -> list[KeptMessage]:
        """Kept messages, oldest first: all, those called ``name``, or those thrown by ``case_ref``."""
        query = select(KEPT).order_by(KEPT.c.sent_at, KEPT.c.id).limit(limit)
        if name:
            query = query.where(KEPT.c.name == name)
        if case_ref:
            query = query.where(KEPT.c.source_case_ref == case_ref.strip().upper())
        with self.db.reading() as s:
            return [_kept_view(row) for row in s.connection().execute(query)]

    def waiting_for_messages(self, *, name: str | None = None, case_ref: str | None = None,
                             limit: int = 100) -> list[WaitingCase]:
        """Running cases waiting for a message (all, for ``name``, or one case's waits)."""
        query = select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.message_name, SUBSCRIPTIONS.c.case_ref).limit(limit)
        if name:
            query = query.where(SUBSCRIPTIONS.c.message_name == name)
        if case_ref:
            query = query.where(SUBSCRIPTIONS.c.case_ref == case_ref.strip().upper())
        with self.db.reading() as s:
            return [WaitingCase(r.case_ref, r.message_name, r.correlation_key, r.correlation_value)
                    for r in s.connection().execute(query)]

    def discard_message(self, message_id: int, *, actor: str, reason: str) -> KeptMessage:
        """Delete a kept message that should never be delivered (an administrator or the DPO)."""
        if not reason.strip():
            raise InvalidInput("Give a reason for discarding the message", {"reason": "required"})
        with self._tx() as s:
            if not actor.startswith("system:"):
                person = self._active_user(s, actor)
                if not person.role_names & {"admin", "dpo"}:
                    raise PermissionDenied("Only an administrator or the DPO can discard a message")
                actor = person.username
            row = s.connection().execute(_KEPT_BY_ID_LOCKED, {"message_id": message_id}).first()
            if row is None:
                raise NotFound(f"There is no undelivered message {message_id}")
            s.connection().execute(_DELETE_KEPT, {"message_id": message_id})
            self._audit(s, "message.discarded", actor, case_ref=row.source_case_ref,
                        detail={"message_id": message_id, "name": row.name, "reason": reason.strip()[:500]})
            return _kept_view(row)

    # -- dispatching -----------------------------------------------------------------------------

    def _dispatch(self, message_id: int) -> MessageResult:
        """Deliver one stored message (see the module docstring); safe to run concurrently."""
        with self.db.reading() as s:
            row = s.connection().execute(_KEPT_BY_ID, {"message_id": message_id}).first()
            if row is None:
                return MessageResult(message_id, "")
            targets = receivers(s.connection(), row.name, row.correlation or {})
        delivered, failed = [], []
        for instance_id in targets:
            try:
                case_ref = self._deliver(row, instance_id)
            except CallgovError as error:
                log.warning("message %s could not be delivered to case %s: %s", message_id, instance_id, error)
                self._note_attempt(message_id, f"case {instance_id}: {error}")
                failed.append(str(instance_id))
                continue
            if case_ref is not None:
                delivered.append(case_ref)
        try:
            return self._settle(row, tuple(delivered), tuple(failed))
        except CallgovError as error:
            log.warning("message %s could not start a case: %s", message_id, error)
            self._note_attempt(message_id, str(error))
            return MessageResult(message_id, row.name, tuple(delivered), failed=(*failed, str(error)), kept=True)

    def _deliver(self, row: Any, instance_id: int) -> str | None:
        """Deliver to one case if it still waits; its case reference, or None if it no longer does."""
        with self._tx() as s:
            connection = s.connection()
            if connection.execute(_KEPT_BY_ID_LOCKED, {"message_id": row.id}).first() is None:
                return None
            try:
                case = load_case(connection, instance_id, lock=True)
            except NotFound:
                return None
            if case.status != "running":
                return None
            compiled = self.specs.get(s, case.definition_version_id)
            runner = self._runner(s)
            workflow = runner.restore(case, compiled)
            before = Snapshot.of(workflow, compiled)
            event = message_event(row.name, row.correlation or {}, row.payload or {})
            catchers = [t for t in workflow.event_manager.tasks.values() if t.task_spec.catches(t, event)]
            if not catchers:
                return None
            try:
                workflow.event_manager.catch(event, internal=False)
            except SpiffWorkflowException as error:
                raise WorkflowFailed(f"Case {case.case_ref} failed to take message '{row.name}': {error}") from error
            runner.advance(workflow, timers=compiled.has_timers)
            runner.save(case, workflow, before)
            connection.execute(_COUNT_DELIVERY, {"key_id": row.id})
            self._audit(s, "message.delivered", SYSTEM_SENDER, case_ref=case.case_ref, detail={
                "message_id": row.id, "name": row.name, "correlation": row.correlation or {},
                "elements": sorted({t.task_spec.bpmn_id or t.task_spec.name for t in catchers}),
                "from": row.source_case_ref or row.sender})
            return case.case_ref

    def _settle(self, row: Any, delivered: tuple[str, ...], failed: tuple[str, ...]) -> MessageResult:
        """After the deliveries: delete a delivered message, start cases with it, or keep it."""
        with self._tx() as s:
            connection = s.connection()
            current = connection.execute(_KEPT_BY_ID_LOCKED, {"message_id": row.id}).first()
            if current is None:
                return MessageResult(row.id, row.name, delivered)
            if current.delivered and not failed:
                connection.execute(_DELETE_KEPT, {"message_id": row.id})
                return MessageResult(row.id, row.name, delivered)
            if current.delivered or failed:
                return MessageResult(row.id, row.name, delivered, failed=failed, kept=True)
            started = self._start_by_message(s, current)
            if started:
                connection.execute(_DELETE_KEPT, {"message_id": row.id})
                return MessageResult(row.id, row.name, started=started)
            now = self.clock.now()
            connection.execute(_NOTE_ATTEMPT, {"key_id": row.id, "at": now, "error": None})
            if current.attempts == 0:
                self._audit(s, "message.kept", SYSTEM_SENDER, case_ref=current.source_case_ref, detail={
                    "message_id": row.id, "name": row.name, "correlation": current.correlation or {},
                    "reason": "no case waits for it and no process starts with it"})
            return MessageResult(row.id, row.name, kept=True)

    def _start_by_message(self, s: Session, row: Any) -> tuple[str, ...]:
        starter = SYSTEM_SENDER if row.source_case_ref else row.sender
        started = []
        for process_id, element_id in s.connection().execute(_STARTS_FOR, {"name": row.name}).all():
            data = {**as_received(row.payload or {}), "started_by_message": row.name}
            view = self._start_case(s, process_id, starter, data, entry=element_id, detail={
                "message": row.name, "message_id": row.id, "element": element_id,
                "from": row.source_case_ref or row.sender})
            started.append(view.case_ref)
        return tuple(started)

    def _note_attempt(self, message_id: int, error: str) -> None:
        with self._tx() as s:
            s.connection().execute(_NOTE_ATTEMPT, {"key_id": message_id, "at": self.clock.now(),
                                                   "error": error[:2000]})

    def _after_commit(self, later: list[tuple[str, Any]]) -> None:
        """Dispatch what a committed use case left (thrown messages, new waits that kept ones may fill,
        mail it queued).

        Runs after the caller's work is safely stored, so a failure here never undoes it: the
        message stays in ``message_undelivered`` and ``redeliver_kept`` tries again.
        """
        queue: deque[tuple[str, Any]] | None = getattr(self._follow_on, "queue", None)
        if queue is not None:  # already dispatching further up this thread's stack
            queue.extend(later)
            return
        self._follow_on.queue = queue = deque(later)
        try:
            for _ in range(MAX_FOLLOW_ON):
                if not queue:
                    break
                kind, value = queue.popleft()
                try:
                    if kind == "message":
                        self._dispatch(value)
                    elif kind == "mail":
                        self.deliver_mail([value])
                    else:
                        with self.db.reading() as s:
                            ids = kept_matching(s.connection(), value)
                        for message_id in ids:
                            self._dispatch(message_id)
                except Exception:  # the use case is committed; redeliver_kept / the mail job try again
                    log.exception("dispatch after commit failed (%s %s)", kind, value)
        finally:
            self._follow_on.queue = None
