"""The ``callgov`` command: a thin shell over the engine facade, each command with ``--json``.

Errors from the engine are printed as plain sentences (never a traceback) with exit status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from engine import migrate
from engine.config import Settings
from engine.errors import CallgovError, DefinitionInvalid, InvalidInput
from engine.facade import Callgov

F = TypeVar("F", bound=Callable[..., Any])


def _emit(as_json: bool, payload: Any, text: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        text()


@contextmanager
def _engine_errors(as_json: bool = False) -> Iterator[None]:
    try:
        yield
    except DefinitionInvalid as error:
        if as_json:
            click.echo(json.dumps({"error": "definition_invalid", "problems": [
                {"element_id": p.element_id, "line": p.line, "message": p.message} for p in error.problems]},
                indent=2))
        else:
            click.echo(f"The diagram was not deployed: {len(error.problems)} problem(s).", err=True)
            for problem in error.problems:
                click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    except CallgovError as error:
        problems = error.problems if isinstance(error, InvalidInput) else {}
        if as_json:
            click.echo(json.dumps({"error": type(error).__name__, "message": str(error), "problems": problems},
                                  indent=2))
        else:
            click.echo(f"Error: {error}", err=True)
            for field, message in problems.items():
                click.echo(f"  - {field}: {message}", err=True)
        sys.exit(1)


def _facade(ctx: click.Context) -> Callgov:
    if ctx.obj is None:
        from engine.bootstrap import build

        ctx.obj = build()
        ctx.call_on_close(ctx.obj.db.dispose)
        if hasattr(ctx.obj.services, "close"):
            ctx.call_on_close(ctx.obj.services.close)
    facade: Callgov = ctx.obj
    return facade


def _json_data(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not valid JSON ({error.msg} at position {error.pos})") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object, like {\"approved\": true}")
    return value


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """callgov: governance of recorded telephone calls."""


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the newest version."""
    settings = Settings.from_env()
    settings.ensure_instance_folder()
    migrate.upgrade(settings.database_url)
    click.echo(f"Database is up to date ({migrate.current(settings.database_url)}).")


@main.group()
def definitions() -> None:
    """Process definitions (BPMN diagrams)."""


@definitions.command("deploy")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish at once so new cases use it.")
@click.option("--actor", default="system:cli", show_default=True, help="Who is deploying.")
@click.option("--summary", default="", help="What changed.")
@json_option
@click.pass_context
def definitions_deploy(ctx: click.Context, file: Path, publish: bool, actor: str, summary: str,
                       as_json: bool) -> None:
    """Validate FILE and store it as a new version (exit 1 listing the problems if invalid)."""
    with _engine_errors(as_json):
        result = _facade(ctx).deploy(file.read_bytes(), filename=file.name, actor=actor, publish=publish,
                                     summary=summary)
    d = result.definition
    _emit(as_json, {**d.to_dict(), "created": result.created}, lambda: click.echo(
        f"{'Deployed' if result.created else 'Already deployed'}: {d.process_id} version {d.version} "
        f"({d.status})"))


@definitions.command("publish")
@click.argument("process_id")
@click.argument("version", type=int)
@click.option("--actor", default="system:cli", show_default=True)
@json_option
@click.pass_context
def definitions_publish(ctx: click.Context, process_id: str, version: int, actor: str, as_json: bool) -> None:
    """Publish VERSION of PROCESS_ID so new cases start on it."""
    with _engine_errors(as_json):
        d = _facade(ctx).publish(process_id, version, actor=actor)
    _emit(as_json, d.to_dict(), lambda: click.echo(f"Published {d.process_id} version {d.version}"))


@definitions.command("list")
@json_option
@click.pass_context
def definitions_list(ctx: click.Context, as_json: bool) -> None:
    """Every version of every process."""
    with _engine_errors(as_json):
        rows = _facade(ctx).list_definitions()

    def text() -> None:
        for d in rows:
            click.echo(f"{d.process_id:32} v{d.version:<4} {d.status:11} {d.case_prefix:6} {d.name}")

    _emit(as_json, [d.to_dict() for d in rows], text)


