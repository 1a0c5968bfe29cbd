"""Benchmark: fire the 100 due timers among 10,000 and among 100,000 cases waiting on timers.

Each population is a database of genuine cases of one small process: a user task "Reply to the
requester" with an interrupting boundary timer at the case's ``respond_by`` date, which escalates
to the DPO. A few cases are started through the ``Callgov`` facade; the rest are their clones,
written with executemany: each clone gets its own id, case reference, start time, due date and
fresh task UUIDs, rewritten consistently in the SpiffWorkflow state, the ``human_task`` and
``task_candidate`` rows and the ``timer`` row. A sample of clones is restored through the engine and
checked against its projection every time a population is opened.

100 cases, spread over the population, are due a few minutes or hours before the fake clock's
"now"; all the others are due between a day and three years later. A round re-arms the 100 (their
rows are rewritten as they were before they fired), times one ``fire_due_timers()`` call, and checks
that exactly those 100 fired and moved on to the escalation task. The populations run in
alternating rounds and each one's best round counts (the machines here are noisy). The last line
printed is the ratio time(100,000) / time(10,000); the target is at most 1.5, since the cost should
follow what is due, not what is waiting.

SQLite files are kept in ``bench/.data/`` and reused while they are complete and of the current
format; ``--postgres URL`` uses the schemas ``timer_scan_<cases>`` in that database instead (drop
them when done).

    python bench/timer_scan.py
    python bench/timer_scan.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, create_engine, delete, func, insert, select, text, update

import engine.models  # noqa: F401  (registers every table)
from engine import audit
from engine.bpmn.serializer import StateSerializer
from engine.clock import FakeClock
from engine.db import Base, Database
from engine.facade import Callgov, FiredTimers
from engine.instances import load_case, next_timer_due, ready_human_tasks
from engine.models import CaseCounter, HumanTask, ProcessInstance, TaskCandidate, Timer

DATA_DIR = Path(__file__).resolve().parent / ".data"
DUE = 100
BUILD_BATCH = 5_000
FIRE_AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
"""The fake clock's "now" while timers fire."""
TEMPLATES_AT = FIRE_AT - timedelta(days=92)
STAFF = ("sam", "sally", "sid")  # one real (template) case each
PROCESS_ID = "timer_scan"
BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="timer_scan_defs" targetNamespace="http://callgov.example/bench">
  <bpmn:process id="timer_scan" name="Reply by a date, or escalate" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="reply"/>
    <bpmn:userTask id="reply" name="Reply to the requester" camunda:candidateGroups="staff"/>
    <bpmn:boundaryEvent id="chase" name="No reply by the date" attachedToRef="reply">
      <bpmn:timerEventDefinition><bpmn:timeDate>respond_by</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="reply" targetRef="replied"/>
    <bpmn:endEvent id="replied"/>
    <bpmn:sequenceFlow id="f3" sourceRef="chase" targetRef="escalate"/>
    <bpmn:userTask id="escalate" name="Reply overdue: escalated" camunda:candidateGroups="dpo"/>
    <bpmn:sequenceFlow id="f4" sourceRef="escalate" targetRef="escalated"/>
    <bpmn:endEvent id="escalated"/>
  </bpmn:process>
