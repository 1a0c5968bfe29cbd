"""Our BPMN dialect's parser: SpiffWorkflow's ``CamundaParser`` with the extensions callgov supports.

What it adds to the Camunda parser:

* user tasks read ``camunda:formData`` whether or not a ``camunda:formKey`` is set, and carry
  ``camunda:candidateGroups`` (as role keys), ``camunda:assignee`` and ``camunda:dueDate``;
* service tasks must be ``camunda:type="external"`` with a ``camunda:topic``: the topic names a
  registered Python operation (Java classes, expressions and delegates cannot exist here);
* timers read the engine's clock, and message events correlate on one case-data value
  (``engine.bpmn.timers``, ``engine.bpmn.messages``);
* XML is read with a hardened lxml parser: no DTDs, no entities, no network, a size limit.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEndEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaIntermediateThrowEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser
from SpiffWorkflow.camunda.parser.task_spec import UserTaskParser as CamundaUserTaskParser
from SpiffWorkflow.camunda.specs.user_task import Form

from engine.bpmn.messages import DEFAULT_KEY, MessageDefinition
from engine.bpmn.specs import ExternalTaskSpec, HumanTaskSpec
from engine.bpmn.timers import TIMER_CLASSES, ClockCycle, ClockDuration, ClockTimeDate
from engine.errors import Problem
from engine.roles import parse_candidate_groups, role_for_name

CAMUNDA = "{" + CAMUNDA_MODEL_NS + "}"
BPMN_MODEL_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MAX_BPMN_BYTES = 5 * 1024 * 1024


class UserTaskParser(CamundaUserTaskParser):
    """Parses a user task's form and assignment."""

    def create_task(self) -> HumanTaskSpec:
        groups = []
        for name in parse_candidate_groups(self.node.get(CAMUNDA + "candidateGroups")):
            groups.append(role_for_name(name) or name)
        return HumanTaskSpec(
            self.spec,
            self.bpmn_id,
            form=self.get_form(),
            candidate_groups=groups,
            assignee=(self.node.get(CAMUNDA + "assignee") or None),
            due_date=(self.node.get(CAMUNDA + "dueDate") or None),
            extensions=self.parse_extensions(),
            **self.bpmn_attributes,
        )

    def get_form(self) -> Form:
        form = super().get_form()
        if not form.fields and self.node.get(CAMUNDA + "formKey") is None:
            # Camunda only reads form data with a form key; the Modeler often omits it.
            self.node.set(CAMUNDA + "formKey", "")
            try:
                form = super().get_form()
            finally:
                del self.node.attrib[CAMUNDA + "formKey"]
        return form


class ExternalTaskParser(CamundaTaskParser):
    """Parses ``camunda:type="external"`` service tasks into ``ExternalTaskSpec``."""

    def create_task(self) -> ExternalTaskSpec:
        kind = self.node.get(CAMUNDA + "type")
        topic = (self.node.get(CAMUNDA + "topic") or "").strip()
        if kind != "external" or not topic:
            self.raise_validation_exception(
                "A service task must be an external task with a topic (camunda:type=\"external\" and "
                "camunda:topic naming one of callgov's operations)"
            )
        return ExternalTaskSpec(self.spec, self.bpmn_id, topic=topic, **self.bpmn_attributes)


class ClockTimers:
    """Event parsing whose timers read the engine's clock (``engine.bpmn.timers``)."""

    def parse_timer_event(self, event: Any) -> Any:
        parser: Any = self
        description = parser.get_event_description(event)
        name = parser.node.get("name", parser.node.get("id"))
        for tag, cls in (("timeDate", ClockTimeDate), ("timeDuration", ClockDuration), ("timeCycle", ClockCycle)):
            found = first(parser.xpath(f".//bpmn:{tag}"))
            if found is not None:
                return cls(name, (found.text or "").strip(), description=description)
        raise ValidationException("A timer needs a date, a duration or a cycle", node=parser.node,
                                  file_name=parser.filename)


