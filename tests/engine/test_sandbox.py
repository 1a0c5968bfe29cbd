"""Test runs in a sandbox (issue 8, "Try it"): a draft runs end to end in its own engine — real
forms, timers fired on demand, mail kept — and the real database gains nothing but the governance
audit events of starting and discarding the run."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import audit
from engine.clock import FakeClock
from engine.config import Settings
from engine.errors import Conflict, FormInvalid, InvalidInput, NotFound, PermissionDenied
from engine.facade import Callgov
from engine.models import HumanTask, ProcessInstance, Recording, StartTimer, TaskHistory, Timer, User
from engine.operations import OperationRegistry
from workflows.operations import register

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "workflows" / "bpmn" / "recording_release.bpmn"
TIMERS = Path(__file__).parent / "bpmn" / "timers.bpmn"


@pytest.fixture
def operations() -> OperationRegistry:
    """The shipped operations: the release process's service tasks run in the sandbox."""
    registry = OperationRegistry()
    register(registry, Settings.from_env({"CALLGOV_BASE_URL": "https://callgov.example"}))
    return registry


@pytest.fixture
def officers(callgov: Callgov, tmp_path: Path) -> tuple[str, str]:
    """Two governance officers, and the sandbox kept in the test's folder."""
    callgov.sandbox_root = tmp_path / "sandbox"
    for name in ("gwen", "greg"):
        callgov.add_user(name, roles=["governance"], password=None)
    callgov.add_user("sam", roles=["staff"], password=None)
    return "gwen", "greg"


def _draft(callgov: Callgov, path: Path, old: str, new: str) -> int:
    """Publish ``path`` as it is, then save a draft of it with ``old`` replaced by ``new``."""
    text = path.read_text()
    assert old in text
    callgov.deploy(text.encode(), filename=path.name, actor="tester", publish=True)
    saved = callgov.save_draft(callgov.list_definitions()[0].process_id, text.replace(old, new).encode(),
                               user="gwen")
    assert saved.version is not None and not saved.problems
    return saved.version.id


def _real_rows(callgov: Callgov) -> dict[str, int]:
    with callgov.db.reading() as s:
        return {model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
                for model in (ProcessInstance, HumanTask, TaskHistory, Timer, StartTimer, Recording)}


def _real_actions(callgov: Callgov) -> list[str]:
    with callgov.db.reading() as s:
        return [e.action for e in reversed(audit.events_for(s, limit=1000))]


def _task(callgov: Callgov, run_id: str, element: str) -> str:
    view = callgov.test_run(run_id, user="gwen")
    ready = [t for t in view.page.case.ready_tasks if t.element_id == element]
    assert ready, [t.element_id for t in view.page.case.ready_tasks]
    return ready[0].id