</bpmn:definitions>
"""
# A population is reused only if it was built by this script (bump the "/1" whenever the population
# changes), from the same BPMN, for the same tables and by the same serializer and SpiffWorkflow.
SCHEMA = sorted(f"{table.name}.{column.name}:{column.type}" for table in Base.metadata.sorted_tables
                for column in table.columns)
FORMAT = ";".join([
    "timer_scan/1", hashlib.sha256(BPMN).hexdigest()[:12], hashlib.sha256(repr(SCHEMA).encode()).hexdigest()[:12],
    FIRE_AT.isoformat(), StateSerializer.VERSION, f"spiff-{package_version('SpiffWorkflow')}",
])

CASES = cast(Table, ProcessInstance.__table__)
TASKS = cast(Table, HumanTask.__table__)
CANDIDATES = cast(Table, TaskCandidate.__table__)
TIMERS = cast(Table, Timer.__table__)
COUNTERS = cast(Table, CaseCounter.__table__)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: multiplying by it mod 2**128 is a bijection
_SALT = 0x2545F4914F6CDD1D5DEECE66DB5A4F3B


# --- the cases --------------------------------------------------------------------------------------


@dataclass
class Template:
    """A case started through the facade, split so that clones are a string join away."""

    case: dict[str, Any]
    tasks: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    due: datetime
    parts: list[str]
    """The state JSON split on its tokens: literal text at even indexes, a token at odd ones."""
    uuids: list[str]

    @classmethod
    def load(cls, connection: Any, case_ref: str) -> Template:
        case = dict(connection.execute(select(CASES).where(CASES.c.case_ref == case_ref)).one()._mapping)
        tasks = [dict(r._mapping) for r in connection.execute(select(TASKS).where(TASKS.c.instance_id == case["id"]))]
        candidates = [dict(r._mapping) for r in connection.execute(
            select(CANDIDATES).where(CANDIDATES.c.task_id.in_([t["id"] for t in tasks])))]
        due = connection.execute(select(TIMERS.c.due_at).where(TIMERS.c.instance_id == case["id"])).scalar_one()
        state: str = case["state"]
        uuids = list(dict.fromkeys(_UUID.findall(state)))
        tokens = [*uuids, case_ref, case["started_at"].isoformat(), due.isoformat()]
        for token in tokens[len(uuids):]:
            if token not in state:
                raise SystemExit(f"the template case {case_ref} does not hold {token!r} in its state; "
                                 "the engine's state format changed: update this bench")
        if not {t["id"] for t in tasks} <= set(uuids):
            raise SystemExit(f"the tasks of template case {case_ref} are not in its state")
        parts = re.split("(" + "|".join(map(re.escape, tokens)) + ")", state)
        return cls(case, tasks, candidates, due, parts, uuids)


@dataclass
class Clone:
    """The rows of one cloned case."""

    case: dict[str, Any]
    tasks: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    timer: dict[str, Any]


class Population:
    """``cases`` waiting cases: the templates, then clones numbered 0, 1, ... of them round-robin."""

    def __init__(self, templates: list[Template], cases: int) -> None:
        self.templates = templates
        self.cases = cases
        self.clones = cases - len(templates)
        self.first_id = max(t.case["id"] for t in templates) + 1
        self.first_number = int(templates[-1].case["case_ref"].rsplit("-", 1)[1]) + 1
        self.prefix = templates[0].case["case_ref"].rsplit("-", 2)[0]
        step = self.clones // DUE
        self.due_clones = [k * step + step // 2 for k in range(DUE)]
        self.due_rank = {index: rank for rank, index in enumerate(self.due_clones)}

    def instance_id(self, index: int) -> int:
        return self.first_id + index

    def case_ref(self, index: int) -> str:
        return f"{self.prefix}-{FIRE_AT.year}-{self.first_number + index:05d}"

    def times_of(self, index: int) -> tuple[datetime, datetime]:
        """When clone ``index`` started (1 to 91 days ago) and when its timer is due."""
        started = FIRE_AT - timedelta(days=1, minutes=index * 7919 % (90 * 24 * 60))
        rank = self.due_rank.get(index)
        if rank is not None:  # late by 1 minute to 12 hours
            return started, FIRE_AT - timedelta(minutes=1 + rank * 7)
        return started, FIRE_AT + timedelta(days=1, minutes=index * 104_729 % (3 * 365 * 24 * 60))

    def clone(self, index: int) -> Clone:
        """The rows of clone ``index``: the same every time (re-arming rewrites them as built)."""
        template = self.templates[index % len(self.templates)]
        instance_id, case_ref = self.instance_id(index), self.case_ref(index)
        started, due = self.times_of(index)
        swap = {old: str(UUID(int=((instance_id << 8 | k) * _MIX + _SALT) % 2**128, version=4))
                for k, old in enumerate(template.uuids)}
        swap[template.case["case_ref"]] = case_ref
        swap[template.case["started_at"].isoformat()] = started.isoformat()
        swap[template.due.isoformat()] = due.isoformat()
        parts = template.parts
        state = "".join([part if n % 2 == 0 else swap[part] for n, part in enumerate(parts)])
        case = {**template.case, "id": instance_id, "case_ref": case_ref, "state": state,
                "started_at": started, "updated_at": started}
        tasks = [{**row, "id": swap[row["id"]], "instance_id": instance_id, "case_ref": case_ref,
                  "created_at": started} for row in template.tasks]
        candidates = [{**row, "task_id": swap[row["task_id"]]} for row in template.candidates]
        return Clone(case, tasks, candidates, {"instance_id": instance_id, "case_ref": case_ref, "due_at": due})

    def write(self, connection: Any, indexes: list[int]) -> None:
        """Insert the rows of these clones (executemany per table)."""
        clones = [self.clone(i) for i in indexes]
        connection.execute(insert(CASES), [c.case for c in clones])
        connection.execute(insert(TASKS), [t for c in clones for t in c.tasks])
        connection.execute(insert(CANDIDATES), [t for c in clones for t in c.candidates])
        connection.execute(insert(TIMERS), [c.timer for c in clones])


_REARM_CASE = update(CASES).where(CASES.c.id == bindparam("where_id")).values(
    {name: bindparam(name) for name in CASES.c.keys() if name != "id"})


class Bench:
    """One population in its database, with the facade on a fake clock at ``FIRE_AT``."""

    def __init__(self, url: str, cases: int, *, schema: str | None, rebuild: bool) -> None:
        self.url, self.cases, self.schema = url, cases, schema
        self.clock = FakeClock(FIRE_AT)
        self.times: list[float] = []
        self.checked = 0
        self.db = self._open()
        try:
            problem = "--rebuild" if rebuild else self._load()
        except Exception as error:  # rows the engine of today cannot take back: rebuild
            problem = f"{type(error).__name__}: {error}"
        self.how = "reused"
        if problem is not None:
            self.db.dispose()
            self._drop()
            self.db = self._open()
            started = time.perf_counter()
            self._build()
            self.how = f"built in {time.perf_counter() - started:.1f} s: {problem}"
            problem = self._load()
            if problem is not None:
                raise SystemExit(f"the population just built is not genuine: {problem}")

    def _load(self) -> str | None:
        """Open the population and arm its due timers: None if it is complete and genuine, else why not."""
        if not self._is_complete():
            return "none there, incomplete or of another format"
        self.callgov = Callgov(self.db, clock=self.clock)
        with self.db.engine.connect() as connection:
            templates = [Template.load(connection, ref) for ref in self._template_refs(connection)]
        self.population = Population(templates, self.cases)
        self.due_ids = [self.population.instance_id(i) for i in self.population.due_clones]
        self.due_refs = {self.population.case_ref(i) for i in self.population.due_clones}
        due = self.arm()
        if due != DUE:
            return f"{due} timers are due after arming, not {DUE}"
        return self._check_sample()

    # -- the database ----------------------------------------------------------------------------

    def _open(self) -> Database:
        if self.schema is None:
            return Database(self.url)
        return Database(self.url, connect_args={"options": f"-csearch_path={self.schema}"})

    def _drop(self) -> None:
        if self.schema is None:
            path = Path(self.url.removeprefix("sqlite:///"))
            for stale in path.parent.glob(f"{path.name}*"):
                stale.unlink()
            return
        admin = create_engine(self.url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()

    def _is_complete(self) -> bool:
        """Whether the database holds the population this script builds, in the current format."""
        try:
            with self.db.engine.connect() as connection:
                meta = connection.execute(text("SELECT format, cases FROM bench_meta")).one()
                count = connection.execute(select(func.count()).select_from(CASES)).scalar_one()
        except Exception:  # a missing table, an empty or broken file: rebuild
            return False
        return tuple(meta) == (FORMAT, self.cases) and count == self.cases

    @staticmethod
    def _template_refs(connection: Any) -> list[str]:
        return [r for (r,) in connection.execute(text("SELECT case_ref FROM bench_template ORDER BY case_ref"))]

    def _build(self) -> None:
        # A throwaway bench database, like the tests' ones: create_all stands in for the migrations.
        Base.metadata.create_all(self.db.engine)
        with self.db.engine.begin() as connection:
            for statement in audit.append_only_ddl(self.db.dialect):
                connection.exec_driver_sql(statement)
        callgov = Callgov(self.db, clock=FakeClock(TEMPLATES_AT))
        callgov.add_user("dana", roles=["dpo"], password="benchmark-password", actor="bench")
        for name in STAFF:
            callgov.add_user(name, roles=["staff"], password="benchmark-password", actor="bench")
        callgov.deploy(BPMN, filename=f"{PROCESS_ID}.bpmn", actor="bench", publish=True)
        refs = [callgov.start(PROCESS_ID, user=name, data={"respond_by": FIRE_AT + timedelta(days=400, hours=k)})
                .case_ref for k, name in enumerate(STAFF)]
        with self.db.engine.begin() as connection:
            population = Population([Template.load(connection, ref) for ref in refs], self.cases)
            for start in range(0, population.clones, BUILD_BATCH):
                population.write(connection, list(range(start, min(start + BUILD_BATCH, population.clones))))
            connection.execute(update(COUNTERS).where(COUNTERS.c.prefix == population.prefix).values(
                last_number=population.first_number + population.clones - 1))
            if self.db.dialect == "postgresql":
                connection.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                                        "(SELECT max(id) FROM process_instance))"))
            connection.execute(text("CREATE TABLE bench_template (case_ref VARCHAR(40))"))
            connection.execute(text("INSERT INTO bench_template VALUES (:ref)"), [{"ref": r} for r in refs])
            connection.execute(text("CREATE TABLE bench_meta (format TEXT, cases INTEGER)"))
            connection.execute(text("INSERT INTO bench_meta VALUES (:f, :n)"), {"f": FORMAT, "n": self.cases})
        if self.db.dialect == "postgresql":
            with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))

    # -- a round ---------------------------------------------------------------------------------

    def arm(self) -> int:
        """Put the 100 due cases back as they were built (waiting on the reply); return how many are due."""
        clones = [self.population.clone(i) for i in self.population.due_clones]
        with self.db.transaction() as s:
            connection = s.connection()
            connection.execute(delete(TASKS).where(TASKS.c.instance_id.in_(self.due_ids)))  # candidates cascade
            connection.execute(delete(TIMERS).where(TIMERS.c.instance_id.in_(self.due_ids)))
            connection.execute(_REARM_CASE, [{**c.case, "where_id": c.case["id"]} for c in clones])
            connection.execute(insert(TASKS), [t for c in clones for t in c.tasks])
            connection.execute(insert(CANDIDATES), [t for c in clones for t in c.candidates])
            connection.execute(insert(TIMERS), [c.timer for c in clones])
            due = connection.execute(select(func.count()).select_from(TIMERS).where(
                TIMERS.c.due_at <= FIRE_AT)).scalar_one()
        return int(due)

    def fire(self) -> float:
        """Seconds one ``fire_due_timers()`` call takes; what it fired is checked afterwards."""
        gc.collect()
        started = time.perf_counter()
        fired = self.callgov.fire_due_timers()
        elapsed = time.perf_counter() - started
        self._check_fired(fired)
        return elapsed

    def _check_fired(self, fired: list[FiredTimers]) -> None:
        assert len(fired) == DUE, f"{len(fired)} timers fired, not {DUE}"
        assert {f.case_ref for f in fired} == self.due_refs, "other cases fired than the due ones"
        assert all(f.elements == ("chase",) for f in fired), {f.elements for f in fired}
        with self.db.reading() as s:
            connection = s.connection()
            timers = connection.execute(select(func.count()).select_from(TIMERS)).scalar_one()
            steps = connection.execute(select(TASKS.c.element_id, func.count()).where(
                TASKS.c.instance_id.in_(self.due_ids)).group_by(TASKS.c.element_id)).all()
            versions = connection.execute(select(CASES.c.lock_version, func.count()).where(
                CASES.c.id.in_(self.due_ids)).group_by(CASES.c.lock_version)).all()
        assert timers == self.cases - DUE, f"{timers} timers left, not {self.cases - DUE}"
        assert [tuple(r) for r in steps] == [("escalate", DUE)], f"the due cases are at {steps}"
        assert [tuple(r) for r in versions] == [(2, DUE)], f"the due cases' versions: {versions}"

    def _check_sample(self) -> str | None:
        """Open a sample of cases through the engine and compare them with their rows (None: all agree)."""
        population = self.population
        sample = [0, 1, 2, population.clones // 2, population.clones - 1, *population.due_clones[:5],
                  *population.due_clones[-3:]]
        refs = [t.case["case_ref"] for t in population.templates] + [population.case_ref(i) for i in sample]
        for ref in refs:
            try:
                problems = self._check_case(ref)
            except Exception as error:  # a state the engine can no longer read
                problems = [f"{type(error).__name__}: {error}"]
            if problems:
                return f"case {ref} is not a genuine case: {'; '.join(problems)}"
        self.checked = len(refs)
        return None

    def _check_case(self, ref: str) -> list[str]:
        view = self.callgov.instance(ref)  # the facade restores the workflow and reads the task rows
        with self.db.reading() as s:
            connection = s.connection()
            case = load_case(connection, ref)
            compiled = self.callgov.specs.get(s, case.definition_version_id)
            due = connection.execute(select(TIMERS.c.due_at).where(TIMERS.c.instance_id == case.id)).scalar_one()
        workflow = self.callgov.serializer.loads(case.state, case.serializer_version, compiled.spec,
                                                 compiled.subprocess_specs)
        ready = [str(t.id) for t in ready_human_tasks(workflow)]
        problems = []
        if next_timer_due(workflow) != due:
            problems.append(f"its next timer is due {next_timer_due(workflow)}, its timer row says {due}")
        if [t.id for t in view.ready_tasks] != ready or len(ready) != 1:
            problems.append(f"its ready tasks are {ready}, its task rows {[t.id for t in view.ready_tasks]}")
        if (view.data.get("case_ref"), view.data.get("respond_by")) != (ref, due):
            problems.append(f"its data says {view.data.get('case_ref')}, due {view.data.get('respond_by')}")
        return problems


def populations(args: argparse.Namespace) -> Iterator[Bench]:
    for cases in args.cases:
        if args.postgres:
            yield Bench(args.postgres, cases, schema=f"timer_scan_{cases}", rebuild=args.rebuild)
        else:
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            yield Bench(f"sqlite:///{DATA_DIR / f'timer_scan_{cases}.sqlite'}", cases, schema=None,
                        rebuild=args.rebuild)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs=2, default=[10_000, 100_000], metavar=("SMALL", "LARGE"),
                        help="waiting cases in the two populations (default 10000 100000)")
    parser.add_argument("-r", "--rounds", type=int, default=7, help="timed rounds per population (best counts)")
    parser.add_argument("--postgres", metavar="URL", help="use PostgreSQL (schemas timer_scan_<cases>)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the populations even if they are valid")
    args = parser.parse_args()
    if min(args.cases) < 2 * DUE:
        parser.error(f"each population needs at least {2 * DUE} cases")

    benches = []
    for bench in populations(args):
        where = bench.url.removeprefix("sqlite:///") if bench.schema is None else f"schema {bench.schema}"
        print(f"{bench.cases:,} waiting cases, {DUE} due, in {where} ({bench.how}; "
              f"{bench.checked} cases checked through the engine)", flush=True)
        benches.append(bench)
    for round_number in range(args.rounds + 1):  # round 0 warms up caches on both sides
        for bench in benches:
            assert bench.arm() == DUE
            elapsed = bench.fire()
            if round_number:
                bench.times.append(elapsed)
    for bench in benches:
        bench.arm()  # leave the population as built
        bench.db.dispose()

    small, large = (min(b.times) for b in benches)
    print(f"rounds: {args.rounds} (best round counts); each fired exactly the {DUE} due timers, checked")
    for bench in benches:
        best, median = min(bench.times), sorted(bench.times)[len(bench.times) // 2]
        print(f"fire_due_timers at {bench.cases:,} waiting: {best * 1000:.1f} ms "
              f"({best / DUE * 1000:.2f} ms per fired timer; median round {median * 1000:.1f} ms)")
    print(f"ratio time({benches[1].cases:,})/time({benches[0].cases:,}): {large / small:.2f}")


if __name__ == "__main__":
    main()
