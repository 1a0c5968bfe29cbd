"""The review page's diagram diff contract and the editor's choices (roles, operations)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from engine.errors import PermissionDenied
from engine.facade import Callgov
from engine.operations import OperationContext
from tests.conftest import PASSWORD
from tests.webui.conftest import BPMN

CHANGED = BPMN.read_text().replace('camunda:dueDate="P2D"', 'camunda:dueDate="P3D"')
SignIn = Callable[[str], FlaskClient]


def _requested(web_callgov: Callgov) -> tuple[int, int]:
    web_callgov.add_user("gina", roles=["governance"], password=PASSWORD)
    saved = web_callgov.save_draft("review", CHANGED.encode(), user="gina")
    assert saved.version is not None
    return web_callgov.request_publication(saved.version.id, user="gina", summary="Three days").id, saved.version.id


def test_the_review_page_follows_the_review_bundle_contract(sign_in_as: SignIn, web_callgov: Callgov) -> None:
    request_id, version_id = _requested(web_callgov)
    client = sign_in_as("gov")
    page = client.get(f"/governance/requests/{request_id}").get_data(as_text=True)
    assert 'id="review-diff"' in page and "dist/review.js" in page and "dist/review.css" in page
    assert 'data-before-url="/governance/versions/1/diagram.bpmn"' in page
    assert f'data-after-url="/governance/versions/{version_id}/diagram.bpmn"' in page
    assert 'id="changes"' in page and "P3D" in page  # the server's list of changed properties stays
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and " style=" not in page
    for url in ("/governance/versions/1/diagram.bpmn", f"/governance/versions/{version_id}/diagram.bpmn"):
        assert client.get(url).status_code == 200


def test_the_editor_passes_roles_and_operations(web_callgov: Callgov, sign_in_as: SignIn) -> None:
    def notify(context: OperationContext) -> None:
        return None

    web_callgov.operations.register("notify_dpo", notify, description="Email the DPO")
    page = sign_in_as("gov").get("/governance/processes/review/edit").get_data(as_text=True)
    raw = re.search(r"data-choices='([^']*)'", page)
    assert raw, "no data-choices attribute"
    choices = json.loads(html.unescape(raw.group(1)))
    assert {"value": "dpo", "label": "Data Protection Officer"} in choices["roles"]
    assert choices["topics"] == [{"value": "notify_dpo", "label": "Email the DPO"}]


def test_choices_are_for_governance_staff_only(web_callgov: Callgov) -> None:
    with pytest.raises(PermissionDenied):
        web_callgov.editor_choices(user="sam")
    assert web_callgov.editor_choices(user="gov").roles
