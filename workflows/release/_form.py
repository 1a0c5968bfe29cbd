"""The words of the policy's request and authorisation form, shared by the PDF, mail and register.

The diagram (``workflows/bpmn/recording_release.bpmn``) declares the same choices in its forms; a
test checks the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from engine.calendar import LONDON

REASONS: dict[str, str] = {
    "health_safety": "1. Promote the health, safety and security of residents, staff and other users",
    "crime": "2. Prevention of crime, anti-social behaviour, public order offences and other statutory "
             "enforcement issues, and any subsequent apprehension and prosecution (e.g. police)",
    "it_support": "3. IT support services (including the third-party IT provider) on a valid request from "
                  "the relevant manager",
    "staff_breach": "4. Reasonable suspicion that a member of staff is in breach of a policy or procedure, "
                    "and any investigation",
    "training_quality": "5. Training and quality monitoring",
    "complaint": "6. Complaint handling",
}
"""Appendix 1's six reasons for releasing or reviewing a recording."""

LAWFUL_BASES: dict[str, str] = {
    "consent": "UK GDPR Art 6(1)(a) consent",
    "contract": "UK GDPR Art 6(1)(b) contract",
    "legal_obligation": "UK GDPR Art 6(1)(c) legal obligation",
    "vital_interests": "UK GDPR Art 6(1)(d) vital interests",
    "public_task": "UK GDPR Art 6(1)(e) public task",
    "legitimate_interests": "UK GDPR Art 6(1)(f) legitimate interests",
    "dpa_crime": "DPA 2018 Sch 2 para 2 (crime)",
}

DELIVERY_METHODS: dict[str, str] = {
    "link_to_recipient": "Secure download link mailed to the recipient",
    "link_to_requester": "Secure download link mailed to the requester, to pass on",
}

DECISIONS: dict[str, str] = {
    "approve": "Approve the release",
    "refuse": "Refuse the release",
    "more_info": "Ask the requester for more information",
}

TERMS = ("Recordings remain the property of the organisation and may be used only for the purpose "
         "agreed on release.")
"""The release terms of the policy's form, printed on the PDF, in the manifest and on the landing page."""

FORM_FIELDS: tuple[tuple[str, str], ...] = (
    ("case_ref", "Case reference"),
    ("phone_number", "1. Telephone number"),
    ("call_from", "1. Date and time of the call: from"),
    ("call_to", "1. Date and time of the call: to"),
    ("requested_by", "2. Person requesting the recording"),
    ("reason", "Reason (Appendix 1)"),
    ("purpose", "3. Purpose for which the recording is requested"),
    ("lawful_basis", "3. Lawful basis"),
    ("third_party", "4. On behalf of a third party"),
    ("third_party_details", "4. Third party details"),
    ("requested_at", "5. Date of request"),
    ("recipient_name", "Name of the person in receipt of the recording"),
    ("recipient_job_title", "Job title of the person in receipt of the recording"),
    ("recipient_organisation", "Organisation of the person in receipt of the recording"),
    ("recipient_email", "Recipient's email address"),
    ("officer_rank", "Police officer's rank"),
    ("authorising_officer", "Authorising officer (inspector or above)"),
    ("incident_reference", "Incident or crime reference"),
    ("delivery_method", "Delivery method"),
    ("date_of_disclosure", "Date of disclosure"),
    ("authoriser", "Authorised by"),
    ("authorised_at", "Date of authorisation"),
    ("decision_reason", "Authoriser's reasons"),
)
"""Every field of the policy's paper form (and the police request's), in the order the PDF prints them."""


def shown(value: Any) -> str:
    """A value as a person reads it: times in London, yes/no, blanks as a dash."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.astimezone(LONDON).strftime("%d %B %Y %H:%M (%Z)")
    if isinstance(value, date):
        return value.strftime("%d %B %Y")
    return str(value)


def form_values(data: Mapping[str, Any], **extra: Any) -> list[tuple[str, str]]:
    """``(label, text)`` for every form field, from case data plus ``extra`` (which wins)."""
    values = {**data, **extra}
    values.setdefault("requested_by", data.get("started_by"))
    values.setdefault("requested_at", data.get("started_at"))
    words = {"reason": REASONS, "lawful_basis": LAWFUL_BASES, "delivery_method": DELIVERY_METHODS}
    rows = []
    for name, label in FORM_FIELDS:
        value = values.get(name)
        if name in words and isinstance(value, str):
            value = words[name].get(value, value)
        rows.append((label, shown(value)))
    return rows
