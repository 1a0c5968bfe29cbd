"""The facade methods behind the web UI (``engine.queries``) and the case-access rule, on each backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.access import may_view_case
from engine.audit import events_for
from engine.clock import FakeClock
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.facade import Callgov
from engine.models.throttle import SignInThrottle
from tests.conftest import PASSWORD
from tests.webui.conftest import DESCRIBE

BPMN = Path(__file__).parent / "bpmn" / "review.bpmn"


@dataclass
class FakeTask:
    assignee: str | None = None
    claimed_by: str | None = None
    excluded_users: list[str] = field(default_factory=list)
    case_ref: str = "REV-2026-00001"
    candidate_roles: list[str] = field(default_factory=list)


@pytest.mark.parametrize("username, roles, tasks, expected", [
    ("sam", frozenset({"staff"}), [], True),  # started it
    ("ann", frozenset({"staff"}), [], True),  # did one of its tasks
    ("bob", frozenset({"it_helpdesk"}), [FakeTask(candidate_roles=["it_helpdesk"])], True),  # may do an open task
    ("bob", frozenset({"staff"}), [FakeTask(assignee="bob")], True),  # assigned to them
    ("tom", frozenset({"cs_team_leader"}), [], True),  # an authoriser
    ("dee", frozenset({"dpo"}), [], True),  # the DPO
    ("eve", frozenset({"staff", "it_provider", "admin", "governance"}), [FakeTask(candidate_roles=["dpo"])], False),
    ("tom", frozenset({"cs_team_leader"}), [FakeTask(candidate_roles=["dpo"], excluded_users=["tom"])], False),
    ("ann", frozenset({"staff"}), [FakeTask(excluded_users=["ann"])], True),  # barred, but took part
])
def test_may_view_case_rule(username: str, roles: frozenset[str], tasks: list[FakeTask], expected: bool) -> None:
    assert may_view_case(username, roles, started_by="sam", participants=["ann"], open_tasks=tasks) is expected


@pytest.fixture
def world(callgov: Callgov, make_user: Callable[..., object]) -> Callgov:
    for name, roles in {"sam": ("staff",), "leader": ("cs_team_leader",), "dpo1": ("dpo",),
                        "helpdesk": ("it_helpdesk",), "admin1": ("admin",), "provider": ("it_provider",)}.items():
        make_user(name, *roles)
    callgov.deploy(BPMN.read_bytes(), filename=BPMN.name, actor="tester", publish=True)
    started = callgov.start("review", user="sam")
    callgov.complete_task(started.ready_tasks[0].id, user="sam", data=DESCRIBE)
    callgov.start("review", user="sam")
    return callgov


def test_may_view_case_through_the_facade(world: Callgov) -> None:
    assert world.may_view_case("REV-2026-00001", "sam")
    assert world.may_view_case("rev-2026-00001", "leader")
    assert not world.may_view_case("REV-2026-00001", "helpdesk")
    assert not world.may_view_case("REV-2026-00001", "admin1")
    assert not world.may_view_case("REV-2026-00009", "sam")
    assert not world.may_view_case("REV-2026-00001", "nobody")
    with pytest.raises(PermissionDenied):
        world.case_for("REV-2026-00001", user="provider")
    with pytest.raises(NotFound):
        world.case_diagram("REV-2026-00009", user="sam")


def test_case_for_labels_the_timeline_and_lists_actions(world: Callgov) -> None:
    page = world.case_for("REV-2026-00001", user="leader")
    [entry] = page.timeline
    answers = {a.label: a.value for a in entry.answers}
    assert answers["Purpose"] == "Complaint handling" and answers["Is this on behalf of a third party?"] is False
    assert [a.label for a in entry.answers][:2] == ["Date of the call", "Time of the call"], "form order"
    assert page.my_task_ids == (page.case.ready_tasks[0].id,)
    assert not page.may_cancel
    assert world.case_for("REV-2026-00001", user="sam").may_cancel


def test_inbox_filters_sorts_and_limits(world: Callgov, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=1))
    for _ in range(3):
        case = world.start("review", user="sam")
        world.complete_task(case.ready_tasks[0].id, user="sam", data=DESCRIBE)
        clock.advance(timedelta(hours=1))
    inbox = world.inbox(user="leader")
    assert [i.case_ref for i in inbox.items] == ["REV-2026-00001", "REV-2026-00003", "REV-2026-00004",
                                                 "REV-2026-00005"]
    assert inbox.items[0].process_name == "Review a call recording" and inbox.items[0].started_by_name == "sam"
    assert [i.case_ref for i in world.inbox(user="leader", sort="newest", limit=2).items] == [
        "REV-2026-00005", "REV-2026-00004"]
    assert world.inbox(user="leader", limit=2).more and not world.inbox(user="leader", limit=4).more
    world.claim(inbox.items[1].id, user="leader")
    assert [i.case_ref for i in world.inbox(user="leader", claimed="me").items] == ["REV-2026-00003"]
    assert len(world.inbox(user="leader", claimed="nobody").items) == 3
    assert world.inbox(user="leader", overdue=True).items == ()
    clock.advance(timedelta(days=2) - timedelta(hours=2, minutes=30))  # due: 0h and 1h past, not 2h or 3h
    overdue = world.inbox(user="leader", overdue=True)
    assert [i.case_ref for i in overdue.items] == ["REV-2026-00001", "REV-2026-00003"]
    assert overdue.items[0].overdue(overdue.now)
    assert world.inbox(user="leader", process_id="other").items == ()
    assert world.inbox(user="sam").items[0].title == "Describe the call", "never the starter's own decisions"
    assert ("review", "Review a call recording") in inbox.processes
    with pytest.raises(InvalidInput):
        world.inbox(user="leader", sort="sideways")


def test_requests_of_and_startable_processes(world: Callgov) -> None:
    assert [c.case_ref for c in world.requests_of(user="sam")] == ["REV-2026-00002", "REV-2026-00001"]
    assert world.requests_of(user="leader") == []
    assert [p.process_id for p in world.startable_processes(user="leader")] == ["review"]


def test_task_conflict_says_why(world: Callgov) -> None:
    task_id = world.inbox(user="leader").items[0].id
    assert world.task_conflict(task_id).kind == "gone"
    world.claim(task_id, user="leader")
    assert (world.task_conflict(task_id).kind, world.task_conflict(task_id).by) == ("claimed", "leader")
    world.complete_task(task_id, user="leader", data={"decision": "refuse"})
    assert (world.task_conflict(task_id).kind, world.task_conflict(task_id).by) == ("done", "leader")


def test_sign_in_throttles_and_prunes(world: Callgov, clock: FakeClock) -> None:
    for _ in range(4):
        assert world.sign_in("leader", "wrong", address="192.0.2.1").locked_until is None
    result = world.sign_in("leader", "wrong", address="192.0.2.1")
    assert result.user is None and result.locked_until == clock.now() + timedelta(minutes=15)
    assert world.sign_in("leader", PASSWORD, address="192.0.2.9").locked_until is not None
    clock.advance(timedelta(minutes=16))
    assert world.sign_in("leader", PASSWORD, address="192.0.2.9").user is not None
    clock.advance(timedelta(days=1))
    world.sign_in("someone", "wrong", address="192.0.2.2")
    with world.db.reading() as session:
        keys = set(session.scalars(select(SignInThrottle.key)))
    assert keys == {"account:someone", "address:192.0.2.2"}, "expired counters are pruned"


def test_ipv6_clients_are_throttled_by_their_64(world: Callgov) -> None:
    for i in range(20):
        world.sign_in(f"user{i}", "wrong", address=f"2001:db8:1:2::{i + 1:x}")
    assert world.sign_in("leader", PASSWORD, address="2001:db8:1:2::ffff").locked_until is not None
    assert world.sign_in("leader", PASSWORD, address="2001:db8:1:3::1").user is not None


def test_sign_in_audits_success_and_failure(world: Callgov) -> None:
    world.sign_in("leader", "wrong", address="192.0.2.1")
    world.sign_in("Leader ", PASSWORD, address="192.0.2.1")
    world.sign_in("<script>\n", "x", address=None)
    with world.db.reading() as session:
        events = list(reversed(events_for(session, limit=3)))
    assert [(e.action, e.actor) for e in events] == [
        ("user.login_failed", "leader"), ("user.login", "leader"), ("user.login_failed", "unknown")]
    assert events[0].detail == {"address": "192.0.2.1", "reason": "wrong password", "username": "leader"}
    assert events[2].detail["reason"] == "no such user"


def test_user_for_session_checks_epoch_and_active(world: Callgov) -> None:
    assert world.user_for_session("sam", 0) is not None
    assert world.user_for_session("sam", 1) is None
    world.sign_out_everywhere("sam", actor="sam")
    assert world.user_for_session("sam", 1) is not None
    world.set_user_active("sam", False, actor="admin1")
    assert world.user_for_session("sam", 2) is None
    assert world.user_for_session("ghost", 0) is None
    with pytest.raises(PermissionDenied):
        world.sign_out_everywhere("leader", actor="dpo1")


def test_admin_use_cases_are_audited(world: Callgov) -> None:
    world.create_user("new.person", actor="admin1", roles=["staff"], password="p" * 12, display_name="New")
    world.set_user_roles("new.person", ["staff", "dpo"], actor="admin1")
    world.set_user_roles("new.person", ["staff", "dpo"], actor="admin1")  # no change, no event
    world.set_user_active("new.person", False, actor="admin1")
    world.set_user_active("new.person", False, actor="admin1")  # already disabled, no event
    world.sign_out_everywhere("new.person", actor="admin1")
    with world.db.reading() as session:
        actions = [e.action for e in reversed(events_for(session, actor="admin1"))]
        total = session.scalar(select(func.count()).select_from(SignInThrottle))
    assert actions == ["user.added", "user.roles_changed", "user.disabled", "user.signed_out_everywhere"]
    assert total == 0
    assert [u.username for u in world.list_users(actor="admin1")][:2] == ["admin1", "dpo1"]


def test_record_access_accepts_only_access_events(world: Callgov) -> None:
    world.record_access("access.denied", actor="anonymous", detail={"path": "/admin/users"})
    with pytest.raises(InvalidInput):
        world.record_access("user.added", actor="sam")


def test_inbox_pages_past_tasks_barred_by_segregation_of_duties(world: Callgov, make_user, clock: FakeClock) -> None:
    make_user("both", "staff", "cs_team_leader")
    for _ in range(3):
        case = world.start("review", user="both")
        world.complete_task(case.ready_tasks[0].id, user="both", data=DESCRIBE)
        clock.advance(timedelta(minutes=1))
    assert len(world.inbox(user="leader").items) == 4
    inbox = world.inbox(user="both", limit=1, sort="newest")
    assert [i.case_ref for i in inbox.items] == ["REV-2026-00001"] and not inbox.more, \
        "their own three cases are skipped, page after page"


@pytest.mark.parametrize("many", [False, True], ids=["few-candidates", "many-candidates"])
def test_inbox_pages_through_every_task_in_order(world: Callgov, clock: FakeClock, monkeypatch, many: bool) -> None:
    import engine.queries

    # Both query forms (filter then sort; walk the sort index and probe) must give the same pages.
    monkeypatch.setattr(engine.queries, "MANY_CANDIDATES", 1 if many else 10_000)
    for _ in range(5):
        case = world.start("review", user="sam")
        world.complete_task(case.ready_tasks[0].id, user="sam", data=DESCRIBE)
        clock.advance(timedelta(minutes=5))
    everything = [i.case_ref for i in world.inbox(user="leader", sort="oldest", limit=100).items]
    assert len(everything) == 6
    pages, page = [], 1
    while True:
        inbox = world.inbox(user="leader", sort="oldest", limit=3, page=page)
        assert inbox.page == page
        pages += [i.case_ref for i in inbox.items]
        if not inbox.more:
            break
        page += 1
    assert pages == everything and page == 2
    newest = [i.case_ref for i in world.inbox(user="leader", sort="newest", limit=100).items]
    assert newest == everything[::-1]
    assert world.inbox(user="leader", page=99).items == ()
