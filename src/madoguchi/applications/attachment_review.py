"""Staff open the files of an application: a preview beside the answers, and a download.

Who may: any staff member of the application's organisation (a viewer too: reading the
case is their work). Another organisation's application, or a file of another application,
does not exist for them (``DoesNotExist``, a 404 at the edge), whatever id is made up.

What a file is, for staff:

- 検査済み (``scanned``): clamd called it clean when it was uploaded.
- 未検査 (not ``scanned``): no virus scanner was configured then; shown, marked.
- 要注意 (suspicious): the stored bytes no longer pass the checks of an upload
  (:func:`madoguchi.applications.uploads.stored_upload_problem`: another type than recorded,
  a web page or archive inside, active content in a PDF). Never shown in the browser; it
  can only be downloaded, as an opaque file, with the reason shown.
- 読み取れない: missing, not decryptable with the keys, or changed since it was stored
  (its SHA-256 differs). Neither shown nor downloadable
  (:class:`~madoguchi.applications.attachments.AttachmentUnreadable`).

Every read of the bytes (inline view or download) is one audit event naming the
application and the file's id, never its name or content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from django.db import transaction

from madoguchi.applications.attachments import AttachmentUnreadable, attachment_open
from madoguchi.applications.models import Application, Attachment
from madoguchi.applications.uploads import stored_upload_problem
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation

#: Kinds a browser shows by itself: images in ``<img>``, PDFs in a frame.
PREVIEW_KINDS: Final = frozenset({"jpeg", "png", "pdf"})

Purpose = Literal["view", "download"]


class AttachmentNotShown(Exception):
    """The file may not be shown in the browser (``message``: why, in Japanese)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AttachmentState:
    """What staff are told about one file before they open it."""

    attachment: Attachment
    #: "scanned", "unscanned", "suspicious" or "unreadable".
    state: str
    #: Why it is suspicious or unreadable (Japanese), else empty.
    problem: str

    @property
    def previewable(self) -> bool:
        """Shown inline: readable, not suspicious, of a kind the browser displays."""
        return self.state in ("scanned", "unscanned") and self.attachment.kind in PREVIEW_KINDS

    @property
    def downloadable(self) -> bool:
        return self.state != "unreadable"


@dataclass(frozen=True)
class AttachmentContent:
    """The bytes served and how: ``inline`` only for a file that passed the checks."""

    attachment: Attachment
    data: bytes
    suspicious: bool


def _parse_id(attachment_id: object) -> uuid.UUID | None:
    if isinstance(attachment_id, uuid.UUID):
        return attachment_id
    try:
        return uuid.UUID(str(attachment_id)[:64])
    except ValueError:
        return None


def attachment_of_application(
    *, organisation: Organisation, application: Application, attachment_id: object
) -> Attachment:
    """One file of an application of ``organisation``; raises ``Attachment.DoesNotExist``
    for another organisation's application, another application's file or a made-up id."""
    pk = _parse_id(attachment_id)
    if pk is None or application.organisation_id != organisation.pk:
        raise Attachment.DoesNotExist
    return Attachment.objects.get(
        pk=pk, application=application, organisation=organisation, application__isnull=False
    )


def _state(attachment: Attachment) -> tuple[str, bytes | None, str]:
    try:
        data = attachment_open(attachment=attachment)
    except AttachmentUnreadable as error:
        return (
            "unreadable",
            None,
            f"ファイルを読み取れません（{error}）。運用担当者に連絡してください。",
        )
    problem = stored_upload_problem(data=data, kind=attachment.kind)
    if problem:
        return "suspicious", data, problem
    return ("scanned" if attachment.scanned else "unscanned"), data, ""


def attachment_state(
    *, organisation: Organisation, application: Application, attachment_id: object
) -> AttachmentState:
    """Whether one file can be previewed, after reading and checking its stored bytes
    (nothing is served, so nothing is audited). Raises ``Attachment.DoesNotExist``."""
    attachment = attachment_of_application(
        organisation=organisation, application=application, attachment_id=attachment_id
    )
    state, _data, problem = _state(attachment)
    return AttachmentState(attachment=attachment, state=state, problem=problem)


def attachment_read(
    *,
    organisation: Organisation,
    staff: Staff,
    application: Application,
    attachment_id: object,
    purpose: Purpose,
    now: datetime,
) -> AttachmentContent:
    """The bytes of one file of an application, for a staff member of its organisation to
    see (``purpose="view"``, inline) or to download, and the audit event of that read.

    Guarantees: the staff member, the application and the file are of ``organisation``
    (else ``Attachment.DoesNotExist``); the bytes are the ones stored (SHA-256 checked, else
    :class:`~madoguchi.applications.attachments.AttachmentUnreadable`); a suspicious file is
    never returned for viewing (:class:`AttachmentNotShown`) and is marked ``suspicious`` for
    a download; one ``attachment.viewed`` / ``attachment.downloaded`` audit event, in its own
    transaction, is written before the bytes are returned. Nothing is audited when refused.
    """
    if staff.organisation_id != organisation.pk:
        raise Attachment.DoesNotExist
    attachment = attachment_of_application(
        organisation=organisation, application=application, attachment_id=attachment_id
    )
    state, data, problem = _state(attachment)
    if data is None:
        raise AttachmentUnreadable(problem)
    if purpose == "view" and (state == "suspicious" or attachment.kind not in PREVIEW_KINDS):
        raise AttachmentNotShown(
            problem or "この種類のファイルは画面に表示できません。ダウンロードして開いてください。"
        )
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.ATTACHMENT_VIEWED
            if purpose == "view"
            else AuditAction.ATTACHMENT_DOWNLOADED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="attachment",
            target_id=attachment.pk.hex,
            detail={
                "application": application.pk,
                "kind": attachment.kind,
                "state": state,
            },
        )
    return AttachmentContent(attachment=attachment, data=data, suspicious=state == "suspicious")


def attachment_states(
    *, organisation: Organisation, application: Application
) -> list[AttachmentState]:
    """Every file of the application of ``organisation`` in upload order, each read and
    checked (so that a suspicious or unreadable file is marked in the list before anyone
    opens it); another organisation's application: none. Nothing is served or audited."""
    if application.organisation_id != organisation.pk:
        return []
    rows = Attachment.objects.filter(application=application, organisation=organisation)
    states = []
    for attachment in rows.order_by("created_at", "pk"):
        state, _data, problem = _state(attachment)
        states.append(AttachmentState(attachment=attachment, state=state, problem=problem))
    return states
