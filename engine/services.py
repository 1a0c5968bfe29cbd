"""The connectors a running callgov uses, chosen from settings and created on first use.

Telephony is the real RingCentral / BT Cloud Work account when ``CALLGOV_RC_CLIENT_ID`` is set,
otherwise the built-in simulator (started in this process, on a free local port, with
``CALLGOV_SIMULATOR_CALLS`` generated calls). Storage is S3 when ``CALLGOV_S3_BUCKET`` is set,
otherwise a local folder. Mail goes to an SMTP relay when ``CALLGOV_SMTP_HOST`` is set,
otherwise to the log and the demo outbox.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from typing import Any

from connectors.mail import Mailer, MailSettings, mailer_from_settings
from connectors.storage import ObjectStore, S3Settings, object_store_from_settings
from connectors.telephony import RingCentralClient, RingCentralSettings, TelephonyProvider
from engine.config import Settings

log = logging.getLogger(__name__)
DEFAULT_SIMULATOR_CALLS = 400


class Services:
    """Lazily built connectors; ``close()`` stops what was started (the simulator, HTTP clients)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.simulator: Any = None
        self._lock = threading.Lock()

    @property
    def uses_simulator(self) -> bool:
        """Whether telephony is the built-in simulator (no RingCentral credentials configured)."""
        return not self.settings.environ.get("CALLGOV_RC_CLIENT_ID")

    @cached_property
    def telephony(self) -> TelephonyProvider:
        """The telephony provider: RingCentral, or the simulator started now."""
        with self._lock:
            if not self.uses_simulator:
                return RingCentralClient(RingCentralSettings.from_env(self.settings.environ))
            from connectors.telephony.simulator import start_simulator

            calls = int(self.settings.environ.get("CALLGOV_SIMULATOR_CALLS") or DEFAULT_SIMULATOR_CALLS)
            self.simulator = start_simulator(calls=calls, seed=int(self.settings.environ.get(
                "CALLGOV_SIMULATOR_SEED") or 1))
            log.info("Telephony: built-in simulator at %s with %d calls", self.simulator.base_url, calls)
            return RingCentralClient(self.simulator.settings())

    @cached_property
    def storage(self) -> ObjectStore:
        """Where retained copies of recordings are kept."""
        return object_store_from_settings(S3Settings.from_env(self.settings.environ),
                                          local_root=self.settings.storage_path)

    @cached_property
    def mailer(self) -> Mailer:
        """Where mail goes."""
        return mailer_from_settings(MailSettings.from_env(self.settings.environ))

    def close(self) -> None:
        """Close clients and stop the simulator, if they were started."""
        telephony = self.__dict__.get("telephony")
        if telephony is not None and hasattr(telephony, "close"):
            telephony.close()
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
