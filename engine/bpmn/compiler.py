"""From BPMN bytes to a checked, parsed definition — or to the full list of what is wrong with it.

``compile_definition`` is what deploy (and later the editor's save) calls. It runs, in order: the
hardened XML reader, the BPMN 2.0 XSD (every schema error, not just the first), our lint over the
XML (roles, topics, expressions, forms, assignment, unsupported features), then SpiffWorkflow's
parser through ours. Nothing is stored unless the list of problems is empty.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn.messages import message_definitions
from engine.bpmn.parser import CAMUNDA, CallgovParser, XmlRefused, event_properties, read_bpmn_xml
from engine.bpmn.specs import HumanTaskSpec
from engine.bpmn.timers import waits_on_timer
from engine.errors import DefinitionInvalid, ExpressionError, Problem
from engine.expressions import compile_expression, compile_script, parse_timer_literal
from engine.forms import FormField, FormSpec, form_from_spiff, lint_form
from engine.roles import ROLES, parse_candidate_groups, role_for_name

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA[1:-1]}
UNSUPPORTED = {
    "businessRuleTask": "Business rule (DMN) tasks are not supported; use a script task or a gateway",
    "sendTask": "Send tasks are not supported; use a message end or throw event",
    "receiveTask": "Receive tasks are not supported; use a message catch event",
    "complexGateway": "Complex gateways are not supported; use an inclusive gateway",
    "adHocSubProcess": "Ad-hoc subprocesses are not supported",
}
CODE_HOOKS = {
    "executionListener": "Execution listeners are not supported: callgov never runs code from a diagram",
    "taskListener": "Task listeners are not supported: callgov never runs code from a diagram",
    "connector": "Camunda connectors are not supported; use an external service task with a topic",
    "inputOutput": "Input/output mappings are not supported; use a script task",
}
CASE_PREFIX = re.compile(r"[A-Z]{2,6}")


@dataclass(frozen=True)
class UserTaskInfo:
    """What the runtime needs to know about one user task, beyond SpiffWorkflow's spec."""

    element_id: str
    title: str
    form: FormSpec
    documentation: str


@dataclass(frozen=True)
class CompiledDefinition:
    """A validated BPMN file: the parsed specs and what we read from them."""

    process_id: str
    name: str
    case_prefix: str
    content_hash: str
    spec: Any
    subprocess_specs: dict[str, Any]
    user_tasks: dict[str, UserTaskInfo] = field(default_factory=dict)
    start_timers: tuple[tuple[str, Any], ...] = ()
    """(element id, timer definition) of the main process's timer start events."""
    has_timers: bool = False
    """Whether any timer event exists (the runner then checks for timers that came due mid-run)."""
    start_messages: tuple[tuple[str, str], ...] = ()
    """(element id, message name) of the main process's message start events."""
    has_messages: bool = False
    """Whether any message catch or throw exists (the runner then projects subscriptions and
    collects thrown messages; a process without messages pays nothing for them)."""


def content_hash(content: bytes) -> str:
    """The SHA-256 a definition version is known by."""
    return hashlib.sha256(content).hexdigest()


def unwrap_expression(text: str | None) -> str:
    """Strip a Camunda-style ``${...}`` wrapper, so ``${approved}`` and ``approved`` mean the same."""
    text = (text or "").strip()
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].strip()
    return text


@lru_cache(maxsize=1)
def _xsd() -> Any:
    return BpmnValidator().validator


