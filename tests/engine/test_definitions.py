"""Deploying definitions: validation with every problem listed, versions, publishing."""

from __future__ import annotations

import pytest

from engine.errors import DefinitionInvalid
from engine.facade import Callgov
from tests.conftest import BPMN_DIR

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://x">')


def process(body: str, pid: str = "p") -> bytes:
    return (f'{HEAD}<bpmn:process id="{pid}" isExecutable="true">'
            f'<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t1"/>'
            f'{body}</bpmn:process></bpmn:definitions>').encode()


GOOD = process('<bpmn:userTask id="t1" name="Do it" camunda:candidateGroups="dpo"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="t1" targetRef="end"/><bpmn:endEvent id="end"/>')


def problems_of(callgov: Callgov, content: bytes) -> list[tuple[str | None, str]]:
    with pytest.raises(DefinitionInvalid) as caught:
        callgov.deploy(content, filename="x.bpmn", actor="gov")
    assert callgov.list_definitions() == [], "nothing is stored when a diagram is invalid"
    return [(p.element_id, p.message) for p in caught.value.problems]


def test_deploy_creates_draft_then_identical_content_is_the_same_version(callgov: Callgov) -> None:
    first = callgov.deploy(GOOD, filename="p.bpmn", actor="gov")
    assert first.created and first.definition.version == 1 and first.definition.status == "draft"
    again = callgov.deploy(GOOD, filename="p.bpmn", actor="gov")
    assert not again.created and again.definition.id == first.definition.id
    changed = GOOD.replace(b'name="Do it"', b'name="Do it now"')
    second = callgov.deploy(changed, filename="p.bpmn", actor="gov")
    assert second.definition.version == 2
    assert [d.version for d in callgov.list_definitions()] == [2, 1]


def test_new_instances_use_latest_published_and_running_ones_stay(callgov: Callgov, make_user) -> None:
    make_user("sam", "staff")
    callgov.deploy(GOOD, filename="p.bpmn", actor="gov", publish=True)
    old = callgov.start("p", user="sam")
    changed = GOOD.replace(b'name="Do it"', b'name="Do it now"')
    draft = callgov.deploy(changed, filename="p.bpmn", actor="gov").definition
    assert callgov.start("p", user="sam").ready_tasks[0].title == "Do it", "a draft is not used"
    callgov.publish("p", draft.version, actor="gov2")
    new = callgov.start("p", user="sam")
    assert new.ready_tasks[0].title == "Do it now" and new.definition_version == 2
    assert callgov.instance(old.case_ref).definition_version == 1
    statuses = {d.version: d.status for d in callgov.list_definitions()}
    assert statuses == {1: "superseded", 2: "published"}


def test_shipped_diagrams_deploy_once(callgov: Callgov, operations) -> None:
    from engine.config import Settings
    from workflows.operations import register

    register(operations, Settings.from_env({}))
    first = callgov.deploy_shipped()
    assert sorted(r.definition.process_id for r in first) == ["breach_investigation", "recording_release"]
    assert callgov.deploy_shipped() == []
    assert all(r.definition.status == "published" for r in first)


def test_every_problem_is_listed_with_its_element(callgov: Callgov) -> None:
    bad = process(
        '<bpmn:userTask id="t1" name="Nobody" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="t1" targetRef="t2"/>'
        '<bpmn:userTask id="t2" camunda:candidateGroups="wizards"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="t2" targetRef="svc"/>'
        '<bpmn:serviceTask id="svc" camunda:type="external" camunda:topic="no.such.topic"/>'
        '<bpmn:sequenceFlow id="f3" sourceRef="svc" targetRef="gw"/>'
        '<bpmn:exclusiveGateway id="gw"/>'
        '<bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="script">'
        '<bpmn:conditionExpression>().__class__</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '<bpmn:sequenceFlow id="f5" sourceRef="gw" targetRef="end">'
        '<bpmn:conditionExpression>${approved == True}</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '<bpmn:scriptTask id="script"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="f6" sourceRef="script" targetRef="end"/>'
        '<bpmn:endEvent id="end"/>')
    found = problems_of(callgov, bad)
    ids = [element for element, _ in found]
    assert ids.count("t1") == 1 and "Nobody can do this task" in dict(found)["t1"]
    assert "t2" in ids and "wizards" in dict(found)["t2"]
    assert "svc" in ids and "no.such.topic" in dict(found)["svc"]
    assert "f4" in ids and "f5" not in ids
    assert "script" in ids


