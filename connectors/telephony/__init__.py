"""The telephony cloud where recordings live for 90 days: RingCentral / BT Cloud Work.

``TelephonyProvider`` is what the rest of callgov depends on. ``RingCentralClient`` is the real
implementation (configured by ``RingCentralSettings.from_env()``), ``FakeTelephony`` an in-memory
one for unit tests, and ``connectors.telephony.simulator`` a local HTTP server speaking
RingCentral's API for demos, the embedded default and the client's own tests.
"""

from ._client import RingCentralClient
from ._fake import FakeTelephony
from ._files import download_to_file
from ._models import CallLogRecord, CallParty, DownloadResult, RecordingInfo, RecordingRef
from ._protocol import Sink, TelephonyProvider
from ._settings import RingCentralSettings, SecretRedactingFilter, secret_filter
from .errors import (
    DownloadIncomplete,
    RecordingNotFound,
    TelephonyAuthError,
    TelephonyConfigError,
    TelephonyError,
    TelephonyRequestError,
    TelephonyUnavailable,
    UnexpectedResponse,
)

__all__ = [
    "CallLogRecord",
    "CallParty",
    "DownloadIncomplete",
    "DownloadResult",
    "FakeTelephony",
    "RecordingInfo",
    "RecordingNotFound",
    "RecordingRef",
    "RingCentralClient",
    "RingCentralSettings",
    "SecretRedactingFilter",
    "Sink",
    "TelephonyAuthError",
    "TelephonyConfigError",
    "TelephonyError",
    "TelephonyProvider",
    "TelephonyRequestError",
    "TelephonyUnavailable",
    "UnexpectedResponse",
    "download_to_file",
    "secret_filter",
]
