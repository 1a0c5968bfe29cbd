"""The static forms of the UI (Flask-WTF, so each carries a CSRF token).

Task forms are not here: they come from the diagrams and are rendered by ``webui.taskforms``.
"""

from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from engine.roles import ROLES
from engine.users import MIN_PASSWORD
from webui.filters import LONDON


class SignInForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", validators=[DataRequired("Enter your username"), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password"), Length(max=1024)])


class CancelForm(FlaskForm):
    """Why a case is being cancelled."""

    reason = TextAreaField("Why are you cancelling this case?",
                           validators=[DataRequired("Enter why you are cancelling the case"), Length(max=2000)])


class RolesField(SelectMultipleField):
    """Tick boxes, one per role of the policy."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def role_choices() -> list[tuple[str, str]]:
    """(key, label) of every role."""
    return list(ROLES.items())


class RolesForm(FlaskForm):
    """The roles a user holds."""

    roles = RolesField("Roles", choices=role_choices, validate_choice=True)


class NewUserForm(FlaskForm):
    """An administrator adding someone."""

    display_name = StringField("Full name", validators=[DataRequired("Enter the person's full name"),
                                                        Length(max=200)])
    username = StringField("Username", validators=[DataRequired("Enter a username"), Length(max=80)],
                           description="Lower-case letters, digits, dots, dashes or underscores, like "
                                       "a.jones. People sign in with it.")
    email = EmailField("Email address", validators=[Optional(), Length(max=320), Regexp(
        r"[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.org")])
    job_title = StringField("Job title", validators=[Optional(), Length(max=200)])
    roles = RolesField("Roles", choices=role_choices, validate_choice=True)
    password = PasswordField("First password", validators=[
        DataRequired("Enter a first password"),
        Length(min=MIN_PASSWORD, max=1024, message=f"The password needs at least {MIN_PASSWORD} characters")],
        description=f"At least {MIN_PASSWORD} characters. Give it to the person in a safe way.")


class PasswordForm(FlaskForm):
    """A new password set by an administrator."""

    password = PasswordField("New password", validators=[
        DataRequired("Enter a new password"),
        Length(min=MIN_PASSWORD, max=1024, message=f"The password needs at least {MIN_PASSWORD} characters")],
        description=f"At least {MIN_PASSWORD} characters. They are signed out everywhere and use this to sign in.")


def london_datetime(text: str, name: str, problems: dict[str, str]) -> datetime | None:
    """A ``datetime-local`` value (or ``DD/MM/YYYY HH:MM``) as London time; a problem if unreadable."""
    if not text:
        return None
    for parse in (datetime.fromisoformat, lambda value: datetime.strptime(value, "%d/%m/%Y %H:%M")):
        try:
            moment = parse(text)
        except ValueError:
            continue
        return moment.replace(tzinfo=LONDON) if moment.tzinfo is None else moment
    problems[f"date_{name}"] = "Enter a date and time like 05/01/2026 14:30"
    return None
