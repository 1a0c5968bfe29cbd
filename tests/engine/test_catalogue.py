"""The recordings catalogue: sync from the provider's call log, and search, on SQLite and PostgreSQL.

Unit tests sync from ``FakeTelephony``; integration tests sync from the telephony simulator over
HTTP through ``RingCentralClient``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

import engine.models.recording  # noqa: F401  (registers the catalogue's tables before the schema is made)
from connectors.telephony import (
    CallLogRecord,
    FakeTelephony,
    RingCentralClient,
    TelephonyProvider,
    TelephonyUnavailable,
)
from connectors.telephony.simulator import RunningSimulator, start_simulator
from engine import audit
from engine.catalogue import (
    CatalogueSync,
    CatalogueSyncFailed,
    Page,
    SyncProgress,
    recording_row,
    search_recordings,
    sync_job,
    upsert_recordings,
)
from engine.cli_recordings import UKDateTime, recordings
from engine.clock import FakeClock
from engine.db import Database
from engine.errors import Conflict, InvalidInput
from engine.facade import Callgov
from engine.models.audit import AuditEvent
from engine.models.recording import CatalogueSyncState, Recording

CALLER = "+447700900123"  # Ofcom's drama range: never a real person
OTHER_CALLER = "+441134960999"
EXT_101 = "+441248123401"
EXT_102 = "+441248123402"


# --- providers that misbehave or tell tales ------------------------------------------------------


class SpyTelephony:
    """Passes everything to ``inner`` and notes every call-log request; can fail after N records."""

    def __init__(self, inner: Any, *, fail_after: int | None = None) -> None:
        self.inner = inner
        self.fail_after = fail_after
        self.requests: list[tuple[datetime, datetime, dict[str, Any]]] = []
        self.served = 0

    def iter_call_log(self, date_from: datetime, date_to: datetime, **options: Any) -> Iterator[CallLogRecord]:
        self.requests.append((date_from, date_to, options))
        for record in self.inner.iter_call_log(date_from, date_to, **options):
            if self.fail_after is not None and self.served >= self.fail_after:
                raise TelephonyUnavailable("the provider kept answering 503 (test)")
            self.served += 1
            yield record

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeTelephony:
    """An empty in-memory provider."""
    return FakeTelephony()


@pytest.fixture
def make_sync(database: Database, clock: FakeClock) -> Callable[..., CatalogueSync]:
    """Factory: a ``CatalogueSync`` on the test database and clock, reading ``telephony``."""

    def make(telephony: TelephonyProvider, **options: Any) -> CatalogueSync:
        return CatalogueSync(database, telephony, clock=clock, **options)

    return make


@pytest.fixture
def calls(fake: FakeTelephony, clock: FakeClock) -> list[CallLogRecord]:
    """A hundred recorded calls over the last 99 days (the oldest past the provider's 90), and some not recorded."""
    now = clock.now()
    made = []
    for n in range(100):
        made.append(fake.add_call(
            now - timedelta(days=n, hours=1),
            external_number=CALLER if n % 2 == 0 else OTHER_CALLER,
            extension_number="101" if n % 3 else "102",
            extension_number_e164=EXT_101 if n % 3 else EXT_102,
            direction="Inbound" if n % 4 else "Outbound",
            duration=30 + n,
        ))
    for n in range(10):
        fake.add_call(now - timedelta(days=n, hours=2), recording_type=None)
    return made


def in_window(records: list[CallLogRecord], now: datetime) -> list[CallLogRecord]:
    """The records whose recordings the provider still holds (started in the last 90 days)."""
    return [r for r in records if r.start_time >= now - timedelta(days=90) and r.recording]


def rows(database: Database) -> list[Recording]:
    with database.reading() as session:
        found = list(session.scalars(select(Recording).order_by(Recording.start_time)))
        session.expunge_all()  # keep the loaded values past the read session's rollback
        return found


def state(database: Database) -> CatalogueSyncState:
    with database.reading() as session:
        found = session.get(CatalogueSyncState, "ringcentral")
        assert found is not None
        session.expunge_all()
        return found


# --- sync from the fake provider ---------------------------------------------------------------


def test_first_sync_catalogues_the_recordings_of_the_last_90_days(
    database: Database, clock: FakeClock, fake: FakeTelephony, calls: list[CallLogRecord],
    make_sync: Callable[..., CatalogueSync],
) -> None:
    seen: list[SyncProgress] = []
    report = make_sync(fake).run(progress=seen.append)

    expected = in_window(calls, clock.now())
    stored = rows(database)
    assert len(stored) == len(expected) == report.new == report.records == 90
    assert {r.provider_recording_id for r in stored} == {r.recording.id for r in expected if r.recording}
    assert report.synced_until == clock.now() and not report.resumed
    assert [p.records for p in seen] == sorted(p.records for p in seen) and seen[-1].records == 90
    assert seen[-1].fraction == pytest.approx(1.0, abs=0.02)


def test_a_row_holds_the_call_with_numbers_in_e164(
    database: Database, clock: FakeClock, fake: FakeTelephony, make_sync: Callable[..., CatalogueSync],
) -> None:
    start = clock.now() - timedelta(days=3)
    inbound = fake.add_call(start, external_number="+44 7700 900123", extension_number="105",
                            extension_number_e164="01248 123405", direction="Inbound", duration=95,
                            recording_type="OnDemand", session_id="S1")
    fake.add_call(start + timedelta(minutes=5), external_number="+441134960001", direction="Outbound")
    make_sync(fake).run()

    first, second = rows(database)
    assert inbound.recording is not None
    assert (first.provider, first.provider_record_id, first.provider_recording_id) == (
        "ringcentral", inbound.id, inbound.recording.id)
    assert (first.session_id, first.start_time, first.duration_seconds) == ("S1", start, 95)
    assert (first.direction, first.external_number, first.extension_number) == ("Inbound", CALLER, "+441248123405")
    assert (first.extension, first.extension_id, first.staff_name) == ("105", "ext-105", "Extension 105")
    assert (first.recording_type, first.content_uri) == ("OnDemand", inbound.recording.content_uri)
    assert first.provider_expires_at == start + timedelta(days=90)
    assert first.first_seen_at == first.last_synced_at == clock.now()
    assert first.retained_key is None and first.deleted_at_provider is None
    assert (second.direction, second.external_number, second.extension_number) == (
        "Outbound", "+441134960001", EXT_101)


def test_running_again_adds_nothing_and_refreshes_what_changed(
    database: Database, clock: FakeClock, fake: FakeTelephony, calls: list[CallLogRecord],
    make_sync: Callable[..., CatalogueSync],
) -> None:
    make_sync(fake).run()
    changed = calls[5]
    fake._records[changed.id] = replace(changed, duration=999, to_party=replace(changed.to_party, name="Siân Jones"))
    clock.advance(timedelta(minutes=10))

    report = make_sync(fake).run(full=True)

    stored = rows(database)
    assert report.new == 0 and report.records == 90 and len(stored) == 90
    assert len({r.provider_recording_id for r in stored}) == 90
    row = next(r for r in stored if r.provider_record_id == changed.id)
    assert (row.duration_seconds, row.staff_name) == (999, "Siân Jones")
    assert row.first_seen_at == clock.now() - timedelta(minutes=10) and row.last_synced_at == clock.now()


def test_provider_text_is_cut_to_fit_and_a_repeated_recording_keeps_its_last_row(
    database: Database, clock: FakeClock, fake: FakeTelephony,
) -> None:
    record = fake.add_call(clock.now() - timedelta(hours=1))
    long_name = replace(record, to_party=replace(record.to_party, name="Ll" * 150))
    changed = replace(record, duration=7)
    rows_ = [recording_row(r, provider="ringcentral", now=clock.now()) for r in (long_name, changed, long_name)]
    with database.transaction() as session:
        new = upsert_recordings(session, [row for row in rows_ if row])

    [row] = rows(database)
    assert new == 1 and row.staff_name == "Ll" * 100 and row.duration_seconds == 60
    assert recording_row(replace(record, recording=None), provider="ringcentral", now=clock.now()) is None


def test_commits_come_every_so_many_records_or_seconds(
    database: Database, clock: FakeClock, fake: FakeTelephony, make_sync: Callable[..., CatalogueSync],
) -> None:
    for n in range(30):
        fake.add_call(clock.now() - timedelta(hours=n + 1))
    by_count: list[SyncProgress] = []
    make_sync(fake, commit_every=12).run(progress=by_count.append)
    assert [p.records for p in by_count] == [12, 24, 30]

    ticks = iter(range(0, 10_000, 3))  # every look at the timer is three seconds later
    by_time: list[SyncProgress] = []
    make_sync(fake, commit_interval=2.0, timer=lambda: float(next(ticks))).run(full=True, progress=by_time.append)
    assert [p.records for p in by_time] == [*range(1, 31), 30]  # a commit per record, then the run's end
    assert by_time[-1].fraction == 1.0 and by_count[0].fraction < 1.0


def test_every_request_names_its_window_and_the_windows_tile_the_run(
    clock: FakeClock, fake: FakeTelephony, calls: list[CallLogRecord], make_sync: Callable[..., CatalogueSync],
) -> None:
    spy = SpyTelephony(fake)
    report = make_sync(spy).run()

    windows = [(start, end) for start, end, _ in spy.requests]
    assert windows[0][0] == report.run_from == clock.now() - timedelta(days=90)
    assert windows[-1][1] == report.run_to == clock.now()
    assert all(earlier[1] == later[0] for earlier, later in zip(windows, windows[1:], strict=False))
    assert all(end - start <= timedelta(days=7) for start, end in windows) and len(windows) == 13
    assert all(options["recording_type"] == "All" for _, _, options in spy.requests)


def test_a_crashed_sync_resumes_where_it_stopped_without_duplicates(
    database: Database, clock: FakeClock, fake: FakeTelephony, make_sync: Callable[..., CatalogueSync],
) -> None:
    base = clock.now() - timedelta(days=10)
    for n in range(57):  # one day of calls, a minute apart, read in pages of 10
        fake.add_call(base + timedelta(minutes=n), external_number=CALLER)
    crashing = SpyTelephony(fake, fail_after=25)

    with pytest.raises(CatalogueSyncFailed, match="next sync resumes"):
        make_sync(crashing, page_size=10, commit_every=10).run()

    cursor = state(database)
    assert len(rows(database)) == 20 == cursor.run_records  # two whole pages committed, the third lost
    assert cursor.window_resume_to is not None and cursor.window_from is not None
    assert cursor.last_error and "503" in cursor.last_error and cursor.lease_owner is None
    assert cursor.synced_until is not None and cursor.synced_until <= base

    spy = SpyTelephony(fake)
    report = make_sync(spy, page_size=10, commit_every=10).run()

    assert report.resumed and report.new == 57 and len(rows(database)) == 57
    assert spy.requests[0][:2] == (cursor.window_from, cursor.window_resume_to)
    assert spy.served <= 37 + 1  # the rest of that window (and the second it stopped in), no more
    assert report.records == 20 + spy.served
    finished = state(database)
    assert finished.run_from is None and finished.last_error is None and finished.synced_until == clock.now()


def test_a_batch_runs_on_across_windows_and_a_crash_in_it_resumes_in_the_right_window(
    database: Database, clock: FakeClock, fake: FakeTelephony, make_sync: Callable[..., CatalogueSync],
) -> None:
    for day in range(40):  # a call a day: about seven a window, fewer than a batch
        fake.add_call(clock.now() - timedelta(days=day, hours=3), external_number=CALLER)
    crashing = SpyTelephony(fake, fail_after=25)
    ticks = iter(range(0, 10_000, 3))  # every look at the timer is three seconds later
    progress: list[SyncProgress] = []

    with pytest.raises(CatalogueSyncFailed):
        make_sync(crashing, commit_every=10, commit_interval=3600.0, timer=lambda: float(next(ticks))).run(
            progress=progress.append)

    cursor = state(database)
    stored = rows(database)
    assert len(stored) == 20 == cursor.run_records and [p.records for p in progress] == [10, 20]
    assert cursor.window_from is not None and cursor.window_resume_to is not None
    assert cursor.synced_until is not None and cursor.synced_until <= cursor.window_from
    # the resume point lies in the window being read, just past the oldest record stored from it
    in_window = [r.start_time for r in stored if r.start_time >= cursor.window_from]
    assert in_window and cursor.window_resume_to == min(in_window).replace(microsecond=0) + timedelta(seconds=1)
    assert len(crashing.requests) > 3  # windows were read past without a commit of their own

    spy = SpyTelephony(fake)
    report = make_sync(spy).run()
    assert report.resumed and report.new == 40 == len(rows(database))  # the run counts from its start
    assert spy.requests[0][:2] == (cursor.window_from, cursor.window_resume_to)
    assert spy.served < 40 - 20 + 7  # the rest, and at most the stored part of that one window again


def test_an_incremental_sync_reads_from_the_watermark_less_the_overlap(
    database: Database, clock: FakeClock, fake: FakeTelephony, calls: list[CallLogRecord],
    make_sync: Callable[..., CatalogueSync],
) -> None:
    make_sync(fake).run()
    first_run_end = clock.now()
    clock.advance(timedelta(hours=6))
    late = fake.add_call(first_run_end - timedelta(minutes=30))  # logged after the last run, started before it
    fresh = [fake.add_call(first_run_end + timedelta(hours=h)) for h in range(1, 5)]

    spy = SpyTelephony(fake)
    report = make_sync(spy).run()

    assert [(start, end) for start, end, _ in spy.requests] == [(first_run_end - timedelta(hours=2), clock.now())]
    assert report.new == 5 and report.records == 6  # and calls[0], an hour before the last run, again
    ids = {r.provider_record_id for r in rows(database)}
    assert late.id in ids and {r.id for r in fresh} <= ids and len(ids) == 95


def test_a_second_sync_waits_for_the_lease_unless_forced(
    database: Database, clock: FakeClock, fake: FakeTelephony, calls: list[CallLogRecord],
    make_sync: Callable[..., CatalogueSync],
) -> None:
    make_sync(fake).run()
    with database.transaction() as session:
        session.execute(update(CatalogueSyncState).values(
            lease_owner="other-host:42:abcd", lease_expires_at=clock.now() + timedelta(minutes=5)))

    with pytest.raises(Conflict, match="other-host"):
        make_sync(fake).run()
    assert sync_job(SimpleNamespace(db=database, clock=clock, services=SimpleNamespace(telephony=fake))) is None

    assert make_sync(fake).run(force=True).records == 1  # calls[0], inside the two hours' overlap
    clock.advance(timedelta(hours=1))
    assert state(database).lease_owner is None


def test_the_scheduler_job_syncs_with_the_configured_provider(
    database: Database, clock: FakeClock, fake: FakeTelephony, calls: list[CallLogRecord],
) -> None:
    context = SimpleNamespace(db=database, clock=clock, services=SimpleNamespace(telephony=fake))
    report = sync_job(context)
    assert report is not None and report.new == 90
    assert sync_job(SimpleNamespace(db=database, clock=clock, services=None)) is None


# --- search --------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(database: Database, fake: FakeTelephony, calls: list[CallLogRecord],
              make_sync: Callable[..., CatalogueSync]) -> Database:
    """The database after a first sync of ``calls``."""
    make_sync(fake).run()
    return database


