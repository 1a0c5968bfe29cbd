"""The sample data a test run starts with: a JSON object typed by a governance officer."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from engine.bpmn.compiler import BPMN_NS
from engine.bpmn.parser import read_bpmn_xml
from engine.errors import InvalidInput

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
MAX_SAMPLE_CHARS = 20_000
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
RESERVED = frozenset({"case_ref", "started_by", "started_at"})
"""Set by the engine when a case starts; a sample cannot choose them."""


def parse_sample(text: str) -> dict[str, Any]:
    """The case data a JSON object describes; date-times in ISO form (``2026-01-05T09:30``, UTC when
    no zone is given) become date-times. ``InvalidInput`` says what is wrong with anything else."""
    text = (text or "").strip() or "{}"
    if len(text) > MAX_SAMPLE_CHARS:
        raise InvalidInput("The sample data is too long", {"sample": f"Keep it under {MAX_SAMPLE_CHARS} characters"})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput("The sample data is not valid JSON", {
            "sample": f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"}) from None
    if not isinstance(value, dict):
        raise InvalidInput("The sample data must be a JSON object", {
            "sample": 'Write an object of names and values, e.g. {"reason": "complaint"}'})
    bad = [key for key in value if not key.isidentifier() or key.startswith("_")]
    if bad:
        raise InvalidInput("Some names cannot be used", {
            "sample": f"Names must be letters, digits and underscores, not starting with a digit: {bad[0][:60]!r}"})
    reserved = sorted(RESERVED & set(value))
    if reserved:
        raise InvalidInput("Some names are set by the engine", {
            "sample": f"{', '.join(reserved)} is set when the case starts; leave it out"})
    return {key: _typed(item) for key, item in value.items()}


def _typed(value: Any) -> Any:
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return value


def start_form_sample(xml: str) -> str:
    """A JSON object of the main process's start-event form fields with their defaults, for the
    officer to edit; ``{}`` when the start event asks nothing."""
    root = read_bpmn_xml(xml.encode("utf-8"))
    processes = root.findall(f"{{{BPMN_NS}}}process")
    main = next((p for p in processes if p.get("isExecutable") == "true"), processes[0] if processes else None)
    sample: dict[str, Any] = {}
    if main is None:
        return "{}"
    for start in main.findall(f"{{{BPMN_NS}}}startEvent"):
        if any(isinstance(child.tag, str) and child.tag.endswith("EventDefinition") for child in start):
            continue  # a timer, message or other triggered start: not the one a test run starts at
        for field in start.iter(f"{{{CAMUNDA_NS}}}formField"):
            name = field.get("id") or ""
            if name.isidentifier() and name not in RESERVED:
                sample[name] = _default(field.get("type") or "string", field.get("defaultValue"))
    return json.dumps(sample, indent=2) if sample else "{}"


def _default(kind: str, default: str | None) -> Any:
    if default is None or default.startswith("${"):
        return {"boolean": False, "long": 0}.get(kind, "")
    if kind == "boolean":
        return default.strip().lower() == "true"
    if kind == "long":
        try:
            return int(default)
        except ValueError:
            return 0
    return default
