"""Outgoing mail: an SMTP relay in production, the log and an in-memory outbox when mail is off.

:func:`mailer_from_settings` picks the :class:`Mailer`: :class:`SmtpMailer` when ``CALLGOV_SMTP_HOST``
is set, otherwise :class:`LogMailer` (the log; ``recent()`` keeps the last few for tests).

Credentials never cross a connection without TLS: with ``CALLGOV_SMTP_STARTTLS`` (the default) a relay
that does not offer STARTTLS is refused rather than used in the clear, and switching both STARTTLS and
implicit TLS off while a username is set needs ``CALLGOV_SMTP_ALLOW_PLAINTEXT_AUTH=true`` (for a relay
on the same host). The password is kept out of ``repr`` and logs.

Every failure is a :class:`MailError`::

    MailError                base class: a message could not be sent, or mail is misconfigured
    ├── MailConfigError      the CALLGOV_SMTP_* / CALLGOV_MAIL_* settings are missing, malformed or unsafe
    ├── InvalidMessage       the message is unusable (no recipients, CR/LF in a header); a ValueError
    ├── MailConnectionError  the relay could not be reached, TLS failed, or the connection dropped
    ├── MailAuthError        the relay refused our credentials, or offers no way to send them over TLS
    └── MailRejected         the relay refused the sender, some or all recipients, or the message
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Protocol, runtime_checkable

__all__ = [
    "InvalidMessage",
    "LogMailer",
    "MailAuthError",
    "MailConfigError",
    "MailConnectionError",
    "MailError",
    "MailRejected",
    "MailSettings",
    "Mailer",
    "OutboxEntry",
    "OutgoingMail",
    "SmtpMailer",
    "mailer_from_settings",
]

logger = logging.getLogger(__name__)

_RESERVED_HEADERS = frozenset(
    {
        "from", "sender", "to", "cc", "bcc", "subject", "reply-to", "date", "message-id",
        "mime-version", "content-type", "content-transfer-encoding",
    }
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


# -- errors -------------------------------------------------------------------------------------------


class MailError(Exception):
    """Base class: a message could not be sent, or mail is misconfigured."""


class MailConfigError(MailError):
    """The ``CALLGOV_SMTP_*`` / ``CALLGOV_MAIL_*`` settings are missing, malformed or unsafe."""


class InvalidMessage(MailError, ValueError):
    """The message itself is unusable: no recipients, a malformed address, CR/LF in a header."""


class MailConnectionError(MailError):
    """The relay could not be reached, the TLS handshake failed, or the connection dropped."""


class MailAuthError(MailError):
    """The relay refused our credentials, or offers no way to send them over TLS."""


class MailRejected(MailError):
    """The relay refused the sender, some or all recipients, or the message.

    ``refused`` maps each refused recipient to the relay's ``(code, reply)``; when it is not empty but
    smaller than the recipient list, the others were accepted.
    """

    def __init__(self, message: str, refused: Mapping[str, tuple[int, bytes]] | None = None) -> None:
        super().__init__(message)
        self.refused = dict(refused or {})


# -- settings -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailSettings:
    """How to send mail; ``host`` ``None`` means mail is off and messages go to the log and outbox.

    ``ssl`` is implicit TLS (usually port 465) and makes ``starttls`` irrelevant. ``ca_file`` adds a
    CA bundle to trust (a private relay's certificate); the system's trust store is used otherwise.
    """

    host: str | None = None
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    ssl: bool = False
    mail_from: str | None = None
    timeout: float = 30.0
    ca_file: str | None = None
    allow_plaintext_auth: bool = False
    outbox_size: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise MailConfigError(f"CALLGOV_SMTP_PORT must be between 1 and 65535, not {self.port}")
        if self.timeout <= 0:
            raise MailConfigError(f"CALLGOV_SMTP_TIMEOUT must be positive, not {self.timeout}")
        if self.outbox_size < 1:
            raise MailConfigError(f"CALLGOV_MAIL_OUTBOX_SIZE must be at least 1, not {self.outbox_size}")
        if self.mail_from is not None:
            _check_address(self.mail_from, "CALLGOV_MAIL_FROM", MailConfigError)
        if self.host is None:
            return
        if self.mail_from is None:
            raise MailConfigError("CALLGOV_SMTP_HOST is set but CALLGOV_MAIL_FROM is not")
        if self.username and self.password is None:
            raise MailConfigError("CALLGOV_SMTP_USERNAME is set but CALLGOV_SMTP_PASSWORD is not")
        if self.username and not (self.ssl or self.starttls) and not self.allow_plaintext_auth:
            raise MailConfigError(
                "refusing to send SMTP credentials without TLS: enable CALLGOV_SMTP_STARTTLS or "
                "CALLGOV_SMTP_SSL, or set CALLGOV_SMTP_ALLOW_PLAINTEXT_AUTH=true for a local relay"
            )

    @property
    def enabled(self) -> bool:
        """Whether an SMTP relay is configured."""
        return self.host is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> MailSettings:
        """Read the settings from ``environ`` (pass ``os.environ``); empty values count as unset.

        ``CALLGOV_SMTP_HOST`` (unset: mail off), ``CALLGOV_SMTP_PORT`` (587, or 465 with SSL),
        ``CALLGOV_SMTP_USERNAME``, ``CALLGOV_SMTP_PASSWORD``, ``CALLGOV_SMTP_STARTTLS`` (true),
        ``CALLGOV_SMTP_SSL`` (false), ``CALLGOV_SMTP_TIMEOUT`` (30 s), ``CALLGOV_SMTP_CA_FILE``,
        ``CALLGOV_SMTP_ALLOW_PLAINTEXT_AUTH`` (false), ``CALLGOV_MAIL_FROM``,
        ``CALLGOV_MAIL_OUTBOX_SIZE`` (50).
        """

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        implicit_tls = _flag(get("CALLGOV_SMTP_SSL"), "CALLGOV_SMTP_SSL", default=False)
        return cls(
            host=get("CALLGOV_SMTP_HOST"),
            port=_int(get("CALLGOV_SMTP_PORT"), "CALLGOV_SMTP_PORT", 465 if implicit_tls else 587),
            username=get("CALLGOV_SMTP_USERNAME"),
            password=environ.get("CALLGOV_SMTP_PASSWORD") or None,  # not stripped: it is a secret as typed
            starttls=_flag(get("CALLGOV_SMTP_STARTTLS"), "CALLGOV_SMTP_STARTTLS", default=True),
            ssl=implicit_tls,
            mail_from=get("CALLGOV_MAIL_FROM"),
            timeout=_float(get("CALLGOV_SMTP_TIMEOUT"), "CALLGOV_SMTP_TIMEOUT", 30.0),
            ca_file=get("CALLGOV_SMTP_CA_FILE"),
            allow_plaintext_auth=_flag(
                get("CALLGOV_SMTP_ALLOW_PLAINTEXT_AUTH"), "CALLGOV_SMTP_ALLOW_PLAINTEXT_AUTH", default=False
            ),
            outbox_size=_int(get("CALLGOV_MAIL_OUTBOX_SIZE"), "CALLGOV_MAIL_OUTBOX_SIZE", 50),
        )


def _flag(value: str | None, name: str, *, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise MailConfigError(f"{name} must be true or false, not {value!r}")


def _int(value: str | None, name: str, default: int) -> int:
    try:
        return default if value is None else int(value)
    except ValueError:
        raise MailConfigError(f"{name} must be a whole number, not {value!r}") from None


def _float(value: str | None, name: str, default: float) -> float:
    try:
        return default if value is None else float(value)
    except ValueError:
        raise MailConfigError(f"{name} must be a number, not {value!r}") from None


# -- messages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMail:
    """One message: plain text always, HTML optionally, extra ``headers`` such as ``X-Callgov-Case``.

    Addresses may carry a display name (``"DPO <dpo@example.org>"``). CR or LF in any header is refused
    (header injection); From, To, Subject and the other structural headers cannot be overridden.
    """

    to: Sequence[str]
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        recipients = (self.to,) if isinstance(self.to, str) else tuple(self.to)
        if not recipients:
            raise InvalidMessage("a message needs at least one recipient")
        for address in recipients:
            _check_address(address, "recipient", InvalidMessage)
        if self.reply_to is not None:
            _check_address(self.reply_to, "reply_to", InvalidMessage)
        _check_header_text(self.subject, "subject")
        for name, value in self.headers.items():
            if not name or any(c in name for c in ": \r\n") or not name.isascii():
                raise InvalidMessage(f"header name {name!r} is not valid")
            if name.lower() in _RESERVED_HEADERS:
                raise InvalidMessage(f"header {name!r} is set by the mailer and cannot be overridden")
            _check_header_text(value, f"header {name}")
        object.__setattr__(self, "to", recipients)
        object.__setattr__(self, "headers", dict(self.headers))

    def build(self, mail_from: str) -> EmailMessage:
        """The MIME message as it is sent from ``mail_from``: text, or text plus HTML alternative."""
        message = EmailMessage(policy=SMTP_POLICY)
        message["From"] = mail_from
        message["To"] = ", ".join(self.to)
        message["Subject"] = self.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        domain = parseaddr(mail_from)[1].rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.text)
        if self.html is not None:
            message.add_alternative(self.html, subtype="html")
        return message


def _check_address(address: object, what: str, error: type[MailError]) -> None:
    if not isinstance(address, str) or "\r" in address or "\n" in address:
        raise error(f"{what} {address!r} is not a valid e-mail address")
    local, _, domain = parseaddr(address)[1].rpartition("@")
    if not local or not domain or ("." not in domain and domain != "localhost"):
        raise error(f"{what} {address!r} is not a valid e-mail address")


def _check_header_text(value: object, what: str) -> None:
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise InvalidMessage(f"{what} must be one line of text")


# -- mailers ------------------------------------------------------------------------------------------


@runtime_checkable
class Mailer(Protocol):
    """Sends :class:`OutgoingMail`; raises :class:`MailError` when it cannot."""

    def send(self, message: OutgoingMail) -> None:
        """Send ``message`` or raise :class:`MailError`."""
        ...


class SmtpMailer:
    """Sends through an SMTP relay: implicit TLS or STARTTLS (required when enabled), then AUTH if a
    username is set. One connection per message: notifications are few and a pooled connection would
    only time out between them.
    """

    def __init__(self, settings: MailSettings) -> None:
        """Use ``settings`` (``host`` and ``mail_from`` required)."""
        if settings.host is None or settings.mail_from is None:
            raise MailConfigError("SmtpMailer needs CALLGOV_SMTP_HOST and CALLGOV_MAIL_FROM")
        self._settings = settings
        self._host: str = settings.host
        self._mail_from: str = settings.mail_from

    def __repr__(self) -> str:
        s = self._settings
        tls = "ssl" if s.ssl else "starttls" if s.starttls else "plain"
        return f"SmtpMailer(host={s.host!r}, port={s.port}, tls={tls}, username={s.username!r})"

    def send(self, message: OutgoingMail) -> None:
        """Connect, secure, authenticate and send; every smtplib/socket/TLS error becomes a MailError."""
        where = f"{self._host}:{self._settings.port}"
        email = message.build(self._mail_from)
        sender = parseaddr(self._mail_from)[1]  # the envelope carries bare addresses, not display names
        recipients = [parseaddr(address)[1] for address in message.to]
        try:
            with self._connect() as smtp:
                self._secure_and_login(smtp, where)
                refused = smtp.send_message(email, from_addr=sender, to_addrs=recipients)
        except MailError:
            raise
        except smtplib.SMTPAuthenticationError as error:
            raise MailAuthError(
                f"SMTP relay {where} refused the credentials of {self._settings.username!r}: "
                f"{error.smtp_code} {_reply(error.smtp_error)}"
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise MailAuthError(f"SMTP relay {where} does not support what we need: {error}") from error
        except smtplib.SMTPSenderRefused as error:
            raise MailRejected(
                f"SMTP relay {where} refused the sender {sender!r}: "
                f"{error.smtp_code} {_reply(error.smtp_error)}"
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            raise MailRejected(
                f"SMTP relay {where} refused every recipient: {_describe(error.recipients)}", error.recipients
            ) from error
        except smtplib.SMTPDataError as error:
            raise MailRejected(
                f"SMTP relay {where} refused the message: {error.smtp_code} {_reply(error.smtp_error)}"
            ) from error
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as error:
            raise MailConnectionError(f"SMTP relay {where} dropped the connection: {error}") from error
        except smtplib.SMTPException as error:
            raise MailError(f"SMTP relay {where} failed: {error}") from error
        except ssl.SSLError as error:
            raise MailConnectionError(f"TLS with SMTP relay {where} failed: {error}") from error
        except OSError as error:
            raise MailConnectionError(f"cannot reach SMTP relay {where}: {error}") from error
        if refused:
            raise MailRejected(
                f"SMTP relay {where} accepted the message for some recipients but refused "
                f"{_describe(refused)}",
                refused,
            )
        logger.info("mail sent via %s to %d recipient(s): %s", where, len(message.to), message.subject)

    def _tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self._settings.ca_file)
        except OSError as error:
            message = f"cannot read CALLGOV_SMTP_CA_FILE {self._settings.ca_file!r}: {error}"
            raise MailConfigError(message) from None

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        if s.ssl:
            return smtplib.SMTP_SSL(self._host, s.port, timeout=s.timeout, context=self._tls_context())
        return smtplib.SMTP(self._host, s.port, timeout=s.timeout)

    def _secure_and_login(self, smtp: smtplib.SMTP, where: str) -> None:
        s = self._settings
        smtp.ehlo()
        if s.starttls and not s.ssl:
            if not smtp.has_extn("starttls"):
                raise MailConnectionError(
                    f"SMTP relay {where} does not offer STARTTLS; refusing to continue in the clear "
                    "(set CALLGOV_SMTP_STARTTLS=false only for a relay on this host)"
                )
            smtp.starttls(context=self._tls_context())
            smtp.ehlo()
        if s.username:
            if not (s.ssl or s.starttls) and not s.allow_plaintext_auth:  # also checked by MailSettings
                raise MailAuthError(f"refusing to send credentials to {where} without TLS")
            smtp.login(s.username, s.password or "")


class LogMailer:
    """The mailer when SMTP is off: logs each message and keeps the last ``outbox_size`` in memory.

    The outbox belongs to one process (each web worker has its own); it is for demos and tests, not a
    delivery record.
    """

    def __init__(self, outbox_size: int = 50, *, mail_from: str = "callgov@localhost") -> None:
        """Keep up to ``outbox_size`` messages; ``mail_from`` is shown as their sender."""
        self._outbox: deque[OutboxEntry] = deque(maxlen=outbox_size)
        self._lock = threading.Lock()
        self._mail_from = mail_from

    def __repr__(self) -> str:
        return f"LogMailer(outbox_size={self._outbox.maxlen})"

    def send(self, message: OutgoingMail) -> None:
        """Log ``message`` (headers and text) and add it to the outbox."""
        entry = OutboxEntry(sent_at=datetime.now(UTC), mail_from=self._mail_from, message=message)
        logger.info(
            "mail is off (CALLGOV_SMTP_HOST unset); not sent:\nTo: %s\nSubject: %s\n\n%s",
            ", ".join(message.to),
            message.subject,
            message.text,
        )
        with self._lock:
            self._outbox.append(entry)

    def recent(self) -> list[OutboxEntry]:
        """The messages kept, newest first."""
        with self._lock:
            return list(reversed(self._outbox))


@dataclass(frozen=True)
class OutboxEntry:
    """A message the :class:`LogMailer` kept instead of sending, with when and as whom."""

    sent_at: datetime
    mail_from: str
    message: OutgoingMail


def mailer_from_settings(settings: MailSettings) -> Mailer:
    """:class:`SmtpMailer` when ``CALLGOV_SMTP_HOST`` is set, otherwise :class:`LogMailer`."""
    if settings.enabled:
        return SmtpMailer(settings)
    return LogMailer(settings.outbox_size, mail_from=settings.mail_from or "callgov@localhost")


def _reply(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address} ({code} {_reply(reply)})" for address, (code, reply) in refused.items())
