"""The simulator's HTTP side: a threading server per host (API and media) and the request handler.

Every answer carries ``X-Rate-Limit-*`` headers; injected faults are applied before anything else,
then the rate limit, then the bearer token, then the endpoint itself.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from ._audio import CONTENT_TYPE, iter_wav, wav_size
from ._data import ACCOUNT_ID
from ._render import error_json, iso_ms, page_json, record_json, recording_json
from ._requests import (
    Params,
    basic_auth_matches,
    byte_range,
    epoch_ms,
    make_sync_token,
    oauth_error,
    read_sync_token,
)
from ._state import Faults, LoggedRequest, RateLimiter, RequestLog, SimulatorCredentials, TokenBook
from ._store import CallStore

logger = logging.getLogger("connectors.telephony.simulator")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ACCOUNT = re.compile(rf"^/restapi/v1\.0/account/(?:~|{ACCOUNT_ID})/(.+)$")
_ROUTES: tuple[tuple[str, re.Pattern[str], str, str], ...] = (
    ("GET", re.compile(r"^call-log$"), "Heavy", "call_log"),
    ("GET", re.compile(r"^call-log/([^/]+)$"), "Heavy", "call_record"),
    ("GET", re.compile(r"^call-log-sync$"), "Heavy", "call_log_sync"),
    ("GET", re.compile(r"^recording/([^/]+)$"), "Light", "recording"),
    ("GET", re.compile(r"^recording/([^/]+)/content$"), "Heavy", "content"),
    ("DELETE", re.compile(r"^call-recordings$"), "Heavy", "delete_recordings"),
)
_CHUNK = 64 * 1024


@dataclass
class SimState:
    """Everything the request threads share."""

    store: CallStore
    tokens: TokenBook
    limiter: RateLimiter
    faults: Faults
    log: RequestLog
    credentials: SimulatorCredentials
    api_url: str = ""
    media_url: str = ""
    omit_totals: bool = False

    def now_ms(self) -> int:
        """The simulated present in epoch milliseconds."""
        return int(self.store.now.timestamp() * 1000)


class SimServer(ThreadingHTTPServer):
    """A threading HTTP server that can drop its open connections when stopped."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], state: SimState, role: str) -> None:
        self.state = state
        self.role = role
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, SimHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Shut down every open client connection so handler threads finish."""
        with self._open_lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("simulator connection from %s ended with an error", client_address, exc_info=True)


class SimHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests the way RingCentral would."""

    protocol_version = "HTTP/1.1"
    server: SimServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator %s: " + format, self.server.role, *args)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        self.method, self.query = method, parse_qsl(split.query, keep_blank_values=True)
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.rate_headers: dict[str, str] = {}
        self.grant_type: str | None = None
        self.logged = False
        try:
            self._route(method, split.path, state)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self._log_request(0)

    def _log_request(self, status: int) -> None:
        """Log this request once, as soon as its status is known (before the client can see it)."""
        if self.logged:
            return
        self.logged = True
        split = urlsplit(self.path)
        self.server.state.log.add(
            LoggedRequest(
                method=self.method,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                target=self.path,
                host=self.server.role,
                authorization=self.headers.get("Authorization"),
                status=status,
                grant_type=self.grant_type,
            )
        )

    def _route(self, method: str, path: str, state: SimState) -> None:
        if path == "/restapi/oauth/token" and method == "POST":
            if self._misbehave(path, "Auth", state):
                return
            self._token(state)
            return
        match = _ACCOUNT.match(path)
        for route_method, pattern, group, name in _ROUTES:
            found = pattern.match(match.group(1)) if match else None
            if found and route_method == method:
                if self._misbehave(path, group, state) or not self._authorised(state):
                    return
                getattr(self, f"_{name}")(state, *found.groups())
                return
        self.rate_headers, _ = state.limiter.take("Light")
        self._json(404, error_json("CMN-102", f"Resource for [{method} {path}] is not found"))

    def _misbehave(self, path: str, group: str, state: SimState) -> bool:
        """Apply stalls, injected failures and the rate limit; ``True`` if an answer was sent."""
        stall = state.faults.take("stall", path)
        if stall is not None:
            time.sleep(stall.seconds)
        self.rate_headers, over_limit = state.limiter.take(group)
        fault = state.faults.take("status", path)
        if fault is not None:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            code = "CMN-301" if fault.status == 429 else "CMN-211"
            self._json(fault.status, error_json(code, f"Simulated failure {fault.status}"), extra)
            return True
        if over_limit is not None:
            self._json(429, error_json("CMN-301", "Request rate exceeded"), {"Retry-After": str(over_limit)})
            return True
        return False

    def _authorised(self, state: SimState) -> bool:
        header = self.headers.get("Authorization", "")
        if any(key == "access_token" for key, _ in self.query):
            self._json(401, error_json("AGW-402", "Invalid Authorization header: send the token in a header"))
            return False
        if not header.startswith("Bearer "):
            self._json(401, error_json("AGW-401", "Authorization header is not specified"))
            return False
        problem = state.tokens.use(header.removeprefix("Bearer ").strip())
        if problem is None:
            return True
        code = "OAU-213" if problem == "TokenExpired" else "OAU-232"
        body = error_json(code, "Token expired" if problem == "TokenExpired" else "Token not found")
        body["errorCode"] = problem
        self._json(401, body)
        return False

    def _token(self, state: SimState) -> None:
        form = {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}
        creds = state.credentials
        self.grant_type = grant = form.get("grant_type")
        if not basic_auth_matches(self.headers.get("Authorization", ""), creds.client_id, creds.client_secret):
            self._json(401, oauth_error("invalid_client", "OAU-123", "Invalid client"))
        elif grant == JWT_GRANT and secrets.compare_digest(form.get("assertion", ""), creds.jwt):
            self._json(200, state.tokens.issue())
        elif grant == "refresh_token" and state.faults.take("reject-refresh", "/restapi/oauth/token") is None:
            if state.tokens.redeem_refresh(form.get("refresh_token", "")):
                self._json(200, state.tokens.issue())
            else:
                self._json(400, oauth_error("invalid_grant", "OAU-211", "Token not found"))
        elif grant in (JWT_GRANT, "refresh_token"):
            self._json(400, oauth_error("invalid_grant", "OAU-140", "Invalid grant"))
        else:
            self._json(400, oauth_error("unsupported_grant_type", "OAU-250", "Unsupported grant type"))

    def _call_log(self, state: SimState) -> None:
        params = Params(self.query)
        try:
            date_to = params.time("dateTo") or state.store.now
            date_from = params.time("dateFrom") or date_to - timedelta(hours=24)
            per_page = min(1000, params.integer("perPage", 100))
            page = params.integer("page", 1)
            filters = params.filters()
        except ValueError as exc:
            self._json(400, error_json("CMN-101", str(exc)))
            return
        positions = state.store.query(epoch_ms(date_from), epoch_ms(date_to), *filters)
        chunk = positions[(page - 1) * per_page : page * per_page]
        calls = [state.store.calls[p] for p in chunk]
        base = state.api_url if self.server.role == "api" else state.media_url
        self._json(
            200,
            page_json(
                calls,
                len(positions),
                page,
                per_page,
                f"{base}{urlsplit(self.path).path}",
                self.query,
                state.api_url,
                state.media_url,
                params.get("view") == "Detailed",
                not state.omit_totals,
            ),
        )

    def _call_record(self, state: SimState, call_id: str) -> None:
        call = state.store.call(call_id)
        if call is None:
            self._json(404, error_json("CMN-102", "Resource for parameter [callRecordId] is not found"))
            return
        detailed = Params(self.query).get("view") == "Detailed"
        self._json(200, record_json(call, state.api_url, state.media_url, detailed))

    def _call_log_sync(self, state: SimState) -> None:
        params = Params(self.query)
        store = state.store
        try:
            sync_type = params.get("syncType") or "FSync"
            if sync_type == "FSync":
                count = min(1000, params.integer("recordCount", 250))
                since = params.time("dateFrom") or store.now - timedelta(days=90)
                calls = [store.calls[p] for p in store.query(epoch_ms(since), 2**62)[:count]]
                token = store.change_seq
            elif sync_type == "ISync":
                seq = read_sync_token(params.get("syncToken"))
                calls = store.changed_since(seq, 250)
                token = calls[-1].change_seq if len(calls) == 250 else store.change_seq
            else:
                raise ValueError("Parameter [syncType] value is invalid")
        except ValueError as exc:
            self._json(400, error_json("CMN-101", str(exc)))
            return
        detailed = params.get("view") == "Detailed"
        self._json(
            200,
            {
                "uri": f"{state.api_url}{urlsplit(self.path).path}",
                "records": [record_json(c, state.api_url, state.media_url, detailed) for c in calls],
                "syncInfo": {
                    "syncType": sync_type,
                    "syncToken": make_sync_token(token),
                    "syncTime": iso_ms(state.now_ms()),
                },
            },
        )

    def _recording(self, state: SimState, recording_id: str) -> None:
        call = state.store.by_recording(recording_id)
        if call is None:
            self._json(404, error_json("CMN-102", "Resource for parameter [recordingId] is not found"))
            return
        self._json(200, recording_json(call, state.media_url))

    def _content(self, state: SimState, recording_id: str) -> None:
        call = state.store.by_recording(recording_id)
        if call is None:
            self._json(404, error_json("CMN-102", "Resource for parameter [recordingId] is not found"))
            return
        total = wav_size(call.duration)
        start, end, status = byte_range(self.headers.get("Range"), total)
        headers = {"Content-Type": CONTENT_TYPE, "Accept-Ranges": "bytes", **self.rate_headers}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
        cut = state.faults.take("cut", self.path)
        stop = start + int((end - start) * cut.fraction) if cut is not None else end
        self._start(status, end - start, headers)
        buffer = bytearray()
        for piece in iter_wav(recording_id, call.duration, start, stop):
            buffer += piece
            if len(buffer) >= _CHUNK:
                self.wfile.write(buffer)
                buffer.clear()
        self.wfile.write(buffer)
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True

    def _delete_recordings(self, state: SimState) -> None:
        try:
            body = json.loads(self.body or b"null")
            records = body["records"]
            ids = [r["id"] if isinstance(r, dict) else r for r in records]
            if not all(isinstance(i, str) for i in ids):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self._json(400, error_json("CMN-101", 'Body must be {"records": ["<recording id>", ...]}'))
            return
        state.store.delete_recordings(ids, state.now_ms())
        self._start(204, 0, dict(self.rate_headers))

    def _json(self, status: int, body: object, extra: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **self.rate_headers}
        self._start(status, len(payload), {**headers, **(extra or {})})
        self.wfile.write(payload)

    def _start(self, status: int, length: int, headers: dict[str, str]) -> None:
        self._log_request(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