def test_release_draft_runs_in_the_sandbox_and_the_real_database_is_untouched(
        callgov: Callgov, officers: tuple[str, str], clock: FakeClock) -> None:
    version_id = _draft(callgov, RELEASE, 'name="Waiting 3 working days"', 'name="Waiting three working days"')
    before, actions_before = _real_rows(callgov), _real_actions(callgov)

    run = callgov.start_test_run(version_id, user="gwen", start_as="staff")
    assert run.version == 2 and run.status == "running" and run.case_ref
    view = callgov.test_run(run.run_id, user="gwen")
    request = view.page.case.ready_tasks[0]
    assert request.element_id == "request" and view.actors[request.id] == "sandbox.staff"
    call = view.sample_calls[0]

    form = callgov.test_run_task(run.run_id, request.id, user="gwen")
    assert form.actor == "sandbox.staff" and any(f.id == "purpose" for f in form.detail.form.fields)
    with pytest.raises(FormInvalid):  # the real form's checks apply
        callgov.complete_test_task(run.run_id, request.id, user="gwen", data={"reason": "training_quality"})
    callgov.complete_test_task(run.run_id, request.id, user="gwen", data={
        "phone_number": call.external_number, "call_from": (call.start_time - timedelta(hours=1)).isoformat(),
        "call_to": (call.start_time + timedelta(hours=1)).isoformat(), "reason": "training_quality",
        "purpose": "Training new advisers in handling difficult calls", "lawful_basis": "legitimate_interests",
        "third_party": "false"})

    authorise = _task(callgov, run.run_id, "authorise")
    assert callgov.test_run(run.run_id, user="gwen").actors[authorise] == "sandbox.cs_team_leader"
    moved_to, fired = callgov.fire_test_timers(run.run_id, user="gwen")
    assert fired == ["remind"] and moved_to > clock.now() + timedelta(days=2)
    assert any("waiting" in m.subject.lower() or "remind" in m.subject.lower()
               for m in callgov.test_run(run.run_id, user="gwen").mails)
    callgov.complete_test_task(run.run_id, _task(callgov, run.run_id, "authorise"), user="gwen",
                               data={"decision": "approve", "decision_reason": "Meets Appendix 1 reason 5"})
    while (page := callgov.test_run(run.run_id, user="gwen")).page.case.status == "running":
        assert page.next_timer is not None, page.page.case.current_step
        callgov.fire_test_timers(run.run_id, user="gwen")

    done = callgov.test_run(run.run_id, user="gwen")
    assert done.run.status == "completed"
    assert {"request", "authorise", "access_ends"} <= set(done.page.case.completed_elements)
    assert [e.title for e in done.page.timeline][:2] == ["Request a recording", "Authorise the release"]
    assert "timer.fired" in {e.action for e in done.events}
    assert {m.to for m in done.mails} & {"sandbox.staff@sandbox.invalid"}
    assert clock.now() == run.created_at  # real time never moved

    assert _real_rows(callgov) == before
    assert _real_actions(callgov) == [*actions_before, "sandbox.run_started"]
    with callgov.db.reading() as s:
        assert not s.scalars(select(User.username).where(User.username.like("sandbox.%"))).all()


def test_a_small_draft_with_timers(callgov: Callgov, officers: tuple[str, str]) -> None:
    version_id = _draft(callgov, TIMERS, 'duration("P5D")', 'duration("P3D")')
    run = callgov.start_test_run(version_id, user="gwen")
    answer = _task(callgov, run.run_id, "answer")
    assert callgov.fire_test_timers(run.run_id, user="gwen")[1] == ["remind"]  # R2/P1D: a day later
    assert callgov.fire_test_timers(run.run_id, user="gwen")[1] == ["remind"]
    moved_to, fired = callgov.fire_test_timers(run.run_id, user="gwen")  # the draft's three days, not five
    assert fired == ["too_late"] and moved_to - run.created_at == timedelta(days=3)
    view = callgov.test_run(run.run_id, user="gwen")
    assert [t.element_id for t in view.page.case.ready_tasks] == ["escalate"]
    assert view.actors[view.page.case.ready_tasks[0].id] == "sandbox.dpo"
    with pytest.raises(NotFound):  # the cancelled task cannot be done any more
        callgov.complete_test_task(run.run_id, answer, user="gwen", data={})
    callgov.complete_test_task(run.run_id, view.page.case.ready_tasks[0].id, user="gwen", data={})
    done = callgov.test_run(run.run_id, user="gwen")
    assert done.run.status == "completed" and "end_escalated" in done.page.case.completed_elements
    with pytest.raises(Conflict, match="No timer"):
        callgov.fire_test_timers(run.run_id, user="gwen")
    assert _real_rows(callgov)["process_instance"] == 0


def test_runs_belong_to_their_officer(callgov: Callgov, officers: tuple[str, str]) -> None:
    version_id = _draft(callgov, TIMERS, 'duration("P5D")', 'duration("P3D")')
    run = callgov.start_test_run(version_id, user="gwen")
    assert [r.run_id for r in callgov.test_runs(user="gwen")] == [run.run_id]
    assert callgov.test_runs(user="greg") == []
    for attempt in (lambda: callgov.test_run(run.run_id, user="greg"),
                    lambda: callgov.fire_test_timers(run.run_id, user="greg"),
                    lambda: callgov.discard_test_run(run.run_id, user="greg")):
        with pytest.raises(NotFound):
            attempt()
    with pytest.raises(PermissionDenied):
        callgov.test_runs(user="sam")
    with pytest.raises(PermissionDenied):
        callgov.start_test_run(version_id, user="sam")
    with pytest.raises(NotFound):
        callgov.test_run("../../etc/passwd", user="gwen")


