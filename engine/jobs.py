"""The engine's periodic jobs, registered on the scheduler's ``JobRegistry``.

Every job is a use case of the facade (its own transactions); later issues add theirs here
(catalogue sync, retention, monitoring).
"""

from __future__ import annotations

from datetime import timedelta

from engine.facade import Callgov
from engine.scheduler import JobContext, JobOutcome, JobRegistry

TIMER_CHECK = timedelta(seconds=30)


def engine_jobs(callgov: Callgov, registry: JobRegistry | None = None) -> JobRegistry:
    """A registry with the engine's jobs, closing over ``callgov``."""
    registry = registry or JobRegistry()

    def fire_due(ctx: JobContext) -> JobOutcome:
        fired = callgov.fire_due_timers()
        return JobOutcome(summary=f"{len(fired)} case(s) had timers fire",
                          detail={"cases": [f.case_ref for f in fired]})

    registry.register("timers.fire_due", fire_due, every=TIMER_CHECK,
                      description="Fire the timers that are due: reminders, escalations, deadlines, start timers")
    return registry
