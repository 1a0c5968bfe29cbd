"""The RingCentral client against the simulator over HTTP: paging, auth, retries, pacing, audio, deletion."""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from connectors.telephony import (
    DownloadIncomplete,
    RecordingNotFound,
    RingCentralClient,
    TelephonyAuthError,
    TelephonyUnavailable,
    UnexpectedResponse,
    download_to_file,
)
from connectors.telephony.simulator._audio import iter_wav

from .conftest import TelephonyTime

CALL_LOG = "/restapi/v1.0/account/~/call-log"


def window(simulator: Any, days: int = 91) -> tuple[Any, Any]:
    """The last ``days`` days before the simulator's now."""
    return simulator.now - timedelta(days=days), simulator.now


def expected_ids(simulator: Any, recording_type: str | None = "All", **filters: Any) -> list[str]:
    """Ids of the records the simulator holds for the whole window, newest first."""
    start, end = window(simulator)
    positions = simulator.store.query(
        int(start.timestamp() * 1000), int(end.timestamp() * 1000), recording_type=recording_type, **filters
    )
    return [simulator.store.calls[p].id for p in positions]


def call_log_requests(simulator: Any) -> list[Any]:
    return [r for r in simulator.requests() if r.path.endswith("/call-log")]


# -- paging ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("omit_totals", [False, True], ids=["with-totals", "without-totals"])
def test_iter_call_log_follows_next_page_across_pages(
    telephony_simulator: Any, telephony_client: RingCentralClient, omit_totals: bool
) -> None:
    telephony_simulator.omit_totals = omit_totals
    records = list(telephony_client.iter_call_log(*window(telephony_simulator), recording_type=None, per_page=250))

    assert [r.id for r in records] == expected_ids(telephony_simulator, recording_type=None)
    assert len(records) == 1200
    pages = call_log_requests(telephony_simulator)
    assert [r.query["page"] for r in pages] == [["1"], ["2"], ["3"], ["4"], ["5"]]
    assert all(r.status == 200 for r in pages)


def test_every_call_log_request_sends_date_from_and_date_to(
    telephony_simulator: Any, telephony_client: RingCentralClient
) -> None:
    start, end = window(telephony_simulator, days=30)
    list(telephony_client.iter_call_log(start, end, per_page=100))

    pages = call_log_requests(telephony_simulator)
    assert len(pages) > 3
    for request in pages:
        assert request.query["dateFrom"] == [start.strftime("%Y-%m-%dT%H:%M:%S.000Z")]
        assert request.query["dateTo"] == [end.strftime("%Y-%m-%dT%H:%M:%S.000Z")]
        assert request.query["type"] == ["Voice"] and request.query["view"] == ["Detailed"]
        assert request.query["recordingType"] == ["All"]


def test_records_are_parsed_into_typed_values(telephony_simulator: Any, telephony_client: RingCentralClient) -> None:
    records = list(telephony_client.iter_call_log(*window(telephony_simulator)))
    record = records[0]

    assert record.start_time.tzinfo is not None and record.start_time.utcoffset() == timedelta(0)
    assert record.recording is not None and record.recording.content_uri
    assert record.recording.content_uri.startswith(telephony_simulator.media_url)
    assert record.last_modified_time is not None and record.last_modified_time > record.start_time
    assert record.extension_id and record.session_id and record.telephony_session_id
    staff = record.to_party if record.direction == "Inbound" else record.from_party
    assert staff.extension_number is not None and 101 <= int(staff.extension_number) <= 140
    assert Counter(r.recording.type for r in records if r.recording).keys() == {"Automatic", "OnDemand"}


def test_filters_by_number_direction_and_recording_type(
    telephony_simulator: Any, telephony_client: RingCentralClient
) -> None:
    everything = list(telephony_client.iter_call_log(*window(telephony_simulator), recording_type=None))
    number = Counter(r.from_party.phone_number for r in everything if r.direction == "Inbound").most_common(1)[0][0]

    by_number = list(telephony_client.iter_call_log(*window(telephony_simulator), phone_number=number,
                                                    recording_type=None))
    inbound_on_demand = list(telephony_client.iter_call_log(
        *window(telephony_simulator), direction="Inbound", recording_type="OnDemand"
    ))

    assert by_number and all(number in (r.from_party.phone_number, r.to_party.phone_number) for r in by_number)
    assert len(by_number) == sum(1 for r in everything if number in (r.from_party.phone_number,
                                                                      r.to_party.phone_number))
    assert call_log_requests(telephony_simulator)[-2].query["phoneNumber"] == [number.removeprefix("+")]
    assert inbound_on_demand
    assert all(r.direction == "Inbound" and r.recording and r.recording.type == "OnDemand" for r in inbound_on_demand)


