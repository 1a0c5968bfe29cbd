"""Deploying, publishing and loading process definitions (DESIGN decision 7).

Versions are immutable and known by their content hash: deploying identical bytes twice returns
the version already stored. Parsed specs are cached per version id, so instances parse a diagram
once per process, not once per request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from engine.bpmn.compiler import CompiledDefinition, compile_definition, content_hash
from engine.errors import Conflict, NotFound
from engine.fastsql import FastRead
from engine.models import DefinitionVersion, ProcessDefinition
from engine.operations import OperationRegistry


@dataclass(frozen=True)
class DefinitionView:
    """One definition version as callers see it."""

    id: int
    process_id: str
    name: str
    version: int
    status: str
    content_hash: str
    case_prefix: str
    created_by: str
    created_at: datetime
    published_by: str | None
    published_at: datetime | None
    summary: str

    def to_dict(self) -> dict[str, object]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def view_of(version: DefinitionVersion, definition: ProcessDefinition) -> DefinitionView:
    """The caller-facing view of a stored version."""
    return DefinitionView(
        id=version.id, process_id=version.process_id, name=definition.name, version=version.version,
        status=version.status, content_hash=version.content_hash, case_prefix=definition.case_prefix,
        created_by=version.created_by, created_at=version.created_at, published_by=version.published_by,
        published_at=version.published_at, summary=version.summary,
    )


class SpecCache:
    """Parsed definitions by version id, least recently used evicted first. Thread-safe."""

    def __init__(self, operations: OperationRegistry, size: int = 64) -> None:
        self._operations = operations
        self._size = size
        self._items: OrderedDict[int, CompiledDefinition] = OrderedDict()
        self._numbers: dict[int, int] = {}
        self._lock = threading.Lock()

    @property
    def known_topics(self) -> frozenset[str]:
        """The operation topics diagrams may name (read live: operations can be added later)."""
        return self._operations.topics()

    def get(self, session: Session, version_id: int) -> CompiledDefinition:
        """The compiled definition of a stored version, parsing it on first use."""
        with self._lock:
            hit = self._items.get(version_id)
            if hit is not None:
                self._items.move_to_end(version_id)
                return hit
        version = session.get(DefinitionVersion, version_id)
        if version is None:
            raise NotFound(f"Definition version {version_id} does not exist")
        compiled = compile_definition(version.bpmn_xml, known_topics=self.known_topics,
                                      filename=version.filename or f"{version.process_id}.bpmn")
        self.put(version_id, compiled)
        return compiled

    def version_number(self, session: Session, version_id: int) -> int:
        """The number (1, 2, ...) of a stored version; immutable, so cached."""
        number = self._numbers.get(version_id)
        if number is None:
            number = session.scalar(select(DefinitionVersion.version).where(DefinitionVersion.id == version_id))
            if number is None:
                raise NotFound(f"Definition version {version_id} does not exist")
            self._numbers[version_id] = number
        return number

    def put(self, version_id: int, compiled: CompiledDefinition) -> None:
        """Remember a compiled definition (deploy hands over what it already parsed)."""
        with self._lock:
            self._items[version_id] = compiled
            self._items.move_to_end(version_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def deploy(session: Session, cache: SpecCache, content: bytes, *, filename: str, actor: str, now: datetime,
           summary: str = "") -> tuple[DefinitionVersion, bool]:
    """Validate and store ``content`` as a draft; return the version and whether it is new.

    Raises ``DefinitionInvalid`` (nothing stored) when the file has problems.
    """
    compiled = compile_definition(content, known_topics=cache.known_topics, filename=filename)
    digest = content_hash(content)
    existing = session.scalars(select(DefinitionVersion).where(
        DefinitionVersion.process_id == compiled.process_id, DefinitionVersion.content_hash == digest)).first()
    if existing is not None:
        return existing, False
    definition = session.get(ProcessDefinition, compiled.process_id, with_for_update=True)
    if definition is None:
        definition = ProcessDefinition(process_id=compiled.process_id, name=compiled.name,
                                       case_prefix=compiled.case_prefix, created_at=now)
        session.add(definition)
    else:
        definition.name = compiled.name
        definition.case_prefix = compiled.case_prefix
    last = session.scalar(select(func.max(DefinitionVersion.version)).where(
        DefinitionVersion.process_id == compiled.process_id)) or 0
    version = DefinitionVersion(
        process_id=compiled.process_id, version=last + 1, content_hash=digest,
        bpmn_xml=content.decode("utf-8"), filename=filename, status="draft", summary=summary,
        created_by=actor, created_at=now,
    )
    session.add(version)
    session.flush()
    cache.put(version.id, compiled)
    return version, True


def publish(session: Session, version: DefinitionVersion, *, actor: str, now: datetime) -> None:
    """Make ``version`` the one new instances use; the previously published one is superseded."""
    if version.status == "published":
        return
    if version.status != "draft":
        raise Conflict(f"Version {version.version} of {version.process_id} is {version.status}; "
                       "only a draft can be published")
    session.execute(update(DefinitionVersion).where(
        DefinitionVersion.process_id == version.process_id, DefinitionVersion.status == "published",
    ).values(status="superseded"))
    version.status = "published"
    version.published_by = actor
    version.published_at = now


_PUBLISHED = FastRead(select(DefinitionVersion.id, DefinitionVersion.version).where(
    DefinitionVersion.process_id == bindparam("process_id"), DefinitionVersion.status == "published"))


def published_version_ids(session: Session, process_id: str) -> tuple[int, int]:
    """The id and number of the version new instances of ``process_id`` start on."""
    row = _PUBLISHED.first(session.connection(), {"process_id": process_id})
    if row is None:
        known = session.get(ProcessDefinition, process_id)
        raise NotFound(f"No published version of process '{process_id}'" if known
                       else f"There is no process '{process_id}'")
    return row.id, row.version


def published_version(session: Session, process_id: str) -> DefinitionVersion:
    """The version new instances of ``process_id`` start on."""
    version = session.scalars(select(DefinitionVersion).where(
        DefinitionVersion.process_id == process_id, DefinitionVersion.status == "published")).first()
    if version is None:
        known = session.get(ProcessDefinition, process_id)
        raise NotFound(f"No published version of process '{process_id}'" if known
                       else f"There is no process '{process_id}'")
    return version
