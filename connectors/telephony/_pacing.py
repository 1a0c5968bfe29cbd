"""Retry delays and rate-limit pacing: how the client avoids hammering RingCentral.

RingCentral meters requests per group (Auth, Heavy, Medium, Light) and says where we stand on every
answer (``X-Rate-Limit-Group``, ``-Limit``, ``-Remaining``, ``-Window``). :class:`RateLimitPacer`
remembers which group each operation belongs to and, once a group's ``Remaining`` reaches 0, holds
the next request in that group back for the group's window.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

logger = logging.getLogger("connectors.telephony")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try a request and how long to wait between tries.

    Server errors and network failures wait ``backoff_base * 2**(n-1)`` seconds (capped at
    ``backoff_cap``), half of it fixed and half random; a ``Retry-After`` is honoured as sent, up
    to ``max_retry_after``.
    """

    max_tries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 900.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The delay after failed try number ``attempt`` (1-based), with jitter."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def retry_after(self, header: str | None, now: Callable[[], float] = time.time) -> float | None:
        """Seconds to wait according to a ``Retry-After`` header (seconds or an HTTP date)."""
        if not header:
            return None
        header = header.strip()
        try:
            seconds = float(header)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - now()
        return min(max(seconds, 0.0), self.max_retry_after)


class RateLimitPacer:
    """Holds requests back while their rate-limit group is used up; safe to share between threads."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._group_of: dict[str, str] = {}
        self._blocked_until: dict[str, float] = {}

    def wait(self, operation: str) -> None:
        """Sleep until ``operation``'s group (as last reported) may be called again."""
        with self._lock:
            group = self._group_of.get(operation)
            until = self._blocked_until.get(group, 0.0) if group else 0.0
        delay = until - self._clock()
        if delay > 0:
            logger.info("rate limit group %s used up; waiting %.1f s before %s", group, delay, operation)
            self._sleep(delay)

    def observe(self, operation: str, headers: Mapping[str, str]) -> None:
        """Learn ``operation``'s group and, if it has no requests left, when it opens again."""
        group = headers.get("x-rate-limit-group")
        if not group:
            return
        remaining = _number(headers.get("x-rate-limit-remaining"))
        window = _number(headers.get("x-rate-limit-window"))
        with self._lock:
            self._group_of[operation] = group
            if remaining is not None and remaining <= 0 and window is not None and window > 0:
                self._blocked_until[group] = self._clock() + window


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
