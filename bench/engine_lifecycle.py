"""Benchmark: N cases of a three-task process with a gateway, ours against plain SpiffWorkflow.

Ours: the ``Callgov`` facade on a SQLite file (transactions, projections, history, audit).
Baseline, measured in the same run: plain SpiffWorkflow (``CamundaParser``, its default serializer)
running the same BPMN and doing a JSON serializer round trip at every wait.

Ours does everything a person's start or completion does: reads the user's roles, the task and the
case, checks who may act, validates the form, restores the state, runs the engine, saves the state
and rewrites the task projection, keeps the history, appends to the audit chain and commits, once
per start and once per task. The baseline has no database, permissions, forms, history or audit.

The machines here are noisy, so the two sides run in alternating rounds and each side's best round
counts. Each side's CPU time is printed too: on a machine other people are using, the wall-clock
ratio swings with their load (mostly because ours waits for the disk when SQLite checkpoints its
WAL), while CPU time says how much work each side does. The last line printed is the wall-clock
ratio ours/baseline (target: at most 1.5).

Result, November 2026 (2 shared cores, load 6, five runs): ours 4.9-7.7 ms/case, baseline
4.4-5.9 ms/case, ratio 1.11-1.40; CPU-time ratio 1.12-1.18. Before the hot-path work in the same
conditions: ratio 1.71-1.87, CPU-time ratio 1.61-1.63. With a full test suite running beside it
the ratio ranged from 0.87 to 2.30 (CPU-time ratio 1.08-1.13). Details and what the time goes
on: docs/architecture.md, "The hot path".
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


class Ours:
    """The facade on a SQLite file, with users and the published process ready."""

    def __init__(self, folder: Path) -> None:
        self.db = Database(f"sqlite:///{folder / 'bench.sqlite3'}")
        Base.metadata.create_all(self.db.engine)
        self.callgov = Callgov(self.db)
        for name, roles in (("sam", ["staff"]), ("dana", ["dpo"]), ("ian", ["it_helpdesk"])):
            self.callgov.add_user(name, roles=roles, password="benchmark-password")
        self.callgov.deploy(BPMN.read_bytes(), filename=BPMN.name, actor="bench", publish=True)

    def run(self, n: int) -> float:
        actors = {"describe": "sam", "decide": "dana", "release": "ian"}
        started = time.perf_counter()
        for _ in range(n):
            view = self.callgov.start("approval", user="sam")
            while view.ready_tasks:
                task = view.ready_tasks[0]
                view = self.callgov.complete_task(task.id, user=actors[task.element_id],
                                                  data=ANSWERS[task.element_id])
            assert view.status == "completed"
        return time.perf_counter() - started


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
    parser.add_argument("-n", "--cases", type=int, default=100, help="cases per round")
    parser.add_argument("-r", "--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours = Ours(Path(folder))
        ours.run(5)
        run_baseline(5)  # warm up imports and caches on both sides
        ours_times, baseline_times, ours_cpu, baseline_cpu = [], [], [], []
        for _ in range(args.rounds):
            cpu = time.process_time()
            ours_times.append(ours.run(args.cases))
            ours_cpu.append(time.process_time() - cpu)
            cpu = time.process_time()
            baseline_times.append(run_baseline(args.cases))
            baseline_cpu.append(time.process_time() - cpu)
        ours.db.dispose()
    best_ours, best_baseline = min(ours_times), min(baseline_times)
    cpu_ours, cpu_baseline = min(ours_cpu), min(baseline_cpu)
    print(f"cases per round: {args.cases}, rounds: {args.rounds} (best round counts)")
    print(f"ours:     {best_ours / args.cases * 1000:.2f} ms/case  ({args.cases / best_ours:.1f} cases/s)")
    print(f"baseline: {best_baseline / args.cases * 1000:.2f} ms/case  ({args.cases / best_baseline:.1f} cases/s)")
    print(f"cpu time: ours {cpu_ours / args.cases * 1000:.2f} ms/case, baseline "
          f"{cpu_baseline / args.cases * 1000:.2f} ms/case, ratio {cpu_ours / cpu_baseline:.2f} "
          "(for reading a loaded machine; leaves out waiting for the disk)")
    print(f"ratio ours/baseline: {best_ours / best_baseline:.2f}")


if __name__ == "__main__":
    main()
