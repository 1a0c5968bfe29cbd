"""The simulator's JSON, shaped as RingCentral's schemas (``CompanyCallLogRecord`` and friends)."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from ._audio import CONTENT_TYPE
from ._data import ACCOUNT_ID, SimCall, Staff

API = f"/restapi/v1.0/account/{ACCOUNT_ID}"
# the record's fields a call leg (``CallLogRecordLegInfo``) repeats
_LEG_KEYS = (
    "startTime",
    "duration",
    "type",
    "direction",
    "action",
    "result",
    "to",
    "from",
    "extension",
    "transport",
    "telephonySessionId",
)


def iso_ms(epoch_ms: int) -> str:
    """An epoch in milliseconds as RingCentral writes times: ``2026-01-05T09:00:00.123Z``."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def record_json(call: SimCall, api_url: str, media_url: str, detailed: bool) -> dict[str, Any]:
    """One ``CompanyCallLogRecord`` in the ``Simple`` or ``Detailed`` view."""
    inbound = call.direction == "Inbound"
    external = _external_party(call.external, call.external_location)
    staff = call.staff
    internal = _internal_party(staff)
    extension = _extension(staff, api_url)
    start = iso_ms(call.start_ms)
    record: dict[str, Any] = {
        "uri": f"{api_url}{API}/call-log/{call.id}?view={'Detailed' if detailed else 'Simple'}",
        "id": call.id,
        "sessionId": call.session_id,
        "telephonySessionId": call.telephony_session_id,
        "startTime": start,
        "duration": call.duration,
        "type": "Voice",
        "internalType": "Local",
        "direction": call.direction,
        "action": call.action,
        "result": call.result,
        "to": internal if inbound else external,
        "from": external if inbound else internal,
        "extension": extension,
        "transport": "PSTN",
    }
    if call.result in ("Accepted", "Call connected"):
        record["reason"] = "Accepted" if inbound else "Connected"
    recording = recording_ref_json(call, api_url, media_url)
    if recording is not None:
        record["recording"] = recording
    if call.result == "Voicemail":
        record["message"] = {
            "id": f"{call.session_id}1",
            "type": "VoiceMail",
            "uri": f"{api_url}{API}/extension/{staff.id}/message-store/{call.session_id}1",
        }
    if detailed:
        record["lastModifiedTime"] = iso_ms(call.modified_ms)
        record["billing"] = {"costIncluded": 0.0, "costPurchased": 0.0}
        leg = {key: record[key] for key in _LEG_KEYS}
        leg.update(
            legType="PstnToSip" if inbound else "SipToPstnMetered",
            master=True,
            extensionId=str(staff.id),
            internalType="Local",
        )
        if call.transferred:
            leg["legType"] = "TransferCall"
        if recording is not None:
            leg["recording"] = recording
        record["legs"] = [leg]
    return record


@functools.lru_cache(maxsize=8192)
def _external_party(number: str, location: str | None) -> dict[str, Any]:
    return {"phoneNumber": number, "location": location} if location else {"phoneNumber": number}


@functools.lru_cache(maxsize=256)
def _internal_party(staff: Staff) -> dict[str, Any]:
    return {
        "phoneNumber": staff.ddi,
        "extensionNumber": staff.number,
        "extensionId": str(staff.id),
        "name": staff.name,
    }


@functools.lru_cache(maxsize=256)
def _extension(staff: Staff, api_url: str) -> dict[str, Any]:
    return {"uri": f"{api_url}{API}/extension/{staff.id}", "id": staff.id}


def recording_ref_json(call: SimCall, api_url: str, media_url: str) -> dict[str, Any] | None:
    """The ``recording`` object of a record, or ``None`` when it has no (more) recording."""
    if call.recording_id is None:
        return None
    return {
        "uri": f"{api_url}{API}/recording/{call.recording_id}",
        "id": call.recording_id,
        "type": call.recording_type,
        "contentUri": f"{media_url}{API}/recording/{call.recording_id}/content",
    }


def recording_json(call: SimCall, media_url: str) -> dict[str, Any]:
    """A ``GetCallRecordingResponse``."""
    return {
        "id": call.recording_id,
        "contentUri": f"{media_url}{API}/recording/{call.recording_id}/content",
        "contentType": CONTENT_TYPE,
        "duration": max(1, call.duration),
    }


def page_json(
    calls: Sequence[SimCall],
    total: int,
    page: int,
    per_page: int,
    page_url: str,
    query: list[tuple[str, str]],
    api_url: str,
    media_url: str,
    detailed: bool,
    with_totals: bool,
) -> dict[str, Any]:
    """An ``AccountCallLogResponse`` for one page of a result of ``total`` records."""
    pages = max(1, -(-total // per_page))

    def link(number: int) -> dict[str, str]:
        params = [(k, v) for k, v in query if k not in ("page", "perPage")]
        params += [("page", str(number)), ("perPage", str(per_page))]
        return {"uri": f"{page_url}?{urlencode(params)}"}

    paging: dict[str, int] = {"page": page, "perPage": per_page}
    if calls:
        start = (page - 1) * per_page
        paging.update(pageStart=start, pageEnd=start + len(calls) - 1)
    if with_totals:
        paging.update(totalPages=pages, totalElements=total)
    navigation = {"firstPage": link(1)}
    if page < pages:
        navigation["nextPage"] = link(page + 1)
    if page > 1:
        navigation["previousPage"] = link(page - 1)
    return {
        "uri": link(page)["uri"],
        "records": [record_json(c, api_url, media_url, detailed) for c in calls],
        "paging": paging,
        "navigation": navigation,
    }


def error_json(code: str, message: str, **extra: str) -> dict[str, Any]:
    """RingCentral's error body: a top-level code and message and the same in ``errors``."""
    return {
        "errorCode": code,
        "message": message,
        "errors": [{"errorCode": code, "message": message, **extra}],
    }
