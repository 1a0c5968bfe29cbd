"""Keeping the catalogue in step with the provider's call log: full first, then incrementally.

A run covers ``[run_from, run_to)`` in windows (seven days by default) from oldest to newest, always
asking the provider with both ``dateFrom`` and ``dateTo``. The first run reaches back the
provider's 90 days; later runs start at the watermark minus an overlap (two hours by default), so
calls logged late or changed after the last run are read again, and go up to now. Windows of a
week fill RingCentral's pages of 1,000 (a day of a busy account is 1,100 records, so two pages,
the second nearly empty): fewer requests in the Heavy group, which allows about ten a minute.

Records are upserted and committed together with the cursor every 5 seconds or 10,000 records,
whichever comes first: in practice every page against RingCentral, whose rate limit spaces pages
about six seconds apart, and larger batches when pages come fast (a commit writes back pages of the
table and its seven indexes, which costs far more than a row). A batch may run on across the end of
a window, so a first sync of short windows is not committed window by window. A crash loses only
what was read since the last commit, and no transaction is held open while waiting for the
network. Records arrive newest first, so the cursor is simply "every window before ``window_from``
is read, and everything in this window from ``window_resume_to`` on is stored"; after a crash the
next run reads the rest of the window and goes on. This is sturdier than saving the provider's
next-page link, which shifts as calls arrive and cannot be replayed with a new token.
A lease on the state row keeps a scheduler job and a CLI run from syncing at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.telephony import CallLogRecord, TelephonyError, TelephonyProvider
from engine.catalogue._rows import PROVIDER_RETENTION, RecordingBatch
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import CallgovError, Conflict
from engine.models.recording import CatalogueSyncState

logger = logging.getLogger("engine.catalogue")

_STATE = cast(Table, CatalogueSyncState.__table__)
DEFAULT_PROVIDER = "ringcentral"


class CatalogueSyncFailed(CallgovError):
    """The provider could not be read (unreachable, refusing our credentials, rate limits outlasting
    the retries); everything committed before the failure stays, and the next run resumes."""


@dataclass(frozen=True)
class SyncProgress:
    """How far a run has got, after each commit: what the CLI prints."""

    records: int
    """Call-log records read in this run so far (a resumed run counts those read before the crash)."""
    new: int
    """Recordings added to the catalogue in this run so far."""
    elapsed: float
    """Seconds since this process started (or resumed) the run."""
    read_in_session: int
    """Records read by this process, for the rate."""
    position: datetime
    """Where the reading is: windows are read oldest first, each window newest first."""
    fraction: float
    """The share of the run's time span stored so far, from 0 to 1 (by time, not by records)."""

    @property
    def rate(self) -> float:
        """Records per second read by this process."""
        return self.read_in_session / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class SyncReport:
    """What a finished run did."""

    provider: str
    run_from: datetime
    run_to: datetime
    records: int
    new: int
    seconds: float
    resumed: bool
    synced_until: datetime

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "provider": self.provider, "run_from": self.run_from.isoformat(), "run_to": self.run_to.isoformat(),
            "records": self.records, "new": self.new, "seconds": round(self.seconds, 3),
            "resumed": self.resumed, "synced_until": self.synced_until.isoformat(),
        }


@dataclass
class _Cursor:
    """The in-memory copy of the state row's run fields while a run goes on."""

    run_from: datetime
    run_to: datetime
    window_from: datetime
    window_to: datetime
    resume_to: datetime | None
    records: int
    new: int
    resumed: bool
    synced_until: datetime | None

    def fraction(self) -> float:
        """The share of ``[run_from, run_to)`` stored: whole windows, and the read part of this one."""
        span = (self.run_to - self.run_from).total_seconds()
        if span <= 0:
            return 1.0
        done = (self.window_from - self.run_from) + (self.window_to - (self.resume_to or self.window_to))
        return min(1.0, max(0.0, done.total_seconds() / span))