@main.group()
def instances() -> None:
    """Cases."""


@instances.command("start")
@click.argument("process_id")
@click.option("--user", required=True, help="Who starts the case.")
@click.option("--data", help="Initial data as a JSON object.")
@json_option
@click.pass_context
def instances_start(ctx: click.Context, process_id: str, user: str, data: str | None, as_json: bool) -> None:
    """Start a case of PROCESS_ID."""
    with _engine_errors(as_json):
        view = _facade(ctx).start(process_id, user=user, data=_json_data(data))
    _emit(as_json, view.to_dict(), lambda: _print_instance(view.to_dict()))


@instances.command("show")
@click.argument("ref")
@json_option
@click.pass_context
def instances_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show a case by reference (REL-2026-00001) or id."""
    with _engine_errors(as_json):
        view = _facade(ctx).instance(ref)
    _emit(as_json, view.to_dict(), lambda: _print_instance(view.to_dict()))


@instances.command("cancel")
@click.argument("ref")
@click.option("--user", required=True)
@click.option("--reason", required=True)
@json_option
@click.pass_context
def instances_cancel(ctx: click.Context, ref: str, user: str, reason: str, as_json: bool) -> None:
    """Cancel a running case, with a reason."""
    with _engine_errors(as_json):
        view = _facade(ctx).cancel(ref, user=user, reason=reason)
    _emit(as_json, view.to_dict(), lambda: _print_instance(view.to_dict()))


def _print_instance(view: dict[str, Any]) -> None:
    click.echo(f"{view['case_ref']}  {view['process_name']} (v{view['definition_version']})  {view['status']}")
    click.echo(f"  started by {view['started_by']} at {view['started_at']}")
    for task in view["ready_tasks"]:
        click.echo(f"  waiting: {task['title']}  task {task['id']}")
    for entry in view["history"]:
        click.echo(f"  done: {entry['title']} by {entry['actor']} at {entry['at']}")


@main.group()
def tasks() -> None:
    """Human tasks."""


@tasks.command("list")
@click.option("--user", required=True)
@json_option
@click.pass_context
def tasks_list(ctx: click.Context, user: str, as_json: bool) -> None:
    """The tasks USER may do now."""
    with _engine_errors(as_json):
        rows = _facade(ctx).tasks_for(user)

    def text() -> None:
        if not rows:
            click.echo("No tasks.")
        for t in rows:
            due = f" due {t.due_at:%Y-%m-%d %H:%M}" if t.due_at else ""
            click.echo(f"{t.id}  {t.case_ref:18} {t.title}{due}")

    _emit(as_json, [t.to_dict() for t in rows], text)


@tasks.command("show")
@click.argument("task_id")
@click.option("--user", required=True)
@json_option
@click.pass_context
def tasks_show(ctx: click.Context, task_id: str, user: str, as_json: bool) -> None:
    """A task's form and instructions."""
    with _engine_errors(as_json):
        detail = _facade(ctx).task(task_id, user=user)

    def text() -> None:
        click.echo(f"{detail.task.case_ref}: {detail.task.title}")
        if detail.documentation:
            click.echo(detail.documentation)
        for f in detail.form.fields:
            flags = " (required)" if f.required else " (read-only)" if f.readonly else ""
            click.echo(f"  {f.id}: {f.label} [{f.type}]{flags}")

    _emit(as_json, detail.to_dict(), text)


@tasks.command("complete")
@click.argument("task_id")
@click.option("--user", required=True)
@click.option("--data", default="{}", help="The form's answers as a JSON object.")
@json_option
@click.pass_context
def tasks_complete(ctx: click.Context, task_id: str, user: str, data: str, as_json: bool) -> None:
    """Complete TASK_ID with the form answers in --data."""
    with _engine_errors(as_json):
        view = _facade(ctx).complete_task(task_id, user=user, data=_json_data(data))
    _emit(as_json, view.to_dict(), lambda: _print_instance(view.to_dict()))


@main.group()
def users() -> None:
    """People and roles."""


