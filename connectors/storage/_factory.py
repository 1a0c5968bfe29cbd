"""Choosing the store the settings ask for."""

from __future__ import annotations

import os

from ._local import LocalFolderStore
from ._model import ObjectStore
from ._s3 import S3Store
from ._s3_settings import S3Settings

__all__ = ["object_store_from_settings"]


def object_store_from_settings(s3: S3Settings, *, local_root: str | os.PathLike[str]) -> ObjectStore:
    """An :class:`S3Store` when a bucket is configured, else a :class:`LocalFolderStore` at ``local_root``."""
    if s3.enabled:
        return S3Store(s3)
    return LocalFolderStore(local_root)
