"""Facade methods of the recording release lifecycle (issue 6): who may listen, playback, withdrawal,
the disclosure register, and disclosure packages fetched by their delivery link. ``Callgov`` inherits them.

Nobody hears a recording without an open, authorised case (policy 4 and 8): ``may_listen`` allows a
person with an unexpired listening grant, an authoriser who may do an open authorisation task of a case
concerning the recording, or the DPO on such an open case (never the case's own requester) — and every
decision, allowed or not, is an audit event. A delivery link carries a random token; only its SHA-256
is stored, so the database never holds a usable link.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.access import may_do_task
from engine.audio_cache import AudioCache
from engine.breach_evidence import investigating_case
from engine.catalogue import Page, recordings_by_id, search_recordings
from engine.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.facade_parts import FacadeParts
from engine.instances import Snapshot, WorkflowSummary, load_case, task_view
from engine.models import HumanTask, ProcessInstance
from engine.models.recording import Recording
from engine.models.releases import DisclosurePackage, DisclosureRecord, ListeningGrant, ReleaseRecording
from engine.roles import AUTHORISER_ROLES
from engine.views import InstanceView, json_ready

if TYPE_CHECKING:
    pass

RELEASE_PROCESS = "recording_release"
MAX_PICKED = 10
"""The most recordings one request may name from the search (as the request check allows)."""
SEARCH_ROLES = AUTHORISER_ROLES | {"it_helpdesk"}
"""Who may search the catalogue: a search shows who called whom and when, so only the authorisers,
the DPO and the IT helpdesk (who support the telephony) may run one; everyone else asks by request."""
LINK_PATH = "/disclosure/"
SPOOL_IN_MEMORY = 16 * 1024 * 1024
CHUNK = 64 * 1024
REGISTER_COLUMNS = (
    "case_ref", "kind", "disclosed_at", "recipient_name", "recipient_job_title", "recipient_organisation",
    "third_party", "third_party_details", "reason", "purpose", "lawful_basis", "delivery_method", "recordings",
    "requested_by", "requested_at", "authoriser", "authorised_at", "recorded_at",
)


def new_link_token() -> str:
    """A fresh, unguessable delivery-link token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def link_path(token: str) -> str:
    """The web UI path of a delivery link (``/disclosure/<token>``)."""
    return LINK_PATH + token


class LinkGone(PermissionDenied):
    """A delivery link that has expired or been used as many times as allowed."""


class RangeNotSatisfiable(InvalidInput):
    """A byte range that starts past the end of the recording (HTTP 416)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"The range starts past the end of the recording ({size} bytes)", {"range": "past the end"})
        self.size = size


@dataclass(frozen=True)
class RecordingAccess:
    """A recording a case concerns, and whether the viewer may listen to it now (not audited: the
    page that plays it asks ``may_listen``, which is)."""

    recording_id: int
    start_time: datetime
    duration_seconds: int | None
    direction: str | None
    external_number: str | None
    extension: str | None
    staff_name: str | None
    may_listen: bool
    basis: str | None
    until: datetime | None


@dataclass(frozen=True)
class AccessDecision:
    """Whether a person may listen to a recording now, and under which case (``basis``: ``grant``,
    ``authoriser`` or ``dpo``)."""

    allowed: bool
    username: str
    recording_id: int
    case_ref: str | None
    basis: str | None
    reason: str
    until: datetime | None = None


@dataclass(frozen=True)
class Playback:
    """An authorised playback: the audio as chunks (iterate once, then ``close``)."""

    recording_id: int
    case_ref: str
    content_type: str
    source: str
    """``retained`` (our stored copy) or ``provider`` (fetched from the telephony provider)."""
    chunks: Iterable[bytes]
    size: int | None = None
    total_size: int | None = None
    """The whole recording's size, for ``Content-Range`` (``size`` is the part being sent)."""
    first_byte: int = 0
    """Where the part being sent starts (a suffix range is resolved against the size)."""

    def close(self) -> None:
        """Release what the stream holds (a file, a connection) if it was not read to the end."""
        _close(self.chunks)


