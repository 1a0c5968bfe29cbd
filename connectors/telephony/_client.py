"""The RingCentral (BT Cloud Work) REST client: call log, recording metadata, audio, deletion."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from ._models import (
    CallLogRecord,
    DownloadResult,
    RecordingInfo,
    format_time,
    parse_call_log_record,
    parse_recording_info,
)
from ._protocol import Sink, sink_writer
from ._settings import RingCentralSettings
from ._transport import ApiSession
from .errors import (
    DownloadIncomplete,
    RecordingNotFound,
    TelephonyAuthError,
    TelephonyRequestError,
    UnexpectedResponse,
)

logger = logging.getLogger("connectors.telephony")

ACCOUNT = "/restapi/v1.0/account/~"
RECORDING_TYPES = frozenset({"Automatic", "OnDemand", "All"})
DIRECTIONS = frozenset({"Inbound", "Outbound"})
MAX_PER_PAGE = 1000


class RingCentralClient:
    """A :class:`TelephonyProvider` talking to RingCentral's REST API over HTTPS.

    One client holds one token and one connection pool; share it, and close it (or use it as a
    context manager). ``sleep``, ``clock`` and ``rng`` are injectable so tests can watch and fake
    the waits; ``transport`` lets tests swap httpx's network layer.
    """

    def __init__(
        self,
        settings: RingCentralSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        chunk_size: int = 64 * 1024,
    ) -> None:
        settings.validate()
        self.settings = settings
        self._chunk_size = chunk_size
        self._session = ApiSession(settings, transport=transport, sleep=sleep, clock=clock, rng=rng or random.Random())

    def __repr__(self) -> str:
        settings = self.settings
        return f"RingCentralClient(server_url={settings.server_url!r}, client_id={settings.client_id!r})"

    def __enter__(self) -> RingCentralClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        self._session.close()

    def iter_call_log(
        self,
        date_from: datetime,
        date_to: datetime,
        *,
        phone_number: str | None = None,
        recording_type: str | None = "All",
        direction: str | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> Iterator[CallLogRecord]:
        """Yield voice call-log records in ``[date_from, date_to)``, newest first, a page at a time.

        Follows ``navigation.nextPage`` until there is none (``totalPages`` is never trusted) and
        re-adds ``dateFrom``/``dateTo`` to a next-page link that lost them, because RingCentral
        would otherwise quietly fall back to the last 24 hours. A record seen on an earlier page
        (pages shift when calls arrive during paging) is not yielded twice.
        """
        params = _call_log_params(date_from, date_to, phone_number, recording_type, direction, per_page)
        url = self._session.url(f"{ACCOUNT}/call-log").copy_merge_params(params)
        seen_ids: set[str] = set()
        seen_pages: set[str] = set()
        while True:
            seen_pages.add(str(url))
            body = self._get_json(url, operation="call-log")
            records = body.get("records")
            if not isinstance(records, list):
                raise UnexpectedResponse("RingCentral's call-log answer has no records list")
            for raw in records:
                record = parse_call_log_record(raw)
                if record is None:
                    logger.warning("skipping a call-log record without id or startTime")
                elif record.id not in seen_ids:
                    seen_ids.add(record.id)
                    yield record
            next_uri = _next_page_uri(body)
            if not next_uri or not records:
                return
            url = self._session.url(next_uri)
            missing = {k: v for k, v in params.items() if k != "page" and k not in url.params}
            url = url.copy_merge_params(missing)
            if str(url) in seen_pages:
                raise UnexpectedResponse(f"RingCentral's call-log paging loops back to {url.path}?{url.query!r}")

    def get_recording(self, recording_id: str) -> RecordingInfo:
        """Return a recording's metadata (``GET .../recording/{id}``)."""
        url = self._session.url(f"{ACCOUNT}/recording/{quote(recording_id, safe='')}")
        body = self._get_json(url, operation="recording", recording_id=recording_id)
        return parse_recording_info(body, recording_id)

    def download_recording(self, recording_id: str, sink: Sink, *, content_uri: str | None = None) -> DownloadResult:
        """Stream a recording's audio into ``sink``; see :meth:`TelephonyProvider.download_recording`.

        The audio may live on a media host other than the API's; the token goes there in the
        ``Authorization`` header only. A transfer cut short raises :class:`DownloadIncomplete`.
        """
        if content_uri is None:
            content_uri = self.get_recording(recording_id).content_uri
            if content_uri is None:
                raise UnexpectedResponse(f"RingCentral gave no contentUri for recording {recording_id}")
        write = sink_writer(sink)
        url = self._session.url(content_uri)
        response = self._session.request(
            "GET", url, operation="recording-content", stream=True, headers={"Accept": "audio/*"}
        )
        try:
            if response.status_code != 200:
                response.read()
                _raise_for_status(response, recording_id=recording_id)
            expected = _content_length(response)
            digest = hashlib.sha256()
            size = 0
            try:
                for chunk in response.iter_bytes(self._chunk_size):
                    write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            except httpx.HTTPError as exc:
                raise _incomplete(recording_id, size, expected, type(exc).__name__) from exc
            if expected is not None and response.num_bytes_downloaded != expected:
                raise _incomplete(recording_id, size, expected, "length mismatch")
        finally:
            response.close()
        return DownloadResult(content_type=response.headers.get("Content-Type"), size=size, sha256=digest.hexdigest())

    def delete_recordings(self, recording_ids: Sequence[str]) -> None:
        """Delete recordings at RingCentral, ``delete_batch_size`` ids per request.

        Deletion is immediate and permanent; a batch that fails stops the run with the error, and
        the batches before it stay deleted.
        """
        url = self._session.url(f"{ACCOUNT}/call-recordings")
        ids = list(dict.fromkeys(recording_ids))
        size = self.settings.delete_batch_size
        for start in range(0, len(ids), size):
            batch = ids[start : start + size]
            response = self._session.request("DELETE", url, operation="delete-recordings", json={"records": batch})
            if response.status_code not in (200, 204):
                _raise_for_status(response, recording_id=batch[0] if len(batch) == 1 else None)
            logger.info("deleted %d recording(s) at RingCentral", len(batch))

    def _get_json(self, url: httpx.URL, *, operation: str, recording_id: str | None = None) -> dict[str, Any]:
        response = self._session.request("GET", url, operation=operation)
        if response.status_code != 200:
            _raise_for_status(response, recording_id=recording_id)
        try:
            body = response.json()
        except ValueError:
            raise UnexpectedResponse(f"RingCentral's answer to GET {url.path} is not JSON") from None
        if not isinstance(body, dict):
            raise UnexpectedResponse(f"RingCentral's answer to GET {url.path} is not a JSON object")
        return body


