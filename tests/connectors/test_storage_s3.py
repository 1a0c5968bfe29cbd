"""S3Store against moto's S3 server over HTTP: multipart, encryption, batches, presigning, errors."""

from __future__ import annotations

import hashlib
import json
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from connectors.storage import (
    AccessDenied,
    BucketNotFound,
    IntegrityError,
    LocalFolderStore,
    S3Settings,
    S3Store,
    StorageConfigError,
    StorageError,
    StorageUnavailable,
    object_store_from_settings,
)
from connectors.storage import _s3 as s3_module
from connectors.storage._s3_errors import translate

from .conftest import S3_REGION, S3_TEST_PART_SIZE

MIB = 1024 * 1024


def generated(size: int, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
    """``size`` bytes of varied data, produced chunk by chunk (never all in memory)."""
    for n, start in enumerate(range(0, size, chunk_size)):
        length = min(chunk_size, size - start)
        pattern = hashlib.sha256(str(n).encode()).digest()  # 32 bytes, different for every chunk
        yield (pattern * (length // 32 + 1))[:length]


def digest_of(chunks: Iterator[bytes]) -> tuple[str, int]:
    """(sha256, size) of a chunk stream."""
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class CallCounter:
    """Counts the S3 operations a client makes (and the keys of each DeleteObjects)."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.delete_batches: list[int] = []
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, params: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        if model.name == "DeleteObjects":
            self.delete_batches.append(params["body"].count(b"<Key>"))


@pytest.fixture
def counted(s3_settings: S3Settings, boto_session: Any) -> tuple[S3Store, CallCounter]:
    """An S3Store on its own client, with a counter of the operations it calls."""
    client = s3_module._make_client(s3_settings, boto_session)
    return S3Store(s3_settings, client=client), CallCounter(client)


def no_leftovers(s3_client: Any, bucket: str) -> None:
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="callgov/~staging/").get("KeyCount") == 0


# -- settings -------------------------------------------------------------------------------------------


def test_settings_from_the_environment() -> None:
    settings = S3Settings.from_env(
        {
            "CALLGOV_S3_BUCKET": "council-recordings",
            "CALLGOV_S3_PREFIX": "/retained/",
            "CALLGOV_S3_REGION": "eu-west-2",
            "CALLGOV_S3_SSE": "aws:kms",
            "CALLGOV_S3_KMS_KEY_ID": "alias/callgov",
            "CALLGOV_S3_PART_SIZE": str(16 * MIB),
        }
    )

    assert settings.enabled
    assert (settings.bucket, settings.prefix, settings.region) == ("council-recordings", "retained/", "eu-west-2")
    assert (settings.sse, settings.kms_key_id, settings.part_size) == ("aws:kms", "alias/callgov", 16 * MIB)
    assert settings.endpoint_url is None


def test_settings_defaults_and_s3_off() -> None:
    settings = S3Settings.from_env({})

    assert not settings.enabled
    assert (settings.prefix, settings.sse, settings.part_size) == ("callgov/", "AES256", 8 * MIB)
    assert S3Settings.from_env({"CALLGOV_S3_BUCKET": "b-b-b", "CALLGOV_S3_PREFIX": ""}).prefix == ""
    with pytest.raises(StorageConfigError, match="CALLGOV_S3_BUCKET"):
        S3Store(settings)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CALLGOV_S3_BUCKET": "Bad_Bucket"}, "CALLGOV_S3_BUCKET"),
        ({"CALLGOV_S3_SSE": "rot13"}, "CALLGOV_S3_SSE"),
        ({"CALLGOV_S3_KMS_KEY_ID": "k"}, "CALLGOV_S3_KMS_KEY_ID"),
        ({"CALLGOV_S3_PART_SIZE": str(4 * MIB)}, "CALLGOV_S3_PART_SIZE"),
        ({"CALLGOV_S3_PART_SIZE": "8MB"}, "CALLGOV_S3_PART_SIZE"),
        ({"CALLGOV_S3_PREFIX": "../up"}, "CALLGOV_S3_PREFIX"),
    ],
)
def test_bad_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(StorageConfigError, match=message):
        S3Settings.from_env(environ)


def test_the_factory_picks_s3_only_when_a_bucket_is_set(s3_settings: S3Settings, tmp_path: Any) -> None:
    assert isinstance(object_store_from_settings(S3Settings.from_env({}), local_root=tmp_path), LocalFolderStore)
    assert isinstance(object_store_from_settings(s3_settings, local_root=tmp_path), S3Store)


# -- writing --------------------------------------------------------------------------------------------


def test_a_small_object_is_one_encrypted_put_with_its_digest(
    counted: tuple[S3Store, CallCounter], s3_client: Any, s3_bucket: str
) -> None:
    store, counter = counted
    stored = store.put_stream("recordings/r.mp3", generated(S3_TEST_PART_SIZE - 1), content_type="audio/mpeg")

    assert counter.calls == Counter({"PutObject": 1})
    raw = s3_client.head_object(Bucket=s3_bucket, Key="callgov/recordings/r.mp3")
    assert raw["ServerSideEncryption"] == "AES256"
    assert raw["Metadata"] == {"sha256": stored.sha256}
    assert raw["ContentLength"] == S3_TEST_PART_SIZE - 1


def test_a_large_stream_goes_multipart_and_lands_with_digest_and_encryption(
    counted: tuple[S3Store, CallCounter], s3_client: Any, s3_bucket: str
) -> None:
    store, counter = counted
    size = 11 * MIB + 12345
    expected_digest, _ = digest_of(generated(size))

    stored = store.put_stream(
        "recordings/long-call.wav", generated(size), content_type="audio/wav", metadata={"case": "SAR-1"}
    )

    assert (stored.size, stored.sha256) == (size, expected_digest)
    assert counter.calls["CreateMultipartUpload"] == 1
    assert counter.calls["UploadPart"] == 3  # 5 MiB + 5 MiB + the rest
    assert counter.calls["CompleteMultipartUpload"] == 1
    assert counter.calls["CopyObject"] == 1
    assert counter.calls["PutObject"] == 0
    raw = s3_client.head_object(Bucket=s3_bucket, Key="callgov/recordings/long-call.wav")
    assert raw["ServerSideEncryption"] == "AES256"
    assert raw["Metadata"] == {"sha256": expected_digest, "case": "SAR-1"}
    assert raw["ContentType"] == "audio/wav"
    with store.open_stream("recordings/long-call.wav") as reader:
        assert digest_of(reader) == (expected_digest, size)
        assert reader.verified
    no_leftovers(s3_client, s3_bucket)


def test_exactly_one_part_is_the_multipart_threshold(counted: tuple[S3Store, CallCounter]) -> None:
    store, counter = counted
    store.put_stream("edge.bin", generated(S3_TEST_PART_SIZE), content_type="application/octet-stream")

    assert counter.calls["UploadPart"] == 1
    assert store.open_stream("edge.bin").read()[:32] == hashlib.sha256(b"0").digest()


@pytest.mark.parametrize("size", [1000, 6 * MIB], ids=["single-put", "multipart"])
def test_kms_encryption_is_requested_with_the_key(
    s3_settings: S3Settings, boto_session: Any, s3_client: Any, s3_bucket: str, size: int
) -> None:
    settings = replace(s3_settings, sse="aws:kms", kms_key_id="alias/callgov-recordings")
    store = S3Store(settings, session=boto_session)

    store.put_stream("kms.bin", generated(size), content_type="application/octet-stream")

    raw = s3_client.head_object(Bucket=s3_bucket, Key="callgov/kms.bin")
    assert raw["ServerSideEncryption"] == "aws:kms"
    assert "alias/callgov-recordings" in raw["SSEKMSKeyId"]


def test_a_failure_on_the_s3_side_aborts_the_multipart_upload(
    counted: tuple[S3Store, CallCounter], s3_client: Any, s3_bucket: str
) -> None:
    store, counter = counted

    def drop_second_part(params: Any, **_: Any) -> None:
        if "partNumber=2" in params["url"]:
            raise EndpointConnectionError(endpoint_url=params["url"])

    store._client.meta.events.register("before-call.s3.UploadPart", drop_second_part)

    with pytest.raises(StorageUnavailable, match="upload part 2"):
        store.put_stream("recordings/x.wav", generated(11 * MIB), content_type="audio/wav")

    assert counter.calls["AbortMultipartUpload"] == 1
    assert store.head("recordings/x.wav") is None
    no_leftovers(s3_client, s3_bucket)


def test_objects_beyond_the_copy_limit_are_copied_part_by_part(
    counted: tuple[S3Store, CallCounter], monkeypatch: pytest.MonkeyPatch, s3_client: Any, s3_bucket: str
) -> None:
    monkeypatch.setattr(s3_module, "_MAX_COPY_OBJECT_SIZE", 6 * MIB)  # stands in for CopyObject's 5 GiB
    monkeypatch.setattr(s3_module, "_COPY_PART_SIZE", 5 * MIB)
    store, counter = counted
    size = 11 * MIB

    stored = store.put_stream("big.bin", generated(size), content_type="application/octet-stream")

    assert counter.calls["UploadPartCopy"] == 3
    assert counter.calls["CopyObject"] == 0
    raw = s3_client.head_object(Bucket=s3_bucket, Key="callgov/big.bin")
    assert (raw["Metadata"]["sha256"], raw["ServerSideEncryption"]) == (stored.sha256, "AES256")
    assert digest_of(store.open_stream("big.bin")) == (stored.sha256, size)
    no_leftovers(s3_client, s3_bucket)


def test_an_object_needing_too_many_parts_is_refused_and_cleaned_up(
    counted: tuple[S3Store, CallCounter], monkeypatch: pytest.MonkeyPatch, s3_client: Any, s3_bucket: str
) -> None:
    monkeypatch.setattr(s3_module, "_MAX_PARTS", 2)
    store, _ = counted

    with pytest.raises(StorageError, match="CALLGOV_S3_PART_SIZE"):
        store.put_stream("huge.bin", generated(11 * MIB), content_type="application/octet-stream")

    assert store.head("huge.bin") is None
    no_leftovers(s3_client, s3_bucket)


# -- reading, listing, deleting -------------------------------------------------------------------------


def test_an_object_not_written_by_callgov_needs_an_expected_digest(
    s3_store: S3Store, s3_client: Any, s3_bucket: str
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="callgov/foreign.txt", Body=b"uploaded by hand")

    head = s3_store.head("foreign.txt")
    assert head is not None and head.sha256 == ""
    with pytest.raises(IntegrityError, match="no recorded SHA-256"):
        s3_store.open_stream("foreign.txt")
    digest = hashlib.sha256(b"uploaded by hand").hexdigest()
    assert s3_store.open_stream("foreign.txt", expected_sha256=digest).read() == b"uploaded by hand"


def test_listing_skips_staging_foreign_and_other_prefix_objects(
    s3_store: S3Store, s3_client: Any, s3_bucket: str
) -> None:
    s3_store.put_stream("mine.txt", [b"x"], content_type="text/plain")
    for raw_key in ("callgov/~staging/abc", "callgov/has space", "other-app/mine.txt", "callgov"):
        s3_client.put_object(Bucket=s3_bucket, Key=raw_key, Body=b"x")

    assert list(s3_store.iter_keys()) == ["mine.txt"]


def test_iter_keys_follows_the_pages(
    counted: tuple[S3Store, CallCounter], monkeypatch: pytest.MonkeyPatch, s3_client: Any, s3_bucket: str
) -> None:
    monkeypatch.setattr(s3_module, "_LIST_PAGE_SIZE", 2)  # S3 pages by 1,000; 2 keeps the test quick
    store, counter = counted
    for n in range(7):
        s3_client.put_object(Bucket=s3_bucket, Key=f"callgov/k/{n:04d}", Body=b"")

    assert list(store.iter_keys("k/")) == [f"k/{n:04d}" for n in range(7)]
    assert counter.calls["ListObjectsV2"] == 4


def test_delete_many_sends_batches_of_a_thousand(
    counted: tuple[S3Store, CallCounter], s3_client: Any, s3_bucket: str
) -> None:
    store, counter = counted
    keys = [f"retained/{n:04d}.mp3" for n in range(2500)]
    # Objects at and around each batch boundary exist (putting all 2,500 through moto takes ~12 s);
    # the others are absent, which S3 also counts as deleted.
    present = {keys[n] for n in (0, 1, 998, 999, 1000, 1001, 1998, 1999, 2000, 2001, 2498, 2499)}
    for key in present:
        s3_client.put_object(Bucket=s3_bucket, Key=f"callgov/{key}", Body=b"audio")
    s3_client.put_object(Bucket=s3_bucket, Key="callgov/retained/keep.mp3", Body=b"audio")

    failures = store.delete_many(iter(keys))

    assert failures == []
    assert counter.calls["DeleteObjects"] == 3
    assert counter.delete_batches == [1000, 1000, 500]
    assert list(store.iter_keys("retained/")) == ["retained/keep.mp3"]


# -- presigned URLs -------------------------------------------------------------------------------------


def test_a_presigned_url_serves_the_object_over_http(s3_store: S3Store) -> None:
    s3_store.put_stream("recordings/share.mp3", [b"ID3 audio bytes"], content_type="audio/mpeg")

    url = s3_store.presigned_url("recordings/share.mp3", timedelta(minutes=5))

    assert url is not None
    assert parse_qs(urlsplit(url).query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "callgov-test-secret" not in url
    with httpx.Client() as http:
        answer = http.get(url)
    assert answer.status_code == 200
    assert answer.content == b"ID3 audio bytes"
    assert answer.headers["content-type"] == "audio/mpeg"


@pytest.mark.parametrize("expires_in", [timedelta(seconds=1), timedelta(minutes=15), timedelta(days=7)])
def test_a_presigned_url_is_signed_for_its_expiry(s3_store: S3Store, expires_in: timedelta) -> None:
    """S3 refuses the URL once X-Amz-Date + X-Amz-Expires has passed. moto 5 does not enforce that (it
    still serves an expired URL), so the expiry is checked in the signed URL rather than by fetching."""
    before = datetime.now(UTC).replace(microsecond=0)

    url = s3_store.presigned_url("recordings/share.mp3", expires_in)

    assert url is not None
    query = parse_qs(urlsplit(url).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= datetime.now(UTC)
    assert query["X-Amz-Expires"] == [str(int(expires_in.total_seconds()))]
    assert len(query["X-Amz-Signature"][0]) == 64  # the expiry is part of the signed query string


# -- errors ---------------------------------------------------------------------------------------------


def test_a_missing_bucket_is_named(s3_settings: S3Settings, boto_session: Any) -> None:
    store = S3Store(replace(s3_settings, bucket="callgov-no-such-bucket"), session=boto_session)

    for call in (
        store.check,
        lambda: store.put_stream("a.txt", [b"x"], content_type="text/plain"),
        lambda: store.open_stream("a.txt"),
        lambda: list(store.iter_keys()),
        lambda: store.delete_many(["a.txt"]),
    ):
        with pytest.raises(BucketNotFound, match="callgov-no-such-bucket"):
            call()
    assert store.head("a.txt") is None  # S3 answers a HEAD with a bare 404 either way; check() tells


@pytest.fixture
def reader_only_session(moto_endpoint: str, s3_bucket: str) -> Iterator[boto3.session.Session]:
    """Credentials of a moto IAM user allowed only to read, with moto's auth switched on meanwhile."""
    iam = boto3.session.Session().client("iam", endpoint_url=moto_endpoint, region_name=S3_REGION)
    iam.create_user(UserName=f"reader-{s3_bucket}")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName=f"reader-{s3_bucket}", PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=f"reader-{s3_bucket}")["AccessKey"]
    with httpx.Client() as http:
        http.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
        try:
            yield boto3.session.Session(
                aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
            )
        finally:
            http.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()


def test_access_denied_is_reported_clearly(s3_settings: S3Settings, reader_only_session: Any) -> None:
    store = S3Store(s3_settings, session=reader_only_session)

    with pytest.raises(AccessDenied, match=r"refused to write s3://callgov-test-\w+/callgov/a\.txt: AccessDenied"):
        store.put_stream("a.txt", [b"x"], content_type="text/plain")
    assert list(store.iter_keys()) == []  # reading is allowed


def test_no_credentials_is_access_denied(s3_settings: S3Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    store = S3Store(s3_settings)  # a new session: the standard chain now finds nothing

    with pytest.raises(AccessDenied, match="no usable AWS credentials"):
        store.put_stream("a.txt", [b"x"], content_type="text/plain")


def test_an_unreachable_endpoint_is_unavailable(s3_settings: S3Settings, boto_session: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = replace(s3_settings, endpoint_url=f"http://127.0.0.1:{closed_port}", max_attempts=1)
    store = S3Store(settings, session=boto_session)

    with pytest.raises(StorageUnavailable, match="unreachable"):
        store.put_stream("a.txt", [b"x"], content_type="text/plain")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDenied", 403, AccessDenied),
        ("KMS.DisabledException", 400, AccessDenied),
        ("ExpiredToken", 400, AccessDenied),
        ("NoSuchBucket", 404, BucketNotFound),
        ("SlowDown", 503, StorageUnavailable),
        ("SomethingNew", 400, StorageError),
    ],
)
def test_client_errors_map_onto_the_tree(code: str, status: int, expected: type[StorageError]) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
    )

    translated = translate(error, bucket="b", action="write", key="k")

    assert type(translated) is expected
    assert translated.key == "k"
