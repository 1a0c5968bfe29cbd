"""Answers that are valid under RingCentral's spec but unusual, served by an httpx mock transport,
and the in-memory FakeTelephony that other layers test with."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.telephony import (
    DownloadIncomplete,
    FakeTelephony,
    RecordingNotFound,
    RingCentralClient,
    RingCentralSettings,
    TelephonyProvider,
    TelephonyRequestError,
    UnexpectedResponse,
    download_to_file,
)

from .conftest import TelephonyTime

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 2, tzinfo=UTC)
SETTINGS = RingCentralSettings(
    server_url="https://platform.ringcentral.com", client_id="id", client_secret="secret-123456", jwt="jwt-123456"
)


def mock_client(
    routes: Callable[[httpx.Request], httpx.Response], telephony_time: TelephonyTime
) -> RingCentralClient:
    """A client whose every non-token request is answered by ``routes``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/restapi/oauth/token":
            return httpx.Response(200, json={"access_token": "at-123456", "expires_in": 3600})
        return routes(request)

    return RingCentralClient(SETTINGS, transport=httpx.MockTransport(handler), sleep=telephony_time.sleep,
                             clock=telephony_time.clock)


@pytest.fixture
def seen() -> list[httpx.Request]:
    return []


def test_minimal_pages_and_records_are_accepted(telephony_time: TelephonyTime, seen: list[httpx.Request]) -> None:
    def routes(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.params["page"] == "1":
            return httpx.Response(200, json={"records": [
                {"id": "a", "startTime": "2026-01-01T10:00:00Z"},
                {"startTime": "2026-01-01T09:00:00Z"},  # no id: skipped
                {"id": "b", "startTime": "2026-01-01T08:00:00Z", "somethingNew": 1},
            ], "navigation": {"nextPage": {"uri": "/restapi/v1.0/account/~/call-log?page=2&perPage=3"}}})
        return httpx.Response(200, json={"records": [{"id": "c", "startTime": "2026-01-01T07:00:00Z"},
                                                     {"id": "a", "startTime": "2026-01-01T10:00:00Z"}]})

    with mock_client(routes, telephony_time) as client:
        records = list(client.iter_call_log(START, END, per_page=3))

    assert [r.id for r in records] == ["a", "b", "c"]
    second = seen[1].url.params
    assert second["dateFrom"] == "2026-01-01T00:00:00.000Z" and second["dateTo"] == "2026-01-02T00:00:00.000Z"
    assert second["page"] == "2" and second["recordingType"] == "All"


def test_a_next_page_link_that_loops_is_an_error(telephony_time: TelephonyTime) -> None:
    def routes(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"records": [{"id": "a", "startTime": "2026-01-01T10:00:00Z"}],
                                         "navigation": {"nextPage": {"uri": str(request.url)}}})

    with mock_client(routes, telephony_time) as client, pytest.raises(UnexpectedResponse, match="loops"):
        list(client.iter_call_log(START, END))


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), UnexpectedResponse),
        (httpx.Response(200, json={"paging": {}}), UnexpectedResponse),
        (httpx.Response(403, json={"errorCode": "CMN-401", "message": "In order to call this API endpoint, "
                                   "application needs to have [ReadCallLog] permission"}), TelephonyRequestError),
    ],
)
def test_unusable_answers_raise_clear_errors(
    telephony_time: TelephonyTime, answer: httpx.Response, error: type[Exception]
) -> None:
    with mock_client(lambda request: answer, telephony_time) as client, pytest.raises(error) as caught:
        list(client.iter_call_log(START, END))

    if answer.status_code == 403:
        assert "CMN-401" in str(caught.value) and "ReadCallLog" in str(caught.value)


def test_a_download_shorter_than_announced_is_incomplete(telephony_time: TelephonyTime) -> None:
    def routes(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "10", "Content-Type": "audio/mpeg"},
                              stream=httpx.ByteStream(b"12345"))

    with mock_client(routes, telephony_time) as client, pytest.raises(DownloadIncomplete) as caught:
        client.download_recording("9", io.BytesIO(), content_uri="https://media.ringcentral.com/r/9/content")

    assert (caught.value.received, caught.value.expected) == (5, 10)


def test_arguments_are_checked_before_anything_is_sent(telephony_time: TelephonyTime) -> None:
    with mock_client(lambda request: httpx.Response(500), telephony_time) as client:
        with pytest.raises(ValueError, match="timezone-aware"):
            list(client.iter_call_log(datetime(2026, 1, 1), END))
        with pytest.raises(ValueError, match="before"):
            list(client.iter_call_log(END, START))
        with pytest.raises(ValueError, match="E.164"):
            list(client.iter_call_log(START, END, phone_number="01248 123456"))
        with pytest.raises(ValueError, match="recording_type"):
            list(client.iter_call_log(START, END, recording_type="Sometimes"))


# -- FakeTelephony -----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeTelephony:
    fake = FakeTelephony()
    for hour in range(6):
        fake.add_call(START + timedelta(hours=hour), external_number=f"+44770090012{hour % 2}",
                      direction="Inbound" if hour % 3 else "Outbound",
                      recording_type=None if hour == 5 else "Automatic", audio=bytes(range(hour + 10)))
    return fake


def test_both_implementations_satisfy_the_protocol(fake: FakeTelephony) -> None:
    client = RingCentralClient(SETTINGS)
    try:
        assert isinstance(client, TelephonyProvider) and isinstance(fake, TelephonyProvider)
    finally:
        client.close()


def test_fake_filters_like_the_provider(fake: FakeTelephony) -> None:
    everything = list(fake.iter_call_log(START, END, recording_type=None))
    recorded = list(fake.iter_call_log(START, END))
    by_number = list(fake.iter_call_log(START, END, phone_number="447700900121", recording_type=None))
    outbound = list(fake.iter_call_log(START, END, direction="Outbound", recording_type=None))

    assert [r.start_time.hour for r in everything] == [5, 4, 3, 2, 1, 0]
    assert len(recorded) == 5 and len(by_number) == 3 and len(outbound) == 2


def test_fake_download_delete_and_interruption(fake: FakeTelephony, tmp_path: Path) -> None:
    record = next(iter(fake.iter_call_log(START, END)))
    assert record.recording is not None
    recording_id = record.recording.id

    fake.interrupt_next_download()
    with pytest.raises(DownloadIncomplete):
        download_to_file(fake, recording_id, tmp_path / "a.wav")
    assert list(tmp_path.iterdir()) == []
    result = download_to_file(fake, recording_id, tmp_path / "a.wav")
    assert result.size == (tmp_path / "a.wav").stat().st_size

    fake.delete_recordings([recording_id])
    with pytest.raises(RecordingNotFound):
        fake.get_recording(recording_id)
    assert fake.deleted == [recording_id] and fake.downloads == [recording_id, recording_id]
    assert all(r.recording is None or r.recording.id != recording_id
               for r in fake.iter_call_log(START, END, recording_type=None))


def test_fake_accepts_prebuilt_records(fake: FakeTelephony) -> None:
    records: list[Any] = list(fake.iter_call_log(START, END, recording_type=None))
    copy = FakeTelephony(records)

    assert list(copy.iter_call_log(START, END, recording_type=None)) == records
