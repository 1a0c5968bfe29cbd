"""Object storage for retained copies of recordings and disclosure packages.

Two stores implement :class:`ObjectStore`: :class:`LocalFolderStore` (the default, a folder on disk)
and :class:`S3Store` (any S3-compatible store through boto3, configured by :class:`S3Settings`).
Both stream in bounded memory, record each object's SHA-256 as it is written and check it on every
full read, never show a half-written object, and raise only the :class:`StorageError` tree.

    store = object_store_from_settings(S3Settings.from_env(os.environ), local_root="instance/storage")
    stored = store.put_stream("recordings/r1.mp3", response.iter_bytes(), content_type="audio/mpeg")
    with store.open_stream("recordings/r1.mp3", expected_sha256=stored.sha256) as chunks:
        for chunk in chunks:
            ...
"""

from ._errors import (
    AccessDenied,
    BucketNotFound,
    IntegrityError,
    InvalidKey,
    InvalidRange,
    InvalidRequest,
    ObjectNotFound,
    StorageConfigError,
    StorageError,
    StorageUnavailable,
)
from ._factory import object_store_from_settings
from ._local import LocalFolderStore
from ._model import DeleteFailure, ObjectStore, StoredObject
from ._s3 import S3Store
from ._s3_settings import S3Settings
from ._streams import ObjectReader

__all__ = [
    "AccessDenied",
    "BucketNotFound",
    "DeleteFailure",
    "IntegrityError",
    "InvalidKey",
    "InvalidRange",
    "InvalidRequest",
    "LocalFolderStore",
    "ObjectNotFound",
    "ObjectReader",
    "ObjectStore",
    "S3Settings",
    "S3Store",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "object_store_from_settings",
]
