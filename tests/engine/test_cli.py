"""The ``callgov`` command end to end on a migrated SQLite database in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import main
from tests.conftest import BPMN_DIR, PASSWORD


@pytest.fixture
def cli(tmp_path: Path):
    runner = CliRunner()
    env = {"CALLGOV_INSTANCE_PATH": str(tmp_path / "instance")}

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    return run


def test_db_upgrade_is_idempotent(cli) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0 and "up to date" in result.output


def test_deploy_start_and_complete_through_the_cli(cli, tmp_path: Path) -> None:
    for user, role in (("sam", "staff"), ("dana", "dpo"), ("ian", "it_helpdesk")):
        added = cli("users", "add", user, "--role", role, "--password-stdin", input=PASSWORD + "\n")
        assert added.exit_code == 0, added.output
    deployed = cli("definitions", "deploy", str(BPMN_DIR / "approval.bpmn"), "--publish", "--json")
    assert deployed.exit_code == 0 and json.loads(deployed.output)["status"] == "published"
    listed = json.loads(cli("definitions", "list", "--json").output)
    assert [(d["process_id"], d["version"]) for d in listed] == [("approval", 1)]

    started = json.loads(cli("instances", "start", "approval", "--user", "sam", "--json").output)
    ref = started["case_ref"]
    [task] = json.loads(cli("tasks", "list", "--user", "sam", "--json").output)
    assert task["case_ref"] == ref

    refused = cli("tasks", "complete", task["id"], "--user", "sam", "--data", '{"summary": "no"}', "--json")
    assert refused.exit_code == 1
    assert "summary" in json.loads(refused.output)["problems"]

    done = cli("tasks", "complete", task["id"], "--user", "sam", "--data", '{"summary": "Call on Monday"}')
    assert done.exit_code == 0 and "waiting: Decide" in done.output
    [decide] = json.loads(cli("tasks", "list", "--user", "dana", "--json").output)
    shown = json.loads(cli("tasks", "show", decide["id"], "--user", "dana", "--json").output)
    assert [f["id"] for f in shown["form"]] == ["summary", "decision", "reason"]
    cli("tasks", "complete", decide["id"], "--user", "dana", "--data", '{"decision": "refuse"}')
    case = json.loads(cli("instances", "show", ref, "--json").output)
    assert case["status"] == "completed"
    assert [h["actor"] for h in case["history"]] == ["sam", "dana"]


def test_invalid_diagram_lists_problems_and_exits_1(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpmn"
    bad.write_text((BPMN_DIR / "approval.bpmn").read_text().replace('camunda:candidateGroups="it_helpdesk"', ""))
    result = cli("definitions", "deploy", str(bad))
    assert result.exit_code == 1
    assert "[release] Nobody can do this task" in result.output
    as_json = json.loads(cli("definitions", "deploy", str(bad), "--json").output)
    assert as_json["problems"][0]["element_id"] == "release"


@pytest.mark.parametrize(("args", "message"), [
    (("instances", "show", "REL-2026-00404"), "There is no case REL-2026-00404"),
    (("tasks", "list", "--user", "ghost"), "There is no user called ghost"),
    (("instances", "start", "nope", "--user", "ghost", "--data", "[1]"), "must be a JSON object"),
])
def test_errors_are_sentences_not_tracebacks(cli, args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_users_add_refuses_short_password_and_unknown_role(cli) -> None:
    short = cli("users", "add", "kim", "--role", "staff", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    wizard = cli("users", "add", "kim", "--role", "wizard", "--password-stdin", input=PASSWORD + "\n")
    assert wizard.exit_code == 1 and "Unknown role(s): wizard" in wizard.output


def test_audit_verify_detects_an_edit(cli, tmp_path: Path) -> None:
    import sqlite3

    cli("users", "add", "sam", "--role", "staff", "--password-stdin", input=PASSWORD + "\n")
    cli("definitions", "deploy", str(BPMN_DIR / "approval.bpmn"), "--publish")
    cli("instances", "start", "approval", "--user", "sam")
    ok = cli("audit", "verify")
    assert ok.exit_code == 0 and "intact: 4 events" in ok.output
    head = cli("audit", "head").output.strip()
    assert head.startswith("4:")
    assert cli("audit", "verify", "--anchor", head).exit_code == 0

    connection = sqlite3.connect(tmp_path / "instance" / "callgov.sqlite3")
    connection.execute("DROP TRIGGER audit_event_no_update")
    connection.execute("UPDATE audit_event SET actor = 'mallory' WHERE seq = 3")
    connection.commit()
    connection.close()
    broken = cli("audit", "verify", "--json")
    assert broken.exit_code == 1
    assert json.loads(broken.output)["first_bad_seq"] == 3


def test_timers_run_due_and_scheduler_tick(cli) -> None:
    ran = cli("timers", "run-due", "--json")
    assert ran.exit_code == 0 and json.loads(ran.output) == []
    tick = cli("scheduler", "tick", "--json")
    assert tick.exit_code == 0, tick.output
    report = json.loads(tick.output)
    assert report["leader"] is True
    assert sorted(run["name"] for run in report["runs"]) == ["catalogue.sync", "mail.deliver", "messages.redeliver",
                                                           "sandbox.clean_up", "timers.fire_due"]


def test_messages_send_and_list(cli) -> None:
    sent = cli("messages", "send", "nobody.waits", "--correlate", "case_ref=REL-2026-00001", "--json")
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output)["outcome"] == "kept"
    [kept] = json.loads(cli("messages", "list", "--json").output)
    assert kept["name"] == "nobody.waits"
    bad = cli("messages", "send", "x", "--correlate", "novalue")
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output