def event_properties(node: Any) -> dict[str, str]:
    """An event's ``camunda:properties`` (``correlationKey``, ``payload``) by name."""
    found = node.findall(f"{{{BPMN_MODEL_NS}}}extensionElements/{CAMUNDA}properties/{CAMUNDA}property")
    return {p.get("name") or "": (p.get("value") or "").strip() for p in found}


class Messages:
    """Event parsing that builds our message definitions (``engine.bpmn.messages``)."""

    def parse_message_event(self, message_event: Any) -> MessageDefinition:
        parser: Any = self
        ref = message_event.get("messageRef")
        root = parser.node.getroottree().getroot()
        names = [(m.get("name") or "").strip() for m in root.iter(f"{{{BPMN_MODEL_NS}}}message") if m.get("id") == ref]
        name = names[0] if ref and names else ""
        if not name:
            raise ValidationException("A message event needs a message with a name (messageRef to a named "
                                      "bpmn:message)", node=parser.node, file_name=parser.filename)
        properties = event_properties(parser.node)
        fields = [f.strip() for f in properties.get("payload", "").split(",") if f.strip()]
        expression = (message_event.get(CAMUNDA + "expression") or "").strip() or None
        return MessageDefinition(name, properties.get("correlationKey") or DEFAULT_KEY, fields, expression,
                                 description=parser.get_event_description(message_event))


class StartEventParser(Messages, ClockTimers, CamundaStartEventParser):
    """Start events. A timer or message on a start event says when new cases start (``start_timer``,
    ``start_message`` on the spec); a case itself never waits at its start."""

    def create_task(self) -> Any:
        task = super().create_task()
        definition = getattr(task, "event_definition", None)
        task.start_timer = definition if isinstance(definition, TIMER_CLASSES) else None
        task.start_message = definition if isinstance(definition, MessageDefinition) else None
        if task.start_timer is not None or task.start_message is not None:
            task.event_definition = NoneEventDefinition()
        return task


class IntermediateCatchEventParser(Messages, ClockTimers, CamundaIntermediateCatchEventParser):
    """Intermediate catch events, with clock-aware timers and correlated messages."""


class BoundaryEventParser(Messages, ClockTimers, CamundaBoundaryEventParser):
    """Boundary events, with clock-aware timers and correlated messages."""


class IntermediateThrowEventParser(Messages, CamundaIntermediateThrowEventParser):
    """Intermediate throw events: messages with a chosen payload, never the whole case data."""


class EndEventParser(Messages, CamundaEndEventParser):
    """End events: messages with a chosen payload, never the whole case data."""


class CallgovParser(CamundaParser):
    """The parser for every BPMN file callgov deploys."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (UserTaskParser, HumanTaskSpec),
        full_tag("serviceTask"): (ExternalTaskParser, ExternalTaskSpec),
        full_tag("startEvent"): (StartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (IntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (BoundaryEventParser, BoundaryEvent),
        full_tag("intermediateThrowEvent"): (IntermediateThrowEventParser, IntermediateThrowEvent),
        full_tag("endEvent"): (EndEventParser, EndEvent),
    }


class XmlRefused(Exception):
    """The bytes are not a BPMN document we are willing to read."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def read_bpmn_xml(content: bytes | str, *, max_bytes: int = MAX_BPMN_BYTES) -> Any:
    """Parse BPMN XML safely and return the lxml root element.

    Refuses (``XmlRefused``) files over ``max_bytes``, any DOCTYPE (so no entity expansion or
    external entities, e.g. billion laughs and XXE), and malformed XML, with a message for a person.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise XmlRefused(Problem("The file must be saved as UTF-8 text (as BPMN editors do).")) from None
    if len(data) > max_bytes:
        raise XmlRefused(Problem(
            f"The file is {len(data) / 1048576:.1f} MB; BPMN files over {max_bytes // 1048576} MB are refused."
        ))
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        line = error.lineno if isinstance(error.lineno, int) else None
        raise XmlRefused(Problem(f"The file is not well-formed XML: {error.msg}", line=line)) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XmlRefused(Problem("The file declares a DOCTYPE; BPMN files must not contain DTDs or entities."))
    if etree.QName(root).localname != "definitions":
        raise XmlRefused(Problem("The file is XML but not BPMN: its root element must be bpmn:definitions."))
    return root