@users.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeat for several).")
@click.option("--name", "display_name", default="", help="Full name.")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@click.pass_context
def users_add(ctx: click.Context, username: str, roles: tuple[str, ...], display_name: str, email: str | None,
              password_stdin: bool, as_json: bool) -> None:
    """Add a user with roles (prompts for the password unless --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _engine_errors(as_json):
        view = _facade(ctx).add_user(username, roles=roles, password=password, display_name=display_name,
                                     email=email)
    _emit(as_json, view.to_dict(), lambda: click.echo(
        f"Added {view.username} with roles {', '.join(sorted(view.roles))}"))


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_set_password(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password (and sign them out everywhere)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _engine_errors():
        _facade(ctx).set_password(username, password, actor="system:cli")
    click.echo(f"Password changed for {username}.")


@main.group("demo")
def demo_group() -> None:
    """The self-contained demo: simulator, demo users and processes."""


@demo_group.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-sync", is_flag=True, help="Skip syncing the call catalogue at start-up.")
@click.pass_context
def demo_run(ctx: click.Context, host: str, port: int, no_sync: bool) -> None:
    """Seed demo users and processes, sync the catalogue from the simulator, and serve the app."""
    from engine.demo import seed_demo

    facade = _facade(ctx)
    with _engine_errors():
        report = seed_demo(facade)
    if report.created:
        click.echo("Demo users (passwords are shown this once; `callgov users set-password` changes one):")
        for username, password, roles in report.created:
            click.echo(f"  {username:18} {password:20} {', '.join(roles)}")
    if report.existing:
        click.echo(f"Demo users already exist: {', '.join(report.existing)}.")
    if not no_sync:
        _sync_catalogue(facade)
    from engine.jobs import engine_jobs
    from engine.scheduler import Scheduler
    from webui.devserver import run

    click.echo(f"\ncallgov is running at http://{host}:{port}/  (Ctrl-C stops it)")
    with Scheduler(facade.db, engine_jobs(facade), clock=facade.clock) as scheduler:
        scheduler.start()
        run(host, port, callgov=facade)


def _sync_catalogue(facade: Callgov) -> None:
    from engine.catalogue import CatalogueSync

    click.echo("Syncing the call catalogue from the telephony provider...")
    with _engine_errors():
        result = CatalogueSync(facade.db, facade.services.telephony, clock=facade.clock).run()
    click.echo(f"  {result.records} call records read, {result.new} new.")


@main.command("simulator", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def simulator(ctx: click.Context) -> None:
    """Run the RingCentral simulator on its own (try --help after it for its options)."""
    from connectors.telephony.simulator import main as simulator_main

    sys.exit(simulator_main(ctx.args))


@main.group("timers")
def timers_group() -> None:
    """Timers of waiting cases."""


@timers_group.command("run-due")
@json_option
@click.pass_context
def timers_run_due(ctx: click.Context, as_json: bool) -> None:
    """Fire every timer that is due now, once (for cron-style use and tests)."""
    with _engine_errors(as_json):
        fired = _facade(ctx).fire_due_timers()

    def text() -> None:
        click.echo(f"{len(fired)} case(s) had timers fire.")
        for f in fired:
            click.echo(f"  {f.case_ref}: {', '.join(f.elements)}")

    _emit(as_json, [f.to_dict() for f in fired], text)


@main.group("messages")
def messages_group() -> None:
    """BPMN messages between cases and from outside."""


@messages_group.command("send")
@click.argument("name")
@click.option("--correlate", "correlation", multiple=True, metavar="KEY=VALUE",
              help="Correlation, e.g. case_ref=REL-2026-00001 (repeat for several).")
@click.option("--payload", help="Data for the receiver, as a JSON object.")
@click.option("--actor", default="system:cli", show_default=True)
@json_option
@click.pass_context
def messages_send(ctx: click.Context, name: str, correlation: tuple[str, ...], payload: str | None, actor: str,
                  as_json: bool) -> None:
    """Send message NAME: deliver it to the case waiting for it, start a case, or keep it."""
    pairs = {}
    for item in correlation:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint="--correlate")
        pairs[key.strip()] = value.strip()
    with _engine_errors(as_json):
        result = _facade(ctx).send_message(name, pairs, _json_data(payload), actor=actor)
    _emit(as_json, result.to_dict(), lambda: click.echo(f"Message {name}: {result.outcome}."))


@messages_group.command("list")
@click.option("--name", default=None)
@json_option
@click.pass_context
def messages_list(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Messages kept because no case or process was waiting for them."""
    with _engine_errors(as_json):
        kept = _facade(ctx).undelivered_messages(name=name)

    def text() -> None:
        if not kept:
            click.echo("No kept messages.")
        for message in kept:
            item = message.to_dict()
            click.echo(f"{item.get('id')}  {item.get('name')}  {item.get('correlation')}  sent {item.get('sent_at')}")

    _emit(as_json, [m.to_dict() for m in kept], text)


