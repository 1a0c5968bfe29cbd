"""Benchmark: N cases of a three-task process with a gateway, ours against plain SpiffWorkflow.

Ours: the ``Callgov`` facade on a SQLite file (transactions, projections, history, audit).
Baseline, measured in the same run: plain SpiffWorkflow (``CamundaParser``, its default serializer)
running the same BPMN and doing a JSON serializer round trip at every wait.

The last line printed is the ratio ours/baseline (target: at most 1.5).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.db import Base, Database  # noqa: E402
from engine.facade import Callgov  # noqa: E402

BPMN = Path(__file__).parent / "bpmn" / "three_tasks.bpmn"
ANSWERS = {
    "describe": {"summary": "Call from a tenant about repairs", "copies": "1"},
    "decide": {"decision": "approve", "reason": ""},
    "release": {"released": "true"},
}


def run_ours(n: int, folder: Path) -> float:
    db = Database(f"sqlite:///{folder / 'bench.sqlite3'}")
    Base.metadata.create_all(db.engine)
    callgov = Callgov(db)
    for name, roles in (("sam", ["staff"]), ("dana", ["dpo"]), ("ian", ["it_helpdesk"])):
        callgov.add_user(name, roles=roles, password="benchmark-password")
    callgov.deploy(BPMN.read_bytes(), filename=BPMN.name, actor="bench", publish=True)
    actors = {"describe": "sam", "decide": "dana", "release": "ian"}
    started = time.perf_counter()
    for _ in range(n):
        view = callgov.start("approval", user="sam")
        while view.ready_tasks:
            task = view.ready_tasks[0]
            view = callgov.complete_task(task.id, user=actors[task.element_id], data=ANSWERS[task.element_id])
        assert view.status == "completed"
    elapsed = time.perf_counter() - started
    db.dispose()
    return elapsed


def run_baseline(n: int) -> float:
    parser = CamundaParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec("approval")
    subprocess_specs = parser.get_subprocess_specs("approval")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        while True:
            workflow = serializer.deserialize_json(state)
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = ready[0]
            task.data.update(ANSWERS[task.task_spec.name])
            task.run()
            workflow.do_engine_steps()
            state = serializer.serialize_json(workflow)
        assert workflow.is_completed()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--cases", type=int, default=300)
    args = parser.parse_args()
    run_baseline(5)  # warm up imports and caches on both sides
    with tempfile.TemporaryDirectory() as folder:
        ours = run_ours(args.cases, Path(folder))
    baseline = run_baseline(args.cases)
    print(f"cases: {args.cases}")
    print(f"ours:     {ours:.3f} s  ({args.cases / ours:.1f} cases/s, {ours / args.cases * 1000:.2f} ms/case)")
    print(f"baseline: {baseline:.3f} s  ({args.cases / baseline:.1f} cases/s)")
    print(f"ratio ours/baseline: {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