@pytest.fixture
def search(catalogue: Database, clock: FakeClock) -> Callable[..., Page]:
    """Factory: run ``search_recordings`` as ``dana`` in its own transaction."""

    def run(**criteria: Any) -> Page:
        with catalogue.transaction() as session:
            return search_recordings(session, actor="dana", now=clock.now(), **criteria)

    return run


def expected_ids(calls: list[CallLogRecord], now: datetime, keep: Callable[[CallLogRecord], bool]) -> list[str]:
    """Recording ids of the matching calls, newest first."""
    matching = sorted((r for r in in_window(calls, now) if keep(r)), key=lambda r: r.start_time, reverse=True)
    return [r.recording.id for r in matching if r.recording]


def hit_ids(page: Page) -> list[str]:
    return [hit.provider_recording_id for hit in page.results]


@pytest.mark.parametrize("typed", ["07700900123", "07700 900123", "+44 7700 900123", "0044 7700 900123",
                                   "(07700) 900-123", "447700900123"])
def test_search_by_the_callers_number_in_any_format(
    search: Callable[..., Page], calls: list[CallLogRecord], clock: FakeClock, typed: str,
) -> None:
    page = search(number=typed, limit=200)
    assert hit_ids(page) == expected_ids(calls, clock.now(), lambda r: CALLER in (
        r.from_party.phone_number, r.to_party.phone_number))
    assert len(page.results) == 45 and not page.has_more


