"""Benchmark: p95 latency of "My tasks" (GET /tasks, rendered by the app) among 200,000 open tasks.

The database (a SQLite file in ``bench/.data/``) holds 100,000 running cases of two published
processes, each case with two ready user tasks: 200,000 ``human_task`` rows and their
``task_candidate`` rows, spread over the roles cs_team_leader, ad_communities, dpo, it_helpdesk and
staff and over named assignees (the case's starter), with creation times over the last 90 days
(most of them recent), due dates a few days after creation (some overdue, some without one),
segregation of duties (``excluded_users``) as the engine computes it, and some tasks claimed. The
rows are written with executemany; users and the two diagrams go through the ``Callgov`` facade.
A case's ``state`` is a small JSON stub, not a restorable workflow: the inbox never reads
``process_instance`` (checked on every run from the statements a page runs), but opening one of
these tasks would fail.

Ours: the signed-in user ``leader`` (cs_team_leader and dpo, who may do tens of thousands of these
tasks) GETs ``/tasks`` through the Flask test client of ``create_app(config, callgov=...)``: the
session cookie, Flask-Login's user loader, the engine's ``inbox()`` and the Jinja page, CSRF on.
Baseline, in the same run: the bare SQL of the inbox, the very statement and parameters the engine
sent to the database for that page (captured from SQLAlchemy), executed and fetched with sqlite3.
Requests and bare queries alternate (the machines here are noisy), after a warm-up. The page is
checked against the bare query (the same tasks in the same order). The last line printed is the
ratio p95(page) / p95(SQL); the issue's target is p95(page) <= 50 ms.

    python bench/inbox.py                        # 200 requests, default sort (due date)
    python bench/inbox.py --query "sort=newest"  # another filter or sort of the page
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import random
import re
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, event, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine.models  # noqa: E402,F401  (registers every table)
from engine import audit  # noqa: E402
from engine.access import excluded_users  # noqa: E402
from engine.bpmn.serializer import StateSerializer  # noqa: E402
from engine.clock import FakeClock  # noqa: E402
from engine.db import Base, Database  # noqa: E402
from engine.facade import Callgov  # noqa: E402
from engine.instances import NO_DUE_DATE
from engine.models import (  # noqa: E402
    CaseCounter,
    DefinitionVersion,
    HumanTask,
    ProcessInstance,
    TaskCandidate,
)
from webui import create_app  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / ".data"
CASES = 100_000
TASKS_PER_CASE = 2
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
"""The fake clock's "now" while pages are served (a Monday morning)."""
BUILD_BATCH = 10_000
SEED = 20260601
USER = "leader"
USER_ROLES = ("cs_team_leader", "dpo")

RELEASE_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="bench_release_defs" targetNamespace="http://callgov.example/bench">
  <bpmn:process id="bench_release" name="Release or review of a call recording" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="casePrefix" value="REL"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="authorise"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="authorise_escalated"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="answer_questions"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="preserve"/>
    <bpmn:userTask id="authorise" name="Authorise the release"
                   camunda:candidateGroups="cs_team_leader, ad_communities, dpo"/>
    <bpmn:userTask id="authorise_escalated" name="Authorise the release (escalated)" camunda:candidateGroups="dpo"/>
    <bpmn:userTask id="answer_questions" name="Answer the authoriser's questions"
                   camunda:assignee="${started_by}"/>
    <bpmn:userTask id="preserve" name="Preserve the recordings before they expire"
                   camunda:candidateGroups="it_helpdesk"/>
    <bpmn:sequenceFlow id="f5" sourceRef="authorise" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="authorise_escalated" targetRef="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="answer_questions" targetRef="join"/>
    <bpmn:sequenceFlow id="f8" sourceRef="preserve" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f9" sourceRef="join" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>
"""
REVIEW_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="bench_review_defs" targetNamespace="http://callgov.example/bench">
  <bpmn:process id="bench_review" name="Quality review of a call" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="casePrefix" value="REV"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="describe"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="triage"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="quality_check"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="community_review"/>
    <bpmn:userTask id="describe" name="Describe the call" camunda:assignee="${started_by}"/>
    <bpmn:userTask id="triage" name="Triage the review" camunda:candidateGroups="staff"/>
    <bpmn:userTask id="quality_check" name="Check the quality of the call" camunda:candidateGroups="cs_team_leader"/>
    <bpmn:userTask id="community_review" name="Review for the communities team"
                   camunda:candidateGroups="ad_communities"/>
    <bpmn:sequenceFlow id="f5" sourceRef="describe" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="triage" targetRef="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="quality_check" targetRef="join"/>
    <bpmn:sequenceFlow id="f8" sourceRef="community_review" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f9" sourceRef="join" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>
"""


