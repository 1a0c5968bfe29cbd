"""Carrying out an approved release: listening access for internal reviews, a disclosure package for a
third party, and the disclosure register row for both (policy 2.3, Appendix 1 and its form)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from connectors.storage import ObjectStore
from engine import audit
from engine.errors import WorkflowFailed
from engine.models.recording import Recording
from engine.models.releases import DisclosurePackage, DisclosureRecord, ListeningGrant
from engine.operations import OperationContext
from engine.releases import link_path, new_link_token, token_digest
from workflows.release._form import LAWFUL_BASES, REASONS, TERMS, form_values, shown
from workflows.release._pdf import release_form_pdf
from workflows.release._people import contact, send
from workflows.release._recordings import retain_copy
from workflows.release._request import ACTOR
from workflows.release._settings import ReleaseSettings


def grant_listening_access(settings: ReleaseSettings, ctx: OperationContext) -> dict[str, Any]:
    """``release.grant_listening_access``: the requester may listen to the case's recordings for a while."""
    now = ctx.now()
    expires = now + timedelta(days=settings.listening_days)
    authoriser = str(ctx.data["authoriser"])
    ids = list(ctx.data["recording_ids"])
    ctx.session.execute(insert(ListeningGrant), [
        {"case_ref": ctx.case_ref, "username": ctx.started_by, "recording_id": rid, "granted_by": authoriser,
         "granted_at": now, "expires_at": expires} for rid in ids])
    audit.record(ctx.session, action="release.listening_granted", actor=authoriser, case_ref=ctx.case_ref, at=now,
                 detail={"to": ctx.started_by, "recording_ids": ids, "until": expires.isoformat()})
    return {"access_expires_at": expires, "released_at": now, "release_kind": "listening"}


def build_disclosure_package(settings: ReleaseSettings, ctx: OperationContext) -> dict[str, Any]:
    """``release.build_disclosure_package``: audio, PDF form and manifest in storage, and a delivery link.

    The link's token goes only into the mail that delivers it; the database keeps its SHA-256.
    """
    now = ctx.now()
    storage: ObjectStore = ctx.services.storage
    prefix = f"disclosures/{ctx.case_ref}"
    files = _audio_files(ctx, now)
    released = [(f["name"], f["sha256"]) for f in files]
    pdf = release_form_pdf(
        organisation=settings.organisation, case_ref=ctx.case_ref, recordings=released, terms=TERMS, created_at=now,
        fields=form_values(ctx.data, case_ref=ctx.case_ref,
                           date_of_disclosure="The date of the first download of this package"))
    pdf_name = f"{ctx.case_ref}-release-form.pdf"
    stored = storage.put_stream(f"{prefix}/{pdf_name}", [pdf], content_type="application/pdf")
    files.append({"name": pdf_name, "key": stored.key, "sha256": stored.sha256, "size": stored.size,
                  "content_type": "application/pdf", "recording_id": None})
    manifest = _manifest(settings, ctx, files, now)
    stored_manifest = storage.put_stream(f"{prefix}/manifest.json", [manifest], content_type="application/json")
    token = new_link_token()
    expires = now + timedelta(days=settings.link_days)
    to = _link_address(ctx)
    package_id = ctx.session.execute(insert(DisclosurePackage).values(
        case_ref=ctx.case_ref, token_sha256=token_digest(token), created_at=now, expires_at=expires,
        max_uses=settings.link_uses, uses=0, recipient_name=ctx.data.get("recipient_name"),
        recipient_organisation=ctx.data.get("recipient_organisation"), delivered_to=to, terms=TERMS, files=files,
        manifest_key=stored_manifest.key, manifest_sha256=stored_manifest.sha256,
    ).returning(DisclosurePackage.id)).scalar_one()
    audit.record(ctx.session, action="disclosure.package_built", actor=ACTOR, case_ref=ctx.case_ref, at=now,
                 detail={"package_id": package_id, "files": [[f["name"], f["sha256"]] for f in files],
                         "manifest_sha256": stored_manifest.sha256, "expires_at": expires.isoformat(),
                         "max_uses": settings.link_uses})
    link = settings.base_url + link_path(token)
    send(ctx, [to], f"{settings.organisation}: call recording for you ({ctx.case_ref})",
         _link_letter(settings, ctx, link, expires), what="disclosure_link")
    return {"package_id": package_id, "package_files": [{k: f[k] for k in ("name", "sha256", "size")} for f in files],
            "manifest_sha256": stored_manifest.sha256, "link_expires_at": expires, "link_uses": settings.link_uses,
            "link_sent_to": to, "released_at": now, "release_kind": "package"}


