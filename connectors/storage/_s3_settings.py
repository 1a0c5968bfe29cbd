"""Settings for the S3 store, read from ``CALLGOV_S3_*`` environment variables.

Credentials are deliberately absent: boto3 finds them through its standard chain (environment,
shared config and credentials files, SSO, container or instance roles), so callgov never reads or
holds an access key itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ._errors import StorageConfigError
from ._validation import validate_prefix

__all__ = ["S3Settings"]

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB
DEFAULT_PART_SIZE = 8 * MIB
SSE_MODES = ("AES256", "aws:kms", "aws:kms:dsse", "none")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Settings:
    """Where and how the S3 store keeps objects.

    ``bucket`` ``None`` means S3 is not configured (the local folder store is used). ``prefix`` is
    prepended to every key and always ends with ``/``. ``sse`` is the server-side encryption requested
    on every write: ``AES256`` (S3-managed keys), ``aws:kms`` or ``aws:kms:dsse`` (with ``kms_key_id``,
    or the account's default key if unset), or ``none`` for S3-compatible stores that reject the
    header. Objects of ``part_size`` bytes or more are sent as multipart uploads in parts of that size,
    so the largest object is ``part_size`` x 10,000.
    """

    bucket: str | None
    prefix: str = "callgov/"
    endpoint_url: str | None = None
    region: str | None = None
    sse: str = "AES256"
    kms_key_id: str | None = None
    part_size: int = DEFAULT_PART_SIZE
    max_attempts: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.bucket is not None and not _BUCKET.fullmatch(self.bucket):
            raise StorageConfigError(f"CALLGOV_S3_BUCKET {self.bucket!r} is not a valid bucket name")
        prefix = self.prefix.strip("/")
        try:
            validate_prefix(prefix)
        except ValueError:
            raise StorageConfigError(f"CALLGOV_S3_PREFIX {self.prefix!r} has unsafe characters") from None
        object.__setattr__(self, "prefix", f"{prefix}/" if prefix else "")
        if self.sse not in SSE_MODES:
            raise StorageConfigError(f"CALLGOV_S3_SSE must be one of {', '.join(SSE_MODES)}: {self.sse!r}")
        if self.kms_key_id and not self.sse.startswith("aws:kms"):
            raise StorageConfigError("CALLGOV_S3_KMS_KEY_ID is set but CALLGOV_S3_SSE is not aws:kms")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise StorageConfigError(
                f"CALLGOV_S3_PART_SIZE must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes, "
                f"not {self.part_size}"
            )
        if self.max_attempts < 1:
            raise StorageConfigError("max_attempts must be at least 1")

    @property
    def enabled(self) -> bool:
        """Whether a bucket is configured, i.e. objects go to S3 rather than the local folder."""
        return self.bucket is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> S3Settings:
        """Read the settings from ``environ`` (pass ``os.environ``); empty values count as unset.

        ``CALLGOV_S3_BUCKET`` (unset: S3 off), ``CALLGOV_S3_PREFIX`` (``callgov/``),
        ``CALLGOV_S3_ENDPOINT_URL`` (S3-compatible stores and tests), ``CALLGOV_S3_REGION``,
        ``CALLGOV_S3_SSE`` (``AES256``), ``CALLGOV_S3_KMS_KEY_ID``, ``CALLGOV_S3_PART_SIZE`` (bytes,
        8 MiB).
        """

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        part_size = get("CALLGOV_S3_PART_SIZE")
        try:
            parsed_part_size = int(part_size) if part_size else DEFAULT_PART_SIZE
        except ValueError:
            raise StorageConfigError(f"CALLGOV_S3_PART_SIZE {part_size!r} is not a number of bytes") from None
        prefix = environ.get("CALLGOV_S3_PREFIX")
        return cls(
            bucket=get("CALLGOV_S3_BUCKET"),
            prefix="callgov/" if prefix is None else prefix.strip(),
            endpoint_url=get("CALLGOV_S3_ENDPOINT_URL"),
            region=get("CALLGOV_S3_REGION"),
            sse=get("CALLGOV_S3_SSE") or "AES256",
            kms_key_id=get("CALLGOV_S3_KMS_KEY_ID"),
            part_size=parsed_part_size,
        )