def compile_definition(
    content: bytes | str, *, known_topics: Collection[str], filename: str = "diagram.bpmn"
) -> CompiledDefinition:
    """Validate and parse a BPMN file; raise ``DefinitionInvalid`` listing every problem found."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        root = read_bpmn_xml(data)
    except XmlRefused as refused:
        raise DefinitionInvalid([refused.problem]) from None
    problems = _schema_problems(root)
    main = _main_process(root, problems)
    problems += _lint(root, known_topics)
    if main is not None:
        problems += _lint_message_starts(root, main)
    if main is None or problems:
        raise DefinitionInvalid(problems or [Problem("The file has no executable process")])
    process_id = main.get("id")
    try:
        parser = CallgovParser()
        parser.add_bpmn_xml(root, filename)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as error:
        raise DefinitionInvalid(
            [Problem(str(error.args[0]) if error.args else str(error), error.id or None, _int(error.line_number))]
        ) from None
    except SpiffWorkflowException as error:
        raise DefinitionInvalid([Problem(str(error))]) from None
    return CompiledDefinition(
        process_id=process_id,
        name=main.get("name") or process_id,
        case_prefix=_case_prefix(main, process_id),
        content_hash=content_hash(data),
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=_user_tasks(spec, subprocess_specs),
        has_timers=_has_timers(spec, subprocess_specs),
        start_timers=tuple((t.name, t.start_timer) for t in spec.task_specs.values()
                           if getattr(t, "start_timer", None) is not None),
        start_messages=tuple((t.name, t.start_message.name) for t in spec.task_specs.values()
                             if getattr(t, "start_message", None) is not None),
        has_messages=_has_messages(spec, subprocess_specs),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _schema_problems(root: Any) -> list[Problem]:
    schema = _xsd()
    if schema.validate(root):
        return []
    problems = []
    for entry in schema.error_log:
        message = re.sub(r"\{[^}]*\}", "", entry.message)
        problems.append(Problem(f"Not valid BPMN 2.0: {message}", None, entry.line or None))
    return problems


def _main_process(root: Any, problems: list[Problem]) -> Any:
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if not processes:
        problems.append(Problem("The file contains no bpmn:process"))
        return None
    called = {c.get("calledElement") for c in root.iterfind(".//bpmn:callActivity", NS)}
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    if not executable:
        problems.append(Problem('No process in the file is marked executable (isExecutable="true")'))
        return None
    # The main process is the executable one no call activity in the file calls.
    top = [p for p in executable if p.get("id") not in called]
    return (top or executable)[0]


def _case_prefix(process: Any, process_id: str) -> str:
    for prop in process.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
        if prop.get("name") == "casePrefix" and prop.get("value"):
            return str(prop.get("value"))
    letters = re.sub(r"[^A-Za-z]", "", process_id).upper()
    return (letters[:3] or "CAS").ljust(2, "X")


def _has_timers(spec: Any, subprocess_specs: dict[str, Any]) -> bool:
    return any(
        waits_on_timer(task_spec)
        for wf_spec in [spec, *subprocess_specs.values()]
        for task_spec in wf_spec.task_specs.values()
    )


def _has_messages(spec: Any, subprocess_specs: dict[str, Any]) -> bool:
    return any(
        message_definitions(task_spec)
        for wf_spec in [spec, *subprocess_specs.values()]
        for task_spec in wf_spec.task_specs.values()
    )


def _user_tasks(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, UserTaskInfo]:
    tasks: dict[str, UserTaskInfo] = {}
    for wf_spec in [spec, *subprocess_specs.values()]:
        for task_spec in wf_spec.task_specs.values():
            if isinstance(task_spec, HumanTaskSpec):
                tasks[task_spec.name] = UserTaskInfo(
                    element_id=task_spec.name,
                    title=task_spec.bpmn_name or task_spec.name,
                    form=form_from_spiff(task_spec.form),
                    documentation=(task_spec.documentation or "").strip(),
                )
    return tasks


def _dangling_references(root: Any) -> list[Problem]:
    """References (flows, defaults, boundary attachments) to element ids that do not exist."""
    ids = {element.get("id") for element in root.iter() if isinstance(element.tag, str) and element.get("id")}
    problems = []
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).namespace != BPMN_NS:
            continue
        for attribute in ("sourceRef", "targetRef", "default", "attachedToRef"):
            target = element.get(attribute)
            if target and target not in ids:
                problems.append(Problem(f"{attribute} points to '{target}', which is not in the diagram",
                                        element.get("id")))
    return problems


def _lint(root: Any, known_topics: Collection[str]) -> list[Problem]:
    problems: list[Problem] = _dangling_references(root)
    for process in root.iterfind("bpmn:process", NS):
        problems += _lint_process(process, known_topics)
    named = set()
    for message in root.iterfind("bpmn:message", NS):
        if not (message.get("name") or "").strip():
            problems.append(Problem("A message needs a name", message.get("id")))
        else:
            named.add(message.get("id"))
    for definition in root.iterfind(".//bpmn:messageEventDefinition", NS):
        problems += _lint_message_event(definition, named)
    return problems


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
THROWS = ("intermediateThrowEvent", "endEvent")


def _lint_message_event(definition: Any, named: set[str | None]) -> list[Problem]:
    """A message event names a message, correlates on a field name, and runs no code."""
    event = definition.getparent()
    element_id, kind = event.get("id"), etree.QName(event).localname
    problems = []
    if definition.get("messageRef") not in named:
        problems.append(Problem("The message event needs a message with a name (choose or create a global "
                                "message in the Modeler)", element_id))
    properties = event_properties(event)
    key = properties.get("correlationKey")
    if key is not None and not IDENTIFIER.fullmatch(key):
        problems.append(Problem(f"correlationKey '{key}' must be the name of a case data field", element_id))
    if key is not None and kind == "startEvent":
        problems.append(Problem("A message start event starts a new case and correlates on nothing; "
                                "remove its correlationKey", element_id))
    if "payload" in properties:
        fields = [f.strip() for f in properties["payload"].split(",") if f.strip()]
        if kind not in THROWS:
            problems.append(Problem("Only a throw or end event sends a payload; remove the payload property",
                                    element_id))
        elif not fields or not all(IDENTIFIER.fullmatch(f) for f in fields):
            problems.append(Problem("payload must list case data field names separated by commas", element_id))
    for attribute in ("class", "delegateExpression", "type", "topic", "resultVariable"):
        if definition.get(CAMUNDA + attribute) is not None:
            problems.append(Problem(f"camunda:{attribute} is not supported on a message event: the engine "
                                    "delivers messages itself", element_id))
    expression = definition.get(CAMUNDA + "expression")
    if expression is not None:
        if kind not in THROWS:
            problems.append(Problem("camunda:expression belongs on a throw or end event (it gives the value "
                                    "the message is correlated on)", element_id))
        elif not unwrap_expression(expression):
            problems.append(Problem("The message expression is empty; remove it to correlate on the "
                                    "correlationKey field", element_id))
        else:
            problems += _check_expression(expression, "Message correlation", element_id)
    return problems


def _lint_message_starts(root: Any, main: Any) -> list[Problem]:
    """Message start events only start the main process, at its top level."""
    problems = []
    for start in root.iterfind(".//bpmn:startEvent", NS):
        if start.find("bpmn:messageEventDefinition", NS) is None:
            continue
        if start.getparent() is not main:
            problems.append(Problem("Only the main process can have a message start event (not a subprocess "
                                    "or a called process)", start.get("id")))
    return problems


def _lint_process(process: Any, known_topics: Collection[str]) -> list[Problem]:
    problems: list[Problem] = []
    prefix = _case_prefix(process, process.get("id") or "")
    if not CASE_PREFIX.fullmatch(prefix):
        problems.append(Problem(f"The case prefix '{prefix}' must be 2 to 6 capital letters", process.get("id")))
    lanes = {}
    for lane in process.iterfind(".//bpmn:lane", NS):
        role = role_for_name(lane.get("name") or "")
        if role is None:
            problems.append(
                Problem(
                    f"The lane '{lane.get('name') or ''}' does not name a role; name it after "
                    f"one of: {', '.join(ROLES.values())}",
                    lane.get("id"),
                )
            )
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = role
    for element in process.iter():
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        element_id = element.get("id")
        if qname.namespace == CAMUNDA[1:-1] and qname.localname in CODE_HOOKS:
            owner = element.getparent().getparent() if element.getparent() is not None else None
            problems.append(Problem(CODE_HOOKS[qname.localname], owner.get("id") if owner is not None else None))
            continue
        if qname.namespace != BPMN_NS:
            continue
        tag = qname.localname
        if tag in UNSUPPORTED:
            problems.append(Problem(UNSUPPORTED[tag], element_id))
        elif tag == "userTask":
            problems += _lint_user_task(element, lanes.get(element_id or ""))
        elif tag == "serviceTask":
            topic = (element.get(CAMUNDA + "topic") or "").strip()
            if element.get(CAMUNDA + "type") != "external" or not topic:
                problems.append(
                    Problem(
                        "A service task must be an external task with a topic naming one of callgov's operations",
                        element_id,
                    )
                )
            elif topic not in known_topics:
                problems.append(
                    Problem(
                        f"The operation '{topic}' does not exist; known operations: "
                        f"{', '.join(sorted(known_topics)) or 'none'}",
                        element_id,
                    )
                )
        elif tag == "scriptTask":
            script = element.find("bpmn:script", NS)
            try:
                compile_script(script.text if script is not None and script.text else "")
            except ExpressionError as error:
                problems.append(Problem(f"Script: {error}", element_id))
        elif tag == "conditionExpression":
            flow = element.getparent()
            problems += _check_expression(element.text, "Condition", flow.get("id"))
        elif tag in ("timeDate", "timeDuration", "timeCycle"):
            event = element.getparent().getparent()
            text = unwrap_expression(element.text)
            if not text:
                problems.append(Problem("The timer has no time, duration or cycle", event.get("id")))
            elif parse_timer_literal(text) is None:
                problems += _check_expression(text, "Timer", event.get("id"))
    return problems


def _lint_user_task(task: Any, lane_role: str | None) -> list[Problem]:
    element_id = task.get("id")
    problems: list[Problem] = []
    groups = parse_candidate_groups(task.get(CAMUNDA + "candidateGroups"))
    for name in groups:
        if role_for_name(name) is None:
            problems.append(
                Problem(f"Candidate group '{name}' is not a role; use one of: {', '.join(ROLES)}", element_id)
            )
    assignee = task.get(CAMUNDA + "assignee")
    if assignee and assignee.strip().startswith("${"):
        problems += _check_expression(assignee, "Assignee", element_id)
    due = task.get(CAMUNDA + "dueDate")
    if due and parse_timer_literal(unwrap_expression(due)) is None:
        problems += _check_expression(due, "Due date", element_id)
    if not groups and not assignee and lane_role is None:
        problems.append(
            Problem(
                "Nobody can do this task: give it candidate groups (roles), an assignee, "
                "or put it in a lane named after a role",
                element_id,
            )
        )
    problems += lint_form(_form_from_xml(task), element_id)
    return problems


def _check_expression(text: str | None, what: str, element_id: str | None) -> list[Problem]:
    try:
        compile_expression(unwrap_expression(text))
    except ExpressionError as error:
        return [Problem(f"{what}: {error}", element_id)]
    return []


def _form_from_xml(task: Any) -> FormSpec:
    """A user task's ``camunda:formData`` read straight from XML, for lint before parsing."""
    fields = []
    for f in task.iterfind("bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        options = tuple(
            (v.get("id") or "", v.get("name") or v.get("id") or "") for v in f.iterfind("camunda:value", NS)
        )
        constraints = {
            c.get("name") or "": c.get("config") for c in f.iterfind("camunda:validation/camunda:constraint", NS)
        }
        properties = {
            p.get("id") or "": p.get("value") or "" for p in f.iterfind("camunda:properties/camunda:property", NS)
        }
        fields.append(
            FormField(
                id=f.get("id") or "",
                label=f.get("label") or f.get("id") or "",
                type=f.get("type") or "string",
                default=f.get("defaultValue"),
                options=options,
                constraints=constraints,
                properties=properties,
            )
        )
    return FormSpec(tuple(fields))
