"""``callgov recordings``: sync the catalogue from the telephony provider, and search it.

Attached to the main command with ``main.add_command(recordings)``. Times typed without a zone are
UK local time (Europe/London), as people read them; results are shown in UK time too, and as UTC
ISO 8601 with ``--json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import click

from engine.calendar import LONDON
from engine.catalogue import CatalogueSync, Page, SyncProgress

_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")


class UKDateTime(click.ParamType):
    """A date or date and time: ISO 8601 (``2026-01-05T14:30``, ``...Z``) or ``05/01/2026 14:30``.

    Without a zone it is Europe/London time. A date alone means the start of that day, or with
    ``end_of_day`` the start of the next one (so ``--to 2026-01-05`` includes all of the 5th).
    """

    name = "datetime"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        parsed, date_only = _parse_when(text)
        if parsed is None:
            self.fail(f"{text!r} is not a date and time; write 2026-01-05 14:30 or 05/01/2026 14:30", param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=LONDON)
        if date_only and self.end_of_day:
            parsed = (parsed.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=LONDON)
        return parsed


def _parse_when(text: str) -> tuple[datetime | None, bool]:
    for pattern in _FORMATS:
        try:
            return datetime.strptime(text, pattern), ":" not in pattern
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text.replace("z", "Z")), False
    except ValueError:
        return None, False


def _facade(ctx: click.Context) -> Any:
    from engine.cli import _facade as build_facade  # imported late: engine.cli attaches this group

    return build_facade(ctx)


@contextmanager
def _telephony(facade: Any) -> Iterator[Any]:
    """The provider the application is configured with (``facade.services.telephony``), or else a
    RingCentral client from ``CALLGOV_RC_*`` that is closed afterwards."""
    from connectors.telephony import RingCentralClient, RingCentralSettings, TelephonyConfigError

    try:
        configured = getattr(facade.services, "telephony", None)
        client = None if configured is not None else RingCentralClient(RingCentralSettings.from_env())
    except TelephonyConfigError as error:
        raise click.ClickException(
            f"{error}. Point callgov at BT Cloud Work / RingCentral (docs/connectors.md), or leave "
            "CALLGOV_RC_CLIENT_ID unset to use the built-in simulator.") from None
    if client is None:
        yield configured
        return
    with client:
        yield client


@click.group()
def recordings() -> None:
    """The catalogue of call recordings held by the telephony provider."""


@recordings.command("sync")
@click.option("--full", is_flag=True, help="Re-read the provider's whole 90 days, not just what is new.")
@click.option("--force", is_flag=True, help="Take over from a sync that died without finishing.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def recordings_sync(ctx: click.Context, full: bool, force: bool, as_json: bool) -> None:
    """Bring the catalogue up to date with the provider's call log (resumes an interrupted sync)."""
    from engine.cli import _engine_errors

    facade = _facade(ctx)
    with _telephony(facade) as telephony, _engine_errors(as_json):
        if not as_json:
            click.echo("Reading the call log from the telephony provider (Ctrl-C stops; run again to resume)...",
                       err=True)
        sync = CatalogueSync(facade.db, telephony, clock=facade.clock)
        report = sync.run(progress=None if as_json else _progress_printer(), full=full, force=force)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    how = "Resumed and finished" if report.resumed else "Finished"
    click.echo(f"{how}: {report.records:,} call-log records read, {report.new:,} new recordings, "
               f"in {report.seconds:.1f} s; synced up to {_local(report.synced_until)}.")


def _progress_printer(every: float = 1.0) -> Callable[[SyncProgress], None]:
    """A progress callback printing at most one line a second to standard error."""
    last = [0.0]

    def show(progress: SyncProgress) -> None:
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        click.echo(f"  {progress.records:>9,} records  {progress.new:>9,} new  {progress.rate:>8,.0f}/s  "
                   f"{progress.fraction:4.0%}  (at {_local(progress.position)})", err=True)

    return show


@recordings.command("search")
@click.option("--user", required=True, help="Who is searching (recorded in the audit trail).")
@click.option("--number", help="Either party's number, as typed: 01248 123456, +44 1248 123456, 07700900123.")
@click.option("--extension", help="The internal extension, such as 101.")
@click.option("--from", "date_from", type=UKDateTime(), help="Calls that started at or after (UK time).")
@click.option("--to", "date_to", type=UKDateTime(end_of_day=True), help="Calls that started before (UK time; "
              "a date alone includes that whole day).")
@click.option("--direction", type=click.Choice(["inbound", "outbound"], case_sensitive=False))
@click.option("--limit", type=int, default=50, show_default=True, help="Results per page (at most 200).")
@click.option("--page", "after", help="The token printed after a page, to see the next one.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def recordings_search(ctx: click.Context, user: str, number: str | None, extension: str | None,
                      date_from: datetime | None, date_to: datetime | None, direction: str | None, limit: int,
                      after: str | None, as_json: bool) -> None:
    """Find recordings, newest first (authorisers, the DPO and the IT helpdesk); each search is audited."""
    from engine.cli import _engine_errors

    facade = _facade(ctx)
    with _engine_errors(as_json):
        page = facade.search_catalogue(user=user, number=number, extension=extension, date_from=date_from,
                                       date_to=date_to, direction=direction, limit=limit, after=after)
    if as_json:
        click.echo(json.dumps(page.to_dict(), indent=2))
    else:
        _print_page(page)


def _print_page(page: Page) -> None:
    if not page.results:
        click.echo("No recordings match.")
        return
    for hit in page.results:
        ours = f"ext {hit.extension or '?'}" + (f" {hit.staff_name}" if hit.staff_name else "")
        theirs = hit.external_number or "withheld"
        arrow = "<-" if hit.direction == "Inbound" else "->" if hit.direction == "Outbound" else "--"
        minutes, seconds = divmod(hit.duration_seconds or 0, 60)
        left = f"{hit.days_left} days left" if hit.available_at_provider else "gone from provider"
        kept = ", kept" if hit.retained else ""
        click.echo(f"{_local(hit.start_time)}  {ours} {arrow} {theirs}  {minutes}m{seconds:02d}s  "
                   f"{left}{kept}  [{hit.id}]")
    if page.next_after:
        click.echo(f"More: --page {page.next_after}")


def _local(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S %Z")