@pytest.mark.parametrize(("content", "expected"), [
    (b"not xml at all", "not well-formed XML"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
     b"<definitions>&lol2;</definitions>", "DOCTYPE"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>', "DOCTYPE"),
    (b"<html><body>hello</body></html>", "not BPMN"),
    (HEAD.encode() + b"</bpmn:definitions>", "no bpmn:process"),
    (HEAD.encode() + b'<bpmn:process id="p" isExecutable="true"><bpmn:bogus id="b"/></bpmn:process>'
     b"</bpmn:definitions>", "Not valid BPMN 2.0"),
    (b" " * (6 * 1024 * 1024), "MB"),
    (GOOD.decode().encode("utf-16"), "UTF-8"),
    (GOOD.replace(b'targetRef="end"', b'targetRef="nowhere"'), "points to 'nowhere'"),
])
def test_hostile_or_broken_files_are_refused_plainly(callgov: Callgov, content: bytes, expected: str) -> None:
    found = problems_of(callgov, content)
    assert any(expected in message for _, message in found), found


def test_unsupported_code_hooks_and_elements_are_refused(callgov: Callgov) -> None:
    bad = process(
        '<bpmn:userTask id="t1" camunda:candidateGroups="dpo"><bpmn:extensionElements>'
        '<camunda:taskListener event="create" class="org.Evil"/></bpmn:extensionElements></bpmn:userTask>'
        '<bpmn:sequenceFlow id="f1" sourceRef="t1" targetRef="rule"/>'
        '<bpmn:businessRuleTask id="rule" camunda:decisionRef="d"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="rule" targetRef="svc"/>'
        '<bpmn:serviceTask id="svc" camunda:class="org.Evil"/>'
        '<bpmn:sequenceFlow id="f3" sourceRef="svc" targetRef="end"/><bpmn:endEvent id="end"/>')
    found = dict(problems_of(callgov, bad))
    assert "listeners are not supported" in found["t1"]
    assert "DMN" in found["rule"]
    assert "external task" in found["svc"]


def test_form_declarations_are_checked(callgov: Callgov) -> None:
    bad = process(
        '<bpmn:userTask id="t1" camunda:candidateGroups="dpo"><bpmn:extensionElements><camunda:formData>'
        '<camunda:formField id="1bad" type="string"/>'
        '<camunda:formField id="kind" type="enum"/>'
        '<camunda:formField id="n" type="long"><camunda:validation>'
        '<camunda:constraint name="min" config="ten"/><camunda:constraint name="shout"/>'
        '</camunda:validation></camunda:formField>'
        '<camunda:formField id="p" type="string"><camunda:validation>'
        '<camunda:constraint name="pattern" config="[unclosed"/></camunda:validation></camunda:formField>'
        '<camunda:formField id="c" type="colour"/>'
        '</camunda:formData></bpmn:extensionElements></bpmn:userTask>'
        '<bpmn:sequenceFlow id="f1" sourceRef="t1" targetRef="end"/><bpmn:endEvent id="end"/>')
    messages = " | ".join(m for _, m in problems_of(callgov, bad))
    for expected in ("'1bad'", "without any values", "min 'ten'", "unknown constraint 'shout'",
                     "not a valid regular expression", "type 'colour'"):
        assert expected in messages


def test_test_diagrams_are_valid(callgov: Callgov, operations) -> None:
    operations.register("test.lookup", lambda ctx: None)
    for path in sorted(BPMN_DIR.glob("*.bpmn")):
        assert callgov.deploy(path.read_bytes(), filename=path.name, actor="gov").created
