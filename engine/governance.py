"""The governance editor's use cases: drafts with their checks, four-eyes publication, history, diff.

Every save (from the editor or an upload) is kept as a ``definition_draft`` row with the problems
the deploy checks found. A draft that passes every check is also stored, through the same code as
deploy, as an immutable ``definition_version`` with status ``draft``: only such a version can be
put up for publication, so a draft with problems can be saved but never published. Files the
hardened XML reader refuses (too large, DOCTYPE/entities, not well-formed, not BPMN) are not
stored at all: there is nothing in them an editor could open.

Publishing needs two people: the author requests it with a summary, and a *different* governance
user approves (publishes) or sends it back with a note. The engine refuses the author — and the
person who saved the version — as reviewer, whatever the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import definitions as defs
from engine.bpmn.compiler import BPMN_NS
from engine.bpmn.parser import XmlRefused, read_bpmn_xml
from engine.errors import Conflict, DefinitionInvalid, InvalidInput, NotFound, PermissionDenied, Problem
from engine.facade_parts import FacadeParts
from engine.models import DefinitionDraft, DefinitionVersion, ProcessDefinition, PublicationRequest
from engine.views import Person

if TYPE_CHECKING:
    pass

GOVERNANCE = "governance"


@dataclass(frozen=True)
class DraftSaved:
    """What saving a draft produced: the draft, its problems, and the publishable version if clean."""

    draft_id: int
    process_id: str
    problems: tuple[Problem, ...]
    version: defs.DefinitionView | None

    def to_dict(self) -> dict[str, Any]:
        """The editor's answer: ``{"problems": [...], "version": {...} | None, "draft_id": ...}``."""
        return {"draft_id": self.draft_id, "process_id": self.process_id,
                "problems": [{"element_id": p.element_id, "message": p.message} for p in self.problems],
                "version": ({**self.version.to_dict(), "number": self.version.version} if self.version else None)}


@dataclass(frozen=True)
class RequestView:
    """A publication request as the review pages show it."""

    id: int
    version_id: int
    process_id: str
    version: int
    author: str
    summary: str
    status: str
    requested_at: datetime
    reviewer: str | None
    decided_at: datetime | None
    note: str


@dataclass(frozen=True)
class ProcessSummary:
    """One process in the governance list."""

    process_id: str
    name: str
    published_version: int | None
    open_requests: int


@dataclass(frozen=True)
class ProcessHistory:
    """Every version of a process, its publication requests, and its latest draft."""

    process_id: str
    name: str
    versions: tuple[defs.DefinitionView, ...]
    requests: tuple[RequestView, ...]
    latest_draft: DraftView | None


@dataclass(frozen=True)
class DraftView:
    """A saved draft without its XML."""

    id: int
    process_id: str
    problems: tuple[Problem, ...]
    version_id: int | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class ElementChange:
    """One element added, removed or changed between two versions, with its changed properties."""

    element_id: str
    kind: str
    name: str
    change: str
    properties: tuple[tuple[str, str | None, str | None], ...] = field(default_factory=tuple)
    """(property, before, after) for a changed element."""


@dataclass(frozen=True)
class Review:
    """A request with the published version it would replace and what differs."""

    request: RequestView
    published_version: int | None
    changes: tuple[ElementChange, ...]
    published_version_id: int | None = None
    """The id of the version compared with, for the review page's diagram diff."""


