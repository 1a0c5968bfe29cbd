"""The disclosure package: its zip and manifest, the PDF form, and the delivery link's limits."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from connectors.telephony.simulator import SimCall
from engine import audit
from engine.clock import FakeClock
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.facade import Callgov
from engine.models.releases import DisclosurePackage, DisclosureRecord
from engine.releases import token_digest
from tests.workflows.conftest import Services
from tests.workflows.helpers import POLICE, decide, link_token, request_form, submit
from workflows.release._form import FORM_FIELDS, TERMS

pytestmark = pytest.mark.usefixtures("people")
RECIPIENT = POLICE["recipient_email"]


@pytest.fixture
def released(callgov: Callgov, recent_call: SimCall, clock: FakeClock) -> str:
    """A police request approved by alex two hours after it was made: its case reference."""
    ref = submit(callgov, "sam", request_form(recent_call, **POLICE)).case_ref
    clock.advance(timedelta(hours=2))
    decide(callgov, ref, "alex", "approve", "Specific request authorised by an inspector")
    return ref


def refusals(callgov: Callgov, ref: str | None) -> list[str]:
    with callgov.db.reading() as s:
        return [e.detail["why"] for e in audit.events_for(s, case_ref=ref) if e.action == "disclosure.link_refused"]


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF, as a reader's copy-and-paste would give it."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_package_verifies_against_its_manifest(callgov: Callgov, released: str, services: Services,
                                                   clock: FakeClock) -> None:
    token = link_token(services, RECIPIENT)
    info = callgov.package_for_token(token)
    assert (info.case_ref, info.terms, info.uses_left, info.acknowledged_by) == (released, TERMS, 3, None)
    with pytest.raises(PermissionDenied, match="Accept the terms"):
        callgov.download_package(token)
    assert refusals(callgov, released) == ["terms not acknowledged"]
    with pytest.raises(InvalidInput):
        callgov.acknowledge_package(token, name="  ")
    assert callgov.acknowledge_package(token, name="Gwen Parry").acknowledged_by == "Gwen Parry"

    clock.advance(timedelta(days=1))
    download = callgov.download_package(token)
    data = b"".join(download.chunks)
    assert download.filename == f"{released}-disclosure.zip" and len(data) == download.size
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["case_ref"] == released and manifest["terms"] == TERMS
    assert manifest["authoriser"] == "alex" and manifest["recipient"]["organisation"] == "North Wales Police"
    listed = {f["name"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) | {"manifest.json"} == set(archive.namelist())
    for name, sha256 in listed.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == sha256, name
    with callgov.db.reading() as s:
        [row] = s.scalars(select(DisclosureRecord)).all()
        assert row.disclosed_at == clock.now(), "the first download is the date of disclosure"
    clock.advance(timedelta(days=1))
    callgov.download_package(token).close()
    with callgov.db.reading() as s:
        assert s.scalars(select(DisclosureRecord)).one().disclosed_at == clock.now() - timedelta(days=1)
        assert s.scalars(select(DisclosurePackage)).one().uses == 2


def test_the_pdf_records_every_field_of_the_form(callgov: Callgov, released: str, services: Services) -> None:
    token = link_token(services, RECIPIENT)
    callgov.acknowledge_package(token, name="Gwen Parry")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(callgov.download_package(token).chunks)))
    text = " ".join(pdf_text(archive.read(f"{released}-release-form.pdf")).split())
    for _, label in FORM_FIELDS:
        assert " ".join(label.split()) in text, label
    for value in ("North Wales Police", "Gwen Parry", "Detective Constable", "Inspector Huw Ellis",
                  "NWP-2026-000123", "DC 1234 Gwen Parry", "DPA 2018 Sch 2 para 2 (crime)", "alex", "sam",
                  "2. Prevention of crime", "Secure download link mailed to the recipient", released, TERMS,
                  "Specific request authorised by an inspector"):
        assert value in text, value
    assert re.search(r"Date of authorisation \d{2} January 2026 11:00 \(GMT\)", text)


def test_a_used_up_link_is_refused_and_audited(callgov: Callgov, released: str, services: Services) -> None:
    token = link_token(services, RECIPIENT)
    callgov.acknowledge_package(token, name="Gwen Parry")
    for _ in range(3):
        b"".join(callgov.download_package(token).chunks)
    with pytest.raises(PermissionDenied, match="used as many times"):
        callgov.download_package(token)
    with pytest.raises(PermissionDenied, match="used as many times"):
        callgov.package_for_token(token)
    assert refusals(callgov, released) == ["used up", "used up"]


def test_an_expired_or_unknown_link_is_refused_and_audited(callgov: Callgov, released: str, services: Services,
                                                           clock: FakeClock) -> None:
    token = link_token(services, RECIPIENT)
    with callgov.db.reading() as s:
        package = s.scalars(select(DisclosurePackage)).one()
        assert package.token_sha256 == token_digest(token) and token not in json.dumps(package.files)
    clock.advance(timedelta(days=7))
    for attempt in (callgov.package_for_token, callgov.download_package,
                    lambda t: callgov.acknowledge_package(t, name="Gwen Parry")):
        with pytest.raises(PermissionDenied, match="expired"):
            attempt(token)
    assert refusals(callgov, released) == ["expired"] * 3
    with pytest.raises(NotFound):
        callgov.package_for_token(token[:-2] + "xx")
    assert refusals(callgov, None)[0] == "unknown"
