"""Parsing of RingCentral JSON, settings from the environment, secret redaction and retry arithmetic."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

import pytest

from connectors.telephony import (
    CallParty,
    RecordingRef,
    RingCentralSettings,
    TelephonyConfigError,
    secret_filter,
)
from connectors.telephony._models import format_time, parse_call_log_record, parse_recording_info, parse_time
from connectors.telephony._pacing import RateLimitPacer, RetryPolicy

FULL_ENV = {
    "CALLGOV_RC_SERVER_URL": "https://platform.ringcentral.com",
    "CALLGOV_RC_CLIENT_ID": "client-id-123",
    "CALLGOV_RC_CLIENT_SECRET": "very-secret-client-secret",
    "CALLGOV_RC_JWT": "eyJhbGciOiJSUzI1NiJ9.secret-payload.secret-signature",
}


# -- parsing -----------------------------------------------------------------------------------------


def test_a_record_with_only_id_and_start_time_is_accepted() -> None:
    record = parse_call_log_record({"id": "abc", "startTime": "2026-01-05T09:00:00Z"})

    assert record is not None
    assert record.id == "abc" and record.start_time == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert record.recording is None and record.duration is None and record.direction is None
    assert record.from_party == CallParty() and record.to_party == CallParty()


def test_a_full_record_with_unknown_fields_is_parsed() -> None:
    raw = {
        "id": "Y3s7Kq1Q0aB2AZUA",
        "sessionId": "4178329048",
        "telephonySessionId": "s-a0d7",
        "startTime": "2026-01-05T10:11:12.345+01:00",
        "duration": 125,
        "direction": "Inbound",
        "from": {"phoneNumber": "+447700900123", "location": "Leeds", "futureField": {"x": 1}},
        "to": {"phoneNumber": "+441248123401", "extensionNumber": "101", "name": "Siân Jones",
               "extensionId": "62100000017"},
        "extension": {"id": 62100000017, "uri": "https://..."},
        "result": "Accepted",
        "recording": {"id": "6001007", "type": "OnDemand", "contentUri": "https://media.ringcentral.com/x",
                      "uri": "https://..."},
        "lastModifiedTime": "2026-01-05T09:15:00.000Z",
        "type": "Voice",
        "aBrandNewProperty": [1, 2, 3],
    }

    record = parse_call_log_record(raw)

    assert record is not None
    assert record.start_time == datetime(2026, 1, 5, 9, 11, 12, 345000, tzinfo=UTC)
    assert record.extension_id == "62100000017"
    assert record.from_party == CallParty(phone_number="+447700900123", location="Leeds")
    assert record.to_party.extension_number == "101" and record.to_party.name == "Siân Jones"
    assert record.recording == RecordingRef("6001007", "OnDemand", "https://media.ringcentral.com/x")
    assert record.last_modified_time == datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
    assert record.call_type == "Voice" and record.duration == 125


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"id": "x"},
        {"startTime": "2026-01-05T09:00:00Z"},
        {"id": "x", "startTime": "not a time"},
        "not an object",
        None,
    ],
)
def test_records_nothing_could_refer_to_are_reported_as_unusable(raw: object) -> None:
    assert parse_call_log_record(raw) is None


def test_odd_but_valid_values_are_tolerated() -> None:
    record = parse_call_log_record({
        "id": 42, "startTime": "2026-01-05T09:00:00", "duration": "long", "recording": {"type": "Automatic"},
        "from": "someone", "extension": [],
    })

    assert record is not None
    assert record.id == "42" and record.start_time.tzinfo is UTC
    assert record.duration is None and record.recording is None and record.extension_id is None


def test_recording_metadata_parsing() -> None:
    info = parse_recording_info({"contentType": "audio/mpeg", "duration": 61, "extra": True}, "77")

    assert (info.id, info.content_uri, info.content_type, info.duration) == ("77", None, "audio/mpeg", 61)


def test_times_round_trip_in_ringcentral_format() -> None:
    moment = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)

    assert format_time(moment) == "2026-03-29T00:59:59.999Z"
    assert parse_time(format_time(moment)) == moment.replace(microsecond=999000)
    with pytest.raises(ValueError):
        format_time(datetime(2026, 1, 1))


# -- settings and secrets ----------------------------------------------------------------------------


def test_settings_from_env() -> None:
    settings = RingCentralSettings.from_env({**FULL_ENV, "CALLGOV_RC_SERVER_URL": "",
                                             "CALLGOV_RC_MEDIA_HOSTS": "Media.Example.org, cdn.example.org",
                                             "CALLGOV_RC_MAX_TRIES": "3"})

    assert settings.server_url == "https://platform.ringcentral.com"
    assert settings.client_id == "client-id-123" and settings.jwt == FULL_ENV["CALLGOV_RC_JWT"]
    assert settings.media_hosts == ("media.example.org", "cdn.example.org") and settings.max_tries == 3


def test_missing_settings_are_all_named() -> None:
    with pytest.raises(TelephonyConfigError) as caught:
        RingCentralSettings.from_env({"CALLGOV_RC_SERVER_URL": "ftp://x"})

    message = str(caught.value)
    for name in ("CALLGOV_RC_CLIENT_ID", "CALLGOV_RC_CLIENT_SECRET", "CALLGOV_RC_JWT", "ftp://x"):
        assert name in message


def test_settings_repr_hides_secrets() -> None:
    settings = RingCentralSettings.from_env(FULL_ENV)

    shown = repr(settings)
    assert "client-id-123" in shown and "client_secret=[redacted]" in shown and "jwt=[redacted]" in shown
    assert FULL_ENV["CALLGOV_RC_CLIENT_SECRET"] not in shown and "secret-payload" not in shown
    assert "client_secret=''" in repr(RingCentralSettings())


def test_secret_filter_redacts_registered_secrets_in_any_log_record(
    telephony_simulator: object, telephony_client: object, caplog: pytest.LogCaptureFixture
) -> None:
    from connectors.telephony import RingCentralClient

    assert isinstance(telephony_client, RingCentralClient)
    jwt = telephony_client.settings.jwt
    record = logging.LogRecord("elsewhere", logging.WARNING, __file__, 1, "oops %s leaked", (jwt,), None)

    secret_filter.filter(record)

    assert record.getMessage() == "oops [redacted] leaked"


# -- retry arithmetic --------------------------------------------------------------------------------


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(1)

    delays = [[policy.backoff(attempt, rng) for _ in range(50)] for attempt in range(1, 7)]

    for attempt, samples in enumerate(delays, start=1):
        ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
        assert all(ceiling / 2 <= d <= ceiling for d in samples)
        assert len(set(samples)) > 40


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), (" 0.5 ", 0.5), ("-4", 0.0), ("99999", 900.0), ("soon", None), (None, None),
     ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0)],
)
def test_retry_after_accepts_seconds_and_http_dates(header: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()

    assert RetryPolicy().retry_after(header, now=lambda: now) == expected


def test_pacer_holds_a_used_up_group_for_its_window() -> None:
    clock = [100.0]
    sleeps: list[float] = []
    pacer = RateLimitPacer(lambda: clock[0], sleeps.append)
    headers = {"x-rate-limit-group": "Heavy", "x-rate-limit-remaining": "0", "x-rate-limit-window": "60"}

    pacer.wait("call-log")
    pacer.observe("call-log", headers)
    clock[0] += 15
    pacer.wait("call-log")
    pacer.wait("recording")

    assert sleeps == [45.0]
