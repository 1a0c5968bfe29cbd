"""Task forms from ``camunda:formData``: a typed description, and server-side validation.

Field types: ``string``, ``long``, ``boolean``, ``date``, ``datetime``, ``enum``. Constraints (as
``camunda:constraint``): ``required``, ``minlength``, ``maxlength``, ``min``, ``max``, ``readonly``,
``pattern``. Properties (as ``camunda:property``) are hints for the UI: ``hint``, ``widget``
(``textarea``), ``placeholder``. Only declared, writable fields ever enter task data (DESIGN
decision 6).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from engine.calendar import LONDON
from engine.errors import FormInvalid, Problem

FIELD_TYPES = ("string", "long", "boolean", "date", "datetime", "enum")
CONSTRAINTS = ("required", "minlength", "maxlength", "min", "max", "readonly", "pattern")
MAX_TEXT = 20_000
_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}


@dataclass(frozen=True)
class FormField:
    """One field of a task form, as the diagram declares it."""

    id: str
    label: str
    type: str
    default: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    constraints: Mapping[str, str | None] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return "required" in self.constraints

    @property
    def readonly(self) -> bool:
        return "readonly" in self.constraints

    @property
    def hint(self) -> str:
        return self.properties.get("hint", "")

    @property
    def widget(self) -> str:
        """How the UI shows it: ``text``, ``textarea``, ``number``, ``yesno``, ``checkbox``, ``select``,
        ``radios``, ``date`` or ``datetime``."""
        if "widget" in self.properties:
            return self.properties["widget"]
        return {"boolean": "yesno", "enum": "select", "date": "date", "datetime": "datetime",
                "long": "number"}.get(self.type, "text")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for the CLI and the UI)."""
        return {
            "id": self.id, "label": self.label, "type": self.type, "default": self.default,
            "options": [{"id": k, "name": v} for k, v in self.options],
            "constraints": dict(self.constraints), "properties": dict(self.properties),
            "required": self.required, "readonly": self.readonly, "widget": self.widget,
        }


@dataclass(frozen=True)
class FormSpec:
    """The form of one user task."""

    fields: tuple[FormField, ...] = ()

    def to_dict(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.fields]


def form_from_spiff(spiff_form: Any) -> FormSpec:
    """Convert SpiffWorkflow's Camunda ``Form`` into our immutable ``FormSpec``."""
    fields = []
    for f in getattr(spiff_form, "fields", []):
        options = tuple((o.id, o.name or o.id) for o in getattr(f, "options", []))
        fields.append(FormField(
            id=f.id or "", label=f.label or f.id or "", type=f.type or "string",
            default=f.default_value,
            options=options,
            constraints={v.name: v.config for v in f.validation},
            properties={p.id: p.value for p in f.properties if p.id},
        ))
    return FormSpec(tuple(fields))


def lint_form(form: FormSpec, element_id: str) -> list[Problem]:
    """Problems with a form's declaration, for deploy-time validation."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for f in form.fields:
        where = f"Form field '{f.id or '?'}'"
        if not f.id or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", f.id):
            problems.append(Problem(f"{where}: the id must start with a letter and use only letters, "
                                    "digits and _ (at most 64)", element_id))
        if f.id in seen:
            problems.append(Problem(f"{where} is declared twice", element_id))
        seen.add(f.id)
        if f.type not in FIELD_TYPES:
            problems.append(Problem(f"{where} has type '{f.type}'; use one of {', '.join(FIELD_TYPES)}",
                                    element_id))
        if f.type == "enum" and not f.options:
            problems.append(Problem(f"{where} is a choice (enum) without any values", element_id))
        for name, config in f.constraints.items():
            if name not in CONSTRAINTS:
                problems.append(Problem(f"{where} has unknown constraint '{name}'; use one of "
                                        f"{', '.join(CONSTRAINTS)}", element_id))
            elif name in ("minlength", "maxlength") and not _is_int(config):
                problems.append(Problem(f"{where}: {name} needs a whole number, not '{config}'", element_id))
            elif name in ("min", "max") and _bound(f, config) is None:
                problems.append(Problem(f"{where}: {name} '{config}' does not suit a {f.type} field",
                                        element_id))
            elif name == "pattern":
                try:
                    re.compile(config or "")
                except re.error as error:
                    problems.append(Problem(f"{where}: the pattern is not a valid regular expression "
                                            f"({error})", element_id))
    return problems


def validate_submission(form: FormSpec, submitted: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``submitted`` against ``form`` and return the typed values of writable fields.

    Raises ``FormInvalid`` with a message per field; unknown keys are ignored, never copied.
    """
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in form.fields:
        if f.readonly:
            continue
        raw = submitted.get(f.id)
        try:
            value = _convert(f, raw)
            _check(f, value)
        except ValueError as error:
            problems[f.id] = str(error)
            continue
        values[f.id] = value
    if problems:
        raise FormInvalid("Some answers need correcting", problems)
    return values