@pytest.mark.parametrize("typed", ["01248 123402", "+44 1248 123402", "(01248) 123-402", "0044 1248 123402"])
def test_a_number_also_finds_the_calls_of_the_extension_it_belongs_to(
    search: Callable[..., Page], calls: list[CallLogRecord], clock: FakeClock, typed: str,
) -> None:
    assert hit_ids(search(number=typed, limit=200)) == expected_ids(
        calls, clock.now(), lambda r: EXT_102 in (r.from_party.phone_number, r.to_party.phone_number))


def test_search_by_extension_and_by_number_with_extension(
    search: Callable[..., Page], calls: list[CallLogRecord], clock: FakeClock,
) -> None:
    def ext(r: CallLogRecord) -> str | None:
        return r.to_party.extension_number or r.from_party.extension_number

    assert hit_ids(search(extension="102", limit=200)) == expected_ids(calls, clock.now(), lambda r: ext(r) == "102")
    both = search(extension=" 101 ", number="07700 900123", limit=200)
    assert hit_ids(both) == expected_ids(calls, clock.now(), lambda r: ext(r) == "101" and CALLER in (
        r.from_party.phone_number, r.to_party.phone_number))
    assert all(hit.extension == "101" and hit.external_number == CALLER for hit in both.results)


def test_search_by_window_includes_its_start_and_excludes_its_end(
    search: Callable[..., Page], calls: list[CallLogRecord], clock: FakeClock,
) -> None:
    start, end = calls[20].start_time, calls[10].start_time  # calls[n] started n days ago
    page = search(date_from=start, date_to=end, limit=200)
    assert hit_ids(page) == expected_ids(calls, clock.now(), lambda r: start <= r.start_time < end)
    assert len(page.results) == 10
    week = search(number="07700900123", date_from=clock.now() - timedelta(days=7))
    assert [h.start_time.date() for h in week.results] == [
        (clock.now() - timedelta(days=n, hours=1)).date() for n in (0, 2, 4, 6)]