@main.group("scheduler")
def scheduler_group() -> None:
    """The single runner of periodic jobs."""


def _scheduler(ctx: click.Context) -> Any:
    from engine.jobs import engine_jobs
    from engine.scheduler import Scheduler

    facade = _facade(ctx)
    return Scheduler(facade.db, engine_jobs(facade), clock=facade.clock)


@scheduler_group.command("run")
@click.pass_context
def scheduler_run(ctx: click.Context) -> None:
    """Run the scheduler until stopped (Ctrl-C); only one process in a deployment runs jobs."""
    click.echo("Scheduler running; Ctrl-C stops it.")
    _scheduler(ctx).run_forever()


@scheduler_group.command("tick")
@json_option
@click.pass_context
def scheduler_tick(ctx: click.Context, as_json: bool) -> None:
    """Run one tick now: take the runner's post if free and run the jobs that are due."""
    with _scheduler(ctx) as scheduler:
        report = scheduler.tick()
    _emit(as_json, report.to_dict(), lambda: click.echo(
        "Another process runs the jobs; nothing done." if not report.leader else
        f"Ran {len(report.runs)} job(s)" + (f"; failed: {', '.join(report.failed)}" if report.failed else "")))
    if report.failed or report.problem:
        sys.exit(1)


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


def _parse_anchor(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("use SEQ:HASH as printed by `callgov audit head`")
    return int(seq), digest.lower()


def _every_100k(checked: int) -> None:
    if checked % 100_000 == 0:
        click.echo(f"  checked {checked:,} events", err=True)


@audit_group.command("verify")
@click.option("--anchor", help="SEQ:HASH recorded earlier (from `callgov audit head`); proves no tail was cut.")
@json_option
@click.pass_context
def audit_verify(ctx: click.Context, anchor: str | None, as_json: bool) -> None:
    """Walk the hash chain; exit 1 naming the first broken event if anything was altered."""
    from engine import audit

    anchor_pair = _parse_anchor(anchor)
    db_ = _facade(ctx).db
    with db_.reading() as session:
        result = audit.verify(session, anchor=anchor_pair,
                              progress=None if as_json else _every_100k)
    payload = {"ok": result.ok, "events_checked": result.events_checked, "first_bad_seq": result.first_bad_seq,
               "problem": result.problem, "head_seq": result.head_seq, "head_hash": result.head_hash}
    _emit(as_json, payload, lambda: click.echo(
        f"Audit trail intact: {result.events_checked:,} events, head {result.head_seq}:{result.head_hash}"
        if result.ok else f"AUDIT TRAIL BROKEN at event {result.first_bad_seq}: {result.problem}"))
    if not result.ok:
        sys.exit(1)


@audit_group.command("head")
@click.pass_context
def audit_head(ctx: click.Context) -> None:
    """Print the newest event as SEQ:HASH, to keep somewhere else as an anchor."""
    from engine import audit

    with _facade(ctx).db.reading() as session:
        head = audit.chain_head(session)
    click.echo(f"{head.seq}:{head.hash}" if head else "The audit trail is empty.")


# Last, because the recordings commands use this module's helpers.
from engine.cli_recordings import recordings  # noqa: E402

main.add_command(recordings)

if __name__ == "__main__":  # pragma: no cover
    main()