@dataclass(frozen=True)
class Step:
    """A ready user task of the population: who may do it and when it is due after it was created."""

    element_id: str
    title: str
    roles: tuple[str, ...]
    assigned_to_starter: bool
    due_days: tuple[int, int] | None
    """Due between this many days after creation (inclusive), or no due date."""


AUTHORISE = Step("authorise", "Authorise the release", ("cs_team_leader", "ad_communities", "dpo"), False, (5, 10))
ESCALATED = Step("authorise_escalated", "Authorise the release (escalated)", ("dpo",), False, (2, 5))
ANSWER = Step("answer_questions", "Answer the authoriser's questions", (), True, (7, 14))
PRESERVE = Step("preserve", "Preserve the recordings before they expire", ("it_helpdesk",), False, (3, 7))
DESCRIBE = Step("describe", "Describe the call", (), True, None)
TRIAGE = Step("triage", "Triage the review", ("staff",), False, None)
QUALITY = Step("quality_check", "Check the quality of the call", ("cs_team_leader",), False, (14, 28))
COMMUNITY = Step("community_review", "Review for the communities team", ("ad_communities",), False, (14, 28))

STAGES: tuple[tuple[str, float, tuple[Step, Step]], ...] = (
    ("bench_release", 0.36, (AUTHORISE, PRESERVE)),
    ("bench_release", 0.09, (ESCALATED, PRESERVE)),
    ("bench_release", 0.15, (ANSWER, PRESERVE)),
    ("bench_review", 0.20, (DESCRIBE, TRIAGE)),
    ("bench_review", 0.20, (QUALITY, COMMUNITY)),
)
"""Where the cases are: (process, share of the cases, their two ready tasks)."""
PREFIXES = {"bench_release": "REL", "bench_review": "REV"}

STAFF = tuple(f"staff{n:03d}" for n in range(1, 401))
HOLDERS = {
    "cs_team_leader": (USER, *(f"teamlead{n}" for n in range(1, 7))),
    "ad_communities": ("director1", "director2"),
    "dpo": (USER, "dpo1"),
    "it_helpdesk": tuple(f"helpdesk{n}" for n in range(1, 5)),
    "staff": STAFF,
}
"""Who holds each role (``leader`` holds two); a claimed task is claimed by one of its role's holders."""
CLAIMED_SHARE = 0.08
LEADER_STARTS_EVERY = 997
"""``leader`` started every 997th case (and so is barred from authorising it)."""

SCHEMA = sorted(f"{table.name}.{column.name}:{column.type}" for table in Base.metadata.sorted_tables
                for column in table.columns)
# A database is reused only if it was built by this script (bump "inbox/2" whenever the population
# changes), from the same diagrams, for the same tables.
FORMAT = ";".join([
    "inbox/3", hashlib.sha256(RELEASE_BPMN + REVIEW_BPMN).hexdigest()[:12],
    hashlib.sha256(repr(SCHEMA).encode()).hexdigest()[:12], NOW.isoformat(), str(CASES), str(SEED),
])

CASES_TABLE = cast(Table, ProcessInstance.__table__)
TASKS_TABLE = cast(Table, HumanTask.__table__)
CANDIDATES_TABLE = cast(Table, TaskCandidate.__table__)
COUNTERS_TABLE = cast(Table, CaseCounter.__table__)
VERSIONS_TABLE = cast(Table, DefinitionVersion.__table__)


# --- the population ---------------------------------------------------------------------------------


def _stage_of(rng: random.Random) -> tuple[str, tuple[Step, Step]]:
    pick = rng.random()
    for process_id, share, steps in STAGES:
        if pick < share:
            return process_id, steps
        pick -= share
    return STAGES[-1][0], STAGES[-1][2]


