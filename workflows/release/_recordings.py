"""Locate the recordings a request names, and keep a copy of those about to expire at the provider.

The catalogue answers the search; when it has not yet synced the request's window, the provider's
call log is read for that number and window first (one Heavy request), so a call made this morning
can be found before the next scheduled sync. The provider deletes recordings after 90 days and has
no legal hold (policy 1.3): a recording that would expire within ``preserve_days`` is downloaded to
our storage at once, its SHA-256 recorded on its catalogue row.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from connectors.storage import ObjectStore
from connectors.telephony import TelephonyError, TelephonyProvider
from engine import audit
from engine.catalogue import DEFAULT_PROVIDER, recording_row, recordings_by_id, search_recordings, upsert_recordings
from engine.errors import BusinessError
from engine.models.recording import CatalogueSyncState, Recording
from engine.models.releases import ReleaseRecording
from engine.operations import OperationContext
from engine.phone import parse_number
from workflows.release._request import ACTOR
from workflows.release._settings import ReleaseSettings

log = logging.getLogger(__name__)
SPOOL_IN_MEMORY = 8 * 1024 * 1024
_EXTENSIONS = {"audio/mpeg": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav"}
NOT_FOUND = ("No recording of that number was found in that window. Check the number and the date and time "
             "(calls are kept by the provider for 90 days), then send the request again or withdraw it.")


def locate_recordings(settings: ReleaseSettings, ctx: OperationContext) -> dict[str, Any]:
    """``release.locate_recordings``: attach the recordings of the number in the window to the case.

    Raises ``BusinessError("no_recordings")`` when there are none, which the diagram sends back to
    the requester.
    """
    picked = ctx.data.get("picked_recording_ids")
    number: str | None = None
    if picked:  # chosen from the catalogue search: specific by nature
        results, more = tuple(recordings_by_id(ctx.session, [int(i) for i in picked], now=ctx.now())), False
    else:
        number = parse_number(str(ctx.data["phone_number"]))
        start: datetime = ctx.data["call_from"]
        end: datetime = ctx.data["call_to"]
        _read_provider_if_unsynced(ctx, number, start, end)
        page = search_recordings(ctx.session, actor=ACTOR, now=ctx.now(), number=number, date_from=start,
                                 date_to=end, limit=settings.max_recordings)
        results, more = page.results, page.has_more
    if not results:
        audit.record(ctx.session, action="release.no_recordings", actor=ACTOR, case_ref=ctx.case_ref,
                     at=ctx.now(), detail={"number": number, "picked": picked or []})
        raise BusinessError("no_recordings", NOT_FOUND)
    ids = [hit.id for hit in results]
    session = ctx.session
    session.execute(delete(ReleaseRecording).where(ReleaseRecording.case_ref == ctx.case_ref))
    session.execute(insert(ReleaseRecording), [
        {"case_ref": ctx.case_ref, "instance_id": ctx.instance_id, "recording_id": rid, "attached_at": ctx.now()}
        for rid in ids])
    audit.record(session, action="release.recordings_located", actor=ACTOR, case_ref=ctx.case_ref, at=ctx.now(),
                 detail={"recording_ids": ids, "more": more})
    recordings = [{
        "id": hit.id, "provider_recording_id": hit.provider_recording_id, "start_time": hit.start_time.isoformat(),
        "duration_seconds": hit.duration_seconds, "direction": hit.direction,
        "external_number": hit.external_number, "extension": hit.extension, "staff_name": hit.staff_name,
        "expires_at": hit.expires_at.isoformat(),
    } for hit in results]
    return {"recording_ids": ids, "recordings": recordings, "recordings_summary": _summary(results),
            "more_recordings_than_shown": more}


def _summary(hits: Any) -> str:
    lines = [f"#{h.id}: {h.start_time:%d %b %Y %H:%M} UTC, {h.direction or '?'}, {h.duration_seconds or 0} s, "
             f"{h.external_number or 'withheld'} with {h.staff_name or 'extension ' + str(h.extension)}"
             for h in hits]
    return "\n".join(lines)


def _read_provider_if_unsynced(ctx: OperationContext, number: str, start: datetime, end: datetime) -> None:
    """Read the provider's call log for the window if the catalogue's sync has not reached its end."""
    synced = ctx.session.scalar(select(CatalogueSyncState.synced_until).where(
        CatalogueSyncState.provider == DEFAULT_PROVIDER))
    if synced is not None and synced >= end:
        return
    telephony: TelephonyProvider | None = getattr(ctx.services, "telephony", None)
    if telephony is None:
        return
    try:
        rows = [row for record in telephony.iter_call_log(start, end, phone_number=number, recording_type="All")
                if (row := recording_row(record, provider=DEFAULT_PROVIDER, now=ctx.now())) is not None]
    except TelephonyError as error:  # the catalogue still answers; the sync will catch up
        log.warning("case %s: the provider's call log could not be read (%s); searching the catalogue only",
                    ctx.case_ref, error)
        return
    upsert_recordings(ctx.session, rows)


def preserve_expiring(settings: ReleaseSettings, ctx: OperationContext) -> dict[str, Any]:
    """``release.preserve_expiring``: keep a copy of every attached recording expiring soon."""
    now = ctx.now()
    horizon = now + timedelta(days=settings.preserve_days)
    rows = ctx.session.scalars(select(Recording).where(Recording.id.in_(list(ctx.data["recording_ids"])))).all()
    preserved = []
    for row in rows:
        if row.retained_key is None and row.deleted_at_provider is None and now < row.provider_expires_at <= horizon:
            retain_copy(ctx.session, ctx.services, row, now=now, case_ref=ctx.case_ref)
            preserved.append(row.id)
    return {"preserved_ids": preserved}


def retain_copy(session: Session, services: Any, row: Recording, *, now: datetime, case_ref: str) -> Recording:
    """Download ``row``'s audio from the provider into our storage and record where, with its SHA-256.

    The audio passes through a spooled temporary file (memory up to 8 MB, then disk), because the
    provider pushes chunks while the store pulls them.
    """
    telephony: TelephonyProvider = services.telephony
    storage: ObjectStore = services.storage
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        result = telephony.download_recording(row.provider_recording_id, spool, content_uri=row.content_uri)
        spool.seek(0)
        content_type = result.content_type or row.content_type or "audio/mpeg"
        key = f"recordings/{row.provider}/{row.provider_recording_id}{_EXTENSIONS.get(content_type, '')}"
        stored = storage.put_stream(key, spool, content_type=content_type,  # type: ignore[arg-type]
                                    metadata={"recording-id": str(row.id), "case-ref": case_ref})
    row.retained_key, row.retained_sha256, row.retained_at = stored.key, stored.sha256, now
    row.content_type = content_type
    session.flush()
    audit.record(session, action="recording.retained", actor=ACTOR, case_ref=case_ref, recording_id=str(row.id),
                 at=now, detail={"key": stored.key, "sha256": stored.sha256, "size": stored.size,
                                 "expires_at_provider": row.provider_expires_at.isoformat()})
    return row
