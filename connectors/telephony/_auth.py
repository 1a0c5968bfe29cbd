"""The OAuth token of a RingCentral client: obtained by JWT grant, reused, renewed before expiry.

RingCentral allows only a few token requests a minute (the Auth group), so one token is shared by
every request and renewed a safety margin before it expires: first with the refresh token, and with
a fresh JWT grant if the refresh is refused. A 401 on an API request invalidates the token once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ._settings import RingCentralSettings, _SecretHolder, secret_filter
from .errors import TelephonyAuthError, TelephonyError, UnexpectedResponse

logger = logging.getLogger("connectors.telephony")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/restapi/oauth/token"


@dataclass(frozen=True)
class _Token:
    access: str
    renew_at: float
    refresh: str | None
    refresh_usable_until: float | None


class TokenManager(_SecretHolder):
    """Hands out a valid access token, renewing it when due; safe to share between threads.

    ``post_form`` sends one form to the token endpoint (with HTTP Basic client credentials and the
    client's retries) and returns the answer whatever its status.
    """

    def __init__(
        self,
        settings: RingCentralSettings,
        post_form: Callable[[dict[str, str]], httpx.Response],
        clock: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._post_form = post_form
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None
        secret_filter.register(self)

    def current(self) -> str:
        """The access token to send now, renewed first if it is missing or due."""
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                token = self._token = self._renew(token)
            return token.access

    def invalidate(self, access: str) -> None:
        """Forget ``access`` (the provider answered 401 to it) so the next call renews."""
        with self._lock:
            if self._token is not None and self._token.access == access:
                self._token = _Token("", float("-inf"), self._token.refresh, self._token.refresh_usable_until)

    def secrets(self) -> tuple[str, ...]:
        token = self._token
        values = [self._settings.client_secret, self._settings.jwt]
        if token is not None:
            values += [token.access, token.refresh or ""]
        return tuple(v for v in values if v)

    def _renew(self, old: _Token | None) -> _Token:
        if (
            old is not None
            and old.refresh
            and (old.refresh_usable_until is None or self._clock() < old.refresh_usable_until)
        ):
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": old.refresh}, "refresh")
            except TelephonyError as exc:
                logger.info("refreshing the RingCentral token failed (%s); using the JWT grant", exc)
        return self._grant({"grant_type": JWT_GRANT, "assertion": self._settings.jwt}, "JWT")

    def _grant(self, form: dict[str, str], kind: str) -> _Token:
        started = self._clock()
        response = self._post_form(form)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            raise TelephonyAuthError(
                f"RingCentral refused the {kind} grant with {response.status_code}{_oauth_error(body)}"
            )
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise UnexpectedResponse(f"RingCentral's answer to the {kind} grant has no access_token")
        lifetime = _seconds(body.get("expires_in")) or 3600.0
        margin = min(self._settings.token_safety_margin, lifetime / 4)
        refresh = body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else None
        refresh_lifetime = _seconds(body.get("refresh_token_expires_in"))
        logger.info("obtained a RingCentral access token by %s grant, valid %.0f s", kind, lifetime)
        return _Token(
            access=body["access_token"],
            renew_at=started + lifetime - margin,
            refresh=refresh,
            refresh_usable_until=None if refresh_lifetime is None else started + refresh_lifetime - margin,
        )


def _oauth_error(body: object) -> str:
    if not isinstance(body, dict):
        return ""
    code = body.get("error") or body.get("errorCode")
    description = body.get("error_description") or body.get("message")
    text = ": ".join(str(part) for part in (code, description) if part)
    return f" ({text})" if text else ""


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)
