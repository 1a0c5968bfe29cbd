"""``SandboxMixin``: the facade's test-run use cases (see ``engine.sandbox``)."""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from engine import audit
from engine import definitions as defs
from engine.catalogue import CatalogueSync
from engine.db import Database
from engine.errors import Conflict, InvalidInput, NotFound
from engine.facade_parts import FacadeParts
from engine.governance import _governance_user
from engine.models import DefinitionVersion, MessageStart, ProcessDefinition, ProcessInstance, StartTimer, Timer
from engine.models.audit import AuditEvent
from engine.models.recording import Recording
from engine.queries import CasePage
from engine.roles import ROLES
from engine.sandbox import _store as store
from engine.sandbox import _world as world
from engine.sandbox._sample import parse_sample, start_form_sample
from engine.views import InstanceView, TaskDetail, TaskView

log = logging.getLogger(__name__)
SYSTEM = "system:sandbox"
DEFAULT_KEEP = timedelta(days=7)
MAX_RUNS_PER_OFFICER = 20


@dataclass(frozen=True)
class TestRunSummary:
    """One test run as a list shows it."""

    __test__ = False  # not a pytest test class, whatever its name

    run_id: str
    owner: str
    process_id: str
    process_name: str
    version_id: int
    version: int
    version_status: str
    created_at: datetime
    expires_at: datetime
    case_ref: str | None
    status: str
    sandbox_now: datetime


@dataclass(frozen=True)
class TestRunView:
    """A test run's page: its case (path, tasks, data, timeline), who does each task, what happened
    in the sandbox, the mails it would have sent, its next timer, and calls to ask for."""

    __test__ = False

    run: TestRunSummary
    page: CasePage
    actors: Mapping[str, str | None]
    """Task id -> the sandbox person who does it (None: nobody can)."""
    events: tuple[AuditEvent, ...]
    mails: tuple[store.SandboxMail, ...]
    next_timer: datetime | None
    sample_calls: tuple[Recording, ...]


@dataclass(frozen=True)
class TestRunTask:
    """A test run's waiting task with its real form, and the sandbox person doing it."""

    __test__ = False  # not a pytest test class, whatever its name

    run: TestRunSummary
    detail: TaskDetail
    actor: str


