"""Moving running cases to the published version of their process, where that is safe.

A case runs on the version it started on. When governance publishes a new version, they may move
selected running cases onto it. SpiffWorkflow's diff (``SpiffWorkflow.bpmn.util.diff``) aligns the
old version's task specs with the new one's; a case may move only if every step it is at (ready,
waiting or started) and every step it has passed still exists in the new version, and the steps it
is at are still the same kind of step. Everything else is refused with the reason, and the case is
left untouched.

A move rewrites, in one transaction per case: the case's definition version and state, its task
projection (re-created from the new version, so titles, candidates and due dates follow it; a claim
survives when the task and its candidates do), its timer row and its message subscriptions (through
``InstanceRunner.save``), and one ``instance.migrated`` audit event with both versions and the actor.
A waiting timer keeps the due time it already had: a changed duration applies to cases that reach
the timer afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import WorkflowDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.bpmn.compiler import CompiledDefinition
from engine.bpmn.serializer_specs import spec_registry
from engine.errors import InvalidInput, NotFound
from engine.facade_parts import FacadeParts
from engine.governance import _governance_user
from engine.instances import CaseRecord, Snapshot, load_case
from engine.models import DefinitionVersion, HumanTask, ProcessDefinition, ProcessInstance

CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
"""States of the steps a case is at: these must exist in the new version."""
PASSED = TaskState.COMPLETED | TaskState.CANCELLED
"""States of the steps a case has passed: the restored case needs their specs too."""
MAX_CASES = 500
"""Cases one check or move may name (the page lists a process's running cases)."""


@dataclass(frozen=True)
class RunningCase:
    """A running case as the migration page lists it."""

    case_ref: str
    current_step: str
    started_at: datetime


@dataclass(frozen=True)
class VersionGroup:
    """The running cases of one version of a process."""

    version_id: int
    version: int
    published: bool
    cases: tuple[RunningCase, ...]


@dataclass(frozen=True)
class MigrationOverview:
    """A process's running cases by version, and the published version they could move to."""

    process_id: str
    name: str
    published_version: int | None
    groups: tuple[VersionGroup, ...]


@dataclass(frozen=True)
class MigrationOutcome:
    """What checking or moving one case found: whether it can move (or moved), and why not."""

    case_ref: str
    from_version: int | None
    to_version: int
    movable: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class MigrationReport:
    """The outcome for every case named; ``moved`` says whether this was a move or only a check."""

    process_id: str
    to_version: int
    moved: bool
    outcomes: tuple[MigrationOutcome, ...]

    @property
    def movable(self) -> tuple[MigrationOutcome, ...]:
        """The cases that can move (or moved)."""
        return tuple(o for o in self.outcomes if o.movable)

    @property
    def refused(self) -> tuple[MigrationOutcome, ...]:
        """The cases that cannot move, each with its reasons."""
        return tuple(o for o in self.outcomes if not o.movable)


class MigrationMixin(FacadeParts):
    """Facade methods for moving running cases between versions (role ``governance``)."""

    def migration_overview(self, process_id: str, *, user: str) -> MigrationOverview:
        """The running cases of ``process_id`` grouped by the version they run on, newest first."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
            definition = s.get(ProcessDefinition, process_id)
            if definition is None:
                raise NotFound(f"There is no process '{process_id[:200]}'")
            rows = s.execute(select(DefinitionVersion.id, DefinitionVersion.version, DefinitionVersion.status,
                                    ProcessInstance.case_ref, ProcessInstance.current_step,
                                    ProcessInstance.started_at)
                             .join(ProcessInstance, ProcessInstance.definition_version_id == DefinitionVersion.id)
                             .where(ProcessInstance.process_id == process_id, ProcessInstance.status == "running")
                             .order_by(DefinitionVersion.version.desc(), ProcessInstance.started_at,
                                       ProcessInstance.case_ref)).all()
            cases: dict[tuple[int, int, bool], list[RunningCase]] = {}
            for row in rows:
                cases.setdefault((row.id, row.version, row.status == "published"), []).append(
                    RunningCase(row.case_ref, row.current_step, row.started_at))
            groups = [VersionGroup(*key, tuple(listed)) for key, listed in cases.items()]
            published = _published(s, process_id)
            return MigrationOverview(process_id, definition.name, published.version if published else None,
                                     tuple(groups))

    def check_migration(self, process_id: str, case_refs: Iterable[str], *, user: str) -> MigrationReport:
        """Dry run: which of the cases could move to the published version, and why the others cannot."""
        refs = _refs(case_refs)
        with self.db.reading() as s:
            _governance_user(self, s, user)
            target = _target(s, process_id)
            compiled = self.specs.get(s, target.id)
            outcomes = []
            for ref in refs:
                outcome, _ = _try_move(self, s, ref, process_id, target, compiled, lock=False)
                outcomes.append(outcome)
            return MigrationReport(process_id, target.version, False, tuple(outcomes))

    def migrate_instances(self, process_id: str, case_refs: Iterable[str], *, user: str) -> MigrationReport:
        """Move each case that can move to the published version, each in its own transaction.

        A case that cannot move is left as it was and reported with its reasons; one that moved
        has an ``instance.migrated`` audit event naming both versions and ``user``.
        """
        refs = _refs(case_refs)
        with self.db.reading() as s:
            _governance_user(self, s, user)
            to_version = _target(s, process_id).version
        outcomes = [self._migrate_one(process_id, ref, user) for ref in refs]
        return MigrationReport(process_id, to_version, True, tuple(outcomes))

    def _migrate_one(self, process_id: str, ref: str, user: str) -> MigrationOutcome:
        with self._tx() as s:
            actor = _governance_user(self, s, user)
            target = _target(s, process_id)
            compiled = self.specs.get(s, target.id)
            outcome, move = _try_move(self, s, ref, process_id, target, compiled, lock=True)
            if move is None:
                return outcome
            case = move.case
            from_version_id, case.definition_version_id = case.definition_version_id, target.id
            s.connection().execute(delete(HumanTask).where(HumanTask.instance_id == case.id))
            ready, _ = self._runner(s).save(case, move.workflow, move.before)
            for view in ready:
                claim = move.claims.get(view.id)
                if claim and claim[1] == view.candidate_roles:
                    s.connection().execute(update(HumanTask).where(HumanTask.id == view.id)
                                           .values(claimed_by=claim[0]))
            self._audit(s, "instance.migrated", actor.username, case_ref=case.case_ref, detail={
                "process_id": process_id, "from_version": outcome.from_version, "to_version": target.version,
                "from_version_id": from_version_id, "to_version_id": target.id})
            return outcome


@dataclass
class _Move:
    """A case whose workflow has been migrated in memory, and what saving it needs."""

    case: CaseRecord
    workflow: BpmnWorkflow
    before: Snapshot
    """What the projections are compared with: no tasks (they are re-created), the old timer."""
    claims: dict[str, tuple[str, tuple[str, ...]]]
    """Task id -> (claimed by, candidate roles) before the move."""


def _try_move(facade: Any, s: Session, ref: str, process_id: str, target: DefinitionVersion,
              compiled: CompiledDefinition, *, lock: bool) -> tuple[MigrationOutcome, _Move | None]:
    """Migrate the case's workflow in memory; the outcome, and what to save if it can move."""
    try:
        case = load_case(s.connection(), ref, lock=lock)
    except NotFound:
        return MigrationOutcome(ref, None, target.version, False, (f"There is no case {ref}",)), None
    from_version = facade.specs.version_number(s, case.definition_version_id)

    def refused(*reasons: str) -> tuple[MigrationOutcome, None]:
        return MigrationOutcome(case.case_ref, from_version, target.version, False, reasons), None

    if case.process_id != process_id:
        return refused(f"Case {case.case_ref} belongs to another process ({case.process_id})")
    if case.status != "running":
        return refused(f"Case {case.case_ref} is {case.status}, so there is nothing to move")
    if case.definition_version_id == target.id:
        return refused(f"Case {case.case_ref} is already on version {target.version}")
    old = facade.specs.get(s, case.definition_version_id)
    runner = facade._runner(s)
    workflow = runner.restore(case, old)
    before = Snapshot.of(workflow, old)
    top, subprocess_diffs = diff_workflow(spec_registry(), workflow, compiled.spec, compiled.subprocess_specs)
    diffs = [(workflow, top)] + [(workflow.subprocesses[sp_id], d) for sp_id, d in subprocess_diffs.items()]
    reasons = _blockers(diffs, target.version)
    if reasons:
        return refused(*reasons)
    claims = {row.id: (row.claimed_by, tuple(row.candidate_roles or ())) for row in s.execute(
        select(HumanTask.id, HumanTask.claimed_by, HumanTask.candidate_roles).where(
            HumanTask.instance_id == case.id, HumanTask.claimed_by.is_not(None)))}
    reasons = _migrate(workflow, diffs, compiled, target.version)
    if not reasons:
        reasons = _round_trip(runner, workflow, compiled)
    if reasons:
        return refused(*reasons)
    subscriptions = before.subscriptions if old.has_messages else frozenset() if compiled.has_messages else None
    return (MigrationOutcome(case.case_ref, from_version, target.version, True),
            _Move(case, workflow, Snapshot(frozenset(), before.due, subscriptions), claims))


def _blockers(diffs: list[tuple[Any, WorkflowDiff | None]], version: int) -> list[str]:
    """Why SpiffWorkflow's diff says the case cannot move: steps it is at, or passed, that are gone."""
    reasons: list[str] = []
    for sub, diff in diffs:
        if diff is None:
            reasons.append(f"the subprocess '{_name(sub.spec)}' no longer exists in version {version}")
            continue
        for task in diff.removed:
            if task.state & CURRENT:
                reasons.append(f"task '{_name(task.task_spec)}' no longer exists in version {version}")
            elif task.state & PASSED:
                reasons.append(f"the case has passed '{_name(task.task_spec)}', which version {version} no "
                               "longer has")
        for task in diff.changed:
            new_spec = diff.alignment.get(task)
            if task.state & CURRENT and new_spec is not None and type(new_spec) is not type(task.task_spec):
                reasons.append(f"task '{_name(task.task_spec)}' is a different kind of step in version {version}")
        for task, new_spec in diff.alignment.items():
            # SpiffWorkflow aligns a step whose id changed with whatever now stands in its place; a case
            # waiting there would silently wait at another step, so it stays (the element id is the step).
            old_id = getattr(task.task_spec, "bpmn_id", None)
            if task.state & CURRENT and old_id is not None and getattr(new_spec, "bpmn_id", None) != old_id:
                reasons.append(f"task '{_name(task.task_spec)}' no longer exists in version {version} "
                               f"('{_name(new_spec)}' stands in its place)")
    return list(dict.fromkeys(reasons))


def _migrate(workflow: BpmnWorkflow, diffs: list[tuple[Any, WorkflowDiff | None]], compiled: CompiledDefinition,
             version: int) -> list[str]:
    """Point the workflow (and its subprocesses) at the new specs; waiting timers keep their due times."""
    timers = {task.id: {k: v for k, v in task.internal_data.items() if k.startswith("event_value")}
              for task in workflow.get_tasks(state=TaskState.WAITING)}
    for sub, diff in diffs:
        assert diff is not None  # _blockers refused the case otherwise
        spec = compiled.spec if sub is workflow else compiled.subprocess_specs[sub.spec.name]
        migrate_workflow(diff, sub, spec)
    for task in workflow.get_tasks(state=TaskState.WAITING):
        task.internal_data.update(timers.get(task.id, {}))
    known = {id(spec) for spec in compiled.spec.task_specs.values()}
    known |= {id(spec) for sub in compiled.subprocess_specs.values() for spec in sub.task_specs.values()}
    left = sorted({_name(t.task_spec) for t in workflow.get_tasks() if id(t.task_spec) not in known})
    return [f"step '{name}' could not be matched to version {version}" for name in left]


def _round_trip(runner: Any, workflow: BpmnWorkflow, compiled: CompiledDefinition) -> list[str]:
    """The migrated state must load again on the new version's specs."""
    try:
        runner.serializer.loads(runner.serializer.dumps(workflow), runner.serializer.VERSION, compiled.spec,
                                compiled.subprocess_specs)
    except Exception as error:  # noqa: BLE001 - any failure means the case must not move
        return [f"the case's state does not load on the new version ({type(error).__name__})"]
    return []


def _name(spec: Any) -> str:
    return str(getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name)


def _refs(case_refs: Iterable[str]) -> list[str]:
    refs = list(dict.fromkeys(str(r).strip().upper() for r in case_refs if str(r).strip()))
    if not refs:
        raise InvalidInput("Choose at least one case", {"cases": "Select the cases to check or move"})
    if len(refs) > MAX_CASES:
        raise InvalidInput(f"Choose at most {MAX_CASES} cases at a time", {"cases": "Too many cases"})
    return refs


def _published(s: Session, process_id: str) -> DefinitionVersion | None:
    return s.scalars(select(DefinitionVersion).where(DefinitionVersion.process_id == process_id,
                                                     DefinitionVersion.status == "published")).first()


def _target(s: Session, process_id: str) -> DefinitionVersion:
    target = _published(s, process_id)
    if target is None:
        raise NotFound(f"Process '{process_id[:200]}' has no published version to move cases to")
    return target