def _rows(versions: dict[str, int]) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    """The rows of each case in turn: (process_instance, its human_task rows, their task_candidate rows)."""
    rng = random.Random(SEED)
    numbers = dict.fromkeys(PREFIXES.values(), 0)
    for n in range(CASES):
        process_id, steps = _stage_of(rng)
        prefix = PREFIXES[process_id]
        numbers[prefix] += 1
        case_ref = f"{prefix}-{NOW.year}-{numbers[prefix]:05d}"
        starter = USER if n % LEADER_STARTS_EVERY == 0 else rng.choice(STAFF)
        # Most open work is recent: the age is skewed towards now (up to 90 days).
        started = NOW - timedelta(minutes=10 + int(90 * 24 * 60 * rng.random() ** 4))
        case_id = n + 1
        tasks, candidates = [], []
        for step in steps:
            created = min(NOW - timedelta(minutes=1), started + timedelta(minutes=rng.randint(0, 3 * 24 * 60)))
            due = None
            if step.due_days is not None:
                due = created + timedelta(days=rng.randint(*step.due_days), hours=rng.randint(0, 8))
            assignee = starter if step.assigned_to_starter else None
            claimed = None
            if step.roles and rng.random() < CLAIMED_SHARE:
                holders = [h for r in step.roles for h in HOLDERS[r] if h != starter]
                claimed = rng.choice(holders)
            task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            tasks.append({
                "id": task_id, "instance_id": case_id, "case_ref": case_ref, "process_id": process_id,
                "element_id": step.element_id, "title": step.title, "lane": None, "assignee": assignee,
                "claimed_by": claimed, "excluded_users": excluded_users(step.roles, starter, assignee),
                "case_started_by": starter, "created_at": created, "due_at": due,
                "due_order": due or NO_DUE_DATE, "candidate_roles": list(step.roles),
            })
            candidates += [{"task_id": task_id, "kind": "role", "value": r} for r in step.roles]
            if assignee:
                candidates.append({"task_id": task_id, "kind": "user", "value": assignee})
        case = {
            "id": case_id, "case_ref": case_ref, "process_id": process_id,
            "definition_version_id": versions[process_id], "status": "running",
            "current_step": "; ".join(s.title for s in steps), "started_by": starter, "started_at": started,
            "updated_at": max(t["created_at"] for t in tasks), "ended_at": None, "end_reason": None,
            "serializer_version": StateSerializer.VERSION,
            "state": json.dumps({"bench": "inbox", "note": "a stub: the inbox never reads the state"}),
            "lock_version": 1,
        }
        yield case, tasks, candidates