def test_pages_are_fetched_lazily(telephony_simulator: Any, telephony_client: RingCentralClient) -> None:
    records = telephony_client.iter_call_log(*window(telephony_simulator), per_page=100)
    for _ in range(150):
        next(records)

    assert len(call_log_requests(telephony_simulator)) == 2
    records.close()  # type: ignore[attr-defined]


# -- tokens ------------------------------------------------------------------------------------------


def test_one_token_serves_many_requests(telephony_simulator: Any, telephony_client: RingCentralClient) -> None:
    list(telephony_client.iter_call_log(*window(telephony_simulator), per_page=100))
    telephony_client.get_recording(expected_ids_recording(telephony_simulator)[0])

    grants = [r.grant_type for r in telephony_simulator.requests() if r.path == "/restapi/oauth/token"]
    assert grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]


def expected_ids_recording(simulator: Any) -> list[str]:
    return [c.recording_id for c in reversed(simulator.store.calls) if c.recording_id]


def test_token_expiring_mid_sync_is_refreshed_without_losing_or_duplicating_records(
    telephony_simulator: Any, telephony_client: RingCentralClient
) -> None:
    telephony_simulator.set_token_lifetime(3600, max_uses=2)  # server-side expiry after 2 requests

    records = list(telephony_client.iter_call_log(*window(telephony_simulator), recording_type=None, per_page=200))

    assert [r.id for r in records] == expected_ids(telephony_simulator, recording_type=None)
    log = telephony_simulator.requests()
    assert [r.status for r in log if r.path.endswith("/call-log")].count(401) >= 2
    ok_pages = [r.query["page"][0] for r in log if r.path.endswith("/call-log") and r.status == 200]
    assert ok_pages == ["1", "2", "3", "4", "5", "6"]
    assert "refresh_token" in [r.grant_type for r in log if r.path == "/restapi/oauth/token"]


def test_token_expired_by_time_at_the_server_is_renewed_on_401(make_telephony_simulator: Any) -> None:
    simulator = make_telephony_simulator(token_lifetime=1)
    client = RingCentralClient(simulator.settings(), clock=lambda: 0.0)  # the client never sees time pass
    try:
        recording_id = expected_ids_recording(simulator)[0]
        client.get_recording(recording_id)
        time.sleep(1.05)
        assert client.get_recording(recording_id).id == recording_id
    finally:
        client.close()

    log = simulator.requests()
    assert [r.status for r in log if "/recording/" in r.path] == [200, 401, 200]
    assert [r.grant_type for r in log if r.path == "/restapi/oauth/token"][-1] == "refresh_token"


def test_token_is_renewed_a_margin_before_expiry_by_refresh_grant(
    make_telephony_simulator: Any, make_telephony_client: Any, telephony_time: TelephonyTime
) -> None:
    simulator = make_telephony_simulator(token_lifetime=40)
    client = make_telephony_client(simulator)
    recording_id = expected_ids_recording(simulator)[0]

    client.get_recording(recording_id)
    telephony_time.now += 29  # renewal is due at 40 - min(300, 40 / 4) = 30 s
    client.get_recording(recording_id)
    telephony_time.now += 2
    client.get_recording(recording_id)

    log = simulator.requests()
    grants = [r.grant_type for r in log if r.path == "/restapi/oauth/token"]
    assert grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]
    assert all(r.status == 200 for r in log)


def test_refused_refresh_falls_back_to_a_new_jwt_grant(
    telephony_simulator: Any, telephony_client: RingCentralClient
) -> None:
    recording_id = expected_ids_recording(telephony_simulator)[0]
    telephony_client.get_recording(recording_id)
    telephony_simulator.expire_tokens()
    telephony_simulator.faults.reject_next_refresh()

    assert telephony_client.get_recording(recording_id).id == recording_id
    token_requests = [(r.grant_type, r.status) for r in telephony_simulator.requests()
                      if r.path == "/restapi/oauth/token"]
    assert token_requests == [
        ("urn:ietf:params:oauth:grant-type:jwt-bearer", 200),
        ("refresh_token", 400),
        ("urn:ietf:params:oauth:grant-type:jwt-bearer", 200),
    ]


def test_wrong_credentials_give_a_clear_auth_error(
    telephony_simulator: Any, make_telephony_client: Any
) -> None:
    client = make_telephony_client(telephony_simulator, jwt="not-the-right-jwt")

    with pytest.raises(TelephonyAuthError, match="refused the JWT grant with 400"):
        client.get_recording("1")