def test_search_by_direction_within_a_window(
    search: Callable[..., Page], calls: list[CallLogRecord], clock: FakeClock,
) -> None:
    since = clock.now() - timedelta(days=30)
    page = search(direction="outbound", date_from=since, limit=200)
    assert hit_ids(page) == expected_ids(calls, clock.now(), lambda r: r.direction == "Outbound"
                                         and r.start_time >= since)
    assert {hit.direction for hit in page.results} == {"Outbound"}


def test_pages_walk_every_result_newest_first_once_even_across_equal_times(
    catalogue: Database, search: Callable[..., Page], fake: FakeTelephony, clock: FakeClock,
    make_sync: Callable[..., CatalogueSync], calls: list[CallLogRecord],
) -> None:
    same_moment = clock.now() - timedelta(days=1, hours=1)  # as calls[1]
    for _ in range(4):
        fake.add_call(same_moment, external_number=OTHER_CALLER)
    make_sync(fake).run(full=True)

    everything = search(limit=200)
    walked: list[str] = []
    page = search(limit=7)
    while True:
        walked += hit_ids(page)
        if not page.has_more:
            break
        page = search(limit=7, after=page.next_after)
    assert walked == hit_ids(everything) and len(walked) == len(set(walked)) == 94
    times = [h.start_time for h in everything.results]
    assert times == sorted(times, reverse=True)


