"""Two (or eight) people completing the same task at once: exactly one wins, nothing is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from engine.errors import Conflict
from engine.facade import Callgov
from engine.models import TaskHistory


@pytest.mark.parametrize("writers", [8])
def test_concurrent_completions_race_cleanly(callgov: Callgov, deploy: Callable[[str], str],
                                             make_user: Callable[..., object], writers: int) -> None:
    make_user("sam", "staff")
    names = [f"dpo{i}" for i in range(writers)]
    for name in names:
        make_user(name, "dpo")
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    first = callgov.instance(ref).ready_tasks[0]
    callgov.complete_task(first.id, user="sam", data={"summary": "Please release"})
    task_id = callgov.instance(ref).ready_tasks[0].id

    barrier = threading.Barrier(writers)
    outcomes: dict[str, str] = {}

    def attempt(name: str) -> None:
        barrier.wait()
        try:
            callgov.complete_task(task_id, user=name, data={"decision": "refuse", "reason": name})
            outcomes[name] = "won"
        except Conflict:
            outcomes[name] = "conflict"

    threads = [threading.Thread(target=attempt, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["conflict"] * (writers - 1) + ["won"]
    winner = next(name for name, result in outcomes.items() if result == "won")
    view = callgov.instance(ref)
    assert view.status == "completed"
    assert view.data["reason"] == winner
    with callgov.db.reading() as s:
        actors = [d.actor for d in s.query(TaskHistory).filter_by(element_id="decide")]
    assert actors == [winner]