@dataclass(frozen=True)
class DisclosureEntry:
    """One row of the disclosure register as the DPO reads it."""

    case_ref: str
    kind: str
    disclosed_at: datetime | None
    recipient_name: str | None
    recipient_job_title: str | None
    recipient_organisation: str | None
    third_party: bool
    third_party_details: str | None
    reason: str
    purpose: str
    lawful_basis: str
    delivery_method: str | None
    recordings: tuple[dict[str, Any], ...]
    requested_by: str
    requested_at: datetime
    authoriser: str
    authorised_at: datetime
    recorded_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return json_ready({**self.__dict__, "recordings": list(self.recordings)})


@dataclass(frozen=True)
class PackageInfo:
    """What the recipient's landing page shows before the download."""

    case_ref: str
    terms: str
    files: tuple[dict[str, Any], ...]
    """``name``, ``sha256``, ``size`` of every file (the manifest is added to the download)."""
    expires_at: datetime
    uses_left: int
    acknowledged_by: str | None
    recipient_name: str | None
    recipient_organisation: str | None


@dataclass(frozen=True)
class PackageDownload:
    """The package as a zip stream: audio files, the PDF form and ``manifest.json``."""

    filename: str
    size: int
    chunks: Iterable[bytes]
    content_type: str = "application/zip"

    def close(self) -> None:
        """Release the temporary file if the zip was not read to the end."""
        _close(self.chunks)