class SandboxMixin(FacadeParts):
    """Facade methods for test runs (role ``governance``); mixed into ``Callgov``."""

    sandbox_root: Path | None = None
    """Where runs are kept; default ``<instance>/sandbox`` (see ``sandbox_folder``)."""

    @property
    def sandbox_folder(self) -> Path:
        """``sandbox_root`` if set; else ``<instance>/sandbox`` of the configured settings; else beside a
        SQLite database file; else a folder in the system's temporary directory."""
        if self.sandbox_root is not None:
            return self.sandbox_root
        settings = getattr(self.services, "settings", None)
        if settings is not None:
            return Path(settings.instance_path) / "sandbox"
        url = self.db.url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            return Path(url.removeprefix("sqlite:///")).resolve().parent / "sandbox"
        return Path(tempfile.gettempdir()) / f"callgov-sandbox-{sha256(url.encode()).hexdigest()[:12]}"

    @property
    def sandbox_keep(self) -> timedelta:
        """How long a run is kept after it starts (``CALLGOV_SANDBOX_KEEP_DAYS``, default 7)."""
        environ = getattr(getattr(self.services, "settings", None), "environ", {}) or {}
        days = str(environ.get("CALLGOV_SANDBOX_KEEP_DAYS") or "").strip()
        return timedelta(days=int(days)) if days.isdigit() and int(days) > 0 else DEFAULT_KEEP

    # -- use cases -------------------------------------------------------------------------------

    def test_run_form(self, version_id: int, *, user: str) -> tuple[defs.DefinitionView, str]:
        """The version a test run would start, and the sample data offered (its start form's fields)."""
        with self.db.reading() as s:
            self._governance(s, user)
            version = _version(s, version_id)
            definition = s.get(ProcessDefinition, version.process_id)
            assert definition is not None
            return defs.view_of(version, definition), start_form_sample(version.bpmn_xml)

    def start_test_run(self, version_id: int, *, user: str, sample: str = "{}",
                       start_as: str = "staff") -> TestRunSummary:
        """Start a test run of a stored version: a sandbox with the version published, and a case
        started as the sandbox person holding ``start_as`` with the ``sample`` data (JSON)."""
        data = parse_sample(sample)
        if start_as not in ROLES:
            raise InvalidInput("Choose who starts the case", {"start_as": "Choose one of the roles"})
        with self.db.reading() as s:
            officer = self._governance(s, user)
            version = _version(s, version_id)
            definition = s.get(ProcessDefinition, version.process_id)
            assert definition is not None
            xml, filename = version.bpmn_xml, version.filename or f"{version.process_id}.bpmn"
            record = store.RunRecord(
                run_id=secrets.token_hex(8), owner=officer, process_id=version.process_id,
                process_name=definition.name, version_id=version.id, version=version.version,
                version_status=version.status, seed=secrets.randbelow(2**31), created_at=self.clock.now(),
                clock_offset=timedelta(0), case_ref=None)
        self.clean_up_test_runs()
        if len(self._runs_of(officer)) >= MAX_RUNS_PER_OFFICER:
            raise Conflict(f"You have {MAX_RUNS_PER_OFFICER} test runs; discard some before starting another")
        folder, db = self.sandbox_folder, None
        try:
            db = store.create(folder, record)
            case = self._set_up(db, record, xml, filename, data, world.role_user(start_as))
            with self._tx() as s:
                self._audit(s, "sandbox.run_started", officer, detail={
                    "run": record.run_id, "process_id": record.process_id, "version": record.version})
        except BaseException:
            if db is not None:
                db.dispose()
            store.delete(folder, record.run_id)
            raise
        try:
            return _summary(store.read(db), case.case_ref, case.status, self.clock.now(), self.sandbox_keep)
        finally:
            db.dispose()

    def test_runs(self, *, user: str) -> list[TestRunSummary]:
        """The signed-in officer's test runs, newest first."""
        with self.db.reading() as s:
            officer = self._governance(s, user)
        return self._runs_of(officer)

    def test_run(self, run_id: str, *, user: str) -> TestRunView:
        """One of the officer's test runs, as its page shows it."""
        with self._opened(run_id, user) as (db, run), self._sandbox(db, run) as box:
            return _view(box, db, run, self.sandbox_keep)

    def test_run_diagram(self, run_id: str, *, user: str) -> str:
        """The BPMN XML the test run runs."""
        with self._opened(run_id, user) as (db, _), db.reading() as s:
            return str(s.scalar(select(DefinitionVersion.bpmn_xml).limit(1)))

    def test_run_task(self, run_id: str, task_id: str, *, user: str) -> TestRunTask:
        """A waiting task of the run's case with its form, and the sandbox person who does it."""
        with self._opened(run_id, user) as (db, run), self._sandbox(db, run) as box:
            actor = _actor_of(box, run, task_id)
            return TestRunTask(_summary_of(box, run, self.sandbox_keep), box.task(task_id, user=actor), actor)

    def complete_test_task(self, run_id: str, task_id: str, *, user: str, data: Mapping[str, Any]) -> TestRunSummary:
        """Complete a waiting task of the run's case with the submitted form (validated as live)."""
        with self._opened(run_id, user) as (db, run), self._sandbox(db, run) as box:
            box.complete_task(task_id, user=_actor_of(box, run, task_id), data=data)
            return _summary_of(box, run, self.sandbox_keep)

    def fire_test_timers(self, run_id: str, *, user: str) -> tuple[datetime, list[str]]:
        """Move the run's clock to its next timer and fire every timer due then; return the new
        sandbox time and the elements that fired. ``Conflict`` when no timer is waiting."""
        with self._opened(run_id, user) as (db, run), self._sandbox(db, run) as box:
            with db.reading() as s:
                due = s.scalar(select(func.min(Timer.due_at)))
            if due is None:
                raise Conflict("No timer is waiting in this test run")
            box.clock.offset += max(due - box.clock.now(), timedelta(0))
            fired = box.fire_due_timers()
            store.set_offset(db, box.clock.offset)  # only once they fired: a failure leaves the clock as it was
            return box.clock.now(), [element for f in fired for element in f.elements]

    def discard_test_run(self, run_id: str, *, user: str) -> TestRunSummary:
        """Delete a test run and everything in its sandbox."""
        with self._opened(run_id, user) as (db, run):
            summary = _summary(run, run.case_ref, "discarded", self.clock.now(), self.sandbox_keep)
        self._drop(run_id)
        with self._tx() as s:
            self._audit(s, "sandbox.run_discarded", run.owner, detail={
                "run": run_id, "process_id": run.process_id, "version": run.version})
        return summary

    def clean_up_test_runs(self) -> int:
        """Delete the runs started more than ``sandbox_keep`` ago; return how many went."""
        folder, now, keep = self.sandbox_folder, self.clock.now(), self.sandbox_keep
        gone = 0
        for run_id in store.run_ids(folder):
            run = self._read_quietly(run_id)
            # A file that cannot be read may be a run still being set up: judged by its age on disk.
            started = run.created_at if run is not None else store.modified_at(folder, run_id)
            if started is None or started + keep > now:
                continue
            self._drop(run_id)
            with self._tx() as s:
                self._audit(s, "sandbox.run_expired", SYSTEM, detail={"run": run_id, **({
                    "process_id": run.process_id, "version": run.version, "owner": run.owner} if run else {})})
            gone += 1
        return gone

    # -- helpers ---------------------------------------------------------------------------------

    def _governance(self, s: Any, user: str) -> str:
        return str(_governance_user(self, s, user).username)

    def _set_up(self, db: Database, record: store.RunRecord, xml: str, filename: str,
                data: Mapping[str, Any], starter: str) -> InstanceView:
        """Deploy the version in the new sandbox, add its people and calls, and start the case."""
        with self._sandbox(db, record) as box:
            with db.transaction() as s:
                world.add_people(s, box.clock.now())
            box.deploy(xml.encode("utf-8"), filename=filename, actor=SYSTEM, publish=True,
                       summary=f"Test run of version {record.version}")
            with db.transaction() as s:  # the run tests one case: no case starts by itself
                s.execute(delete(StartTimer))
                s.execute(delete(MessageStart))
            CatalogueSync(db, box.services.telephony, clock=box.clock, window=timedelta(days=91)).run()
            case = box.start(record.process_id, user=starter, data=data)
        store.set_case(db, case.case_ref)
        return case

    @contextmanager
    def _opened(self, run_id: str, user: str) -> Iterator[tuple[Database, store.RunRecord]]:
        """An officer's own run's database (disposed of afterwards); ``NotFound`` for anyone else's."""
        with self.db.reading() as s:
            officer = self._governance(s, user)
        db = store.open_run(self.sandbox_folder, run_id)
        try:
            run = store.read(db)
            if run.owner != officer:
                raise NotFound("There is no such test run of yours")
            yield db, run
        finally:
            db.dispose()

    @contextmanager
    def _sandbox(self, db: Database, run: store.RunRecord) -> Iterator[Any]:
        """The run's own engine (a ``Callgov`` of the same class on the run's database); what its
        processes mailed is kept when the block ends."""
        clock = world.SandboxClock(self.clock, run.clock_offset)
        services = world.services(self.sandbox_folder / run.run_id, run.seed, run.created_at)
        box = type(self)(db, clock=clock, operations=self.operations, services=services)  # type: ignore[call-arg]
        box.specs = self._sandbox_specs(run.run_id)
        try:
            yield box
        finally:
            store.keep_mail(db, [(clock.now(), ", ".join(m.to), m.subject, m.text) for m in services.mailer.sent])

    def _sandbox_specs(self, run_id: str) -> defs.SpecCache:
        """Each run's parsed diagram, kept between requests (a few runs at a time)."""
        with _SPECS_LOCK:
            caches: OrderedDict[str, defs.SpecCache] = self.__dict__.setdefault("_sandbox_spec_caches", OrderedDict())
            cache = caches.get(run_id) or defs.SpecCache(self.operations, size=2)
            caches[run_id] = cache
            caches.move_to_end(run_id)
            while len(caches) > 16:
                caches.popitem(last=False)
            return cache

    def _runs_of(self, officer: str) -> list[TestRunSummary]:
        runs = []
        now, keep = self.clock.now(), self.sandbox_keep
        for run_id in store.run_ids(self.sandbox_folder):
            run = self._read_quietly(run_id, status=True)
            if run is not None and run[0].owner == officer:
                runs.append(_summary(run[0], run[0].case_ref, run[1], now + run[0].clock_offset, keep))
        return sorted(runs, key=lambda r: r.created_at, reverse=True)

    def _read_quietly(self, run_id: str, *, status: bool = False) -> Any:
        """A run's record (and its case's status), or None when its file cannot be read."""
        try:
            db = store.open_run(self.sandbox_folder, run_id)
        except NotFound:
            return None
        try:
            run = store.read(db)
            if not status:
                return run
            with db.reading() as s:
                found = s.scalar(select(ProcessInstance.status).where(ProcessInstance.case_ref == run.case_ref))
            return run, found or "not started"
        except (SQLAlchemyError, ValueError) as error:
            log.warning("test run %s cannot be read: %s", run_id, error)
            return None
        finally:
            db.dispose()

    def _drop(self, run_id: str) -> None:
        with _SPECS_LOCK:
            self.__dict__.get("_sandbox_spec_caches", {}).pop(run_id, None)
        store.delete(self.sandbox_folder, run_id)