def test_each_result_says_how_many_days_the_provider_keeps_it(
    catalogue: Database, search: Callable[..., Page], clock: FakeClock, calls: list[CallLogRecord],
) -> None:
    page = search(number="07700900123", limit=200)
    newest, oldest = page.results[0], page.results[-1]
    assert (newest.days_left, newest.expires_at) == (89, calls[0].start_time + timedelta(days=90))
    assert oldest.start_time == calls[88].start_time and oldest.days_left == 1
    with catalogue.transaction() as session:
        session.execute(update(Recording).where(Recording.id == newest.id).values(
            deleted_at_provider=clock.now(), retained_at=clock.now(), retained_key="rec/1.wav"))

    clock.advance(timedelta(days=2))
    later = search(number="07700900123", limit=200)
    assert later.results[0].available_at_provider is False and later.results[0].days_left == 0
    assert later.results[0].retained is True
    assert later.results[1].days_left == 85  # calls[2]: 87 days 23 hours left two days ago
    assert later.results[-1].available_at_provider is False and later.results[-1].days_left == 0  # calls[88]


def test_every_search_is_audited_with_its_criteria(
    catalogue: Database, search: Callable[..., Page], clock: FakeClock,
) -> None:
    week_ago = clock.now() - timedelta(days=7)
    first = search(number="07700 900123", date_from=week_ago, direction="INBOUND", limit=2)
    search(extension="101", after=first.next_after)

    with catalogue.reading() as session:
        events = [(e.actor, e.detail) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recording.searched").order_by(AuditEvent.seq))]
        assert audit.verify(session).ok
    assert [actor for actor, _ in events] == ["dana", "dana"]
    assert events[0][1] == {"number": CALLER, "extension": None, "direction": "Inbound",
                                "from": week_ago.isoformat(), "to": None, "limit": 2, "after": None, "results": 2}
    assert events[1][1]["extension"] == "101" and events[1][1]["after"] == first.next_after


@pytest.mark.parametrize(
    ("criteria", "fields"),
    [
        ({"number": "123456"}, {"number"}),
        ({"number": "not a number"}, {"number"}),
        ({"extension": "07700900123x"}, {"extension"}),
        ({"date_from": datetime(2026, 1, 5, tzinfo=UTC), "date_to": datetime(2026, 1, 4, tzinfo=UTC)}, {"date_to"}),
        ({"date_from": datetime(2026, 1, 5, tzinfo=UTC), "date_to": datetime(2026, 1, 5, tzinfo=UTC)}, {"date_to"}),
        ({"date_from": datetime(2026, 1, 5)}, {"date_from"}),
        ({"direction": "sideways"}, {"direction"}),
        ({"limit": 0}, {"limit"}),
        ({"limit": 201}, {"limit"}),
        ({"after": "not-a-token!"}, {"after"}),
        ({"number": "999", "direction": "up", "limit": -1}, {"number", "direction", "limit"}),
    ],
)
def test_bad_input_is_refused_field_by_field_and_not_audited(
    catalogue: Database, search: Callable[..., Page], criteria: dict[str, Any], fields: set[str],
) -> None:
    with pytest.raises(InvalidInput) as refused:
        search(**criteria)
    assert set(refused.value.problems) == fields
    with catalogue.reading() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli(database: Database, clock: FakeClock, fake: FakeTelephony) -> Callable[..., Any]:
    """Run ``callgov recordings ...`` on the test database, with the fake provider configured."""
    facade = Callgov(database, clock=clock, services=SimpleNamespace(telephony=fake))
    facade.add_user("dana", roles=["dpo"], password="correct horse battery staple")
    facade.add_user("sam", roles=["staff"], password="correct horse battery staple")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(recordings, list(args), obj=facade, catch_exceptions=False)

    return run


def test_the_command_line_syncs_and_searches(cli: Callable[..., Any], calls: list[CallLogRecord]) -> None:
    synced = cli("sync")
    assert synced.exit_code == 0 and "90 new recordings" in synced.output
    assert json.loads(cli("sync", "--json").output)["new"] == 0

    found = cli("search", "--user", "dana", "--number", "07700 900123", "--from", "2025-12-29",
                "--to", "04/01/2026", "--limit", "2")
    assert found.exit_code == 0, found.output
    lines = found.output.splitlines()
    assert lines[0].startswith("2026-01-03 08:00:00 GMT  ext 101 Extension 101 <- +447700900123")
    assert lines[-1].startswith("More: --page ")

    token = lines[-1].removeprefix("More: --page ")
    more = json.loads(cli("search", "--user", "dana", "--number", "07700 900123", "--from", "2025-12-29",
                          "--to", "04/01/2026", "--page", token, "--json").output)
    assert [r["start_time"][:10] for r in more["results"]] == ["2025-12-30"]


def test_the_command_line_names_bad_fields(cli: Callable[..., Any], calls: list[CallLogRecord]) -> None:
    refused = cli("search", "--user", "dana", "--number", "123", "--json")
    assert refused.exit_code == 1 and set(json.loads(refused.output)["problems"]) == {"number"}
    unreadable = cli("search", "--user", "dana", "--from", "yesterday")
    assert unreadable.exit_code == 2 and "not a date and time" in unreadable.output
    refused = cli("search", "--user", "sam", "--number", "07700 900123", "--json")
    assert refused.exit_code == 1 and json.loads(refused.output)["error"] == "PermissionDenied"


@pytest.mark.parametrize(
    ("typed", "end_of_day", "utc"),
    [
        ("2026-01-05", False, datetime(2026, 1, 5, 0, 0, tzinfo=UTC)),
        ("2026-01-05", True, datetime(2026, 1, 6, 0, 0, tzinfo=UTC)),
        ("05/07/2026 14:30", False, datetime(2026, 7, 5, 13, 30, tzinfo=UTC)),  # British Summer Time
        ("2026-07-05T14:30:00Z", False, datetime(2026, 7, 5, 14, 30, tzinfo=UTC)),
        ("2026-03-28", True, datetime(2026, 3, 29, 0, 0, tzinfo=UTC)),  # the night the clocks go forward
    ],
)
def test_times_without_a_zone_are_uk_time(typed: str, end_of_day: bool, utc: datetime) -> None:
    assert UKDateTime(end_of_day=end_of_day).convert(typed, None, None) == utc


# --- integration: the simulator over HTTP through the real client --------------------------------


SIM_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    """The RingCentral simulator with 1,500 generated calls, its rate limit off."""
    with start_simulator(calls=1500, seed=7, now=SIM_NOW) as sim:
        yield sim


@pytest.fixture
def client(simulator: RunningSimulator) -> Iterator[RingCentralClient]:
    """A real client of the simulator that gives up at the first failure (so tests can crash it)."""
    with RingCentralClient(simulator.settings(max_tries=1)) as rc:
        yield rc


def recorded_in_simulator(simulator: RunningSimulator, since: datetime) -> set[str]:
    since_ms = int(since.timestamp() * 1000)
    return {c.recording_id for c in simulator.store.calls if c.recording_id and c.start_ms >= since_ms}


def test_sync_from_the_simulator_over_http(
    database: Database, clock: FakeClock, simulator: RunningSimulator, client: RingCentralClient,
    make_sync: Callable[..., CatalogueSync],
) -> None:
    clock.set(SIM_NOW)
    expected = recorded_in_simulator(simulator, SIM_NOW - timedelta(days=90))
    report = make_sync(client, window=timedelta(days=7), page_size=100).run()

    stored = rows(database)
    assert {r.provider_recording_id for r in stored} == expected and report.new == len(expected) > 1000
    assert all(r.external_number and r.external_number.startswith("+44") for r in stored)
    assert all(r.extension_number and r.extension_number.startswith("+441248") for r in stored)
    assert {r.direction for r in stored} == {"Inbound", "Outbound"}
    shared = select(Recording.session_id).group_by(Recording.session_id).having(func.count() > 1)
    with database.reading() as session:
        assert session.execute(shared).first() is not None  # transferred calls: two legs, one session

    again = make_sync(client, window=timedelta(days=7), page_size=100).run(full=True)
    assert again.new == 0 and len(rows(database)) == len(expected)

    caller = stored[-1].external_number
    assert caller is not None
    national = "0" + caller.removeprefix("+44")
    with database.transaction() as session:
        page = search_recordings(session, actor="dana", now=clock.now(), number=national, limit=200)
    assert page.results and all(caller in (h.external_number, h.extension_number) for h in page.results)


def test_a_sync_cut_off_by_the_provider_resumes_over_http(
    database: Database, clock: FakeClock, simulator: RunningSimulator, client: RingCentralClient,
    make_sync: Callable[..., CatalogueSync],
) -> None:
    clock.set(SIM_NOW)
    expected = recorded_in_simulator(simulator, SIM_NOW - timedelta(days=90))
    pages = 0

    def fail_after_five_pages(_: SyncProgress) -> None:
        nonlocal pages
        pages += 1
        if pages == 5:
            simulator.faults.fail_next(1, 503, path="/call-log")

    with pytest.raises(CatalogueSyncFailed, match="503|unavailable|Unavailable"):
        make_sync(client, window=timedelta(days=30), page_size=50, commit_every=50).run(
            progress=fail_after_five_pages)
    assert len(rows(database)) == 250 == state(database).run_records

    report = make_sync(client, window=timedelta(days=30), page_size=50, commit_every=50).run()
    assert report.resumed and len(rows(database)) == len(expected) == report.new
    assert report.records <= len(expected) + 50


def test_an_incremental_sync_picks_up_new_calls_over_http(
    database: Database, clock: FakeClock, simulator: RunningSimulator, client: RingCentralClient,
    make_sync: Callable[..., CatalogueSync],
) -> None:
    clock.set(SIM_NOW)
    make_sync(client).run()
    before = len(rows(database))
    simulator.clear_requests()

    new_calls = simulator.advance(timedelta(hours=3), calls=40)
    clock.set(simulator.now)
    report = make_sync(client).run()

    recorded = {c.recording_id for c in new_calls if c.recording_id}
    assert recorded and report.new == len(recorded) and len(rows(database)) == before + len(recorded)
    [request] = [r for r in simulator.requests() if "call-log" in r.path]
    assert request.query["dateFrom"] == ["2026-01-05T07:00:00.000Z"]  # the watermark less two hours
    assert request.query["dateTo"] == ["2026-01-05T12:00:00.000Z"]
