"""Fixtures for the connector tests; each connector has its own section below.

Real servers only: S3 is moto's HTTP server, SMTP is aiosmtpd, telephony is the simulator. Each listens
on 127.0.0.1 with an ephemeral port and is stopped when its fixture ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

# ===================================================================================================
# Storage and mail (connectors/storage, connectors/mail.py)
# ===================================================================================================

S3_REGION = "eu-west-2"
S3_TEST_PART_SIZE = 5 * 1024 * 1024  # S3's minimum, so multipart tests stay small


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto S3 server over HTTP, with dummy credentials in the environment for boto3's chain."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "callgov-test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "callgov-test-secret")
        patch.setenv("AWS_DEFAULT_REGION", S3_REGION)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/callgov-test-aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/callgov-test-aws-credentials")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="session")
def boto_session(moto_endpoint: str) -> Any:
    """One boto3 session for the test run: it caches the S3 model, so each store's client is cheap."""
    import boto3

    return boto3.session.Session()


@pytest.fixture(scope="session")
def s3_client(boto_session: Any, moto_endpoint: str) -> Any:
    """A plain boto3 client on the moto server, for arranging and inspecting what the store did."""
    from botocore.config import Config

    return boto_session.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=S3_REGION,
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A new, empty bucket for each test."""
    name = f"callgov-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    return name


@pytest.fixture
def s3_settings(moto_endpoint: str, s3_bucket: str) -> Any:
    """S3Settings for the test bucket, as the app would read them from the environment."""
    from connectors.storage import S3Settings

    settings = S3Settings.from_env(
        {
            "CALLGOV_S3_BUCKET": s3_bucket,
            "CALLGOV_S3_ENDPOINT_URL": moto_endpoint,
            "CALLGOV_S3_REGION": S3_REGION,
            "CALLGOV_S3_PART_SIZE": str(S3_TEST_PART_SIZE),
        }
    )
    return settings


@pytest.fixture
def s3_store(s3_settings: Any, boto_session: Any) -> Any:
    """An S3Store on the moto server, building its own client from the settings."""
    from connectors.storage import S3Store

    return S3Store(s3_settings, session=boto_session)


@pytest.fixture
def local_store(tmp_path: Path) -> Any:
    """A LocalFolderStore in a fresh folder."""
    from connectors.storage import LocalFolderStore

    return LocalFolderStore(tmp_path / "objects")


@pytest.fixture(params=["local", "s3"])
def object_store(request: pytest.FixtureRequest) -> Any:
    """Each store in turn, for behaviour every ObjectStore must share."""
    return request.getfixturevalue(f"{request.param}_store")


@dataclass
class StoreBackdoor:
    """Reaches behind a store's API: corrupts an object in place, lists what a failed write left."""

    corrupt: Callable[[str, bytes], None]
    leftovers: Callable[[], list[str]]


@pytest.fixture
def store_backdoor(object_store: Any, request: pytest.FixtureRequest) -> StoreBackdoor:
    """A :class:`StoreBackdoor` for the ``object_store`` under test."""
    from connectors.storage import LocalFolderStore

    if isinstance(object_store, LocalFolderStore):
        root: Path = object_store.root

        def corrupt_file(key: str, data: bytes) -> None:
            root.joinpath(key).write_bytes(data)  # the sidecar keeps the old digest

        def temp_files() -> list[str]:
            return sorted(str(p.relative_to(root)) for p in root.rglob("*.tmp"))

        return StoreBackdoor(corrupt_file, temp_files)

    client = request.getfixturevalue("s3_client")
    bucket = request.getfixturevalue("s3_bucket")
    prefix = request.getfixturevalue("s3_settings").prefix

    def corrupt_object(key: str, data: bytes) -> None:
        old = client.head_object(Bucket=bucket, Key=prefix + key)
        client.put_object(Bucket=bucket, Key=prefix + key, Body=data, Metadata=old["Metadata"])

    def unfinished() -> list[str]:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        staged = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "~staging/").get("Contents", [])
        return [f"upload:{u['Key']}" for u in uploads] + [f"staged:{o['Key']}" for o in staged]

    return StoreBackdoor(corrupt_object, unfinished)


# -- mail ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1/localhost: (certificate PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callgov test relay")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class RelayRecord:
    """What a test SMTP relay saw: delivered envelopes and successful logins."""

    messages: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class SmtpRelay:
    """A running aiosmtpd relay: where it listens and what it received."""

    host: str
    port: int
    record: RelayRecord


