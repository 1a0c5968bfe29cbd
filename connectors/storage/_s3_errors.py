"""Translation of botocore's exceptions into the storage error tree, with messages an operator can act on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    FlexibleChecksumError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from ._errors import (
    AccessDenied,
    BucketNotFound,
    IntegrityError,
    InvalidRange,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)

_DENIED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "403",
    }
)
_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})
_UNAVAILABLE = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"})
_NETWORK = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    ResponseStreamingError,
)


def translate(
    error: Exception, *, bucket: str, action: str, key: str | None = None, prefix: str = ""
) -> StorageError:
    """Return the storage error for a botocore/urllib3 exception raised while doing ``action`` on ``key``
    (messages name the real S3 location, ``s3://bucket/prefix+key``)."""
    where = f"s3://{bucket}/{prefix}{key}" if key is not None else f"s3://{bucket}/{prefix}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        message = str(details.get("Message", "")) or "no message"
        if code == "NoSuchBucket":
            return BucketNotFound(f"S3 bucket {bucket!r} does not exist (while trying to {action})", key=key)
        if code in _DENIED or code.startswith("KMS."):
            return AccessDenied(
                f"S3 refused to {action} {where}: {code}: {message}. Check the credentials boto3 finds "
                "(environment, profile or role) and the bucket and KMS key policies",
                key=key,
            )
        if code in _NOT_FOUND and key is not None:
            return ObjectNotFound(f"no object stored under {key!r} ({where})", key=key)
        if code == "InvalidRange":
            return InvalidRange(f"requested range is outside {where}: {message}", key=key)
        if code in _UNAVAILABLE:
            return StorageUnavailable(f"S3 could not {action} {where}: {code}: {message}", key=key)
        return StorageError(f"S3 could not {action} {where}: {code}: {message}", key=key)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return AccessDenied(
            f"no usable AWS credentials to {action} {where}: set them the standard way "
            "(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance/container role)",
            key=key,
        )
    if isinstance(error, FlexibleChecksumError):
        return IntegrityError(f"S3 transfer checksum failed for {where}: {error}", key=key)
    if isinstance(error, (*_NETWORK, Urllib3Error, OSError)):
        return StorageUnavailable(f"S3 endpoint unreachable trying to {action} {where}: {error}", key=key)
    return StorageError(f"S3 could not {action} {where}: {error}", key=key)


@contextlib.contextmanager
def s3_errors(*, bucket: str, action: str, key: str | None = None, prefix: str = "") -> Iterator[None]:
    """Re-raise botocore and network errors inside the block as :class:`StorageError` subclasses."""
    try:
        yield
    except (BotoCoreError, ClientError, Urllib3Error, OSError) as error:
        raise translate(error, bucket=bucket, action=action, key=key, prefix=prefix) from error
