"""The recording release lifecycle's operations (issue 6): request -> locate -> preserve -> authorise ->
release -> record, as ``workflows/bpmn/recording_release.bpmn`` calls them.

    release.check_request            refuse trawls and incomplete requests back to the requester
    release.locate_recordings        attach the recordings of the number and window (or "no_recordings")
    release.preserve_expiring        keep a copy of recordings expiring at the provider soon
    release.record_decision          audit the authoriser's decision; name the authoriser of an approval
    release.escalate                 mark the request as escalated to the DPO
    release.remind_authorisers       mail the authorisers about a request waiting too long
    release.grant_listening_access   time-limited listening for an internal review
    release.build_disclosure_package audio + PDF form + manifest in storage, and a delivery link
    release.record_disclosure        the disclosure register row
    release.notify_requester         mail the requester the outcome
"""

from __future__ import annotations

from functools import partial

from engine.config import Settings
from engine.operations import OperationRegistry
from workflows.release._notify import notify_requester, remind_authorisers
from workflows.release._recordings import locate_recordings, preserve_expiring
from workflows.release._release import build_disclosure_package, grant_listening_access, record_disclosure
from workflows.release._request import check_request, mark_escalated, record_decision
from workflows.release._settings import ReleaseSettings

__all__ = ["ReleaseSettings", "register"]


def register(registry: OperationRegistry, settings: Settings) -> None:
    """Register the release operations, configured from ``settings``' environment."""
    release = ReleaseSettings.from_env(settings.environ)
    operations = (
        ("release.check_request", partial(check_request, release),
         "Refuse a request without a specific number and time window (a trawl) back to the requester"),
        ("release.locate_recordings", partial(locate_recordings, release),
         "Find the recordings of the number in the window; raises no_recordings"),
        ("release.preserve_expiring", partial(preserve_expiring, release),
         f"Keep a copy of recordings expiring at the provider within {release.preserve_days} days"),
        ("release.record_decision", record_decision, "Record the authoriser's decision"),
        ("release.escalate", mark_escalated, "Mark the request as escalated to the DPO"),
        ("release.remind_authorisers", partial(remind_authorisers, release), "Remind the authorisers by mail"),
        ("release.grant_listening_access", partial(grant_listening_access, release),
         f"Let the requester listen for {release.listening_days} days"),
        ("release.build_disclosure_package", partial(build_disclosure_package, release),
         "Build the disclosure package and mail its delivery link"),
        ("release.record_disclosure", record_disclosure, "Write the disclosure register row"),
        ("release.notify_requester", partial(notify_requester, release), "Mail the requester the outcome"),
    )
    for topic, function, description in operations:
        registry.register(topic, function, description=description)