def _is_int(text: str | None) -> bool:
    return text is not None and re.fullmatch(r"-?\d+", text.strip()) is not None


def _bound(f: FormField, config: str | None) -> Any:
    if config is None:
        return None
    try:
        if f.type == "long":
            return int(config)
        if f.type == "date":
            return date.fromisoformat(config)
        if f.type == "datetime":
            return _parse_datetime(config)
    except ValueError:
        return None
    return None


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _convert(f: FormField, raw: Any) -> Any:
    if f.type == "boolean":
        if isinstance(raw, bool):
            return raw
        text = "" if raw is None else str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text == "":
            # An unticked box is "no"; a yes/no question left unanswered is no answer at all.
            return None if f.required and f.widget != "checkbox" else False
        if text in _FALSE:
            return False
        raise ValueError(f"{f.label}: choose yes or no")
    if _blank(raw):
        return None
    if f.type == "long":
        if isinstance(raw, bool) or not isinstance(raw, int | str) or not _is_int(str(raw)):
            raise ValueError(f"{f.label} must be a whole number, like 12")
        return int(str(raw).strip())
    if f.type == "date":
        try:
            return raw if isinstance(raw, date) and not isinstance(raw, datetime) else date.fromisoformat(
                str(raw).strip())
        except ValueError:
            raise ValueError(f"{f.label} must be a real date, like 2026-03-27") from None
    if f.type == "datetime":
        try:
            return raw if isinstance(raw, datetime) and raw.tzinfo else _parse_datetime(str(raw))
        except ValueError:
            raise ValueError(f"{f.label} must be a real date and time, like 2026-03-27 14:30") from None
    if f.type == "enum":
        allowed = {key for key, _ in f.options}
        if str(raw) not in allowed:
            raise ValueError(f"{f.label}: choose one of the options")
        return str(raw)
    if not isinstance(raw, str | int | float):
        raise ValueError(f"{f.label} must be text")
    text = str(raw).replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT and "maxlength" not in f.constraints:
        raise ValueError(f"{f.label} must be {MAX_TEXT} characters or fewer")
    return text


def _parse_datetime(text: str) -> datetime:
    """An ISO date-time; without a zone it is a time in London (what a person typed)."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    return value.astimezone(UTC)


def _check(f: FormField, value: Any) -> None:
    c = f.constraints
    if value is None:
        if f.required:
            label = f.label[:1].lower() + f.label[1:]
            if f.type == "boolean":
                raise ValueError(f"Select yes or no: {label}")
            raise ValueError(f"Choose {label}" if f.type == "enum" else f"Enter {label}")
        return
    if f.type == "boolean" and f.required and value is False and f.widget == "checkbox":
        raise ValueError(f"{f.label}: tick the box to confirm")
    if isinstance(value, str):
        if "minlength" in c and _is_int(c["minlength"]) and len(value) < int(c["minlength"] or 0):
            raise ValueError(f"{f.label} must be at least {c['minlength']} characters")
        if "maxlength" in c and _is_int(c["maxlength"]) and len(value) > int(c["maxlength"] or 0):
            raise ValueError(f"{f.label} must be {c['maxlength']} characters or fewer")
        if c.get("pattern") and re.fullmatch(c["pattern"] or "", value) is None:
            raise ValueError(f.properties.get("patternMessage") or f"{f.label} is not in the expected format")
    if "min" in c and (low := _bound(f, c["min"])) is not None and value < low:
        raise ValueError(f"{f.label} must be {c['min']} or more")
    if "max" in c and (high := _bound(f, c["max"])) is not None and value > high:
        raise ValueError(f"{f.label} must be {c['max']} or less")