def _call_log_params(
    date_from: datetime,
    date_to: datetime,
    phone_number: str | None,
    recording_type: str | None,
    direction: str | None,
    per_page: int,
) -> dict[str, str]:
    if date_from.tzinfo is None or date_to.tzinfo is None:
        raise ValueError("date_from and date_to must be timezone-aware")
    if date_from >= date_to:
        raise ValueError("date_from must be before date_to")
    params = {
        "dateFrom": format_time(date_from),
        "dateTo": format_time(date_to),
        "type": "Voice",
        "view": "Detailed",
        "perPage": str(max(1, min(per_page, MAX_PER_PAGE))),
        "page": "1",
    }
    if phone_number is not None:
        digits = phone_number.strip().removeprefix("+")
        if not digits.isdigit():
            raise ValueError(f"phone_number must be E.164 (digits, optional '+'), got {phone_number!r}")
        params["phoneNumber"] = digits
    if recording_type is not None:
        if recording_type not in RECORDING_TYPES:
            raise ValueError(f"recording_type must be one of {sorted(RECORDING_TYPES)} or None")
        params["recordingType"] = recording_type
    if direction is not None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {sorted(DIRECTIONS)} or None")
        params["direction"] = direction
    return params


def _next_page_uri(body: dict[str, Any]) -> str | None:
    navigation = body.get("navigation")
    next_page = navigation.get("nextPage") if isinstance(navigation, dict) else None
    uri = next_page.get("uri") if isinstance(next_page, dict) else None
    return uri if isinstance(uri, str) and uri else None


def _content_length(response: httpx.Response) -> int | None:
    """The announced length of the body as sent (before any content decoding)."""
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _incomplete(recording_id: str, size: int, expected: int | None, why: str) -> DownloadIncomplete:
    of = f" of {expected}" if expected is not None else ""
    return DownloadIncomplete(
        f"download of recording {recording_id} stopped after {size}{of} bytes ({why}); discard it",
        recording_id=recording_id,
        received=size,
        expected=expected,
    )


def _raise_for_status(response: httpx.Response, *, recording_id: str | None) -> None:
    """Turn a final non-success answer into the connector's error."""
    status = response.status_code
    code, message = _rc_error(response)
    where = f"{response.request.method} {response.request.url.path}"
    detail = f" ({code}: {message})" if code or message else ""
    if status == 401:
        raise TelephonyAuthError(f"RingCentral still answers 401 to {where} with a fresh token{detail}")
    if status == 404 and recording_id is not None:
        raise RecordingNotFound(
            f"recording {recording_id} not found at RingCentral{detail}", status=status, error_code=code
        )
    raise TelephonyRequestError(f"RingCentral answered {status} to {where}{detail}", status=status, error_code=code)


def _rc_error(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("errorCode") or body.get("error")
    message = body.get("message") or body.get("error_description")
    return (str(code) if code else None, str(message)[:200] if message else None)
