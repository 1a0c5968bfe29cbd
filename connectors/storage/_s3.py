"""The production object store: an S3 bucket (or any S3-compatible store) through boto3.

S3 cannot take a metadata value that is only known after the last byte, yet a multipart upload fixes
its metadata when it starts. So a stream smaller than one part is buffered, hashed and sent in one
``PutObject`` (with ``ChecksumSHA256``, so S3 verifies what it received); a larger stream goes as a
multipart upload to a staging key (``<prefix>~staging/<uuid>``, never a valid key, never listed),
then a server-side copy puts it under its real key with ``x-amz-meta-sha256`` and the staging object
is deleted. Either way the object appears under its key complete, with its digest, or not at all.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ._errors import BucketNotFound, IntegrityError, StorageConfigError, StorageError
from ._model import DeleteFailure, StoredObject
from ._s3_errors import s3_errors, translate
from ._s3_settings import S3Settings
from ._streams import DEFAULT_CHUNK_SIZE, ObjectReader, iter_source
from ._validation import (
    batched_keys,
    is_valid_key,
    validate_content_type,
    validate_expiry,
    validate_key,
    validate_metadata,
    validate_prefix,
    validate_range,
    validate_sha256,
)

__all__ = ["S3Store"]

logger = logging.getLogger(__name__)

_STAGING = "~staging/"
_MAX_PARTS = 10_000
_MAX_COPY_OBJECT_SIZE = 5 * 1024**3  # CopyObject's limit; larger objects are copied part by part
_COPY_PART_SIZE = 512 * 1024**2
_LIST_PAGE_SIZE = 1000  # S3's maximum


class S3Store:
    """An :class:`ObjectStore` in an S3 bucket, under the prefix from :class:`S3Settings`.

    Server-side encryption is requested on every write; each object carries its SHA-256 in
    ``x-amz-meta-sha256``, checked on full reads. Pass ``client`` to share a boto3 S3 client; by default
    one is built from the settings and boto3's standard credential chain, in ``session`` if given (a
    boto3 ``Session`` caches the service model, which makes further clients cheap).
    """

    def __init__(
        self,
        settings: S3Settings,
        *,
        client: Any = None,
        session: Any = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        """Use ``settings.bucket`` (required) through ``client`` or a new client; reads yield ``chunk_size``
        bytes at a time."""
        if settings.bucket is None:
            raise StorageConfigError("CALLGOV_S3_BUCKET is not set: there is no bucket to store objects in")
        self._settings = settings
        self._bucket: str = settings.bucket
        self._prefix = settings.prefix
        self._part_size = settings.part_size
        self._chunk_size = chunk_size
        self._client = client if client is not None else _make_client(settings, session)
        self._sse: dict[str, str] = {}
        if settings.sse != "none":
            self._sse["ServerSideEncryption"] = settings.sse
            if settings.kms_key_id:
                self._sse["SSEKMSKeyId"] = settings.kms_key_id

    def __repr__(self) -> str:
        return f"S3Store(bucket={self._bucket!r}, prefix={self._prefix!r})"

    def _errors(self, *, action: str, key: str | None = None) -> contextlib.AbstractContextManager[None]:
        return s3_errors(bucket=self._bucket, prefix=self._prefix, action=action, key=key)

    def _translate(self, error: Exception, action: str, key: str | None = None) -> StorageError:
        return translate(error, bucket=self._bucket, prefix=self._prefix, action=action, key=key)

    # -- writing -------------------------------------------------------------------------------------

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes] | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Send the chunks in one request or as a multipart upload; memory stays under about two parts."""
        key = validate_key(key)
        content_type = validate_content_type(content_type)
        user_metadata = validate_metadata(metadata)
        source = _Hashing(iter_source(chunks, min(self._part_size, 1024 * 1024)))
        buffer = bytearray()
        for chunk in source:
            buffer += chunk
            if len(buffer) >= self._part_size:
                self._put_multipart(key, buffer, source, content_type, user_metadata)
                break
        else:
            with self._errors(action="write", key=key):
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=self._prefix + key,
                    Body=bytes(buffer),
                    ContentType=content_type,
                    Metadata={**user_metadata, "sha256": source.hexdigest()},
                    ChecksumSHA256=base64.b64encode(source.digest()).decode("ascii"),
                    **self._sse,
                )
        return StoredObject(
            key=key,
            size=source.size,
            sha256=source.hexdigest(),
            content_type=content_type,
            metadata=user_metadata,
            stored_at=datetime.now(UTC),
        )

    def _put_multipart(
        self,
        key: str,
        buffer: bytearray,
        source: _Hashing,
        content_type: str,
        user_metadata: dict[str, str],
    ) -> None:
        staging = f"{self._prefix}{_STAGING}{uuid.uuid4().hex}"
        with self._errors(action="start a multipart upload of", key=key):
            upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=staging, ContentType=content_type, **self._sse
            )["UploadId"]
        try:
            parts: list[dict[str, Any]] = []

            def send_parts(*, last: bool) -> None:
                # Every part but the last must be exactly part_size (and S3 wants at least 5 MiB).
                while len(buffer) >= self._part_size or (last and buffer):
                    self._upload_part(key, staging, upload_id, parts, bytes(buffer[: self._part_size]))
                    del buffer[: self._part_size]

            send_parts(last=False)
            for chunk in source:
                buffer += chunk
                send_parts(last=False)
            send_parts(last=True)
            with self._errors(action="complete the multipart upload of", key=key):
                self._client.complete_multipart_upload(
                    Bucket=self._bucket, Key=staging, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            self._abort(staging, upload_id)
            self._delete_quietly(staging)  # in case the completion succeeded but its answer was lost
            raise
        try:
            metadata = {**user_metadata, "sha256": source.hexdigest()}
            self._copy_into_place(key, staging, source.size, content_type, metadata)
        finally:
            self._delete_quietly(staging)

    def _upload_part(
        self, key: str, staging: str, upload_id: str, parts: list[dict[str, Any]], data: bytes
    ) -> None:
        number = len(parts) + 1
        if number > _MAX_PARTS:
            raise StorageError(
                f"object {key!r} is larger than {_MAX_PARTS} parts of {self._part_size} bytes; "
                "raise CALLGOV_S3_PART_SIZE",
                key=key,
            )
        with self._errors(action=f"upload part {number} of", key=key):
            answer = self._client.upload_part(
                Bucket=self._bucket, Key=staging, UploadId=upload_id, PartNumber=number, Body=data
            )
        parts.append({"ETag": answer["ETag"], "PartNumber": number})

    def _copy_into_place(
        self, key: str, staging: str, size: int, content_type: str, metadata: dict[str, str]
    ) -> None:
        source = {"Bucket": self._bucket, "Key": staging}
        target = {"Bucket": self._bucket, "Key": self._prefix + key}
        attributes = {"ContentType": content_type, "Metadata": metadata, **self._sse}
        if size <= _MAX_COPY_OBJECT_SIZE:
            with self._errors(action="copy into place", key=key):
                self._client.copy_object(
                    CopySource=source, MetadataDirective="REPLACE", **target, **attributes
                )
            return
        with self._errors(action="start the copy of", key=key):
            upload_id = self._client.create_multipart_upload(**target, **attributes)["UploadId"]
        try:
            parts = []
            for number, first in enumerate(range(0, size, _COPY_PART_SIZE), start=1):
                last = min(first + _COPY_PART_SIZE, size) - 1
                with self._errors(action=f"copy part {number} of", key=key):
                    answer = self._client.upload_part_copy(
                        **target,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource=source,
                        CopySourceRange=f"bytes={first}-{last}",
                    )
                parts.append({"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number})
            with self._errors(action="complete the copy of", key=key):
                self._client.complete_multipart_upload(
                    **target, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            self._abort(target["Key"], upload_id)
            raise

    def _abort(self, s3_key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=s3_key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as error:
            # A lifecycle rule (AbortIncompleteMultipartUpload) is the backstop; see docs/connectors.md.
            logger.warning("could not abort multipart upload %s of s3://%s/%s: %s", upload_id,
                           self._bucket, s3_key, error)

    def _delete_quietly(self, s3_key: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=s3_key)
        except (BotoCoreError, ClientError) as error:
            logger.warning("could not delete staging object s3://%s/%s: %s", self._bucket, s3_key, error)

    # -- reading -------------------------------------------------------------------------------------

    def open_stream(
        self,
        key: str,
        *,
        expected_sha256: str | None = None,
        byte_range: tuple[int, int | None] | None = None,
    ) -> ObjectReader:
        """GET the object; a full read is verified against ``x-amz-meta-sha256`` (and ``expected_sha256``)."""
        key = validate_key(key)
        expected = validate_sha256(expected_sha256)
        wanted = validate_range(byte_range)
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": self._prefix + key}
        if wanted is not None:
            request["Range"] = f"bytes={wanted[0]}-{'' if wanted[1] is None else wanted[1]}"
        with self._errors(action="read", key=key):
            answer = self._client.get_object(**request)
        body = answer["Body"]
        try:
            first, last, total = _span(answer)
            stored = self._stored(key, answer, total)
            verify: list[str] | None = None
            if wanted is None:
                verify = [digest for digest in (stored.sha256, expected) if digest]
                if not verify:
                    raise IntegrityError(
                        f"object {key!r} has no recorded SHA-256 (not written by callgov); "
                        "pass expected_sha256 to read it",
                        key=key,
                    )
        except BaseException:
            body.close()
            raise
        chunks = self._body_chunks(body, key)
        return ObjectReader(stored, chunks, close=body.close, first=first, last=last, verify_against=verify)

    def _body_chunks(self, body: Any, key: str) -> Iterator[bytes]:
        with self._errors(action="read", key=key):
            yield from body.iter_chunks(self._chunk_size)

    def head(self, key: str) -> StoredObject | None:
        """HEAD the object. A missing bucket also answers 404 here; :meth:`check` tells them apart."""
        key = validate_key(key)
        try:
            answer = self._client.head_object(Bucket=self._bucket, Key=self._prefix + key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._translate(error, "inspect", key) from error
        except BotoCoreError as error:
            raise self._translate(error, "inspect", key) from error
        return self._stored(key, answer, int(answer["ContentLength"]))

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        return self.head(key) is not None

    def _stored(self, key: str, answer: Mapping[str, Any], size: int) -> StoredObject:
        metadata = dict(answer.get("Metadata") or {})
        digest = metadata.pop("sha256", "").lower()
        return StoredObject(
            key=key,
            size=size,
            sha256=digest,
            content_type=answer.get("ContentType") or "application/octet-stream",
            metadata=metadata,
            stored_at=answer.get("LastModified"),
        )

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """List keys under ``prefix`` page by page; staging objects and foreign keys are skipped."""
        prefix = validate_prefix(prefix)
        paginator = self._client.get_paginator("list_objects_v2")
        with self._errors(action="list"):
            pages = paginator.paginate(
                Bucket=self._bucket, Prefix=self._prefix + prefix, PaginationConfig={"PageSize": _LIST_PAGE_SIZE}
            )
            for page in pages:
                for entry in page.get("Contents", ()):
                    key = entry["Key"][len(self._prefix) :]
                    if is_valid_key(key):
                        yield key

    # -- deleting and the rest -----------------------------------------------------------------------

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        """Delete with one ``DeleteObjects`` call per 1,000 keys; per-key refusals are returned.

        A refusal of a whole call (no bucket, no permission) raises instead, after earlier batches.
        """
        failures: list[DeleteFailure] = []
        for batch in batched_keys(keys, 1000):
            with self._errors(action=f"delete {len(batch)} objects from"):
                answer = self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": self._prefix + key} for key in batch], "Quiet": True},
                )
            for error in answer.get("Errors", ()):
                failures.append(
                    DeleteFailure(
                        key=str(error.get("Key", ""))[len(self._prefix) :],
                        code=str(error.get("Code", "")),
                        message=str(error.get("Message", "")),
                    )
                )
        return failures

    def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        """A SigV4-signed GET URL valid for ``expires_in`` (1 second to 7 days).

        Signed with temporary credentials (a role), the URL also stops working when they expire.
        """
        key = validate_key(key)
        seconds = validate_expiry(expires_in)
        with self._errors(action="sign a URL for", key=key):
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": self._prefix + key}, ExpiresIn=seconds
            )
        return url

    def check(self) -> None:
        """HEAD the bucket; raise :class:`BucketNotFound` or :class:`AccessDenied` if it is unusable."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                raise BucketNotFound(f"S3 bucket {self._bucket!r} does not exist") from error
            raise self._translate(error, "use the bucket") from error
        except BotoCoreError as error:
            raise self._translate(error, "use the bucket") from error


class _Hashing:
    """Wraps a chunk iterator, hashing and counting what passes through."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._hash = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> _Hashing:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._chunks)
        self._hash.update(chunk)
        self.size += len(chunk)
        return chunk

    def digest(self) -> bytes:
        return self._hash.digest()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _span(answer: Mapping[str, Any]) -> tuple[int, int, int]:
    """(first, last, total) of a GET answer, from ``Content-Range`` when it was a range request."""
    content_range = answer.get("ContentRange")
    if content_range:
        # "bytes 10-19/1234"
        span, _, total = str(content_range).removeprefix("bytes ").partition("/")
        first, _, last = span.partition("-")
        return int(first), int(last), int(total)
    length = int(answer["ContentLength"])
    return 0, length - 1, length


def _make_client(settings: S3Settings, session: Any = None) -> Any:
    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        # S3-compatible stores and test servers rarely resolve bucket subdomains.
        s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
    )
    try:
        return (session or boto3.session.Session()).client(
            "s3", region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
        )
    except (BotoCoreError, ValueError) as error:
        raise StorageConfigError(f"cannot set up the S3 client: {error}") from error
