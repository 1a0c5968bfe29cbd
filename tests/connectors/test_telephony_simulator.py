"""The RingCentral simulator on its own: its JSON against RingCentral's OpenAPI schemas, its data, its rules."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import wave
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from connectors.telephony.simulator import start_simulator

from .conftest import TELEPHONY_NOW

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_NAME = "ringcentral-call-recordings.openapi.json"
SPEC_CANDIDATES = [  # a vendored copy in the repo first, then the shared brief beside the checkout
    REPO_ROOT / "docs" / "reference" / SPEC_NAME,
    REPO_ROOT.parent / "shared" / "reference" / SPEC_NAME,
]
ACCOUNT = "/restapi/v1.0/account/~"
DRAMA_OR_OWN = re.compile(
    r"^\+44(7700900\d{3}|1[1-9]1496\d{4}|11[3-8]496\d{4}|191498\d{4}|207946\d{4}|289649[6]\d{3}"
    r"|292018\d{4}|1632960\d{3}|1248123\d{3})$"
)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """RingCentral's OpenAPI subset, with every object schema closed to undeclared properties.

    The published schemas allow any extra property; closing them makes the test catch a simulator
    field that is misspelt or not in RingCentral's API at all.
    """
    path = next((p for p in SPEC_CANDIDATES if p.exists()), None)
    if path is None:
        pytest.skip(f"RingCentral's OpenAPI subset ({SPEC_NAME}) is not available")
    document = json.loads(path.read_text())
    closed = copy.deepcopy(document)
    for schema in closed["components"]["schemas"].values():
        if schema.get("type") == "object":
            schema["additionalProperties"] = False
    return closed


def validate(spec: dict[str, Any], schema_name: str, instance: Any) -> None:
    """Validate ``instance`` against ``#/components/schemas/<schema_name>`` of the spec, formats included."""
    registry: Registry[Any] = Registry().with_resource("urn:rc", Resource.from_contents(spec, DRAFT4))
    validator = jsonschema.Draft4Validator(
        {"$ref": f"urn:rc#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER,
    )
    validator.validate(instance)


@pytest.fixture
def http(telephony_simulator: Any) -> Iterator[httpx.Client]:
    """A plain httpx client on the simulator with a valid bearer token."""
    creds = telephony_simulator.credentials
    with httpx.Client(base_url=telephony_simulator.base_url) as client:
        answer = client.post(
            "/restapi/oauth/token",
            auth=(creds.client_id, creds.client_secret),
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": creds.jwt},
        )
        answer.raise_for_status()
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


def whole_window(simulator: Any) -> dict[str, str]:
    return {
        "dateFrom": (simulator.now - timedelta(days=91)).isoformat(),
        "dateTo": simulator.now.isoformat(),
    }


def recorded_ids(simulator: Any) -> list[str]:
    return [c.recording_id for c in reversed(simulator.store.calls) if c.recording_id]


# -- schema ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["Detailed", "Simple"])
def test_call_log_pages_validate_against_the_openapi_schema(
    spec: dict[str, Any], telephony_simulator: Any, http: httpx.Client, view: str
) -> None:
    params: dict[str, Any] = {**whole_window(telephony_simulator), "view": view, "perPage": 300}
    for page in (1, 2, 4):
        body = http.get(f"{ACCOUNT}/call-log", params={**params, "page": page}).json()
        validate(spec, "AccountCallLogResponse", body)
        assert len(body["records"]) == 300
    filtered = http.get(f"{ACCOUNT}/call-log", params={**params, "recordingType": "OnDemand",
                                                         "direction": "Inbound"}).json()
    validate(spec, "AccountCallLogResponse", filtered)
    empty = http.get(f"{ACCOUNT}/call-log", params={**params, "phoneNumber": "441632960999999"}).json()
    validate(spec, "AccountCallLogResponse", empty)
    assert empty["records"] == [] and "pageStart" not in empty["paging"]


def test_recording_and_single_record_answers_validate(
    spec: dict[str, Any], telephony_simulator: Any, http: httpx.Client
) -> None:
    for recording_id in recorded_ids(telephony_simulator)[:5]:
        metadata = http.get(f"{ACCOUNT}/recording/{recording_id}").json()
        validate(spec, "GetCallRecordingResponse", metadata)
        assert metadata["contentUri"].startswith(telephony_simulator.media_url)
    call = telephony_simulator.store.calls[-1]
    record = http.get(f"{ACCOUNT}/call-log/{call.id}", params={"view": "Detailed"}).json()
    validate(spec, "CompanyCallLogRecord", record)


def test_call_log_sync_answers_validate_and_report_changes(
    spec: dict[str, Any], telephony_simulator: Any, http: httpx.Client
) -> None:
    full = http.get(f"{ACCOUNT}/call-log-sync", params={"syncType": "FSync", "recordCount": 50}).json()
    validate(spec, "AccountCallLogSyncResponse", full)
    assert len(full["records"]) == 50

    doomed = next(r["recording"]["id"] for r in full["records"] if "recording" in r)
    http.request("DELETE", f"{ACCOUNT}/call-recordings", json={"records": [doomed]}).raise_for_status()
    new_calls = telephony_simulator.advance(timedelta(hours=2), calls=4)
    changes = http.get(f"{ACCOUNT}/call-log-sync", params={
        "syncType": "ISync", "syncToken": full["syncInfo"]["syncToken"], "view": "Detailed",
    }).json()

    validate(spec, "AccountCallLogSyncResponse", changes)
    changed_ids = [r["id"] for r in changes["records"]]
    assert changed_ids[1:] == [c.id for c in new_calls]
    assert "recording" not in changes["records"][0]
    again = http.get(f"{ACCOUNT}/call-log-sync", params={
        "syncType": "ISync", "syncToken": changes["syncInfo"]["syncToken"],
    }).json()
    assert again["records"] == []


# -- paging and navigation ---------------------------------------------------------------------------


def test_navigation_links_and_optional_totals(telephony_simulator: Any, http: httpx.Client) -> None:
    params = {**whole_window(telephony_simulator), "perPage": 500}

    first = http.get(f"{ACCOUNT}/call-log", params=params).json()
    second = http.get(first["navigation"]["nextPage"]["uri"]).json()
    last = http.get(second["navigation"]["nextPage"]["uri"]).json()

    assert first["paging"] == {"page": 1, "perPage": 500, "pageStart": 0, "pageEnd": 499,
                               "totalPages": 3, "totalElements": 1200}
    assert "previousPage" not in first["navigation"]
    assert second["navigation"]["previousPage"]["uri"].endswith("page=1&perPage=500")
    assert "nextPage" not in last["navigation"] and len(last["records"]) == 200
    assert "dateFrom=" in second["navigation"]["firstPage"]["uri"]
    telephony_simulator.omit_totals = True
    assert set(http.get(f"{ACCOUNT}/call-log", params=params).json()["paging"]) == {
        "page", "perPage", "pageStart", "pageEnd"}


def test_call_log_defaults_to_the_last_24_hours_without_dates(
    telephony_simulator: Any, http: httpx.Client
) -> None:
    records = http.get(f"{ACCOUNT}/call-log", params={"perPage": 1000}).json()["records"]

    day_before = telephony_simulator.now - timedelta(hours=24)
    assert all(datetime.fromisoformat(r["startTime"]) >= day_before for r in records)
    assert len(records) < 100


def test_call_log_rejects_bad_parameters(http: httpx.Client) -> None:
    answer = http.get(f"{ACCOUNT}/call-log", params={"dateFrom": "yesterday"})

    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "CMN-101"


# -- generated data ----------------------------------------------------------------------------------


def test_generated_data_looks_like_a_uk_organisation(telephony_simulator: Any) -> None:
    calls = telephony_simulator.store.calls
    now = telephony_simulator.now

    assert all(DRAMA_OR_OWN.match(c.external) and DRAMA_OR_OWN.match(c.staff.ddi) for c in calls)
    assert {int(c.staff.number) for c in calls} <= set(range(101, 141))
    assert Counter(c.direction for c in calls).keys() == {"Inbound", "Outbound"}
    assert {"Accepted", "Missed", "Voicemail", "Call connected"} <= {c.result for c in calls}
    assert all(now - timedelta(days=90) <= datetime.fromtimestamp(c.start_ms / 1000, now.tzinfo) < now
               for c in calls)
    answered = [c for c in calls if c.result in ("Accepted", "Call connected")]
    assert sum(1 for c in answered if c.recording_type) / len(answered) > 0.85
    assert Counter(c.recording_type for c in calls if c.recording_type).keys() == {"Automatic", "OnDemand"}
    sessions = Counter(c.session_id for c in calls)
    transferred = [c for c in calls if sessions[c.session_id] > 1]
    assert transferred and all(sessions[c.session_id] == 2 for c in transferred)
    assert any(c.action == "Transfer" for c in transferred)
    weekdays = Counter(datetime.fromtimestamp(c.start_ms / 1000).weekday() < 5 for c in calls)
    assert weekdays[True] > 5 * weekdays[False]


def test_same_seed_and_now_give_the_same_data() -> None:
    def snapshot(seed: int) -> list[tuple[Any, ...]]:
        with start_simulator(calls=300, seed=seed, now=TELEPHONY_NOW) as simulator:
            return [(c.id, c.start_ms, c.external, c.recording_id, c.staff.name) for c in simulator.store.calls]

    assert snapshot(3) == snapshot(3)
    assert snapshot(3) != snapshot(4)


def test_scales_to_100000_calls(make_telephony_simulator: Any) -> None:
    started = time.perf_counter()
    simulator = make_telephony_simulator(calls=100_000)
    generated = time.perf_counter() - started
    creds = simulator.credentials
    with httpx.Client(base_url=simulator.base_url) as client:
        token = client.post("/restapi/oauth/token", auth=(creds.client_id, creds.client_secret), data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": creds.jwt,
        }).json()["access_token"]
        params = {**whole_window(simulator), "perPage": 1000, "view": "Detailed", "page": 60}
        client.get(f"{ACCOUNT}/call-log", params=params, headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        body = client.get(f"{ACCOUNT}/call-log", params={**params, "page": 61},
                          headers={"Authorization": f"Bearer {token}"}).json()
        served = time.perf_counter() - started

    assert len(simulator.store.calls) == 100_000 and len(body["records"]) == 1000
    assert body["paging"]["totalElements"] == 100_000
    assert generated < 10, f"generating 100,000 calls took {generated:.1f} s"
    assert served < 1.0, f"serving a page of 1,000 took {served:.2f} s"


# -- audio -------------------------------------------------------------------------------------------


def test_recording_content_is_a_wav_of_the_call_length(telephony_simulator: Any, http: httpx.Client) -> None:
    recording_id = recorded_ids(telephony_simulator)[0]
    call = telephony_simulator.store.by_recording(recording_id)

    answer = http.get(f"{telephony_simulator.media_url}{ACCOUNT}/recording/{recording_id}/content")

    assert answer.headers["Content-Type"] == "audio/wav"
    assert int(answer.headers["Content-Length"]) == len(answer.content) == 44 + call.duration * 16000
    with wave.open(io.BytesIO(answer.content)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() == call.duration * 8000
    assert http.get(f"{telephony_simulator.media_url}{ACCOUNT}/recording/{recording_id}/content").content == (
        answer.content)
    part = http.get(f"{telephony_simulator.media_url}{ACCOUNT}/recording/{recording_id}/content",
                    headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == answer.content[1000:2000]


def test_deleting_a_recording_removes_content_and_call_log_reference(
    telephony_simulator: Any, http: httpx.Client
) -> None:
    recording_id = recorded_ids(telephony_simulator)[0]
    call = telephony_simulator.store.by_recording(recording_id)

    answer = http.request("DELETE", f"{ACCOUNT}/call-recordings", json={"records": [recording_id]})

    assert answer.status_code == 204
    content = http.get(f"{telephony_simulator.media_url}{ACCOUNT}/recording/{recording_id}/content")
    assert content.status_code == 404 and content.json()["errorCode"] == "CMN-102"
    assert http.get(f"{ACCOUNT}/recording/{recording_id}").status_code == 404
    record = http.get(f"{ACCOUNT}/call-log/{call.id}", params={"view": "Detailed"}).json()
    assert "recording" not in record and "recording" not in record["legs"][0]


# -- auth and rate limits ----------------------------------------------------------------------------


def test_requests_without_a_valid_bearer_token_get_ringcentral_errors(telephony_simulator: Any) -> None:
    creds = telephony_simulator.credentials
    with httpx.Client(base_url=telephony_simulator.base_url) as client:
        missing = client.get(f"{ACCOUNT}/call-log")
        unknown = client.get(f"{ACCOUNT}/call-log", headers={"Authorization": "Bearer nonsense"})
        in_query = client.get(f"{ACCOUNT}/call-log", params={"access_token": "nonsense"})
        bad_client = client.post("/restapi/oauth/token", auth=(creds.client_id, "wrong"),
                                 data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                       "assertion": creds.jwt})

    assert [a.status_code for a in (missing, unknown, in_query, bad_client)] == [401, 401, 401, 401]
    assert missing.json() == {"errorCode": "AGW-401", "message": "Authorization header is not specified",
                              "errors": [{"errorCode": "AGW-401",
                                          "message": "Authorization header is not specified"}]}
    assert unknown.json()["errorCode"] == "TokenInvalid"
    assert bad_client.json()["error"] == "invalid_client"


def test_every_answer_carries_rate_limit_headers_and_the_limit_answers_429(
    telephony_simulator: Any, http: httpx.Client
) -> None:
    telephony_simulator.set_rate_limit({"Light": (2, 60)})
    recording_id = recorded_ids(telephony_simulator)[0]

    answers = [http.get(f"{ACCOUNT}/recording/{recording_id}") for _ in range(3)]
    heavy = http.get(f"{ACCOUNT}/call-log")
    unknown = http.get(f"{ACCOUNT}/nowhere")

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-Rate-Limit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2].headers["Retry-After"] in {str(s) for s in range(55, 61)}
    assert answers[2].json()["errorCode"] == "CMN-301"
    assert answers[0].headers["X-Rate-Limit-Group"] == "Light"
    assert heavy.headers["X-Rate-Limit-Group"] == "Heavy" and heavy.headers["X-Rate-Limit-Window"] == "60"
    assert unknown.status_code == 404 and "X-Rate-Limit-Limit" in unknown.headers


def test_realistic_rate_limits_match_ringcentrals(make_telephony_simulator: Any) -> None:
    simulator = make_telephony_simulator(calls=10, rate_limit="realistic")
    with httpx.Client(base_url=simulator.base_url) as client:
        answer = client.get(f"{ACCOUNT}/call-log")

    assert (answer.headers["X-Rate-Limit-Group"], answer.headers["X-Rate-Limit-Limit"]) == ("Heavy", "10")


# -- the command -------------------------------------------------------------------------------------


def test_command_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.telephony.simulator", "--calls", "50", "--port", "0", "--seed", "2"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(7)]
        url = re.search(r"at (http://127\.0\.0\.1:\d+)", banner[0])
        assert url, banner
        assert any("CALLGOV_RC_JWT=" in line for line in banner)
        with httpx.Client() as client:
            assert client.get(f"{url.group(1)}{ACCOUNT}/call-log").status_code == 401
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopping" in out