# -- retries and pacing ------------------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(
    telephony_simulator: Any, telephony_client: RingCentralClient, telephony_time: TelephonyTime
) -> None:
    telephony_simulator.faults.rate_limit_next(2, retry_after=7, path="/call-log")

    records = list(telephony_client.iter_call_log(*window(telephony_simulator)))

    assert len(records) == len(expected_ids(telephony_simulator))
    assert telephony_time.sleeps == [7.0, 7.0]
    assert [r.status for r in call_log_requests(telephony_simulator)] == [429, 429, 200]


def test_429_retry_after_is_really_waited(telephony_simulator: Any, make_telephony_client: Any) -> None:
    client = make_telephony_client(telephony_simulator, real_time=True)
    recording_id = expected_ids_recording(telephony_simulator)[0]
    client.get_recording(recording_id)  # obtain the token first
    telephony_simulator.faults.rate_limit_next(1, retry_after=1)

    started = time.monotonic()
    client.get_recording(recording_id)
    elapsed = time.monotonic() - started

    assert 1.0 <= elapsed < 2.5


def test_server_errors_are_retried_with_growing_jittered_backoff(
    telephony_simulator: Any, telephony_client: RingCentralClient, telephony_time: TelephonyTime
) -> None:
    recording_id = expected_ids_recording(telephony_simulator)[0]
    telephony_simulator.faults.fail_next(3, 503, path="/recording/")

    assert telephony_client.get_recording(recording_id).id == recording_id
    first, second, third = telephony_time.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0 and 1.0 <= third <= 2.0


def test_server_errors_forever_end_in_a_clear_error_after_the_bounded_tries(
    telephony_simulator: Any, telephony_client: RingCentralClient, telephony_time: TelephonyTime
) -> None:
    telephony_simulator.faults.fail_next(100, 503, path="/call-log")

    with pytest.raises(TelephonyUnavailable) as caught:
        list(telephony_client.iter_call_log(*window(telephony_simulator)))

    assert str(caught.value) == f"RingCentral answered 503 five times for GET {CALL_LOG}; giving up"
    assert len(call_log_requests(telephony_simulator)) == 5
    assert len(telephony_time.sleeps) == 4


def test_timeouts_are_retried(telephony_simulator: Any, make_telephony_client: Any) -> None:
    client = make_telephony_client(telephony_simulator, timeout=0.3)
    recording_id = expected_ids_recording(telephony_simulator)[0]
    client.get_recording(recording_id)
    telephony_simulator.faults.stall_next(1, seconds=0.8, path="/recording/")

    assert client.get_recording(recording_id).id == recording_id


def test_unreachable_server_ends_in_a_clear_error(
    telephony_simulator: Any, telephony_client: RingCentralClient, telephony_time: TelephonyTime
) -> None:
    telephony_simulator.stop()

    with pytest.raises(TelephonyUnavailable, match=r"failed \(ConnectError\) five times for POST /restapi/oauth"):
        telephony_client.get_recording("1")
    assert len(telephony_time.sleeps) == 4


def test_client_paces_itself_when_a_group_is_used_up(telephony_simulator: Any, make_telephony_client: Any) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    telephony_simulator.set_rate_limit({"Heavy": (3, 1)})
    client = RingCentralClient(telephony_simulator.settings(), sleep=sleep)
    try:
        records = list(client.iter_call_log(*window(telephony_simulator), recording_type=None, per_page=300))
    finally:
        client.close()

    assert len(records) == 1200
    assert [r.status for r in call_log_requests(telephony_simulator)] == [200, 200, 200, 200]
    assert len(sleeps) == 1 and 0.5 < sleeps[0] <= 1.0


# -- audio -------------------------------------------------------------------------------------------


def test_download_streams_the_audio_from_the_media_host(
    telephony_simulator: Any, telephony_client: RingCentralClient
) -> None:
    record = next(r for r in telephony_client.iter_call_log(*window(telephony_simulator)) if r.recording)
    assert record.recording is not None
    chunks: list[bytes] = []

    result = telephony_client.download_recording(record.recording.id, chunks.append)

    audio = b"".join(chunks)
    call = telephony_simulator.store.by_recording(record.recording.id)
    assert audio == b"".join(iter_wav(record.recording.id, call.duration))
    assert len(chunks) > 1 and max(map(len, chunks)) <= 64 * 1024
    assert result.size == len(audio) and result.sha256 == hashlib.sha256(audio).hexdigest()
    assert result.content_type == "audio/wav"
    content = [r for r in telephony_simulator.requests() if r.path.endswith("/content")]
    assert [r.host for r in content] == ["media"]
    assert content[0].authorization and content[0].authorization.startswith("Bearer ")


def test_download_with_content_uri_skips_the_metadata_request(
    telephony_simulator: Any, telephony_client: RingCentralClient
) -> None:
    record = next(r for r in telephony_client.iter_call_log(*window(telephony_simulator)) if r.recording)
    assert record.recording is not None
    sink = io.BytesIO()

    telephony_client.download_recording(record.recording.id, sink, content_uri=record.recording.content_uri)

    assert sink.getvalue().startswith(b"RIFF")
    assert not [r for r in telephony_simulator.requests() if r.path.endswith(f"/recording/{record.recording.id}")]