class ReleasesMixin(FacadeParts):
    """Release use cases (mixed into ``Callgov``)."""

    # -- listening -------------------------------------------------------------------------------

    def may_listen(self, username: str, recording_id: int) -> AccessDecision:
        """Whether ``username`` may listen to the recording now, and under which case; always audited."""
        with self._tx() as s:
            decision = self._listen_decision(s, username, recording_id)
            self._audit(s, "recording.access_allowed" if decision.allowed else "recording.access_denied",
                        decision.username, case_ref=decision.case_ref, recording_id=str(recording_id),
                        detail={"basis": decision.basis, "reason": decision.reason})
            return decision

    def open_playback(self, username: str, recording_id: int, *,
                      byte_range: tuple[int, int | None] | None = None) -> Playback:
        """Stream a recording to someone an open case authorises: our kept copy if there is one, else
        the provider's (kept for a few minutes by ``engine.audio_cache`` so that a player's range
        requests cost one download in the provider's Heavy rate-limit group). Audited as
        ``recording.played`` with the case that authorised it (or ``recording.access_denied``).
        ``byte_range`` is inclusive, like HTTP's ``Range``."""
        with self._tx() as s:
            decision = self._listen_decision(s, username, recording_id)
            if not decision.allowed:
                self._audit(s, "recording.access_denied", decision.username, recording_id=str(recording_id),
                            detail={"reason": decision.reason, "action": "play"})
            else:
                row = s.get(Recording, recording_id)
                assert row is not None
                source = "retained" if row.retained_key else "provider"
                if source == "provider" and (row.deleted_at_provider is not None
                                             or row.provider_expires_at <= self.clock.now()):
                    raise NotFound(f"Recording #{recording_id} is no longer held by the provider and no copy was kept")
                key, sha256, content_type = row.retained_key, row.retained_sha256, row.content_type
                provider_id, content_uri = row.provider_recording_id, row.content_uri
                self._audit(s, "recording.played", decision.username, case_ref=decision.case_ref,
                            recording_id=str(recording_id), detail={"basis": decision.basis, "source": source,
                                                                    "range": list(byte_range) if byte_range else None})
        if not decision.allowed:
            raise PermissionDenied(decision.reason)
        assert decision.case_ref is not None
        if key is not None:
            storage = self.services.storage
            head = storage.head(key)
            total = head.size if head else None
            wanted = _resolve_range(total, byte_range)
            reader = storage.open_stream(key, expected_sha256=None if wanted else sha256, byte_range=wanted)
            return Playback(recording_id, decision.case_ref, content_type or (head.content_type if head else
                            "audio/mpeg"), source, reader, _range_size(total, wanted), total,
                            wanted[0] if wanted else 0)
        telephony = self.services.telephony
        audio = self._audio_cache().open(provider_id, lambda sink: telephony.download_recording(
            provider_id, sink, content_uri=content_uri))
        try:
            wanted = _resolve_range(audio.size, byte_range)
        except BaseException:
            audio.reader.close()
            raise
        return Playback(recording_id, decision.case_ref, audio.content_type or content_type or "audio/mpeg", source,
                        SpooledChunks(audio.reader, wanted, audio.size), _range_size(audio.size, wanted), audio.size,
                        wanted[0] if wanted else 0)

    def _audio_cache(self) -> AudioCache:
        """The process's cache of provider audio for playback (``engine.audio_cache``), made on first use."""
        cache: AudioCache | None = getattr(self, "_provider_audio", None)
        if cache is None:
            cache = self._provider_audio = AudioCache()
        return cache

    def search_catalogue(self, *, user: str, number: str | None = None, extension: str | None = None,
                         date_from: datetime | None = None, date_to: datetime | None = None,
                         direction: str | None = None, limit: int = 25, after: str | None = None) -> Page:
        """Search the recordings catalogue as ``user`` (``SEARCH_ROLES`` only); every search is audited."""
        with self._tx() as s:
            person = self._active_user(s, user)
            if not person.role_names & SEARCH_ROLES:
                raise PermissionDenied("Searching the recordings shows who called whom, so only authorisers, the Data "
                                       "Protection Officer and the IT helpdesk can do it. Ask for a recording by "
                                       "starting a release request instead.")
            return search_recordings(s, actor=person.username, now=self.clock.now(), number=number,
                                     extension=extension, date_from=date_from, date_to=date_to,
                                     direction=direction, limit=limit, after=after)

    def case_recordings(self, case_ref: str, *, user: str) -> list[RecordingAccess]:
        """The recordings a release case concerns, each with whether ``user`` may listen now; empty for
        a case that concerns none. The caller has checked that ``user`` may see the case."""
        with self._tx() as s:
            person = self._active_user(s, user)
            rows = s.scalars(select(Recording).join(ReleaseRecording, ReleaseRecording.recording_id == Recording.id)
                             .where(ReleaseRecording.case_ref == case_ref.strip().upper())
                             .order_by(Recording.start_time)).all()
            result = []
            for row in rows:
                decision = self._listen_decision(s, person.username, row.id)
                result.append(RecordingAccess(row.id, row.start_time, row.duration_seconds, row.direction,
                                              row.external_number, row.extension, row.staff_name, decision.allowed,
                                              decision.basis, decision.until))
            return result

    def recording_summary(self, recording_id: int) -> RecordingAccess:
        """When and between whom a recording was made (for the page of someone allowed to hear it)."""
        with self.db.reading() as s:
            row = s.get(Recording, recording_id)
            if row is None:
                raise NotFound(f"There is no recording #{recording_id}")
            return RecordingAccess(row.id, row.start_time, row.duration_seconds, row.direction, row.external_number,
                                   row.extension, row.staff_name, True, None, None)

    def _listen_decision(self, s: Session, username: str, recording_id: int) -> AccessDecision:
        person = self._active_user(s, username)
        if s.get(Recording, recording_id) is None:
            raise NotFound(f"There is no recording #{recording_id}")
        now = self.clock.now()
        grant = s.execute(select(ListeningGrant.case_ref, ListeningGrant.expires_at).join(
            ProcessInstance, ProcessInstance.case_ref == ListeningGrant.case_ref).where(
            ListeningGrant.username == person.username, ListeningGrant.recording_id == recording_id,
            ListeningGrant.expires_at > now, ListeningGrant.revoked_at.is_(None),
            ProcessInstance.status == "running").order_by(ListeningGrant.expires_at.desc())).first()
        if grant is not None:
            return AccessDecision(True, person.username, recording_id, grant.case_ref, "grant",
                                  "Listening access granted on approval", grant.expires_at)
        cases = s.execute(select(ProcessInstance.id, ProcessInstance.case_ref, ProcessInstance.started_by).join(
            ReleaseRecording, ReleaseRecording.case_ref == ProcessInstance.case_ref).where(
            ReleaseRecording.recording_id == recording_id, ProcessInstance.status == "running")
            .order_by(ProcessInstance.id)).all()
        if cases:
            by_id = {case.id: case for case in cases}
            tasks = s.execute(select(HumanTask).where(HumanTask.instance_id.in_(list(by_id)))).scalars()
            for task in map(task_view, tasks):
                if set(task.candidate_roles) & AUTHORISER_ROLES and may_do_task(task, person.username,
                                                                                  person.role_names):
                    return AccessDecision(True, person.username, recording_id, task.case_ref, "authoriser",
                                          "Authoriser of an open request concerning the recording")
            if "dpo" in person.role_names:
                for case in cases:
                    if case.started_by != person.username:
                        return AccessDecision(True, person.username, recording_id, case.case_ref, "dpo",
                                              "Data Protection Officer on an open case concerning the recording")
        breach = investigating_case(s, person.username, recording_id)
        if breach is not None:
            return AccessDecision(True, person.username, recording_id, breach, "investigator",
                                  "Investigator of the breach case concerning the recording")
        return AccessDecision(False, person.username, recording_id, None, None,
                              f"No open case authorises {person.username} to listen to recording #{recording_id}")

    # -- withdrawal ------------------------------------------------------------------------------

    def request_recordings(self, recording_ids: Sequence[int], *, user: str) -> InstanceView:
        """Start a release request for recordings picked from the catalogue search (specific by nature,
        so not a trawl); the requester then completes the rest of the request form."""
        ids = list(dict.fromkeys(int(i) for i in recording_ids))
        if not ids or len(ids) > MAX_PICKED:
            raise InvalidInput(f"Choose between 1 and {MAX_PICKED} recordings", {"recordings": "count"})
        with self.db.reading() as s:
            hits = recordings_by_id(s, ids, now=self.clock.now())
        if len(hits) != len(ids):
            raise NotFound("Some of those recordings are not in the catalogue")
        summary = "\n".join(f"#{h.id}: {h.start_time:%d %b %Y %H:%M} UTC, {h.external_number or 'withheld'} with "
                             f"{h.staff_name or 'extension ' + str(h.extension)}" for h in hits)
        return self.start(RELEASE_PROCESS, user=user,
                          data={"picked_recording_ids": ids, "picked_summary": summary})

    def withdraw(self, ref: str, *, user: str, reason: str) -> InstanceView:
        """The requester withdraws their release request: allowed until the recordings are released."""
        if not reason.strip():
            raise InvalidInput("Say why you are withdrawing the request", {"reason": "required"})
        with self._tx() as s:
            actor = self._active_user(s, user)
            case = load_case(s.connection(), ref, lock=True)
            if case.process_id != RELEASE_PROCESS:
                raise InvalidInput(f"Case {case.case_ref} is not a release request")
            if actor.username != case.started_by:
                raise PermissionDenied("Only the person who made the request can withdraw it")
            if case.status != "running":
                raise Conflict(f"Case {case.case_ref} is already {case.status}")
            compiled = self.specs.get(s, case.definition_version_id)
            runner = self._runner(s)
            workflow = runner.restore(case, compiled)
            if WorkflowSummary.of(workflow).data.get("released_at") is not None:
                raise Conflict(f"The recordings of {case.case_ref} have been released; the request can no longer "
                               "be withdrawn")
            before = Snapshot.of(workflow, compiled)
            workflow.cancel()
            case.status, case.ended_at = "cancelled", self.clock.now()
            case.end_reason = f"Withdrawn by the requester: {reason.strip()}"
            ready, summary = runner.save(case, workflow, before)
            self._audit(s, "release.withdrawn", actor.username, case_ref=case.case_ref,
                        detail={"reason": reason.strip()})
            return self._view(s, case, summary, compiled.name, self.specs.version_number(
                s, case.definition_version_id), ready)

    # -- the disclosure register -----------------------------------------------------------------

    def disclosure_register(self, *, user: str, since: datetime | None = None, until: datetime | None = None,
                            limit: int = 1000) -> list[DisclosureEntry]:
        """The register, newest first, for the DPO; viewing it is audited."""
        with self._tx() as s:
            entries = self._register(s, user, since, until, limit)
            self._audit(s, "disclosure.register_viewed", user.strip().lower(), detail={"rows": len(entries)})
            return entries

    def disclosure_register_csv(self, *, user: str, since: datetime | None = None,
                                until: datetime | None = None) -> str:
        """The register as CSV (times in ISO 8601 UTC), for the DPO; the export is audited."""
        with self._tx() as s:
            entries = self._register(s, user, since, until, 100_000)
            self._audit(s, "disclosure.register_exported", user.strip().lower(), detail={"rows": len(entries)})
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(REGISTER_COLUMNS)
        for entry in entries:
            values = entry.to_dict()
            values["recordings"] = "; ".join(f"#{r['recording_id']} sha256:{r.get('sha256') or '-'}"
                                             for r in entry.recordings)
            writer.writerow(["" if values[c] is None else values[c] for c in REGISTER_COLUMNS])
        return out.getvalue()

    def _register(self, s: Session, user: str, since: datetime | None, until: datetime | None,
                  limit: int) -> list[DisclosureEntry]:
        person = self._active_user(s, user)
        if "dpo" not in person.role_names:
            raise PermissionDenied("Only the Data Protection Officer can see the disclosure register")
        query = select(DisclosureRecord)
        if since is not None:
            query = query.where(DisclosureRecord.recorded_at >= since)
        if until is not None:
            query = query.where(DisclosureRecord.recorded_at < until)
        rows = s.scalars(query.order_by(DisclosureRecord.recorded_at.desc(), DisclosureRecord.id.desc())
                         .limit(limit)).all()
        return [DisclosureEntry(
            r.case_ref, r.kind, r.disclosed_at, r.recipient_name, r.recipient_job_title, r.recipient_organisation,
            r.third_party, r.third_party_details, r.reason, r.purpose, r.lawful_basis, r.delivery_method,
            tuple(r.recordings or ()), r.requested_by, r.requested_at, r.authoriser, r.authorised_at, r.recorded_at,
        ) for r in rows]

    # -- disclosure packages by delivery link ----------------------------------------------------

    def package_for_token(self, token: str) -> PackageInfo:
        """What a delivery link offers (for the landing page); refused and audited when it is unknown,
        expired or used up."""
        with self._tx() as s:
            package, refusal = self._usable_package(s, token, "open")
            if package is not None:
                self._audit(s, "disclosure.link_opened", _recipient(package), case_ref=package.case_ref)
                info = _package_info(package)
        if refusal is not None:
            raise refusal
        return info

    def acknowledge_package(self, token: str, *, name: str) -> PackageInfo:
        """The recipient accepts the terms of release, typing their name; required before a download."""
        name = " ".join(name.split())
        if not name:
            raise InvalidInput("Type your name to accept the terms", {"name": "required"})
        if len(name) > 200:
            raise InvalidInput("The name is too long", {"name": "at most 200 characters"})
        with self._tx() as s:
            package, refusal = self._usable_package(s, token, "acknowledge")
            if package is not None:
                if package.acknowledged_at is None:
                    package.acknowledged_at, package.acknowledged_by = self.clock.now(), name
                self._audit(s, "disclosure.terms_acknowledged", _recipient(package), case_ref=package.case_ref,
                            detail={"name": name})
                info = _package_info(package)
        if refusal is not None:
            raise refusal
        return info

    def download_package(self, token: str) -> PackageDownload:
        """The package as a zip (audio, PDF form, manifest), counting one use of the link.

        The files are read and checked against their SHA-256 before the use is counted, so a failed
        read costs no use. The first download is the date of disclosure in the register.
        """
        with self._tx() as s:
            package, refusal = self._usable_package(s, token, "download")
            if package is not None and package.acknowledged_at is None:
                self._audit(s, "disclosure.link_refused", _recipient(package), case_ref=package.case_ref,
                            detail={"why": "terms not acknowledged", "action": "download"})
                refusal = PermissionDenied("Accept the terms of release before downloading")
            if package is not None:
                package_id, case_ref = package.id, package.case_ref
                files = [*package.files, {"name": "manifest.json", "key": package.manifest_key,
                                          "sha256": package.manifest_sha256}]
        if refusal is not None:
            raise refusal
        spool = self._zip(files)
        with self._tx() as s:
            refusal = self._count_download(s, package_id, case_ref)
        if refusal is not None:
            spool.close()
            raise refusal
        size = spool.seek(0, io.SEEK_END)
        return PackageDownload(f"{case_ref}-disclosure.zip", size, SpooledChunks(spool, None, size))

    def _usable_package(self, s: Session, token: str,
                        action: str) -> tuple[DisclosurePackage | None, Exception | None]:
        """The package of ``token`` if its link may be used now; else ``None`` and the refusal to raise
        once the transaction (with its audit event) has committed."""
        package = s.scalars(select(DisclosurePackage).where(
            DisclosurePackage.token_sha256 == token_digest(token)).with_for_update()).first()
        now = self.clock.now()
        why: str | None = None
        error: Exception | None = None
        if package is None:
            why, error = "unknown", NotFound("This download link is not valid")
        elif package.expires_at <= now:
            why, error = "expired", LinkGone(f"This download link expired on {package.expires_at:%d %B %Y}")
        elif package.uses >= package.max_uses:
            why, error = "used up", LinkGone("This download link has been used as many times as allowed")
        if error is None:
            return package, None
        self._audit(s, "disclosure.link_refused", _recipient(package), case_ref=package.case_ref if package else None,
                    detail={"why": why, "action": action})
        return None, error

    def _count_download(self, s: Session, package_id: int, case_ref: str) -> Exception | None:
        """Count one use (atomically, so concurrent downloads cannot exceed the limit); the first use
        completes the register row. Returns the refusal if the link was used up meanwhile."""
        now = self.clock.now()
        counted = s.execute(update(DisclosurePackage).where(
            DisclosurePackage.id == package_id, DisclosurePackage.uses < DisclosurePackage.max_uses,
            DisclosurePackage.expires_at > now).values(uses=DisclosurePackage.uses + 1, last_download_at=now)
            .returning(DisclosurePackage.uses)).scalar()
        if counted is None:
            self._audit(s, "disclosure.link_refused", f"recipient:{case_ref}", case_ref=case_ref,
                        detail={"why": "used up or expired", "action": "download"})
            return LinkGone("This download link has been used as many times as allowed")
        if counted == 1:
            s.execute(update(DisclosurePackage).where(DisclosurePackage.id == package_id)
                      .values(first_download_at=now))
            s.execute(update(DisclosureRecord).where(DisclosureRecord.package_id == package_id,
                                                     DisclosureRecord.disclosed_at.is_(None)).values(disclosed_at=now))
        self._audit(s, "disclosure.downloaded", f"recipient:{case_ref}", case_ref=case_ref,
                    detail={"use": counted, "first": counted == 1})
        return None

    def _zip(self, files: list[dict[str, Any]]) -> IO[bytes]:
        """The files in a zip (stored, not deflated: audio and PDF are compressed already), spooled."""
        storage = self.services.storage
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        try:
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
                for item in files:
                    with archive.open(item["name"], "w", force_zip64=True) as member, \
                            storage.open_stream(item["key"], expected_sha256=item["sha256"]) as reader:
                        for chunk in reader:
                            member.write(chunk)
        except BaseException:
            spool.close()
            raise
        return spool