class GovernanceMixin(FacadeParts):
    """Facade methods for governance staff (role ``governance``); mixed into ``Callgov``."""

    def save_draft(self, process_id: str, content: bytes, *, user: str, filename: str = "") -> DraftSaved:
        """Check ``content`` exactly as deploy does and keep it as a draft of ``process_id``.

        Raises ``DefinitionInvalid`` (nothing stored) only when the XML reader refuses the file or it
        belongs to another process; check problems are returned, with the draft stored.
        """
        with self._tx() as s:
            author = _governance_user(self, s, user)
            problem = _foreign_process(content, process_id)
            if problem:
                raise DefinitionInvalid([problem])
            return _store_draft(self, s, process_id, content, author.username, filename)

    def upload_draft(self, content: bytes, *, user: str, filename: str) -> DraftSaved:
        """Keep an uploaded BPMN file as a draft of the process it defines (same checks as save)."""
        with self._tx() as s:
            author = _governance_user(self, s, user)
            process_id = main_process_id(content)
            return _store_draft(self, s, process_id, content, author.username, filename)

    def request_publication(self, version_id: int, *, user: str, summary: str) -> RequestView:
        """Ask a second governance user to publish a draft version; ``summary`` says what changed."""
        summary = summary.strip()
        if not summary:
            raise InvalidInput("Say what the change does", {"summary": "Enter a summary of the change"})
        with self._tx() as s:
            author = _governance_user(self, s, user)
            version = _version(s, version_id, lock=True)
            if version.status != "draft":
                raise Conflict(f"Version {version.version} of {version.process_id} is {version.status}; "
                               "only a draft can be put up for publication")
            if _open_request(s, version_id) is not None:
                raise Conflict(f"Publication of version {version.version} has already been requested")
            row = PublicationRequest(version_id=version.id, process_id=version.process_id, version=version.version,
                                     author=author.username, summary=summary, status="requested",
                                     requested_at=self.clock.now(), note="")
            s.add(row)
            s.flush()
            self._audit(s, "definition.publication_requested", author.username, detail={
                "process_id": version.process_id, "version": version.version, "request": row.id, "summary": summary})
            return _request_view(row)

    def approve_publication(self, request_id: int, *, user: str) -> RequestView:
        """Publish the requested version, as a reviewer who is neither its author nor its editor."""
        with self._tx() as s:
            reviewer = _governance_user(self, s, user)
            row = _pending(s, request_id)
            version = _version(s, row.version_id, lock=True)
            if reviewer.username in {row.author, version.created_by}:
                raise PermissionDenied("You cannot approve your own change: another governance user must review it")
            now = self.clock.now()
            if not version.summary:
                version.summary = row.summary
            defs.publish(s, version, actor=reviewer.username, now=now)
            self._schedule_starts(s, version.id)
            row.status, row.reviewer, row.decided_at = "approved", reviewer.username, now
            self._audit(s, "definition.published", reviewer.username, detail={
                "process_id": version.process_id, "version": version.version, "request": row.id,
                "author": row.author, "reviewer": reviewer.username})
            return _request_view(row)

    def send_back_publication(self, request_id: int, *, user: str, note: str) -> RequestView:
        """Refuse a request with a note for its author; the version stays a draft."""
        note = note.strip()
        if not note:
            raise InvalidInput("Say what needs to change", {"note": "Enter what the author should change"})
        with self._tx() as s:
            reviewer = _governance_user(self, s, user)
            row = _pending(s, request_id)
            if reviewer.username == row.author:
                raise PermissionDenied("You cannot review your own change: another governance user must do it")
            row.status, row.reviewer, row.decided_at, row.note = "sent_back", reviewer.username, self.clock.now(), note
            self._audit(s, "definition.sent_back", reviewer.username, detail={
                "process_id": row.process_id, "version": row.version, "request": row.id, "author": row.author,
                "note": note[:500]})
            return _request_view(row)

    def governance_processes(self, *, user: str) -> list[ProcessSummary]:
        """Every process (and every draft-only one), with its published version and open requests."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
            published = dict(s.execute(select(DefinitionVersion.process_id, DefinitionVersion.version).where(
                DefinitionVersion.status == "published")).all())
            pending = dict(s.execute(select(PublicationRequest.process_id, func.count()).where(
                PublicationRequest.status == "requested").group_by(PublicationRequest.process_id)).all())
            names = dict(s.execute(select(ProcessDefinition.process_id, ProcessDefinition.name)).all())
            for draft_only in s.scalars(select(DefinitionDraft.process_id).distinct()):
                names.setdefault(draft_only, draft_only)
            return [ProcessSummary(pid, names[pid], published.get(pid), pending.get(pid, 0)) for pid in sorted(names)]

    def process_history(self, process_id: str, *, user: str) -> ProcessHistory:
        """Every version of a process (who, when, summary, status), its requests and its latest draft."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
            definition = s.get(ProcessDefinition, process_id)
            versions = [defs.view_of(v, definition) for v in s.scalars(select(DefinitionVersion).where(
                DefinitionVersion.process_id == process_id).order_by(DefinitionVersion.version.desc()))] \
                if definition else []
            requests = [_request_view(r) for r in s.scalars(select(PublicationRequest).where(
                PublicationRequest.process_id == process_id).order_by(PublicationRequest.id.desc()))]
            draft = _latest_draft(s, process_id)
            if definition is None and draft is None:
                raise NotFound(f"There is no process '{process_id[:200]}'")
            return ProcessHistory(process_id, definition.name if definition else process_id, tuple(versions),
                                  tuple(requests), _draft_view(draft) if draft else None)

    def editor_xml(self, process_id: str, *, user: str) -> str:
        """What the editor opens: the newest draft saved, else the newest version."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
            draft = _latest_draft(s, process_id)
            newest = s.scalars(select(DefinitionVersion).where(DefinitionVersion.process_id == process_id)
                               .order_by(DefinitionVersion.version.desc()).limit(1)).first()
            if draft is not None and (newest is None or draft.created_at >= newest.created_at):
                return draft.bpmn_xml
            if newest is None:
                raise NotFound(f"There is no process '{process_id[:200]}'")
            return newest.bpmn_xml

    def governance_version(self, version_id: int, *, user: str) -> tuple[defs.DefinitionView, RequestView | None]:
        """A version and its open publication request, if any."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
            version = _version(s, version_id)
            definition = s.get(ProcessDefinition, version.process_id)
            assert definition is not None
            pending = _open_request(s, version_id)
            return defs.view_of(version, definition), _request_view(pending) if pending else None

    def version_xml(self, version_id: int, *, user: str) -> str:
        """The BPMN XML of any stored version, for governance staff."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
            return _version(s, version_id).bpmn_xml

    def review(self, request_id: int, *, user: str) -> Review:
        """A publication request with the differences from the version published now."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
            row = s.get(PublicationRequest, request_id)
            if row is None:
                raise NotFound(f"There is no publication request {request_id}")
            draft = _version(s, row.version_id)
            published = _compared_with(s, row)
            changes = diff_definitions(published.bpmn_xml if published else None, draft.bpmn_xml)
            return Review(_request_view(row), published.version if published else None, tuple(changes),
                          published.id if published else None)