class CatalogueSync:
    """Reads the provider's call log into the ``recording`` table; see the module docstring."""

    def __init__(
        self,
        db: Database,
        telephony: TelephonyProvider,
        *,
        clock: Clock | None = None,
        provider: str = DEFAULT_PROVIDER,
        window: timedelta = timedelta(days=7),
        overlap: timedelta = timedelta(hours=2),
        history: timedelta = PROVIDER_RETENTION,
        page_size: int = 1000,
        commit_every: int = 10_000,
        commit_interval: float = 5.0,
        lease: timedelta = timedelta(minutes=15),
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if window <= timedelta(0) or overlap < timedelta(0) or history <= timedelta(0):
            raise ValueError("window and history must be positive and overlap not negative")
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000 (RingCentral's perPage limit)")
        if commit_every < 1 or commit_interval < 0:
            raise ValueError("commit_every must be at least 1 and commit_interval not negative")
        self.db = db
        self.telephony = telephony
        self.clock = clock or SystemClock()
        self.provider = provider
        self.window, self.overlap, self.history = window, overlap, history
        self.page_size = page_size
        self.commit_every, self.commit_interval = commit_every, commit_interval
        self.lease = lease
        self._timer = timer
        self._owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run(self, *, progress: Callable[[SyncProgress], None] | None = None, full: bool = False,
            force: bool = False) -> SyncReport:
        """Sync up to now: resume an interrupted run, else start a new one; return what it did.

        ``full`` re-reads the provider's whole 90 days; ``force`` takes the lease from a run that
        seems to hold it (one that died without releasing it). Raises ``Conflict`` when another
        sync holds the lease, and ``CatalogueSyncFailed`` when the provider cannot be read.
        """
        started = self._timer()
        cursor = self._begin(full=full, force=force)
        read_here = 0

        def commit(batch: RecordingBatch) -> bool:
            finished = self._commit(cursor, batch)
            if progress is not None and (batch.records or finished):
                progress(SyncProgress(cursor.records, cursor.new, self._timer() - started, read_here,
                                      cursor.resume_to or cursor.window_from, 1.0 if finished else cursor.fraction()))
            return finished

        try:
            finished = False
            batch, last_commit = self._batch(), self._timer()
            for read_from, read_to, last in self._reads(cursor):
                for record in self._records(read_from, read_to):
                    batch.add(record)
                    read_here += 1
                    if batch.records >= self.commit_every or self._timer() - last_commit >= self.commit_interval:
                        commit(batch)
                        batch, last_commit = self._batch(), self._timer()
                batch.end_window()
                if last or batch.records >= self.commit_every or self._timer() - last_commit >= self.commit_interval:
                    finished = commit(batch)
                    batch, last_commit = self._batch(), self._timer()
            assert finished, "the windows read and the windows committed went apart"
        except BaseException as error:
            self._fail(error)
            if isinstance(error, TelephonyError):
                raise CatalogueSyncFailed(f"The call log could not be read from the provider: {error}. What was read "
                                          "is kept; the next sync resumes from there") from error
            raise
        report = SyncReport(self.provider, cursor.run_from, cursor.run_to, cursor.records, cursor.new,
                            self._timer() - started, cursor.resumed, cursor.run_to)
        logger.info("catalogue sync of %s finished: %d records, %d new, %.1f s", self.provider, report.records,
                    report.new, report.seconds)
        return report

    # -- the state row --------------------------------------------------------------------------

    def _begin(self, *, full: bool, force: bool) -> _Cursor:
        """Take the lease and plan (or pick up) the run, in one transaction."""
        now = self.clock.now()
        with self.db.transaction() as session:
            state = self._locked_state(session)
            if state.lease_owner and state.lease_expires_at and state.lease_expires_at > now and not force:
                raise Conflict(f"Another catalogue sync ({state.lease_owner}) is running; its lease ends at "
                               f"{state.lease_expires_at:%Y-%m-%d %H:%M} UTC (use --force if it died)")
            state.lease_owner, state.lease_expires_at = self._owner, now + self.lease
            resumed = state.run_from is not None and not full
            if resumed:
                # Carry on where the interrupted run stopped, and stretch it to now.
                state.run_to = max(_aware(state.run_to), now)
            else:
                horizon = now - self.history
                watermark = state.synced_until
                start = horizon if full or watermark is None else max(horizon, min(watermark - self.overlap, now))
                state.run_from, state.run_to, state.run_started_at = start, now, now
                state.window_from, state.window_to = start, min(start + self.window, now)
                state.window_resume_to, state.run_records, state.run_new = None, 0, 0
            return _Cursor(_aware(state.run_from), _aware(state.run_to), _aware(state.window_from),
                           _aware(state.window_to), state.window_resume_to, state.run_records or 0,
                           state.run_new or 0, resumed, state.synced_until)

    def _locked_state(self, session: Session) -> CatalogueSyncState:
        """The provider's state row, created if missing, locked for this transaction on PostgreSQL."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(_STATE).values(provider=self.provider, run_records=0, run_new=0)
                        .on_conflict_do_nothing(index_elements=["provider"]))
        state = session.scalars(select(CatalogueSyncState).where(CatalogueSyncState.provider == self.provider)
                                .with_for_update()).one()
        return state

    def _update_state(self, session: Session, **values: Any) -> None:
        """Update the state row if this run still holds the lease; ``Conflict`` if it was taken over."""
        result = session.execute(update(_STATE).where(_STATE.c.provider == self.provider,
                                                      _STATE.c.lease_owner == self._owner).values(**values))
        if getattr(result, "rowcount", 1) != 1:
            raise Conflict("Another catalogue sync took over this one's lease (was it forced?)")

    # -- a run, batch by batch ------------------------------------------------------------------

    def _reads(self, cursor: _Cursor) -> Iterator[tuple[datetime, datetime, bool]]:
        """``(from, to, last)`` of each window the run reads, oldest first: the unread part of the
        current window, then the following windows whole. ``_commit`` moves ``cursor`` through the
        same windows as their records are stored."""
        window_from, window_to = cursor.window_from, cursor.window_to
        read_to = cursor.resume_to or window_to
        while window_to < cursor.run_to:
            yield window_from, read_to, False
            window_from, window_to = window_to, min(window_to + self.window, cursor.run_to)
            read_to = window_to
        yield window_from, read_to, True

    def _records(self, read_from: datetime, read_to: datetime) -> Iterator[CallLogRecord]:
        """The call log of ``[read_from, read_to)``, newest first, fetched a page at a time."""
        if read_to <= read_from:  # a crash after the window's last page, before its end was noted
            return iter([])
        return self.telephony.iter_call_log(read_from, read_to, recording_type="All", per_page=self.page_size)

    def _batch(self) -> RecordingBatch:
        return RecordingBatch(self.db.engine.dialect, self.provider, self.clock.now())

    def _commit(self, cursor: _Cursor, batch: RecordingBatch) -> bool:
        """Store ``batch`` and move the cursor past it, in one transaction: past each window it
        finished (marked read), and in the window it reads now, to its oldest record. Returns
        ``True`` when that finished the run."""
        now = self.clock.now()
        values: dict[str, Any] = {"lease_expires_at": now + self.lease}
        with self.db.transaction() as session:
            if batch.records:
                new = batch.store(session)
                cursor.records, cursor.new = cursor.records + batch.records, cursor.new + new
                values.update(run_records=cursor.records, run_new=cursor.new)
            finished = False
            for _ in range(batch.windows_ended):
                cursor.synced_until = max(cursor.synced_until or cursor.window_to, cursor.window_to)
                values["synced_until"] = cursor.synced_until
                finished = cursor.window_to >= cursor.run_to
                if finished:
                    values.update(run_from=None, run_to=None, window_from=None, window_to=None, window_resume_to=None,
                                  last_run_finished_at=now, last_error=None, last_error_at=None, lease_owner=None,
                                  lease_expires_at=None)
                    break
                cursor.window_from = cursor.window_to
                cursor.window_to = min(cursor.window_from + self.window, cursor.run_to)
                cursor.resume_to = None
                values.update(window_from=cursor.window_from, window_to=cursor.window_to, window_resume_to=None)
            if batch.oldest is not None and not finished:
                resume_to = max(cursor.window_from, _resume_bound(batch.oldest))
                cursor.resume_to = min(resume_to, cursor.resume_to) if cursor.resume_to else resume_to
                values["window_resume_to"] = cursor.resume_to
            self._update_state(session, **values)
        return finished

    def _fail(self, error: BaseException) -> None:
        """Note the error on the state row and let the lease go, so the next run starts at once."""
        message = f"{type(error).__name__}: {error}"[:1000]
        logger.warning("catalogue sync of %s stopped: %s", self.provider, message)
        try:
            with self.db.transaction() as session:
                session.execute(update(_STATE).where(_STATE.c.provider == self.provider,
                                                     _STATE.c.lease_owner == self._owner)
                                .values(last_error=message, last_error_at=self.clock.now(), lease_owner=None,
                                        lease_expires_at=None))
        except Exception:  # the database may be what failed; the run's own error matters more
            logger.exception("could not record the catalogue sync failure")


def _resume_bound(oldest: datetime) -> datetime:
    """An exclusive upper bound that still includes every record that started in ``oldest``'s second.

    Records sharing the oldest start second may straddle two pages; reading that second again is
    harmless (the upsert is idempotent), missing part of it would not be.
    """
    return oldest.replace(microsecond=0) + timedelta(seconds=1)


def _aware(moment: datetime | None) -> datetime:
    """A datetime from the state row (always set where this is called), as aware UTC."""
    assert moment is not None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SyncJobContext(Protocol):
    """What ``sync_job`` needs from the scheduler: the database, the clock and the connectors.

    The engine facade (``Callgov``) fits as it is when its ``services`` has a ``telephony``.
    """

    db: Database
    clock: Clock
    services: Any


def sync_job(context: SyncJobContext) -> SyncReport | None:
    """The scheduler's periodic catalogue sync (incremental after the first run).

    Returns ``None`` without syncing when another sync holds the lease (a CLI run, say), or when no
    telephony provider is configured.
    """
    telephony = getattr(context.services, "telephony", None)
    if telephony is None:
        logger.info("catalogue sync skipped: no telephony provider is configured")
        return None
    try:
        return CatalogueSync(context.db, telephony, clock=context.clock).run()
    except Conflict as busy:
        logger.info("catalogue sync skipped: %s", busy)
        return None
