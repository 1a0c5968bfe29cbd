"""A local stand-in for RingCentral's call-log and call-recording API, with generated data.

It serves the token endpoint, the account call log (paging, filters, navigation links), the call-log
sync, recording metadata, recording audio (WAV generated on the fly, from a separate "media" port
like RingCentral's media host) and recording deletion, and meters requests in Heavy, Medium, Light
and Auth groups. Tests adjust it while it runs: rate limits, token lifetime, and faults such as
"the next 3 requests answer 503" or "cut the next download half-way".

    with start_simulator(calls=500, seed=1) as sim:
        client = RingCentralClient(sim.settings())

From a shell: ``python -m connectors.telephony.simulator --calls 5000 --port 8089``.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .._settings import RingCentralSettings
from ._audio import iter_wav
from ._data import CallGenerator, SimCall
from ._server import SimServer, SimState
from ._state import (
    REALISTIC_RATE_LIMITS,
    Faults,
    LoggedRequest,
    RateLimiter,
    RequestLog,
    SimulatorCredentials,
    TokenBook,
)
from ._store import CallStore

__all__ = [
    "REALISTIC_RATE_LIMITS",
    "CallGenerator",
    "Faults",
    "LoggedRequest",
    "RunningSimulator",
    "SimCall",
    "SimulatorCredentials",
    "main",
    "run_simulator_forever",
    "iter_wav",
    "start_simulator",
]

RateLimitSetting = Mapping[str, tuple[int, int]] | Literal["realistic"] | None


class RunningSimulator:
    """A simulator serving in background threads; stop it with :meth:`stop` or a ``with`` block."""

    def __init__(self, state: SimState, api: SimServer, media: SimServer) -> None:
        self._state = state
        self._servers = (api, media)
        self._threads = [
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"telephony-simulator-{server.role}",
                daemon=True,
            )
            for server in self._servers
        ]
        for thread in self._threads:
            thread.start()
        self._stopped = False

    @property
    def base_url(self) -> str:
        """The API's base URL, e.g. ``http://127.0.0.1:8089`` (give it as ``CALLGOV_RC_SERVER_URL``)."""
        return self._state.api_url

    @property
    def media_url(self) -> str:
        """The media host's base URL, where ``contentUri`` links point."""
        return self._state.media_url

    @property
    def credentials(self) -> SimulatorCredentials:
        """The client id, secret and JWT this simulator accepts."""
        return self._state.credentials

    @property
    def faults(self) -> Faults:
        """Arm misbehaviours for the next requests (``fail_next``, ``cut_next_download`` ...)."""
        return self._state.faults

    @property
    def store(self) -> CallStore:
        """The generated call log, for tests that need to know what the simulator holds."""
        return self._state.store

    @property
    def now(self) -> datetime:
        """The simulated present; generated calls lie in the 90 days before it."""
        return self._state.store.now

    def settings(self, **overrides: Any) -> RingCentralSettings:
        """Client settings pointing at this simulator with its credentials."""
        creds = self.credentials
        values: dict[str, Any] = {
            "server_url": self.base_url,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "jwt": creds.jwt,
        }
        return RingCentralSettings(**{**values, **overrides})

    def environment(self) -> dict[str, str]:
        """The ``CALLGOV_RC_*`` variables that point callgov at this simulator."""
        creds = self.credentials
        return {
            "CALLGOV_RC_SERVER_URL": self.base_url,
            "CALLGOV_RC_CLIENT_ID": creds.client_id,
            "CALLGOV_RC_CLIENT_SECRET": creds.client_secret,
            "CALLGOV_RC_JWT": creds.jwt,
        }

    def set_rate_limit(self, limits: RateLimitSetting) -> None:
        """Set requests per window per group (``{"Heavy": (10, 60)}``), ``"realistic"`` or ``None``."""
        self._state.limiter.set(REALISTIC_RATE_LIMITS if limits == "realistic" else limits)

    def set_token_lifetime(self, seconds: int, *, max_uses: int | None = None) -> None:
        """Tokens issued from now on expire after ``seconds``, or after ``max_uses`` requests."""
        self._state.tokens.expires_in = seconds
        self._state.tokens.max_uses = max_uses

    def expire_tokens(self) -> None:
        """Expire every access token issued so far; clients must refresh to go on."""
        self._state.tokens.expire_all()

    def issued_tokens(self) -> set[str]:
        """Every access and refresh token this simulator has issued."""
        return set(self._state.tokens.ever_issued)

    @property
    def omit_totals(self) -> bool:
        """Whether call-log pages leave out ``totalPages`` and ``totalElements``."""
        return self._state.omit_totals

    @omit_totals.setter
    def omit_totals(self, value: bool) -> None:
        self._state.omit_totals = value

    def requests(self) -> list[LoggedRequest]:
        """The requests received so far (the most recent 20,000), oldest first."""
        return self._state.log.entries()

    def clear_requests(self) -> None:
        """Forget the logged requests."""
        self._state.log.clear()

    def advance(self, delta: timedelta, calls: int = 0) -> list[SimCall]:
        """Move the simulated present forward by ``delta``, adding ``calls`` new records in between."""
        return self._state.store.advance(delta, calls)

    def stop(self) -> None:
        """Stop serving, drop open connections and release the ports; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in self._servers:
            server.drop_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningSimulator(base_url={self.base_url!r}, calls={len(self.store.calls)})"


def start_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    calls: int = 2000,
    seed: int = 1,
    rate_limit: RateLimitSetting = None,
    now: datetime | None = None,
    media_port: int = 0,
    token_lifetime: int = 3600,
    omit_totals: bool = False,
    credentials: SimulatorCredentials | None = None,
) -> RunningSimulator:
    """Generate ``calls`` call-log records and serve them on ``host:port`` (0 picks a free port).

    ``now`` (aware, default the wall clock) anchors the 90 days of generated calls; the same
    ``seed`` and ``now`` always give the same data. Recording audio is served from a second port
    (``media_port``), as RingCentral serves it from a media host.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    store = CallStore(CallGenerator(seed), calls, moment)
    state = SimState(
        store=store,
        tokens=TokenBook(expires_in=token_lifetime),
        limiter=RateLimiter(),
        faults=Faults(),
        log=RequestLog(),
        credentials=credentials or SimulatorCredentials(),
        omit_totals=omit_totals,
    )
    state.limiter.set(REALISTIC_RATE_LIMITS if rate_limit == "realistic" else rate_limit)
    api = SimServer((host, port), state, "api")
    try:
        media = SimServer((host, media_port), state, "media")
    except OSError:
        api.server_close()
        raise
    state.api_url = _url(host, api.server_address[1])
    state.media_url = _url(host, media.server_address[1])
    return RunningSimulator(state, api, media)