@pytest.fixture
def smtp_relay(tls_files: tuple[Path, Path]) -> Iterator[Callable[..., SmtpRelay]]:
    """Start aiosmtpd relays on 127.0.0.1 with an ephemeral port; all are stopped after the test.

    ``smtp_relay(tls="starttls"|"implicit"|None, credentials={"user": "pw"}, refuse={"a@b.c"},
    **smtp_kwargs)``: ``refuse`` lists recipients answered with 550; ``smtp_kwargs`` go to aiosmtpd's SMTP.
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class EphemeralController(Controller):
        """aiosmtpd's Controller, reading back the port the OS chose for port 0."""

        def _trigger_server(self) -> None:
            server = cast(asyncio.Server, self.server)
            self.port = server.sockets[0].getsockname()[1]
            super()._trigger_server()

    class Handler:
        def __init__(self, record: RelayRecord, refuse: frozenset[str]) -> None:
            self.record = record
            self.refuse = refuse

        async def handle_RCPT(  # noqa: N802
            self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
        ) -> str:
            if address in self.refuse:
                return "550 5.1.1 Mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with self.record.lock:
                self.record.messages.append(envelope)
            return "250 Message accepted for delivery"

    cert_path, key_path = tls_files
    running: list[Any] = []

    def start(
        *,
        tls: str | None = None,
        credentials: dict[str, str] | None = None,
        refuse: set[str] | frozenset[str] = frozenset(),
        **smtp_kwargs: Any,
    ) -> SmtpRelay:
        record = RelayRecord()
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert_path, key_path)
        kwargs: dict[str, Any] = dict(smtp_kwargs)
        if tls == "starttls":
            kwargs["tls_context"] = server_tls
        elif tls == "implicit":
            kwargs["ssl_context"] = server_tls
        if credentials is not None:

            def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
                if isinstance(data, LoginPassword):
                    login, password = data.login.decode(), data.password.decode()
                    if credentials.get(login) == password:
                        with record.lock:
                            record.logins.append(login)
                        return AuthResult(success=True)
                return AuthResult(success=False, handled=False)

            kwargs["authenticator"] = authenticate
        controller = EphemeralController(Handler(record, frozenset(refuse)), hostname="127.0.0.1", port=0, **kwargs)
        controller.start()
        running.append(controller)
        return SmtpRelay("127.0.0.1", controller.port, record)

    yield start
    for controller in running:
        controller.stop()


# ===================================================================================================
# Telephony (connectors/telephony): the RingCentral simulator and clients talking to it
# ===================================================================================================

TELEPHONY_NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@dataclass
class TelephonyTime:
    """A monotonic clock and a ``sleep`` that only moves it; ``sleeps`` lists every wait asked for."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def telephony_time() -> TelephonyTime:
    """Fake time for a RingCentral client: waits are recorded, not slept."""
    return TelephonyTime()


@pytest.fixture
def make_telephony_simulator() -> Iterator[Callable[..., Any]]:
    """Start simulators (``start_simulator`` keywords; 1,200 calls, seed 7, a fixed now by default)."""
    from connectors.telephony.simulator import start_simulator

    running: list[Any] = []

    def start(**kwargs: Any) -> Any:
        kwargs.setdefault("calls", 1200)
        kwargs.setdefault("seed", 7)
        kwargs.setdefault("now", TELEPHONY_NOW)
        simulator = start_simulator(**kwargs)
        running.append(simulator)
        return simulator

    yield start
    for simulator in running:
        simulator.stop()


@pytest.fixture
def telephony_simulator(make_telephony_simulator: Callable[..., Any]) -> Any:
    """A running simulator with the default data."""
    return make_telephony_simulator()


@pytest.fixture
def make_telephony_client(telephony_time: TelephonyTime) -> Iterator[Callable[..., Any]]:
    """Build RingCentralClients for a simulator: ``make(sim, real_time=False, **settings_overrides)``.

    By default the client sleeps and reads the clock through ``telephony_time``; ``real_time=True``
    gives it the real ``time.sleep`` and ``time.monotonic``.
    """
    import random
    import time

    from connectors.telephony import RingCentralClient

    clients: list[Any] = []

    def make(simulator: Any, *, real_time: bool = False, **overrides: Any) -> Any:
        client = RingCentralClient(
            simulator.settings(**overrides),
            sleep=time.sleep if real_time else telephony_time.sleep,
            clock=time.monotonic if real_time else telephony_time.clock,
            rng=random.Random(4),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def telephony_client(telephony_simulator: Any, make_telephony_client: Callable[..., Any]) -> Any:
    """A RingCentralClient on ``telephony_simulator`` with fake time."""
    return make_telephony_client(telephony_simulator)