class Population:
    """The benchmark database: opened and reused if complete, else built."""

    def __init__(self, path: Path, *, rebuild: bool) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.clock = FakeClock(NOW)
        self.db = Database(self.url)
        problem = "--rebuild" if rebuild else self._problem()
        self.how = "reused"
        if problem is not None:
            self.db.dispose()
            for stale in path.parent.glob(f"{path.name}*"):
                stale.unlink()
            self.db = Database(self.url)
            started = time.perf_counter()
            self._build()
            self.how = f"built in {time.perf_counter() - started:.1f} s: {problem}"
            problem = self._problem()
            if problem is not None:
                raise SystemExit(f"the population just built is not complete: {problem}")
        self.callgov = Callgov(self.db, clock=self.clock)

    def _problem(self) -> str | None:
        """None if the file holds the population this script builds, in the current format; else why not."""
        try:
            with self.db.engine.connect() as connection:
                meta = connection.execute(text("SELECT format, tasks, candidates FROM bench_meta")).one()
                counts = [connection.execute(select(func.count()).select_from(t)).scalar_one()
                          for t in (CASES_TABLE, TASKS_TABLE, CANDIDATES_TABLE)]
        except Exception:  # a missing table, an empty or broken file: rebuild
            return "none there, incomplete or of another format"
        if meta.format != FORMAT:
            return "of another format"
        if counts != [CASES, meta.tasks, meta.candidates] or meta.tasks != CASES * TASKS_PER_CASE:
            return f"rows {counts} are not the {CASES:,} cases and {meta.tasks:,} tasks it was built with"
        return None

    def _build(self) -> None:
        # A throwaway bench database, like the tests' ones: create_all stands in for the migrations.
        Base.metadata.create_all(self.db.engine)
        with self.db.engine.begin() as connection:
            for statement in audit.append_only_ddl(self.db.dialect):
                connection.exec_driver_sql(statement)
        callgov = Callgov(self.db, clock=FakeClock(NOW - timedelta(days=120)))
        people = {name: {"staff"} for name in STAFF}
        for role, names in HOLDERS.items():
            for name in names:
                people.setdefault(name, set()).add(role)
        for name, roles in sorted(people.items()):
            callgov.add_user(name, roles=sorted(roles), password=None, actor="bench", display_name=name.capitalize())
        for content, name in ((RELEASE_BPMN, "bench_release.bpmn"), (REVIEW_BPMN, "bench_review.bpmn")):
            callgov.deploy(content, filename=name, actor="bench", publish=True)
        tasks = candidates = 0
        with self.db.engine.begin() as connection:
            versions = {r.process_id: r.id for r in connection.execute(
                select(VERSIONS_TABLE.c.process_id, VERSIONS_TABLE.c.id))}
            batch: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
            for case, case_tasks, case_candidates in _rows(versions):
                batch[0].append(case)
                batch[1].extend(case_tasks)
                batch[2].extend(case_candidates)
                if len(batch[0]) == BUILD_BATCH:
                    tasks, candidates = tasks + len(batch[1]), candidates + len(batch[2])
                    self._write(connection, batch)
                    batch = ([], [], [])
            if batch[0]:
                tasks, candidates = tasks + len(batch[1]), candidates + len(batch[2])
                self._write(connection, batch)
            for prefix in PREFIXES.values():
                last = connection.execute(select(func.count()).select_from(CASES_TABLE).where(
                    CASES_TABLE.c.case_ref.like(f"{prefix}-%"))).scalar_one()
                connection.execute(insert(COUNTERS_TABLE).values(prefix=prefix, year=NOW.year, last_number=last))
            connection.execute(text("CREATE TABLE bench_meta (format TEXT, tasks INTEGER, candidates INTEGER)"))
            connection.execute(text("INSERT INTO bench_meta VALUES (:f, :t, :c)"),
                               {"f": FORMAT, "t": tasks, "c": candidates})
        self.db.dispose()
        with sqlite3.connect(self.path) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def _write(connection: Any, batch: tuple[list[Any], list[Any], list[Any]]) -> None:
        connection.execute(insert(CASES_TABLE), batch[0])
        connection.execute(insert(TASKS_TABLE), batch[1])
        connection.execute(insert(CANDIDATES_TABLE), batch[2])

    def describe(self) -> str:
        """How many tasks there are and how many ``USER`` may see, for the report."""
        with sqlite3.connect(self.path) as raw:
            tasks = raw.execute("SELECT count(*) FROM human_task").fetchone()[0]
            overdue = raw.execute("SELECT count(*) FROM human_task WHERE due_at < ?",
                                  (NOW.replace(tzinfo=None).isoformat(sep=" "),)).fetchone()[0]
            marks = ",".join("?" * len(USER_ROLES))
            visible = raw.execute(
                "SELECT count(DISTINCT task_id) FROM task_candidate WHERE (kind = 'role' AND value IN "
                f"({marks})) OR (kind = 'user' AND value = ?)", (*USER_ROLES, USER)).fetchone()[0]
        return (f"{CASES:,} cases, {tasks:,} open tasks ({overdue:,} overdue at {NOW:%Y-%m-%d %H:%M} UTC); "
                f"{USER} ({' + '.join(USER_ROLES)}) is a candidate for {visible:,}")


# --- the measurement --------------------------------------------------------------------------------


class Statements:
    """Records the SQL the app sends to the database while ``recording`` is on."""

    def __init__(self, db: Database) -> None:
        self.recording = False
        self.seen: list[tuple[str, Any]] = []
        event.listen(db.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                _executemany: bool) -> None:
        if self.recording:
            self.seen.append((statement, parameters))