def run_simulator_forever(
    calls: int = 5000,
    port: int = 8089,
    host: str = "127.0.0.1",
    seed: int = 1,
    *,
    rate_limit: RateLimitSetting = None,
) -> None:
    """Start the simulator, print its URL and credentials, and serve until Ctrl-C."""
    sim = start_simulator(host, port, calls=calls, seed=seed, rate_limit=rate_limit)
    try:
        print(f"RingCentral simulator with {calls} call-log records at {sim.base_url}")
        print(f"(audio from {sim.media_url}); point callgov at it with:")
        for name, value in sim.environment().items():
            print(f"  export {name}={value}")
        print("Press Ctrl-C to stop.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping the simulator")
    finally:
        sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``simulator`` command: ``--calls N --port P --host H --seed S [--rate-limit realistic]``."""
    parser = argparse.ArgumentParser(prog="callgov simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="call-log records to generate (default 5000)")
    parser.add_argument("--port", type=int, default=8089, help="API port (default 8089; 0 picks one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data (default 1)")
    parser.add_argument(
        "--rate-limit",
        choices=("none", "realistic"),
        default="none",
        help="'realistic' meters requests as RingCentral does (Heavy: 10 a minute)",
    )
    args = parser.parse_args(argv)
    limit: RateLimitSetting = "realistic" if args.rate_limit == "realistic" else None
    run_simulator_forever(args.calls, args.port, args.host, args.seed, rate_limit=limit)
    return 0


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
