"""The recordings catalogue: what the telephony provider holds, kept in our database and searched there.

Processes and people find recordings here (by number, extension, time window and direction) rather
than by asking the provider, whose call-log endpoint allows about ten requests a minute.
``CatalogueSync`` (and ``sync_job`` for the scheduler) keeps the ``recording`` table in step with
the provider's call log; ``search_recordings`` searches it and audits every search.

    CatalogueSyncFailed     the provider could not be read; the next run resumes where this one stopped
"""

from engine.catalogue._rows import PROVIDER_RETENTION, recording_row, upsert_recordings
from engine.catalogue._search import (
    MAX_PAGE_SIZE,
    Page,
    RecordingHit,
    SearchCriteria,
    decode_cursor,
    encode_cursor,
    parse_criteria,
    recordings_by_id,
    search_recordings,
)
from engine.catalogue._sync import (
    DEFAULT_PROVIDER,
    CatalogueSync,
    CatalogueSyncFailed,
    SyncJobContext,
    SyncProgress,
    SyncReport,
    sync_job,
)

__all__ = [
    "DEFAULT_PROVIDER",
    "MAX_PAGE_SIZE",
    "PROVIDER_RETENTION",
    "CatalogueSync",
    "CatalogueSyncFailed",
    "Page",
    "RecordingHit",
    "SearchCriteria",
    "SyncJobContext",
    "SyncProgress",
    "SyncReport",
    "decode_cursor",
    "encode_cursor",
    "parse_criteria",
    "recording_row",
    "recordings_by_id",
    "search_recordings",
    "sync_job",
    "upsert_recordings",
]
