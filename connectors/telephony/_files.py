"""Downloading a recording into a local file atomically: the file appears whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._models import DownloadResult
from ._protocol import TelephonyProvider


def download_to_file(
    provider: TelephonyProvider,
    recording_id: str,
    path: str | os.PathLike[str],
    *,
    content_uri: str | None = None,
) -> DownloadResult:
    """Download a recording to ``path``; on any failure nothing is left at ``path`` or beside it.

    The audio goes to a hidden temporary file in the same folder, which is flushed, synced and
    renamed over ``path`` only after the download completed; if anything goes wrong the temporary
    file is removed and the error propagates.
    """
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as temp_file:
            result = provider.download_recording(recording_id, temp_file, content_uri=content_uri)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return result