def _audio_files(ctx: OperationContext, now: datetime) -> list[dict[str, Any]]:
    """Every attached recording as a stored file, copying from the provider those not kept yet."""
    rows = ctx.session.scalars(select(Recording).where(Recording.id.in_(list(ctx.data["recording_ids"])))
                               .order_by(Recording.start_time, Recording.id)).all()
    files = []
    for row in rows:
        if row.retained_key is None:
            if row.deleted_at_provider is not None or row.provider_expires_at <= now:
                raise WorkflowFailed(f"Recording #{row.id} is no longer held by the provider and no copy was kept")
            retain_copy(ctx.session, ctx.services, row, now=now, case_ref=ctx.case_ref)
        head = ctx.services.storage.head(row.retained_key)
        extension = "." + row.retained_key.rsplit(".", 1)[-1] if "." in row.retained_key.rsplit("/", 1)[-1] else ""
        files.append({"name": f"{ctx.case_ref}-recording-{row.id}{extension}", "key": row.retained_key,
                      "sha256": row.retained_sha256, "size": head.size if head else None,
                      "content_type": row.content_type or "audio/mpeg", "recording_id": row.id})
    if not files:
        raise WorkflowFailed("The case has no recordings to release")
    return files


def _manifest(settings: ReleaseSettings, ctx: OperationContext, files: list[dict[str, Any]], now: datetime) -> bytes:
    data = ctx.data
    manifest = {
        "case_ref": ctx.case_ref,
        "organisation": settings.organisation,
        "created_at": now.isoformat(),
        "terms": TERMS,
        "recipient": {"name": data.get("recipient_name"), "job_title": data.get("recipient_job_title"),
                      "organisation": data.get("recipient_organisation")},
        "reason": REASONS.get(str(data.get("reason")), data.get("reason")),
        "purpose": data.get("purpose"),
        "lawful_basis": LAWFUL_BASES.get(str(data.get("lawful_basis")), data.get("lawful_basis")),
        "authoriser": data.get("authoriser"),
        "authorised_at": shown(data.get("authorised_at")),
        "files": [{"name": f["name"], "sha256": f["sha256"], "size": f["size"], "content_type": f["content_type"],
                   "recording_id": f["recording_id"]} for f in files],
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False).encode()


def _link_address(ctx: OperationContext) -> str:
    if ctx.data.get("delivery_method") == "link_to_recipient" and ctx.data.get("recipient_email"):
        return str(ctx.data["recipient_email"])
    requester = contact(ctx.session, ctx.started_by)
    if not requester.email:
        raise WorkflowFailed(f"The requester {ctx.started_by} has no email address to send the delivery link to")
    return requester.email


def _link_letter(settings: ReleaseSettings, ctx: OperationContext, link: str, expires: datetime) -> str:
    return (
        f"{settings.organisation} has authorised the release of call recordings to "
        f"{ctx.data.get('recipient_name') or 'you'} ({ctx.data.get('recipient_organisation') or '-'}), "
        f"case {ctx.case_ref}.\n\n"
        f"Download them here: {link}\n\n"
        f"The link works until {shown(expires)} and for {settings.link_uses} downloads. You will be asked to "
        f"accept the terms of release first:\n{TERMS}\n\nDo not forward this message: the link is for the "
        "named recipient only.\n")


def record_disclosure(ctx: OperationContext) -> dict[str, Any]:
    """``release.record_disclosure``: the disclosure register row of this release.

    For listening access the date of disclosure is now; for a package it is set by the first
    download (``Callgov.download_package``).
    """
    now = ctx.now()
    data = ctx.data
    package_id = data.get("package_id")
    if package_id is not None:
        package = ctx.session.get(DisclosurePackage, package_id)
        assert package is not None
        disclosed = [{"recording_id": f["recording_id"], "name": f["name"], "sha256": f["sha256"]}
                     for f in package.files if f["recording_id"] is not None]
    else:
        rows = ctx.session.execute(select(Recording.id, Recording.provider_recording_id, Recording.retained_sha256)
                                   .where(Recording.id.in_(list(data["recording_ids"])))).all()
        disclosed = [{"recording_id": r.id, "name": r.provider_recording_id, "sha256": r.retained_sha256}
                     for r in rows]
    requester = contact(ctx.session, ctx.started_by)
    listening = package_id is None
    record_id = ctx.session.execute(insert(DisclosureRecord).values(
        case_ref=ctx.case_ref, package_id=package_id, kind="listening" if listening else "package", recorded_at=now,
        disclosed_at=now if listening else None, requested_by=ctx.started_by, requested_at=data["started_at"],
        recipient_name=requester.name if listening else data.get("recipient_name"),
        recipient_job_title=requester.job_title if listening else data.get("recipient_job_title"),
        recipient_organisation=data.get("recipient_organisation") if not listening else None,
        third_party=bool(data.get("third_party")), third_party_details=data.get("third_party_details"),
        reason=data["reason"], purpose=data["purpose"], lawful_basis=data["lawful_basis"],
        delivery_method="listening_access" if listening else data.get("delivery_method"),
        recordings=disclosed, authoriser=data["authoriser"], authorised_at=data["authorised_at"],
    ).returning(DisclosureRecord.id)).scalar_one()
    audit.record(ctx.session, action="disclosure.recorded", actor=ACTOR, case_ref=ctx.case_ref, at=now,
                 detail={"register_id": record_id, "kind": "listening" if listening else "package",
                         "recordings": [[d["recording_id"], d["sha256"]] for d in disclosed]})
    return {"register_id": record_id}
