"""One request to RingCentral, done carefully: paced, authenticated, retried, bounded.

:class:`ApiSession` is the only place that sends HTTP. It puts the bearer token in the
``Authorization`` header (never in a URL), sends it only to trusted hosts, waits while a rate-limit
group is used up, honours ``Retry-After`` on 429, backs off with jitter on 5xx and network
failures, renews the token once on a 401, and gives up after ``max_tries`` with a clear error.
"""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx

from ._auth import TOKEN_PATH, TokenManager
from ._pacing import RETRYABLE_STATUSES, RateLimitPacer, RetryPolicy
from ._settings import RingCentralSettings
from .errors import TelephonyUnavailable, UnexpectedResponse

logger = logging.getLogger("connectors.telephony")

_NUMBER_WORDS = (
    "zero",
    "once",
    "twice",
    "three times",
    "four times",
    "five times",
    "six times",
    "seven times",
    "eight times",
    "nine times",
    "ten times",
)


class ApiSession:
    """Sends requests to RingCentral with retries, pacing and a shared token."""

    def __init__(
        self,
        settings: RingCentralSettings,
        *,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.base_url = httpx.URL(settings.server_url.rstrip("/") + "/")
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout),
            headers={"Accept": "application/json", "User-Agent": "callgov-telephony/1"},
            follow_redirects=False,
        )
        self._policy = RetryPolicy(max_tries=settings.max_tries)
        self._sleep = sleep
        self._rng = rng
        self._pacer = RateLimitPacer(clock, sleep)
        self.tokens = TokenManager(settings, self._post_token_form, clock)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def url(self, path_or_uri: str) -> httpx.URL:
        """Resolve a path or a URI from an answer, refusing hosts we must not send the token to."""
        url = self.base_url.join(path_or_uri)
        if url.scheme != "https" and not (url.scheme == "http" and self.base_url.scheme == "http"):
            raise UnexpectedResponse(f"refusing a non-HTTPS link from RingCentral: {url.copy_with(query=None)}")
        host = url.host.lower()
        trusted = (
            host == self.base_url.host.lower()
            or host == "ringcentral.com"
            or host.endswith(".ringcentral.com")
            or host in self.settings.media_hosts
        )
        if not trusted:
            raise UnexpectedResponse(
                f"refusing to send the RingCentral token to {host}; add it to CALLGOV_RC_MEDIA_HOSTS if it is genuine"
            )
        return url

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        operation: str,
        stream: bool = False,
        authenticate: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request until it gets a final answer (anything but 429, 5xx or a failure) and return it.

        401 is answered by renewing the token and trying once more. With ``stream=True`` the body
        is left unread; the caller must close the response.
        """
        failures: list[str] = []
        renewed = False
        while True:
            self._pacer.wait(operation)
            token = self.tokens.current() if authenticate else None
            sent_headers = dict(headers or {})
            if token:
                sent_headers["Authorization"] = f"Bearer {token}"
            request = self._client.build_request(method, url, headers=sent_headers, **kwargs)
            try:
                response = self._client.send(request, stream=stream)
            except httpx.TransportError as exc:
                failures.append(_describe_failure(exc))
                self._pause_or_give_up(method, url, failures, None)
                continue
            self._pacer.observe(operation, response.headers)
            if response.status_code == 401 and token and not renewed:
                response.close()
                logger.info("RingCentral answered 401 to %s %s; renewing the token once", method, url.path)
                self.tokens.invalidate(token)
                renewed = True
                continue
            if response.status_code in RETRYABLE_STATUSES:
                retry_after = self._policy.retry_after(response.headers.get("Retry-After"))
                response.close()
                failures.append(str(response.status_code))
                self._pause_or_give_up(method, url, failures, retry_after)
                continue
            return response

    def _pause_or_give_up(self, method: str, url: httpx.URL, failures: list[str], retry_after: float | None) -> None:
        tries = len(failures)
        if tries >= self._policy.max_tries:
            raise TelephonyUnavailable(_give_up_message(method, url.path, failures))
        delay = retry_after if retry_after is not None else self._policy.backoff(tries, self._rng)
        logger.warning(
            "RingCentral %s for %s %s (try %d of %d); retrying in %.2f s",
            _failure_phrase(failures[-1]),
            method,
            url.path,
            tries,
            self._policy.max_tries,
            delay,
        )
        self._sleep(delay)

    def _post_token_form(self, form: dict[str, str]) -> httpx.Response:
        response = self.request(
            "POST",
            self.base_url.join(TOKEN_PATH),
            operation="token",
            authenticate=False,
            data=form,
            headers={"Authorization": _basic_auth(self.settings.client_id, self.settings.client_secret)},
        )
        response.read()
        return response


def _basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")


def _describe_failure(exc: httpx.TransportError) -> str:
    return "timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__


def _failure_phrase(failure: str) -> str:
    return f"answered {failure}" if failure.isdigit() else f"failed ({failure})"


def _times(count: int) -> str:
    return _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else f"{count} times"


def _give_up_message(method: str, path: str, failures: list[str]) -> str:
    if len(set(failures)) == 1:
        what = _failure_phrase(failures[0])
        return f"RingCentral {what} {_times(len(failures))} for {method} {path}; giving up"
    return f"RingCentral failed {_times(len(failures))} for {method} {path} ({', '.join(failures)}); giving up"
