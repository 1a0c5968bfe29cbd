"""The breach pages (``webui/breaches.py``) and the breach triggers of the recordings and disclosure pages,
on the breach world (``breach_world.py``): reporting openly and anonymously, the register, who sees what
per role, the investigator's evidence, the PCI flag and a misused delivery link."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import audit
from engine.facade import Callgov
from engine.models.breaches import BreachRecord, BreachTrigger
from tests.webui import breach_world as world
from tests.webui.breach_world import BreachWorld
from tests.webui.conftest import PEOPLE

release_world = world.release_world  # the fixtures of the breach world, used by name
release_services = world.release_services
breach_world = world.breach_world
web_callgov = world.web_callgov

SignIn = Callable[[str], FlaskClient]
REPORT = {"what_happened": "A tenant's call was played aloud in the office", "discovered_at": "2026-01-05T08:30",
          "recordings_concerned": "", "people_concerned": "The tenant", "subject_username": "",
          "how_known": "I was in the room", "identity": "named"}


def _events(callgov: Callgov, **filters: Any) -> list[Any]:
    with callgov.db.reading() as s:
        return list(audit.events_for(s, **{"limit": 1000, **filters}))


def _row(html: str, ref: str) -> str:
    """The table row of ``html`` that holds case ``ref``."""
    rows = [r for r in re.findall(r"<tr class=\"govuk-table__row\">.*?</tr>", html, flags=re.S) if ref in r]
    assert rows, f"{ref} is not listed"
    return rows[0]


# -- reporting -----------------------------------------------------------------------------------------


def test_the_start_page_sends_a_breach_report_to_the_report_page(sign_in_as: SignIn) -> None:
    page = sign_in_as("staff1").get("/start").get_data(as_text=True)
    assert 'href="/report-a-concern"' in page and 'action="/start/breach_investigation"' not in page
    assert 'action="/start/recording_release"' in page, "other processes still start from here"


def test_a_named_report_confirms_with_the_case_reference(sign_in_as: SignIn, web_callgov: Callgov) -> None:
    client = sign_in_as("staff1")
    page = client.get("/report-a-concern")
    assert page.status_code == 200 and "Report anonymously" in page.get_data(as_text=True)
    response = client.post("/report-a-concern", data={**REPORT, "subject_username": "Helpdesk"})
    assert response.headers["Location"] == "/report-a-concern/sent"
    sent = client.get("/report-a-concern/sent").get_data(as_text=True)
    ref = re.search(r"BRE-2026-\d{5}", sent)
    assert ref and "Report sent" in sent
    view = web_callgov.instance(ref.group(0))
    assert view.started_by == "staff1" and view.data["subject_username"] == "helpdesk"
    assert ref.group(0) in client.get("/requests").get_data(as_text=True)
    assert client.get("/report-a-concern/sent").headers["Location"] == "/report-a-concern", "shown once"


def test_an_anonymous_report_leaves_no_trace_of_the_reporter(sign_in_as: SignIn, web_callgov: Callgov) -> None:
    before = _events(web_callgov, limit=1)[0].seq
    client = sign_in_as("staff1")
    client.post("/report-a-concern", data={**REPORT, "identity": "anonymous"})
    sent = client.get("/report-a-concern/sent").get_data(as_text=True)
    assert "BRE-2026-" not in sent and "anonymously" in sent
    with web_callgov.db.reading() as s:
        ref = s.scalars(select(BreachRecord.case_ref).where(BreachRecord.source == "anonymous_report")
                        .order_by(BreachRecord.id.desc())).first()
    assert ref is not None
    new = [e for e in _events(web_callgov) if e.seq > before]
    assert new and all("staff1" not in f"{e.actor} {e.detail_json}" for e in new)
    assert ref not in client.get("/requests").get_data(as_text=True)


def test_a_report_with_mistakes_keeps_everything_typed(sign_in_as: SignIn) -> None:
    client = sign_in_as("sam")
    typed = {**REPORT, "what_happened": "", "discovered_at": "2030-01-01T10:00", "subject_username": "nobody-here",
             "people_concerned": "Mrs Jones at number 4", "recordings_concerned": "1234, 1240",
             "identity": "anonymous"}
    response = client.post("/report-a-concern", data=typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Error:" in html
    for message in ("Say what happened", "cannot be in the future", "no member of staff with the username"):
        assert message in html
    for value in ("Mrs Jones at number 4", "1234, 1240", "2030-01-01T10:00", "I was in the room", "nobody-here"):
        assert value in html
    assert re.search(r'value="anonymous"[^>]*checked', html), "the anonymous choice is kept"
    response = client.post("/report-a-concern", data={**REPORT, "discovered_at": "yesterday"})
    assert response.status_code == 400 and "05/01/2026 14:30" in response.get_data(as_text=True)


# -- the register ------------------------------------------------------------------------------------


def test_the_dpo_browses_filters_and_exports_the_register(sign_in_as: SignIn, breach_world: BreachWorld,
                                                          web_callgov: Callgov) -> None:
    client = sign_in_as("dpo1")
    html = client.get("/breaches").get_data(as_text=True)
    for ref in (breach_world.anonymous, breach_world.investigated, breach_world.closed, breach_world.refused):
        assert f'href="/cases/{ref}"' in html
    assert "Concerns helpdesk" in _row(html, breach_world.investigated)
    closed = client.get("/breaches?status=closed").get_data(as_text=True)
    assert breach_world.closed in closed and breach_world.investigated not in closed
    assert client.get("/breaches?status=maybe").status_code == 400
    export = client.get("/breaches.csv")
    assert export.mimetype == "text/csv" and "attachment" in export.headers["Content-Disposition"]
    rows = {r["case_ref"]: r for r in csv.DictReader(io.StringIO(export.get_data(as_text=True)))}
    assert rows[breach_world.closed]["status"] == "closed" and rows[breach_world.investigated]["investigator"] == \
        "investigator1"
    done = [e.action for e in _events(web_callgov, actor="dpo1")]
    assert {"breach.register_viewed", "breach.register_exported"} <= set(done)
    assert 'href="/breaches"' in client.get("/").get_data(as_text=True) or \
        'href="/breaches"' in client.get("/tasks").get_data(as_text=True)


def test_the_dpo_alone_looks_up_an_anonymous_reporter(sign_in_as: SignIn, breach_world: BreachWorld,
                                                      web_callgov: Callgov) -> None:
    client = sign_in_as("dpo1")
    url = f"/breaches/{breach_world.anonymous}/reporter"
    page = client.get(url).get_data(as_text=True)
    assert "Show who reported it" in page and "<dd class=\"govuk-summary-list__value\">sam" not in page
    shown = client.post(url)
    assert shown.status_code == 200 and ">sam</dd>" in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    [looked] = [e for e in _events(web_callgov, case_ref=breach_world.anonymous)
                if e.action == "breach.reporter_viewed"]
    assert looked.actor == "dpo1"
    case_page = client.get(f"/cases/{breach_world.anonymous}").get_data(as_text=True)
    assert "Anonymous report" in case_page and f'href="{url}"' in case_page


# -- who sees what, per role -----------------------------------------------------------------------------


@pytest.mark.parametrize("username", sorted(PEOPLE))
def test_an_anonymous_reporter_is_named_to_nobody(username: str, sign_in_as: SignIn, breach_world: BreachWorld,
                                                  web_callgov: Callgov) -> None:
    ref = breach_world.anonymous
    for event in _events(web_callgov, case_ref=ref):  # what the report and its handling wrote
        assert event.actor != "sam" and "sam" not in event.detail_json
    client = sign_in_as(username)
    case_page = client.get(f"/cases/{ref}")
    viewers = {"director", "dpo1"}  # team leaders see release cases, not breach cases
    assert case_page.status_code == (200 if username in viewers else 404)
    if username in viewers:
        html = case_page.get_data(as_text=True)
        main = html[html.index('id="main-content"'):]
        assert "sam" not in main.lower() and "Anonymous report" in main
    inbox = client.get("/tasks").get_data(as_text=True)
    if ref in inbox:
        assert username == "dpo1"
        assert "sam" not in _row(inbox, ref).lower()
        task = next(t for t in web_callgov.tasks_for("dpo1") if t.case_ref == ref)
        form = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert "sam" not in form[form.index('id="main-content"'):].lower()
    if username == "dpo1":
        assert "sam" not in _row(client.get("/breaches").get_data(as_text=True), ref).lower()
        line = next(r for r in client.get("/breaches.csv").get_data(as_text=True).splitlines() if ref in r)
        assert "sam" not in line.lower()


@pytest.mark.parametrize("username", sorted(PEOPLE))
def test_the_person_under_investigation_never_sees_their_case(username: str, sign_in_as: SignIn,
                                                              breach_world: BreachWorld) -> None:
    client = sign_in_as(username)
    closed = client.get(f"/cases/{breach_world.closed}").status_code
    open_case = client.get(f"/cases/{breach_world.investigated}").status_code
    assert closed == (200 if username in {"director", "dpo1"} else 404), "leader is the subject of the closed case"
    involved = {"staff1", "dpo1", "director", "investigator1"}
    assert open_case == (200 if username in involved else 404), "helpdesk is the subject"
    inbox = client.get("/tasks").get_data(as_text=True)
    assert (breach_world.investigated in inbox) == (username == "investigator1")


# -- the investigator's evidence ------------------------------------------------------------------------


def test_the_investigator_examines_the_evidence_from_the_case(sign_in_as: SignIn, breach_world: BreachWorld,
                                                              web_callgov: Callgov) -> None:
    client = sign_in_as("investigator1")
    ref, recording = breach_world.investigated, breach_world.release.other_recording
    case_page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert f'href="/breaches/{ref}/evidence"' in case_page
    evidence = client.get(f"/breaches/{ref}/evidence").get_data(as_text=True)
    assert f'href="/recordings/{recording}"' in evidence
    assert f'href="/breaches/{ref}/evidence/people/helpdesk"' in evidence
    trail = client.get(f"/breaches/{ref}/evidence/people/helpdesk")
    assert trail.status_code == 200 and "Audit trail of helpdesk" in trail.get_data(as_text=True)
    player = client.get(f"/recordings/{recording}").get_data(as_text=True)
    assert f"Listening under case {ref}" in player
    actions = [e.action for e in _events(web_callgov, case_ref=ref)]
    assert {"breach.evidence_opened", "breach.evidence_trail_viewed", "recording.access_allowed"} <= set(actions)
    assert client.get(f"/breaches/{ref}/evidence/people/staff1").status_code == 403, "not a person concerned"
    assert "Examine the evidence" not in sign_in_as("dpo1").get(f"/cases/{ref}").get_data(as_text=True)


# -- triggers from the pages ---------------------------------------------------------------------------------


def _triggers(callgov: Callgov, kind: str) -> list[BreachTrigger]:
    with callgov.db.reading() as s:
        rows = list(s.scalars(select(BreachTrigger).where(BreachTrigger.kind == kind).order_by(BreachTrigger.id)))
        for row in rows:
            s.expunge(row)
        return rows


def test_a_listener_flags_card_details(sign_in_as: SignIn, breach_world: BreachWorld, web_callgov: Callgov) -> None:
    client = sign_in_as("leader")
    recording = breach_world.release.waiting_recording
    assert "Flag as containing card details" in client.get(f"/recordings/{recording}").get_data(as_text=True)
    too_long = client.post(f"/recordings/{recording}/card-details", data={"note": "x" * 1001})
    assert too_long.status_code == 400 and "x" * 1001 in too_long.get_data(as_text=True)
    response = client.post(f"/recordings/{recording}/card-details", data={"note": "Card number at 01:10"},
                           follow_redirects=True)
    assert "Data Protection Officer has been told" in response.get_data(as_text=True)
    [flag] = _triggers(web_callgov, "pci_flag")
    assert (flag.recording_id, flag.raised_by, flag.case_ref) == (recording, "leader", breach_world.refused), \
        "it joins the open case about the same recording"
    assert sign_in_as("sam").post(f"/recordings/{recording}/card-details", data={}).status_code == 403
    assert len(_triggers(web_callgov, "pci_flag")) == 1


def test_an_expired_delivery_link_raises_one_trigger_per_attempt(client: FlaskClient, breach_world: BreachWorld,
                                                                 web_callgov: Callgov) -> None:
    token = breach_world.release.token
    assert client.get(f"/disclosure/{token}").status_code == 200
    assert _triggers(web_callgov, "link_misuse") == [], "a usable link raises nothing"
    web_callgov.clock.advance(timedelta(days=60))  # type: ignore[attr-defined]
    assert client.get(f"/disclosure/{token}").status_code == 410
    assert client.get(f"/disclosure/{token}").status_code == 410
    first, second = _triggers(web_callgov, "link_misuse")
    assert (first.joined, second.joined, second.case_ref) == (False, True, first.case_ref)
    assert client.get("/disclosure/not-a-token").status_code == 404
    assert len(_triggers(web_callgov, "link_misuse")) == 2