_SPECS_LOCK = threading.Lock()


def _version(s: Any, version_id: int) -> DefinitionVersion:
    row = s.get(DefinitionVersion, version_id)
    if row is None:
        raise NotFound(f"Definition version {version_id} does not exist; only a draft that passes the checks "
                       "is stored as a version and can be test-run")
    return row


def _summary(run: store.RunRecord, case_ref: str | None, status: str, sandbox_now: datetime,
             keep: timedelta) -> TestRunSummary:
    return TestRunSummary(run.run_id, run.owner, run.process_id, run.process_name, run.version_id, run.version,
                          run.version_status, run.created_at, run.created_at + keep, case_ref, status, sandbox_now)


def _summary_of(box: Any, run: store.RunRecord, keep: timedelta) -> TestRunSummary:
    case = box.instance(run.case_ref)
    return _summary(run, run.case_ref, case.status, box.clock.now(), keep)


def _view(box: Any, db: Database, run: store.RunRecord, keep: timedelta) -> TestRunView:
    case = box.instance(run.case_ref)
    page = box.case_for(run.case_ref, user=case.started_by)
    with db.reading() as s:
        events = tuple(reversed(audit.events_for(s, limit=1000)))
        due = s.scalar(select(func.min(Timer.due_at)))
        calls = tuple(s.scalars(select(Recording).where(Recording.recording_type.is_not(None))
                                .order_by(Recording.start_time.desc()).limit(5)))
        for call in calls:
            s.expunge(call)
    actors = {t.id: _who(t) for t in case.ready_tasks}
    return TestRunView(_summary(run, run.case_ref, case.status, box.clock.now(), keep), page, actors, events,
                       tuple(store.mails(db)), due, calls)


def _who(task: TaskView) -> str | None:
    """The sandbox person who does ``task``: its assignee, else the holder of its first role who is
    not barred from it (a second holder when the first started the case)."""
    if task.assignee:
        return task.assignee
    for role in task.candidate_roles:
        for name in (world.role_user(role), f"{world.role_user(role)}.2"):
            if name not in task.excluded_users:
                return name
    return None


def _actor_of(box: Any, run: store.RunRecord, task_id: str) -> str:
    """The person to act as on a waiting task of the run's case, added to the sandbox if need be."""
    task = next((t for t in box.instance(run.case_ref).ready_tasks if t.id == task_id), None)
    if task is None:
        raise NotFound("That task is not waiting in this test run; it may have been done or cancelled")
    actor = _who(task)
    if actor is None:
        raise Conflict("Nobody can do this task: it names no role and no person")
    with box.db.transaction() as s:
        if actor not in world.existing(s, [actor]):
            role = next((r for r in task.candidate_roles if actor.startswith(world.role_user(r))), "staff")
            world.add_person(s, actor, role, box.clock.now())
    return actor