def test_discard_and_clean_up(callgov: Callgov, officers: tuple[str, str], clock: FakeClock) -> None:
    version_id = _draft(callgov, TIMERS, 'duration("P5D")', 'duration("P3D")')
    first = callgov.start_test_run(version_id, user="gwen")
    folder = callgov.sandbox_folder
    assert (folder / f"{first.run_id}.sqlite3").is_file()
    callgov.discard_test_run(first.run_id, user="gwen")
    assert not list(folder.glob(f"{first.run_id}*"))
    with pytest.raises(NotFound):
        callgov.test_run(first.run_id, user="gwen")

    old = callgov.start_test_run(version_id, user="gwen")
    clock.advance(timedelta(days=6))
    young = callgov.start_test_run(version_id, user="greg")
    clock.advance(timedelta(days=2))
    assert callgov.clean_up_test_runs() == 1
    assert callgov.test_runs(user="gwen") == [] and [r.run_id for r in callgov.test_runs(user="greg")] == [young.run_id]
    actions = _real_actions(callgov)
    assert actions.count("sandbox.run_started") == 3
    assert "sandbox.run_discarded" in actions and "sandbox.run_expired" in actions
    assert old.run_id not in {p.stem for p in folder.glob("*.sqlite3")}


def test_only_a_checked_version_with_good_sample_data_starts(callgov: Callgov, officers: tuple[str, str]) -> None:
    version_id = _draft(callgov, TIMERS, 'duration("P5D")', 'duration("P3D")')
    wizards = TIMERS.read_bytes().replace(b'candidateGroups="dpo"', b'candidateGroups="wizards"')
    broken = callgov.save_draft("timers", wizards, user="gwen")
    assert broken.problems and broken.version is None  # nothing a test run could start
    with pytest.raises(NotFound, match="passes the checks"):
        callgov.start_test_run(version_id + 1, user="gwen")
    for sample, problem in (("[1]", "object"), ("{", "JSON"), ('{"case_ref": "X"}', "set when"),
                            ('{"1x": 1}', "Names")):
        with pytest.raises(InvalidInput) as error:
            callgov.start_test_run(version_id, user="gwen", sample=sample)
        assert problem in error.value.problems["sample"]
    with pytest.raises(InvalidInput):
        callgov.start_test_run(version_id, user="gwen", start_as="wizard")
    run = callgov.start_test_run(version_id, user="gwen", sample='{"note": "hi", "when": "2026-01-05T10:00"}')
    data = callgov.test_run(run.run_id, user="gwen").page.case.data
    assert data["note"] == "hi" and data["when"].tzinfo is not None
    assert callgov.test_runs(user="gwen")[0].run_id == run.run_id


def test_clean_up_spares_a_run_being_set_up(callgov: Callgov, officers: tuple[str, str], clock: FakeClock) -> None:
    folder = callgov.sandbox_folder
    folder.mkdir(parents=True)
    half = folder / "0123456789abcdef.sqlite3"
    half.write_bytes(b"")  # no tables yet: another request is migrating it
    os.utime(half, (clock.now().timestamp(), clock.now().timestamp()))
    assert callgov.clean_up_test_runs() == 0 and half.exists()
    assert callgov.test_runs(user="gwen") == []
    old = (clock.now() - timedelta(days=8)).timestamp()
    os.utime(half, (old, old))
    assert callgov.clean_up_test_runs() == 1 and not half.exists()


def test_a_run_is_migrated_when_callgov_was_upgraded_since(callgov: Callgov, officers: tuple[str, str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.sandbox import _store

    version_id = _draft(callgov, TIMERS, 'duration("P5D")', 'duration("P3D")')
    run = callgov.start_test_run(version_id, user="gwen")
    upgraded: list[str] = []
    monkeypatch.setattr(_store, "_head", lambda: "0002_newer")
    monkeypatch.setattr(_store.migrate, "upgrade", upgraded.append)
    assert callgov.test_run(run.run_id, user="gwen").run.status == "running"
    assert upgraded == [f"sqlite:///{callgov.sandbox_folder / f'{run.run_id}.sqlite3'}"]
