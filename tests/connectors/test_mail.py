"""The mail connector against a real aiosmtpd relay: plain, STARTTLS, implicit TLS, AUTH, failures."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from connectors.mail import (
    InvalidMessage,
    LogMailer,
    MailAuthError,
    MailConfigError,
    MailConnectionError,
    Mailer,
    MailError,
    MailRejected,
    MailSettings,
    OutgoingMail,
    SmtpMailer,
    mailer_from_settings,
)

from .conftest import SmtpRelay

PASSWORD = "s3cret-relay-password"
NOTICE = OutgoingMail(
    to=["authoriser@council.example.org", "DPO <dpo@council.example.org>"],
    subject="Release request REL-42 awaits your decision",
    text="A release request for a recording of 3 May is waiting for you.\n",
    html="<p>A release request for a recording of <b>3 May</b> is waiting for you.</p>",
    reply_to="governance@council.example.org",
    headers={"X-Callgov-Case": "REL-42"},
)

StartRelay = Callable[..., SmtpRelay]


def settings_for(relay: SmtpRelay, **environ: str) -> MailSettings:
    """Settings pointing at ``relay``, read from the environment as the app does."""
    base = {
        "CALLGOV_SMTP_HOST": relay.host,
        "CALLGOV_SMTP_PORT": str(relay.port),
        "CALLGOV_MAIL_FROM": "callgov <callgov@council.example.org>",
        "CALLGOV_SMTP_TIMEOUT": "5",
        "CALLGOV_SMTP_STARTTLS": "false",
    }
    return MailSettings.from_env({**base, **environ})


def delivered(relay: SmtpRelay) -> list[EmailMessage]:
    """The messages the relay received, parsed."""
    parsed = [message_from_bytes(e.original_content, policy=default_policy) for e in relay.record.messages]
    return [message for message in parsed if isinstance(message, EmailMessage)]


# -- settings -------------------------------------------------------------------------------------------


def test_settings_default_to_mail_off() -> None:
    settings = MailSettings.from_env({})

    assert not settings.enabled
    assert (settings.port, settings.starttls, settings.ssl) == (587, True, False)
    assert isinstance(mailer_from_settings(settings), LogMailer)


def test_settings_from_the_environment() -> None:
    settings = MailSettings.from_env(
        {
            "CALLGOV_SMTP_HOST": "smtp.council.example.org",
            "CALLGOV_SMTP_SSL": "true",
            "CALLGOV_SMTP_USERNAME": "callgov",
            "CALLGOV_SMTP_PASSWORD": PASSWORD,
            "CALLGOV_MAIL_FROM": "callgov@council.example.org",
            "CALLGOV_SMTP_TIMEOUT": "12.5",
            "CALLGOV_SMTP_CA_FILE": "/etc/ssl/council-ca.pem",
        }
    )

    assert (settings.host, settings.port, settings.ssl, settings.timeout) == (
        "smtp.council.example.org", 465, True, 12.5
    )
    assert settings.ca_file == "/etc/ssl/council-ca.pem"
    assert isinstance(mailer_from_settings(settings), SmtpMailer)


def test_the_password_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    settings = MailSettings(
        host="smtp.example.org", username="callgov", password=PASSWORD, mail_from="callgov@example.org"
    )
    mailer = SmtpMailer(settings)

    assert PASSWORD not in repr(settings)
    assert PASSWORD not in repr(mailer)
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CALLGOV_SMTP_HOST": "smtp.example.org"}, "CALLGOV_MAIL_FROM"),
        ({"CALLGOV_SMTP_PORT": "smtp"}, "CALLGOV_SMTP_PORT"),
        ({"CALLGOV_SMTP_PORT": "70000"}, "CALLGOV_SMTP_PORT"),
        ({"CALLGOV_SMTP_STARTTLS": "maybe"}, "CALLGOV_SMTP_STARTTLS"),
        ({"CALLGOV_MAIL_FROM": "not an address"}, "CALLGOV_MAIL_FROM"),
        (
            {"CALLGOV_SMTP_HOST": "h.example.org", "CALLGOV_MAIL_FROM": "a@example.org", "CALLGOV_SMTP_USERNAME": "u"},
            "CALLGOV_SMTP_PASSWORD",
        ),
    ],
)
def test_bad_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(MailConfigError, match=message):
        MailSettings.from_env(environ)


def test_credentials_without_tls_are_refused_unless_explicitly_allowed() -> None:
    environ = {
        "CALLGOV_SMTP_HOST": "localhost",
        "CALLGOV_MAIL_FROM": "callgov@localhost",
        "CALLGOV_SMTP_USERNAME": "callgov",
        "CALLGOV_SMTP_PASSWORD": PASSWORD,
        "CALLGOV_SMTP_STARTTLS": "false",
    }

    with pytest.raises(MailConfigError, match="without TLS"):
        MailSettings.from_env(environ)
    allowed = MailSettings.from_env({**environ, "CALLGOV_SMTP_ALLOW_PLAINTEXT_AUTH": "true"})
    assert allowed.allow_plaintext_auth


# -- messages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"to": []},
        {"to": ["not-an-address"]},
        {"to": ["a@example.org\r\nBcc: victim@example.org"]},
        {"subject": "Hello\r\nBcc: victim@example.org"},
        {"reply_to": "nobody"},
        {"headers": {"Bcc": "victim@example.org"}},
        {"headers": {"X-Case": "one\ntwo"}},
        {"headers": {"Bad Name": "x"}},
    ],
)
def test_unsafe_messages_are_refused(changes: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"to": ["a@example.org"], "subject": "s", "text": "t", **changes}

    with pytest.raises(InvalidMessage):
        OutgoingMail(**fields)


# -- SMTP delivery --------------------------------------------------------------------------------------


def test_plain_delivery_to_a_local_relay(smtp_relay: StartRelay) -> None:
    relay = smtp_relay()

    SmtpMailer(settings_for(relay)).send(NOTICE)

    [envelope] = relay.record.messages
    assert envelope.mail_from == "callgov@council.example.org"
    assert envelope.rcpt_tos == ["authoriser@council.example.org", "dpo@council.example.org"]
    [message] = delivered(relay)
    assert message["Subject"] == NOTICE.subject
    assert message["Reply-To"] == "governance@council.example.org"
    assert message["X-Callgov-Case"] == "REL-42"
    assert message["Message-ID"].endswith("@council.example.org>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and "recording of 3 May" in text.get_content()
    assert html is not None and "<b>3 May</b>" in html.get_content()


def test_starttls_and_auth(smtp_relay: StartRelay, tls_files: tuple[Path, Path]) -> None:
    relay = smtp_relay(tls="starttls", require_starttls=True, credentials={"callgov": PASSWORD}, auth_required=True)
    settings = settings_for(
        relay,
        CALLGOV_SMTP_STARTTLS="true",
        CALLGOV_SMTP_CA_FILE=str(tls_files[0]),
        CALLGOV_SMTP_USERNAME="callgov",
        CALLGOV_SMTP_PASSWORD=PASSWORD,
    )

    SmtpMailer(settings).send(NOTICE)

    assert relay.record.logins == ["callgov"]
    assert len(relay.record.messages) == 1


def test_implicit_tls_and_auth(smtp_relay: StartRelay, tls_files: tuple[Path, Path]) -> None:
    # aiosmtpd only counts STARTTLS as TLS when deciding to offer AUTH; its socket here is TLS throughout.
    relay = smtp_relay(tls="implicit", credentials={"callgov": PASSWORD}, auth_require_tls=False)
    settings = settings_for(
        relay,
        CALLGOV_SMTP_SSL="true",
        CALLGOV_SMTP_PORT=str(relay.port),
        CALLGOV_SMTP_CA_FILE=str(tls_files[0]),
        CALLGOV_SMTP_USERNAME="callgov",
        CALLGOV_SMTP_PASSWORD=PASSWORD,
    )

    SmtpMailer(settings).send(NOTICE)

    assert relay.record.logins == ["callgov"]
    assert len(relay.record.messages) == 1


def test_an_untrusted_certificate_is_refused(smtp_relay: StartRelay) -> None:
    relay = smtp_relay(tls="starttls", require_starttls=True)

    with pytest.raises(MailConnectionError, match="TLS .* failed|certificate"):
        SmtpMailer(settings_for(relay, CALLGOV_SMTP_STARTTLS="true")).send(NOTICE)  # system CAs only
    assert relay.record.messages == []


def test_a_relay_without_starttls_gets_no_credentials(smtp_relay: StartRelay) -> None:
    relay = smtp_relay(credentials={"callgov": PASSWORD}, auth_require_tls=False)
    settings = settings_for(
        relay, CALLGOV_SMTP_STARTTLS="true", CALLGOV_SMTP_USERNAME="callgov", CALLGOV_SMTP_PASSWORD=PASSWORD
    )

    with pytest.raises(MailConnectionError, match="does not offer STARTTLS"):
        SmtpMailer(settings).send(NOTICE)
    assert relay.record.logins == []
    assert relay.record.messages == []


def test_plaintext_auth_works_when_explicitly_allowed(smtp_relay: StartRelay) -> None:
    relay = smtp_relay(credentials={"callgov": PASSWORD}, auth_require_tls=False)
    settings = settings_for(
        relay,
        CALLGOV_SMTP_USERNAME="callgov",
        CALLGOV_SMTP_PASSWORD=PASSWORD,
        CALLGOV_SMTP_ALLOW_PLAINTEXT_AUTH="true",
    )

    SmtpMailer(settings).send(NOTICE)

    assert relay.record.logins == ["callgov"]


def test_wrong_credentials_are_an_auth_error(
    smtp_relay: StartRelay, tls_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    relay = smtp_relay(tls="starttls", require_starttls=True, credentials={"callgov": "other"}, auth_required=True)
    settings = settings_for(
        relay,
        CALLGOV_SMTP_STARTTLS="true",
        CALLGOV_SMTP_CA_FILE=str(tls_files[0]),
        CALLGOV_SMTP_USERNAME="callgov",
        CALLGOV_SMTP_PASSWORD=PASSWORD,
    )

    with caplog.at_level(logging.DEBUG), pytest.raises(MailAuthError, match="refused the credentials") as caught:
        SmtpMailer(settings).send(NOTICE)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in caplog.text
    assert relay.record.messages == []


def test_a_partly_refused_message_names_the_refused_recipients(smtp_relay: StartRelay) -> None:
    relay = smtp_relay(refuse={"dpo@council.example.org"})

    with pytest.raises(MailRejected, match="some recipients but refused dpo@council.example.org") as caught:
        SmtpMailer(settings_for(relay)).send(NOTICE)

    assert list(caught.value.refused) == ["dpo@council.example.org"]
    assert [envelope.rcpt_tos for envelope in relay.record.messages] == [["authoriser@council.example.org"]]


def test_a_wholly_refused_message_is_rejected(smtp_relay: StartRelay) -> None:
    relay = smtp_relay(refuse={"authoriser@council.example.org", "dpo@council.example.org"})

    with pytest.raises(MailRejected, match="refused every recipient"):
        SmtpMailer(settings_for(relay)).send(NOTICE)
    assert relay.record.messages == []


def test_a_relay_that_is_down_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket is closed
    settings = MailSettings(host="127.0.0.1", port=port, mail_from="callgov@example.org", starttls=False, timeout=2)

    with pytest.raises(MailConnectionError, match=f"cannot reach SMTP relay 127.0.0.1:{port}"):
        SmtpMailer(settings).send(NOTICE)


# -- log mailer -----------------------------------------------------------------------------------------


def test_the_log_mailer_logs_and_keeps_an_outbox_newest_first(caplog: pytest.LogCaptureFixture) -> None:
    mailer = LogMailer(outbox_size=2, mail_from="callgov@council.example.org")
    assert isinstance(mailer, Mailer)

    with caplog.at_level(logging.INFO, logger="connectors.mail"):
        for n in range(3):
            mailer.send(OutgoingMail(to=["a@example.org"], subject=f"notice {n}", text=f"body {n}"))

    assert [entry.message.subject for entry in mailer.recent()] == ["notice 2", "notice 1"]
    newest = mailer.recent()[0]
    assert newest.mail_from == "callgov@council.example.org"
    assert newest.sent_at.tzinfo is not None
    assert "notice 0" in caplog.text and "body 2" in caplog.text


def test_every_failure_is_a_mail_error() -> None:
    for error in (MailConfigError, InvalidMessage, MailConnectionError, MailAuthError, MailRejected):
        assert issubclass(error, MailError)