_CASE_LINK = re.compile(r'href="/cases/([A-Z]+-\d{4}-\d+)"')


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile of ``samples`` (share in 0..1)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=200, help="timed page requests (and bare queries)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests and queries first")
    parser.add_argument("--query", default="", help="query string of the page, e.g. 'sort=newest&overdue=1'")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database even if it is valid")
    args = parser.parse_args()

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    population = Population(DATA_DIR / "inbox_100000.sqlite3", rebuild=args.rebuild)
    print(f"{population.path} ({population.how})", flush=True)
    print(population.describe(), flush=True)

    callgov = population.callgov
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret", "SESSION_COOKIE_SECURE": False},
                     callgov=callgov)
    client = app.test_client()
    epoch = callgov.user(USER).session_epoch
    with client.session_transaction() as session:  # signed in, as tests/webui/conftest.py does it
        session["_user_id"] = f"{USER}|{epoch}"
        session["_fresh"] = True
        session["signed_in_at"] = time.time()
    url = f"/tasks?{args.query}" if args.query else "/tasks"

    # One page with its statements recorded: the inbox query is the one that reads human_task.
    statements = Statements(callgov.db)
    statements.recording = True
    response = client.get(url)
    statements.recording = False
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}, not 200: is the user signed in?")
    html = response.get_data(as_text=True)
    inbox_sql = [(s, p) for s, p in statements.seen if "FROM human_task" in s]
    if len(inbox_sql) != 1:
        print(f"note: the page read human_task {len(inbox_sql)} times (the engine pages past excluded rows)")
    sql, params = inbox_sql[0]
    if any("process_instance" in s for s, _ in statements.seen):
        raise SystemExit("the inbox page read process_instance: the stub case states are not enough here")

    raw = sqlite3.connect(population.path, check_same_thread=False)
    raw.execute("PRAGMA foreign_keys=ON")
    columns = [d[0] for d in raw.execute(sql, params).description]

    def bare_query() -> list[Any]:
        return raw.execute(sql, params).fetchall()

    # The page shows the query's rows in its order, minus those the user is barred from.
    rows = bare_query()
    excluded_at = columns.index("excluded_users")
    case_at = columns.index("case_ref")
    expected = [r[case_at] for r in rows if USER not in json.loads(r[excluded_at] or "[]")]
    shown = _CASE_LINK.findall(html)
    if not shown or shown != expected[:len(shown)]:
        raise SystemExit(f"the page shows {shown[:3]}..., the bare query gives {expected[:3]}...")
    limited = "LIMIT" in sql.upper()
    second = client.get(f"{url}{'&' if args.query else '?'}page=2").get_data(as_text=True)
    paginates = _CASE_LINK.findall(second) != shown
    plan = [row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

    for _ in range(args.warmup):
        client.get(url)
        bare_query()
    page_times: list[float] = []
    sql_times: list[float] = []
    gc.collect()
    for n in range(args.requests):
        for side in ("page", "sql") if n % 2 == 0 else ("sql", "page"):
            if side == "page":
                started = time.perf_counter()
                response = client.get(url)
                page_times.append(time.perf_counter() - started)
                assert response.status_code == 200
            else:
                started = time.perf_counter()
                bare_query()
                sql_times.append(time.perf_counter() - started)
    raw.close()
    population.db.dispose()

    page_p95, sql_p95 = percentile(page_times, 0.95), percentile(sql_times, 0.95)
    print(f"page GET {url}: {len(html):,} bytes, {len(shown)} tasks shown, {len(statements.seen)} SQL statements; "
          f"{'more than a page' if len(expected) > len(shown) else 'all'} of the user's tasks")
    print(f"pagination: {'yes' if paginates else 'NO: ?page=2 shows the same tasks; the rest are unreachable'}"
          f" (the inbox query {'has' if limited else 'has NO'} LIMIT)")
    print("inbox query plan: " + " | ".join(plan))
    print(f"requests: {args.requests} of each, alternating, after {args.warmup} warm-up")
    print(f"page: p50 {statistics.median(page_times) * 1000:.1f} ms, p95 {page_p95 * 1000:.1f} ms "
          f"(target p95 <= 50 ms: {'met' if page_p95 <= 0.050 else 'NOT met'})")
    print(f"bare SQL: p50 {statistics.median(sql_times) * 1000:.1f} ms, p95 {sql_p95 * 1000:.1f} ms "
          f"({len(rows)} rows)")
    print(f"ratio p95 page/SQL: {page_p95 / sql_p95:.2f}")


if __name__ == "__main__":
    main()
