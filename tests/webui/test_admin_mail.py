"""The administrator's mail page: what the processes sent, what waits to be tried again, retrying."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from flask.testing import FlaskClient

from connectors.mail import LogMailer, MailConnectionError, OutgoingMail
from engine.facade import Callgov
from engine.mailqueue import queue_mail

Signer = Callable[[str], FlaskClient]


class Relay:
    def __init__(self, failing: bool) -> None:
        self.failing, self.sent = failing, []

    def send(self, message: OutgoingMail) -> None:
        if self.failing:
            raise MailConnectionError("relay.example:587 refused the connection")
        self.sent.append(message)


def queue(callgov: Callgov, text: str = "Open https://callgov.example/d/TOKEN to download") -> int:
    with callgov.db.transaction() as s:
        return queue_mail(s, to=["police@example.org"], subject="Your recording", text=text,
                          what="disclosure link", actor="process", case_ref="REV-2026-00001", at=callgov.clock.now())


def test_mail_off_keeps_the_text_so_a_demo_can_follow_the_link(sign_in_as: Signer, web_callgov: Callgov) -> None:
    web_callgov.services = SimpleNamespace(mailer=LogMailer())
    mail_id = queue(web_callgov)
    web_callgov.deliver_mail([mail_id])
    page = sign_in_as("admin1").get("/admin/mail").get_data(as_text=True)
    assert "Mail is off" in page and "Written to the log" in page and "Your recording" in page
    assert '<a href="https://callgov.example/d/TOKEN"' in page, "the link in the text can be followed"
    assert 'href="/cases/REV-2026-00001"' in page
    assert ">Mail<" in page, "the navigation offers the mail page to administrators"


def test_a_failed_mail_can_be_tried_again_once_the_relay_works(sign_in_as: Signer, web_callgov: Callgov) -> None:
    relay = Relay(failing=True)
    web_callgov.services = SimpleNamespace(mailer=relay)
    mail_id = queue(web_callgov)
    web_callgov.deliver_mail([mail_id])
    admin = sign_in_as("admin1")
    page = admin.get("/admin/mail?status=pending").get_data(as_text=True)
    assert "Waiting to send (1)" in page and "refused the connection" in page and "Try again now" in page
    assert "TOKEN" not in page, "with a relay configured the text is not shown"

    response = admin.post(f"/admin/mail/{mail_id}/retry?status=pending", follow_redirects=True)
    assert "could not be sent yet" in response.get_data(as_text=True)
    relay.failing = False
    response = admin.post(f"/admin/mail/{mail_id}/retry", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"Mail {mail_id} was sent." in page and "Sent (1)" in page and "Try again now" not in page
    assert len(relay.sent) == 1
    response = admin.post(f"/admin/mail/{mail_id}/retry", follow_redirects=True)
    assert "not sent twice" in response.get_data(as_text=True) and len(relay.sent) == 1


def test_unknown_statuses_and_mail_are_not_found(sign_in_as: Signer) -> None:
    admin = sign_in_as("admin1")
    assert admin.get("/admin/mail?status=lost").status_code == 404
    assert admin.post("/admin/mail/999/retry").status_code == 404
    assert "No mail." in admin.get("/admin/mail").get_data(as_text=True)