def test_download_cut_off_half_way_raises_and_leaves_no_file(
    telephony_simulator: Any, telephony_client: RingCentralClient, tmp_path: Any
) -> None:
    recording_id = expected_ids_recording(telephony_simulator)[0]
    telephony_simulator.faults.cut_next_download(fraction=0.5)
    target = tmp_path / "recording.wav"

    with pytest.raises(DownloadIncomplete) as caught:
        download_to_file(telephony_client, recording_id, target)

    assert list(tmp_path.iterdir()) == []
    error = caught.value
    assert error.recording_id == recording_id and error.expected is not None
    assert 0 < error.received < error.expected
    assert "discard it" in str(error)

    result = download_to_file(telephony_client, recording_id, target)  # the next try completes
    assert [p.name for p in tmp_path.iterdir()] == ["recording.wav"]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == result.sha256


def test_download_of_a_missing_recording_is_not_found(telephony_client: RingCentralClient) -> None:
    with pytest.raises(RecordingNotFound):
        telephony_client.download_recording("999", io.BytesIO())


def test_token_is_never_sent_to_an_untrusted_host(
    telephony_simulator: Any, telephony_client: RingCentralClient
) -> None:
    with pytest.raises(UnexpectedResponse, match="refusing to send the RingCentral token to evil.example"):
        telephony_client.download_recording("1", io.BytesIO(), content_uri="http://evil.example/content")


# -- deletion ----------------------------------------------------------------------------------------


def test_deleted_recordings_are_gone_from_content_and_call_log(
    telephony_simulator: Any, make_telephony_client: Any
) -> None:
    client = make_telephony_client(telephony_simulator, delete_batch_size=2)
    doomed = expected_ids_recording(telephony_simulator)[:5]

    client.delete_recordings(doomed)

    deletes = [r for r in telephony_simulator.requests() if r.method == "DELETE"]
    assert len(deletes) == 3 and all(r.status == 204 for r in deletes)
    for recording_id in doomed:
        with pytest.raises(RecordingNotFound):
            client.download_recording(recording_id, io.BytesIO(), content_uri=(
                f"{telephony_simulator.media_url}/restapi/v1.0/account/~/recording/{recording_id}/content"
            ))
    remaining = list(client.iter_call_log(*window(telephony_simulator), recording_type=None))
    assert not {r.recording.id for r in remaining if r.recording} & set(doomed)
    assert len(remaining) == 1200


def test_deleting_nothing_sends_nothing(telephony_simulator: Any, telephony_client: RingCentralClient) -> None:
    telephony_client.delete_recordings([])

    assert telephony_simulator.requests() == []


# -- secrets -----------------------------------------------------------------------------------------


def test_tokens_never_appear_in_any_url(telephony_simulator: Any, telephony_client: RingCentralClient) -> None:
    telephony_simulator.set_token_lifetime(3600, max_uses=3)
    records = list(telephony_client.iter_call_log(*window(telephony_simulator), per_page=200))
    recorded = next(r for r in records if r.recording)
    assert recorded.recording is not None
    telephony_client.download_recording(recorded.recording.id, io.BytesIO())

    tokens = telephony_simulator.issued_tokens()
    assert len(tokens) >= 4
    for request in telephony_simulator.requests():
        assert not any(token in request.target for token in tokens), request.target
        if request.path.startswith("/restapi/v1.0"):
            assert request.authorization and request.authorization.startswith("Bearer SIM-AT-")


def test_secrets_stay_out_of_logs_errors_and_repr(
    telephony_simulator: Any, telephony_client: RingCentralClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    telephony_simulator.set_token_lifetime(3600, max_uses=2)
    telephony_simulator.faults.fail_next(1, 503)
    list(telephony_client.iter_call_log(*window(telephony_simulator), per_page=300))
    telephony_client.download_recording(expected_ids_recording(telephony_simulator)[0], io.BytesIO())
    telephony_simulator.faults.fail_next(5, 502)
    with pytest.raises(TelephonyUnavailable) as caught:
        telephony_client.get_recording("1")

    creds = telephony_simulator.credentials
    secrets = {creds.client_secret, creds.jwt, *telephony_simulator.issued_tokens()}
    visible = "\n".join([caplog.text, str(caught.value), repr(telephony_client), repr(telephony_client.settings)])
    assert "giving up" in caplog.text or "retrying" in caplog.text
    assert not [secret for secret in secrets if secret in visible]
    assert "client_secret=[redacted]" in repr(telephony_client.settings)
