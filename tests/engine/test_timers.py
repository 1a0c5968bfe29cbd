"""Timers on the engine's clock: boundary (both kinds), intermediate, event-based, start; late and raced."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from engine import audit
from engine.clock import FakeClock
from engine.facade import Callgov
from engine.models import Timer
from tests.engine.test_runtime import assert_roundtrip


@pytest.fixture
def case(callgov: Callgov, deploy, make_user) -> str:
    make_user("sam", "staff")
    make_user("dana", "dpo")
    deploy("timers.bpmn")
    return callgov.start("timers", user="sam").case_ref


def due_at(callgov: Callgov, case_ref: str) -> datetime | None:
    with callgov.db.reading() as s:
        row = s.query(Timer).filter_by(case_ref=case_ref).first()
        return row.due_at if row else None


def fired(callgov: Callgov, case_ref: str) -> list[list[str]]:
    with callgov.db.reading() as s:
        return [e.detail["elements"] for e in reversed(audit.events_for(s, case_ref=case_ref))
                if e.action == "timer.fired"]


def test_nothing_fires_before_time(callgov: Callgov, case: str, clock: FakeClock) -> None:
    assert due_at(callgov, case) == clock.now() + timedelta(days=1), "the daily reminder comes first"
    clock.advance(timedelta(hours=23))
    assert callgov.fire_due_timers() == []
    assert [t.title for t in callgov.instance(case).ready_tasks] == ["Answer"]


def test_non_interrupting_cycle_fires_each_time_then_stops(callgov: Callgov, case: str, clock: FakeClock) -> None:
    for _ in range(2):
        clock.advance(timedelta(days=1))
        [result] = callgov.fire_due_timers()
        assert result.elements == ("remind",)
        assert [t.title for t in callgov.instance(case).ready_tasks] == ["Answer"], "the task stays"
        assert_roundtrip(callgov, case)
    assert due_at(callgov, case) == clock.now() + timedelta(days=3), "R2: next is the five-day timer"


def test_interrupting_boundary_escalates_once_even_when_late(callgov: Callgov, case: str,
                                                            clock: FakeClock) -> None:
    clock.advance(timedelta(days=9))  # the process was down for days: timers fire late, not lost
    callgov.fire_due_timers()
    callgov.fire_due_timers()
    callgov.fire_due_timers()
    view = callgov.instance(case)
    assert [t.title for t in view.ready_tasks] == ["Escalated"]
    assert callgov.tasks_for("sam") == []
    assert sum("too_late" in elements for elements in fired(callgov, case)) == 1
    assert due_at(callgov, case) is None
    assert_roundtrip(callgov, case)
    assert callgov.fire_due_timers() == []


def test_intermediate_timer_expression_and_event_based_gateway(callgov: Callgov, case: str,
                                                               clock: FakeClock) -> None:
    answer = callgov.instance(case).ready_tasks[0]
    callgov.complete_task(answer.id, user="sam", data={})
    started = clock.now()
    # Ten working days from Monday 5 January 2026 is Monday 19 January.
    assert due_at(callgov, case) == started.replace(day=19)
    clock.set(started.replace(day=18))
    assert callgov.fire_due_timers() == []
    clock.set(started.replace(day=19))
    [result] = callgov.fire_due_timers()
    assert result.elements == ("cool_off",)
    assert due_at(callgov, case) == clock.now() + timedelta(hours=1), "the gateway waits on its first timer"
    assert_roundtrip(callgov, case)
    clock.advance(timedelta(hours=3))
    callgov.fire_due_timers()
    view = callgov.instance(case)
    assert view.status == "completed"
    assert "end_soon" in view.completed_elements and "end_later" not in view.completed_elements
    assert due_at(callgov, case) is None


def test_timers_do_not_outlive_a_cancelled_case(callgov: Callgov, case: str, clock: FakeClock) -> None:
    callgov.cancel(case, user="sam", reason="No longer needed")
    assert due_at(callgov, case) is None
    clock.advance(timedelta(days=30))
    assert callgov.fire_due_timers() == []


def test_a_started_case_does_not_wait_for_its_start_timer(callgov: Callgov, deploy, make_user) -> None:
    make_user("gail", "governance")
    deploy("review.bpmn")
    view = callgov.start("review", user="gail")
    assert [t.title for t in view.ready_tasks] == ["Review the policy"]


def test_two_schedulers_fire_each_timer_once(callgov: Callgov, case: str, clock: FakeClock, make_user) -> None:
    cases = [case] + [callgov.start("timers", user="sam").case_ref for _ in range(5)]
    other = Callgov(callgov.db, clock=clock, operations=callgov.operations)
    clock.advance(timedelta(days=6))
    barrier = threading.Barrier(2)

    def run(runner: Callgov) -> None:
        barrier.wait()
        for _ in range(3):
            runner.fire_due_timers()

    threads = [threading.Thread(target=run, args=(runner,)) for runner in (callgov, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for ref in cases:
        elements = [e for batch in fired(callgov, ref) for e in batch]
        assert elements.count("too_late") == 1, (ref, elements)
        assert [t.title for t in callgov.instance(ref).ready_tasks] == ["Escalated"]


def test_start_timer_cycle_starts_a_case_every_period(callgov: Callgov, deploy, make_user, clock: FakeClock) -> None:
    make_user("gail", "governance")
    deploy("review.bpmn")
    assert callgov.fire_due_timers() == []
    clock.advance(timedelta(days=3 * 365 + 1))
    [started] = callgov.fire_due_timers()
    assert started.elements == ("every_three_years",)
    view = callgov.instance(started.case_ref)
    assert view.started_by == "system:timers"
    assert [t.title for t in callgov.tasks_for("gail")] == ["Review the policy"]
    assert callgov.fire_due_timers() == [], "one case per period"
    clock.advance(timedelta(days=3 * 366))
    assert len(callgov.fire_due_timers()) == 1
    assert len(callgov.tasks_for("gail")) == 2


def test_republishing_replaces_the_start_schedule(callgov: Callgov, make_user, clock: FakeClock) -> None:
    from tests.conftest import BPMN_DIR

    make_user("gail", "governance")
    xml = (BPMN_DIR / "review.bpmn").read_bytes()
    callgov.deploy(xml, filename="review.bpmn", actor="gail", publish=True)
    yearly = xml.replace(b"R/P3Y", b"R/P1Y")
    callgov.deploy(yearly, filename="review.bpmn", actor="gail", publish=True)
    clock.advance(timedelta(days=366))
    assert len(callgov.fire_due_timers()) == 1


def test_a_timer_row_out_of_step_with_its_case_is_healed_not_refired(callgov: Callgov, case: str,
                                                                    clock: FakeClock) -> None:
    from sqlalchemy import update

    with callgov.db.transaction() as s:
        s.execute(update(Timer).where(Timer.case_ref == case).values(due_at=clock.now() - timedelta(hours=1)))
    assert callgov.fire_due_timers() == [], "nothing in the case was due"
    assert due_at(callgov, case) == clock.now() + timedelta(days=1), "the row is back in step with the case"
    assert fired(callgov, case) == []
