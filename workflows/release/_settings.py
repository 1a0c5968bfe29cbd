"""The release process's settings, from ``CALLGOV_*`` environment variables (docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_ORGANISATION = "North Wales Housing"


def _positive(environ: Mapping[str, str], name: str, default: int) -> int:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


@dataclass(frozen=True)
class ReleaseSettings:
    """How long things last and who is named, with the defaults of issue 6."""

    preserve_days: int = 14
    """A located recording expiring at the provider within this many days is kept at once."""
    listening_days: int = 14
    """How long an internal reviewer may listen after approval."""
    link_days: int = 7
    """How long a disclosure package's delivery link works."""
    link_uses: int = 3
    """How many downloads a delivery link allows."""
    reminder_working_days: int = 3
    """Working days an authorisation may wait before the authorisers are reminded."""
    escalation_working_days: int = 5
    """Working days an authorisation may wait before it goes to the DPO."""
    max_recordings: int = 50
    """The most recordings one request may concern; more means the request is too broad."""
    base_url: str = "http://localhost:5000"
    """Where the web UI is reached: delivery links point at ``{base_url}/disclosure/<token>``."""
    organisation: str = DEFAULT_ORGANISATION

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ReleaseSettings:
        """Read the settings; blank values take the defaults, bad ones raise ``ValueError``."""
        settings = cls(
            preserve_days=_positive(environ, "CALLGOV_PRESERVE_DAYS", cls.preserve_days),
            listening_days=_positive(environ, "CALLGOV_LISTENING_DAYS", cls.listening_days),
            link_days=_positive(environ, "CALLGOV_DISCLOSURE_LINK_DAYS", cls.link_days),
            link_uses=_positive(environ, "CALLGOV_DISCLOSURE_LINK_USES", cls.link_uses),
            reminder_working_days=_positive(environ, "CALLGOV_RELEASE_REMINDER_DAYS", cls.reminder_working_days),
            escalation_working_days=_positive(environ, "CALLGOV_RELEASE_ESCALATION_DAYS",
                                              cls.escalation_working_days),
            base_url=(environ.get("CALLGOV_BASE_URL") or cls.base_url).rstrip("/"),
            organisation=environ.get("CALLGOV_ORGANISATION") or cls.organisation,
        )
        if settings.escalation_working_days <= settings.reminder_working_days:
            raise ValueError("CALLGOV_RELEASE_ESCALATION_DAYS must be more than CALLGOV_RELEASE_REMINDER_DAYS")
        return settings