def _close(chunks: Iterable[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if callable(close):
        close()


def _recipient(package: DisclosurePackage | None) -> str:
    return f"recipient:{package.case_ref}" if package is not None else "recipient:unknown"


def _package_info(package: DisclosurePackage) -> PackageInfo:
    files = tuple({"name": f["name"], "sha256": f["sha256"], "size": f["size"]} for f in package.files)
    return PackageInfo(package.case_ref, package.terms, files, package.expires_at, package.max_uses - package.uses,
                       package.acknowledged_by, package.recipient_name, package.recipient_organisation)


def _resolve_range(size: int | None, byte_range: tuple[int, int | None] | None) -> tuple[int, int | None] | None:
    """``byte_range`` made concrete: a negative first byte means that many bytes from the end (HTTP's
    suffix range ``bytes=-N``); ``RangeNotSatisfiable`` if it starts past the end."""
    if byte_range is None:
        return None
    first, last = byte_range
    if size is None:
        if first < 0:
            raise RangeNotSatisfiable(0)
        return byte_range
    if first < 0:
        first, last = max(0, size + first), None
    if first >= size:
        raise RangeNotSatisfiable(size)
    return first, None if last is None else min(last, size - 1)


def _range_size(size: int | None, byte_range: tuple[int, int | None] | None) -> int | None:
    if size is None or byte_range is None:
        return size
    first, last = byte_range
    return max(0, min(size - 1, last if last is not None else size - 1) - first + 1)


class SpooledChunks:
    """The bytes of an open file (a spooled temporary file, or a reader of the playback cache), or a
    range of them, as chunks; closes the file when the chunks run out or on ``close()`` (also a
    context manager), whichever comes first."""

    def __init__(self, spool: IO[bytes], byte_range: tuple[int, int | None] | None, size: int | None) -> None:
        self._spool = spool
        self._first = byte_range[0] if byte_range else 0
        self._left = _range_size(size, byte_range) if byte_range else None

    def __iter__(self) -> Iterator[bytes]:
        try:
            self._spool.seek(self._first)
            left = self._left
            while left is None or left > 0:
                chunk = self._spool.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Release the temporary file."""
        self._spool.close()

    def __enter__(self) -> SpooledChunks:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
