"""The engine's periodic jobs, registered on the scheduler's ``JobRegistry``.

Every job is a use case of the facade (its own transactions); later issues add theirs here
(catalogue sync, retention, monitoring).
"""

from __future__ import annotations

from datetime import timedelta

from engine.facade import Callgov
from engine.scheduler import JobContext, JobOutcome, JobRegistry

TIMER_CHECK = timedelta(seconds=30)
MESSAGE_RETRY = timedelta(minutes=1)
MAIL_DELIVERY = timedelta(minutes=1)
CATALOGUE_SYNC = timedelta(minutes=15)
SANDBOX_CLEAN_UP = timedelta(hours=1)


def engine_jobs(callgov: Callgov, registry: JobRegistry | None = None) -> JobRegistry:
    """A registry with the engine's jobs, closing over ``callgov``."""
    registry = registry or JobRegistry()

    def fire_due(ctx: JobContext) -> JobOutcome:
        fired = callgov.fire_due_timers()
        return JobOutcome(summary=f"{len(fired)} case(s) had timers fire",
                          detail={"cases": [f.case_ref for f in fired]})

    def redeliver(ctx: JobContext) -> JobOutcome:
        results = callgov.redeliver_kept()
        delivered = sum(r.outcome in ("delivered", "started") for r in results)
        return JobOutcome(summary=f"{delivered} kept message(s) delivered", detail={"tried": len(results)})

    def deliver_mail(ctx: JobContext) -> JobOutcome:
        outcomes = callgov.deliver_mail()
        return JobOutcome(summary=", ".join(f"{n} {status}" for status, n in sorted(outcomes.items()))
                          or "no mail due", detail=outcomes)

    def sync_catalogue(ctx: JobContext) -> JobOutcome:
        from engine.catalogue import sync_job

        report = sync_job(callgov)
        if report is None:
            return JobOutcome(summary="skipped: no provider, or another sync is running")
        return JobOutcome(summary=f"{report.records} call records read, {report.new} new")

    def clean_up_sandbox(ctx: JobContext) -> JobOutcome:
        gone = callgov.clean_up_test_runs()
        return JobOutcome(summary=f"{gone} expired test run(s) deleted")

    registry.register("catalogue.sync", sync_catalogue, every=CATALOGUE_SYNC,
                      description="Read new calls from the telephony provider into the recordings catalogue")
    registry.register("timers.fire_due", fire_due, every=TIMER_CHECK,
                      description="Fire the timers that are due: reminders, escalations, deadlines, start timers")
    registry.register("messages.redeliver", redeliver, every=MESSAGE_RETRY,
                      description="Deliver kept messages that now have a receiver")
    registry.register("mail.deliver", deliver_mail, every=MAIL_DELIVERY,
                      description="Send queued mail that is due: first tries that failed, retries with back-off")
    registry.register("sandbox.clean_up", clean_up_sandbox, every=SANDBOX_CLEAN_UP,
                      description="Delete the governance test runs (sandboxes) older than their keeping time")
    return registry