# -- helpers -------------------------------------------------------------------------------------


def _governance_user(facade: Any, s: Session, user: str) -> Person:
    person: Person = facade._active_user(s, user)
    if GOVERNANCE not in person.role_names:
        raise PermissionDenied("Only governance staff can change process diagrams")
    return person


def _store_draft(facade: Any, s: Session, process_id: str, content: bytes, author: str,
                 filename: str) -> DraftSaved:
    """Store the draft row; when the checks pass, deploy it as a draft version too."""
    name = (filename or f"{process_id}.bpmn")[:300]
    now = facade.clock.now()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise DefinitionInvalid([Problem("The file must be saved as UTF-8 text")]) from None
    try:
        version, created = defs.deploy(s, facade.specs, content, filename=name, actor=author, now=now)
        problems: list[Problem] = []
    except DefinitionInvalid as invalid:
        version, created, problems = None, False, invalid.problems
    draft = DefinitionDraft(process_id=process_id, bpmn_xml=text, filename=name,
                            problems=[{"element_id": p.element_id, "message": p.message} for p in problems],
                            version_id=version.id if version else None, created_by=author, created_at=now)
    s.add(draft)
    s.flush()
    detail: dict[str, Any] = {"process_id": process_id, "draft": draft.id, "problems": len(problems)}
    if version is not None:
        detail["version"] = version.version
    facade._audit(s, "definition.draft_saved", author, detail=detail)
    if created and version is not None:
        facade._audit(s, "definition.deployed", author, detail={
            "process_id": version.process_id, "version": version.version, "hash": version.content_hash})
    view = None
    if version is not None:
        definition = s.get(ProcessDefinition, version.process_id)
        assert definition is not None  # deploy created it
        view = defs.view_of(version, definition)
    return DraftSaved(draft.id, process_id, tuple(problems), view)


def main_process_id(content: bytes) -> str:
    """The id of the file's executable process; ``DefinitionInvalid`` when the file cannot be read."""
    try:
        root = read_bpmn_xml(content)
    except XmlRefused as refused:
        raise DefinitionInvalid([refused.problem]) from None
    processes = root.findall(f"{{{BPMN_NS}}}process")
    main = next((p for p in processes if p.get("isExecutable") == "true"), processes[0] if processes else None)
    process_id = main.get("id") if main is not None else None
    if not process_id or len(process_id) > 200:
        raise DefinitionInvalid([Problem("The file has no process with an id, so it cannot be kept as a draft")])
    return str(process_id)


def _foreign_process(content: bytes, process_id: str) -> Problem | None:
    found = main_process_id(content)
    if found != process_id:
        return Problem(f"The process id must stay '{process_id}' (the diagram says '{found}')", found)
    return None


def _version(s: Session, version_id: int, *, lock: bool = False) -> DefinitionVersion:
    row = s.get(DefinitionVersion, version_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"Definition version {version_id} does not exist")
    return row


