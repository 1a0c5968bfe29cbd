"""The job registry: what runs periodically, how often, and what a job is given and gives back."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.clock import Clock

__all__ = ["Job", "JobContext", "JobFunction", "JobOutcome", "JobRegistry"]

_JOB_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_MAX_NAME = 80  # scheduler_job.name


@dataclass(frozen=True)
class JobContext:
    """What a running job is given: its name, the clock, a logger of its own and the due time.

    Jobs reach the database through the facade they close over (one transaction per use case);
    the context carries nothing transactional, so a job cannot commit on the scheduler's behalf.
    """

    name: str
    clock: Clock
    logger: logging.Logger
    now: datetime
    """The time the scheduler decided the job was due (the tick's time)."""


@dataclass(frozen=True)
class JobOutcome:
    """What a job reports when it finishes: a one-line summary and a few JSON-ready details.

    The summary is kept as the job's ``last_summary``; details go to the log and ``TickReport``.
    """

    summary: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


JobFunction = Callable[[JobContext], "JobOutcome | None"]


@dataclass(frozen=True)
class Job:
    """A registered periodic job: run ``func`` at most once every ``every``."""

    name: str
    func: JobFunction
    every: timedelta
    description: str = ""


class JobRegistry:
    """The periodic jobs of one callgov installation, in registration order.

    The engine registers ``timers.fire_due``; later features add sync, retention and monitoring
    jobs the same way. A registry is filled once at start-up and read by the ``Scheduler``.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(self, name: str, func: JobFunction, *, every: timedelta, description: str = "") -> Job:
        """Add a job named ``name`` (dotted lowercase, such as ``timers.fire_due``) run every ``every``.

        Raises ``ValueError`` for a malformed or duplicate name or an interval that is not positive.
        A job runs at most once per scheduler tick, so an ``every`` shorter than the tick interval
        means "every tick".
        """
        if not isinstance(name, str) or len(name) > _MAX_NAME or not _JOB_NAME.fullmatch(name):
            raise ValueError(f"job names are dotted lowercase words of at most {_MAX_NAME} characters, "
                             f"such as 'timers.fire_due'; got {name!r}")
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already registered")
        if not isinstance(every, timedelta) or every <= timedelta(0):
            raise ValueError(f"job {name!r}: 'every' must be a positive timedelta, not {every!r}")
        if not callable(func):
            raise ValueError(f"job {name!r}: {func!r} is not callable")
        job = Job(name=name, func=func, every=every, description=description)
        self._jobs[name] = job
        return job

    def get(self, name: str) -> Job:
        """The job named ``name``; ``KeyError`` if there is none."""
        return self._jobs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)
