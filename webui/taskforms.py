"""Task forms from the diagram: what each field's input shows, its error, and the read-only context.

The engine's ``FormSpec`` says what a form holds; this module only decides how it appears: the
value each input starts with (from the case data, the submitted answers after an error, or the
field's default) and which fields are context to read rather than questions to answer. The
templates in ``templates/tasks/_fields.html`` draw one GOV.UK component per widget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.forms import FormField, FormSpec
from webui.filters import LONDON

WIDGETS = ("text", "textarea", "number", "yesno", "checkbox", "select", "radios", "date", "datetime")


@dataclass(frozen=True)
class FieldView:
    """One question on a task page."""

    field: FormField
    value: str
    error: str | None

    @property
    def html_id(self) -> str:
        """The id of the field's (first) input, which the error summary links to."""
        return f"f-{self.field.id}"

    @property
    def widget(self) -> str:
        """The widget to draw; unknown widgets fall back to a text input."""
        widget = self.field.widget
        if widget in ("radios", "select") and not self.field.options:
            return "text"
        return widget if widget in WIDGETS else "text"


@dataclass(frozen=True)
class ContextItem:
    """A read-only field: something from the case to read before answering."""

    label: str
    value: Any
    type: str


def questions(form: FormSpec, data: Mapping[str, Any], submitted: Mapping[str, str] | None = None,
              problems: Mapping[str, str] | None = None) -> list[FieldView]:
    """The writable fields with the value each input shows and its error message."""
    problems = problems or {}
    views = []
    for f in form.fields:
        if f.readonly:
            continue
        if submitted is not None:
            value = submitted.get(f.id, "")
        elif data.get(f.id) is not None:
            value = as_input(f, data[f.id])
        else:
            value = f.default if f.default and not f.default.startswith("${") else ""
        views.append(FieldView(f, value, problems.get(f.id)))
    return views


def context(form: FormSpec, data: Mapping[str, Any]) -> list[ContextItem]:
    """The read-only fields, with the case's values (choices shown by their names)."""
    items = []
    for f in form.fields:
        if not f.readonly:
            continue
        value = data.get(f.id)
        if f.type == "enum" and value is not None:
            value = dict(f.options).get(str(value), value)
        items.append(ContextItem(f.label, value, f.type))
    return items


def as_input(f: FormField, value: Any) -> str:
    """A stored value as the text its input holds: ISO dates, London local date-times, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        local = value.astimezone(LONDON) if value.tzinfo else value
        return local.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def submitted_values(form: MultiDict[str, str]) -> dict[str, str]:
    """The posted answers (one value per field), without the CSRF token."""
    return {key: form.get(key, "") for key in form if key != "csrf_token"}