def _open_request(s: Session, version_id: int) -> PublicationRequest | None:
    return s.scalars(select(PublicationRequest).where(
        PublicationRequest.version_id == version_id, PublicationRequest.status == "requested")).first()


def _pending(s: Session, request_id: int) -> PublicationRequest:
    row = s.get(PublicationRequest, request_id, with_for_update=True)
    if row is None:
        raise NotFound(f"There is no publication request {request_id}")
    if row.status != "requested":
        raise Conflict(f"This request has already been {row.status.replace('_', ' ')} by {row.reviewer}")
    return row


def _compared_with(s: Session, row: PublicationRequest) -> DefinitionVersion | None:
    """The version a request's change is shown against: the one live when it was (or is) decided."""
    query = select(DefinitionVersion).where(DefinitionVersion.process_id == row.process_id)
    if row.status == "approved":
        query = query.where(DefinitionVersion.version < row.version, DefinitionVersion.published_at.is_not(None))
        return s.scalars(query.order_by(DefinitionVersion.version.desc()).limit(1)).first()
    return s.scalars(query.where(DefinitionVersion.status == "published")).first()


def _latest_draft(s: Session, process_id: str) -> DefinitionDraft | None:
    return s.scalars(select(DefinitionDraft).where(DefinitionDraft.process_id == process_id)
                     .order_by(DefinitionDraft.id.desc()).limit(1)).first()


def _draft_view(row: DefinitionDraft) -> DraftView:
    problems = tuple(Problem(p.get("message", ""), p.get("element_id")) for p in row.problems or [])
    return DraftView(row.id, row.process_id, problems, row.version_id, row.created_by, row.created_at)


def _request_view(row: PublicationRequest) -> RequestView:
    return RequestView(row.id, row.version_id, row.process_id, row.version, row.author, row.summary, row.status,
                       row.requested_at, row.reviewer, row.decided_at, row.note)


# -- diff ----------------------------------------------------------------------------------------


def diff_definitions(before: str | None, after: str) -> list[ElementChange]:
    """The process elements added, removed or changed from ``before`` to ``after`` (layout ignored)."""
    old = _elements(before) if before else {}
    new = _elements(after)
    changes = []
    for element_id, (kind, name, props) in new.items():
        if element_id not in old:
            changes.append(ElementChange(element_id, kind, name, "added"))
            continue
        old_props = old[element_id][2]
        changed = tuple((key, old_props.get(key), props.get(key)) for key in sorted(set(old_props) | set(props))
                        if old_props.get(key) != props.get(key))
        if changed:
            changes.append(ElementChange(element_id, kind, name, "changed", changed))
    changes += [ElementChange(i, kind, name, "removed") for i, (kind, name, _) in old.items() if i not in new]
    return changes


def _elements(xml: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Element id -> (kind, name, flattened properties) for every element with an id inside a process."""
    root = read_bpmn_xml(xml.encode("utf-8"))
    found: dict[str, tuple[str, str, dict[str, str]]] = {}
    for process in root.iter(f"{{{BPMN_NS}}}process", f"{{{BPMN_NS}}}collaboration"):
        for element in process.iter():
            if not isinstance(element.tag, str) or element is process:
                continue
            element_id = element.get("id")
            if element_id and etree.QName(element).namespace == BPMN_NS:
                props: dict[str, str] = {}
                _flatten(element, "", props)
                found[element_id] = (etree.QName(element).localname, element.get("name") or "", props)
    return found


_WRAPPERS = {"extensionElements", "formData", "validation", "properties"}
"""Containers left out of property names: ``formField[details].label``, not the whole path."""


def _flatten(element: Any, path: str, props: dict[str, str]) -> None:
    """Attributes and text of an element and of its children that are not elements with ids."""
    for key, value in element.attrib.items():
        if key != "id":
            props[f"{path}{etree.QName(key).localname}"] = value
    text = (element.text or "").strip()
    if text:
        props[f"{path}text" if path else "text"] = text
    counts: dict[str, int] = {}
    for child in element:
        if not isinstance(child.tag, str) or (child.get("id") and etree.QName(child).namespace == BPMN_NS):
            continue
        local = etree.QName(child).localname
        if local in _WRAPPERS:
            _flatten(child, path, props)
            continue
        number = counts.get(local, 0)
        counts[local] = number + 1
        label = child.get("id") or child.get("name") or (str(number) if number else "")
        _flatten(child, f"{path}{local}[{label}]." if label else f"{path}{local}.", props)
