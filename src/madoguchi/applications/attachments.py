"""添付ファイル: store an upload for an attachment field, read it back, delete and purge.

A file is inspected (:mod:`madoguchi.applications.uploads`), scanned by clamd where
``MADOGUCHI_CLAMD`` is set (:mod:`madoguchi.applications.virus`), then written encrypted to
the file storage (``storages["default"]``, by default ``DATA_DIR/files``) as
``<yyyy>/<uuid hex>`` (the year of its upload, Japan time) before its row is created. The
row records whether clamd called the file clean (``scanned``) or no scanner looked at it. Until an application claims it (``services.claim_attachments``) it belongs to its
uploader: an account (``owner``) or, without an account, a random ``guest_key`` kept in the
guest's session.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from madoguchi.applications.constants import (
    ATTACHMENT_DEFAULT_ACCEPT,
    ATTACHMENT_DEFAULT_MAX_BYTES,
    ATTACHMENT_DEFAULT_MAX_FILES,
    ATTACHMENT_MAX_BYTES_PER_APPLICATION,
    ATTACHMENT_MAX_FILES_PER_APPLICATION,
    CLAMD_TIMEOUT_SECONDS,
    DRAFT_LIFETIME,
    PAPER_FORM_FIELD,
    PAPER_FORM_MAX_BYTES,
)
from madoguchi.applications.models import Application, Attachment, Draft
from madoguchi.applications.uploads import UploadRefused, inspect_upload, upload_too_large
from madoguchi.applications.virus import (
    ScannerError,
    ScannerUnavailable,
    clamd_address_parse,
    clamd_scan,
)
from madoguchi.catalog.models import Procedure
from madoguchi.core.crypto import DecryptionFailed, decrypt_bytes, encrypt_bytes
from madoguchi.core.metrics import STORAGE_ERRORS, VIRUS_SCANS
from madoguchi.core.storage import TEMPORARY_PREFIX, TEMPORARY_SUFFIX, StorageUnavailable
from madoguchi.core.text import strip_invisible
from madoguchi.core.time import to_tokyo
from madoguchi.forms.base import FieldSpec
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

logger = logging.getLogger(__name__)

GUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TRY_LATER = (
    "ただいまファイルの安全確認ができないため、添付を受け付けられません。"
    "しばらくしてからもう一度お試しください。"
)

#: The file store cannot be reached (object storage away, disk full): nothing was stored.
_STORE_LATER = (
    "ただいまファイルを保存できないため、添付を受け付けられませんでした。"
    "しばらくしてからもう一度お試しください。"
)
_READ_LATER = "ただいま添付ファイルを読み出せません。しばらくしてからもう一度お試しください。"


class AttachmentUnreadable(RuntimeError):
    """A stored file is missing, cannot be decrypted or no longer matches its checksum."""


#: The alias in ``STORAGES`` that holds attachment files.
STORAGE_ALIAS = "default"


def _storage() -> Storage:
    return storages[STORAGE_ALIAS]


def attachment_storage_name(attachment: Attachment) -> str:
    """The name of the encrypted bytes of ``attachment`` in the file storage."""
    year = to_tokyo(attachment.created_at).year
    return f"{year:04d}/{attachment.pk.hex}"


def attachment_answer(attachment: Attachment) -> dict[str, Any]:
    """What an attachment answer holds for this file, as ``AttachmentField`` expects it."""
    return {
        "id": attachment.pk.hex,
        "name": attachment.name,
        "kind": attachment.kind,
        "size": attachment.size,
    }


def _attachment_field(procedure: Procedure, field_key: str) -> FieldSpec | None:
    """The attachment field called ``field_key`` (top level, or ``group.child`` / ``child``
    inside a repeatable group) in the procedure's form version."""
    if not isinstance(field_key, str) or not field_key:
        return None
    if field_key == PAPER_FORM_FIELD:  # staff's scan of a paper application (received.py)
        return FieldSpec(
            key=PAPER_FORM_FIELD,
            type="attachment",
            label="紙の申請書（スキャン）",
            options={"accept": ["pdf", "jpeg", "png"], "max_bytes": PAPER_FORM_MAX_BYTES},
        )
    fields = form_spec(procedure.form_version).field_map()
    found = fields.get(field_key)
    if found is None:
        found = next((f for path, f in fields.items() if path.endswith(f".{field_key}")), None)
    return found if found is not None and found.type == "attachment" else None


def _owned(owner: User | None, guest_key: str) -> Q:
    """Unclaimed files of one uploader; raises ValueError when neither is given (a bug)."""
    owner_id = owner.pk if owner is not None else None
    if owner_id is not None:
        return Q(owner_id=owner_id, application__isnull=True)
    if isinstance(guest_key, str) and GUEST_KEY_PATTERN.match(guest_key):
        return Q(owner__isnull=True, guest_key=guest_key, application__isnull=True)
    raise ValueError("an attachment belongs to an account or to a guest key")


def attachment_store(
    *,
    procedure: Procedure,
    field_key: str,
    owner: User | None = None,
    guest_key: str = "",
    name: str,
    data: bytes,
    now: datetime,
    application: Application | None = None,
) -> Attachment:
    """Check, scan, encrypt and store one upload for an attachment field of the procedure.

    Guarantees: the file is of a type the field accepts (by content) and within its size;
    the uploader's unclaimed files for this procedure, with the files ``application`` (when
    answering a correction) already holds, stay within 20 files and 50 MB; where clamd is
    configured it called the file clean (``scanned``); the encrypted bytes are in the file
    storage before the row exists. Nothing is stored when anything is refused.
    ``owner`` (an account) wins over ``guest_key``; one of them is required (ValueError).
    Raises :class:`~madoguchi.applications.uploads.UploadRefused` (Japanese message).
    """
    mine = _owned(owner, guest_key)
    if application is not None:
        mine |= Q(application=application)
    field = _attachment_field(procedure, field_key)
    if field is None:
        raise UploadRefused("この項目にはファイルを添付できません。")
    accept = list(field.option("accept", list(ATTACHMENT_DEFAULT_ACCEPT)))
    max_bytes = int(field.option("max_bytes", ATTACHMENT_DEFAULT_MAX_BYTES))
    _check_totals(procedure, mine, extra_bytes=0)  # already full: spare the inspection
    clean = inspect_upload(name=name, data=data, accept=accept, max_bytes=max_bytes)
    _check_totals(procedure, mine, extra_bytes=clean.size)
    scanned = _scan(clean.data, procedure=procedure, sha256=clean.sha256)
    attachment = Attachment(
        organisation_id=procedure.organisation_id,
        procedure=procedure,
        field_key=field.key,
        owner=owner,
        guest_key="" if owner is not None else guest_key,
        name=clean.name,
        kind=clean.kind,
        content_type=clean.content_type,
        size=clean.size,
        sha256=clean.sha256,
        scanned=scanned,
        created_at=now,
    )
    storage = _storage()
    try:
        stored_name = storage.save(
            attachment_storage_name(attachment), ContentFile(encrypt_bytes(clean.data))
        )
    except OSError as error:  # the object store is away, the disk is full …
        if not isinstance(error, StorageUnavailable):  # ObjectStorage counted it already
            STORAGE_ERRORS.labels(operation="save").inc()
        logger.error("attachments: file not stored (%s)", type(error).__name__)
        raise UploadRefused(_STORE_LATER) from None
    if stored_name != attachment_storage_name(attachment):  # a storage that renamed it
        storage.delete(stored_name)
        raise RuntimeError("the file storage did not keep the attachment's name")
    try:
        attachment.save(force_insert=True)
    except BaseException:
        storage.delete(stored_name)  # no row, no file: nothing half-stored
        raise
    return attachment


@dataclass
class UploadBatch:
    """What :func:`attachments_upload` did with the files chosen for one field."""

    #: The field's answer: the files kept, then the ones stored now (``attachment_answer``).
    items: list[dict[str, Any]] = field(default_factory=list)
    #: One Japanese sentence per refused file, led by its name made safe to show.
    refusals: list[str] = field(default_factory=list)

    @property
    def error(self) -> str:
        return " ".join(self.refusals)


def attachments_upload(
    *,
    procedure: Procedure,
    field_key: str,
    files: Sequence[File[Any]],
    kept: Sequence[dict[str, Any]] = (),
    owner: User | None = None,
    guest_key: str = "",
    application: Application | None = None,
    now: datetime,
) -> UploadBatch:
    """Store the files a person chose for one attachment field: the one way every flow
    (applying, answering a correction) takes uploads.

    Guarantees: the field's answer never holds more than its ``max_files`` (the files beyond
    are refused, not stored); a file over the field's ``max_bytes`` is refused before it is
    read; every other file goes through :func:`attachment_store` (type by content, per
    application limits, virus scan, encryption). Each refusal names the file, cleaned of
    invisible and control characters. ``kept`` are the answer's files already there.
    """
    spec = _attachment_field(procedure, field_key)
    if spec is None:
        return UploadBatch(items=list(kept), refusals=["この項目にはファイルを添付できません。"])
    max_files = int(spec.option("max_files", ATTACHMENT_DEFAULT_MAX_FILES))
    max_bytes = int(spec.option("max_bytes", ATTACHMENT_DEFAULT_MAX_BYTES))
    batch = UploadBatch(items=list(kept))
    for upload in files:
        raw_name = str(getattr(upload, "name", "") or "")
        shown = strip_invisible(raw_name)[:80]
        try:
            if len(batch.items) >= max_files:
                raise UploadRefused(
                    f"この項目に添付できるファイルは{max_files}個までです。"
                    "不要なファイルを削除してから添付してください。"
                )
            size = getattr(upload, "size", None)
            if not isinstance(size, int) or size > max_bytes:
                raise upload_too_large(size, max_bytes)
            stored = attachment_store(
                procedure=procedure,
                field_key=field_key,
                owner=owner,
                guest_key=guest_key,
                name=raw_name,
                data=upload.read(max_bytes + 1),
                now=now,
                application=application,
            )
        except UploadRefused as error:
            batch.refusals.append(f"{shown}: {error}" if shown else str(error))
            continue
        batch.items.append(attachment_answer(stored))
    return batch


def _check_totals(procedure: Procedure, mine: Q, *, extra_bytes: int) -> None:
    # Counted before the insert: two uploads racing at the limit may both pass, which costs
    # one file over the limit at worst; the limit is about disk use, not a legal boundary.
    totals = Attachment.objects.filter(mine, procedure=procedure).aggregate(
        count=Count("pk"), size=Sum("size")
    )
    if (totals["count"] or 0) >= ATTACHMENT_MAX_FILES_PER_APPLICATION:
        raise UploadRefused(
            f"1つの申請に添付できるファイルは{ATTACHMENT_MAX_FILES_PER_APPLICATION}個までです。"
            "不要なファイルを削除してから添付してください。"
        )
    if (totals["size"] or 0) + extra_bytes > ATTACHMENT_MAX_BYTES_PER_APPLICATION:
        raise UploadRefused(
            "1つの申請に添付できるファイルは合計"
            f"{ATTACHMENT_MAX_BYTES_PER_APPLICATION // (1024 * 1024)}MBまでです。"
            "不要なファイルを削除するか、ファイルを小さくしてから添付してください。"
        )


def _scan(data: bytes, *, procedure: Procedure, sha256: str) -> bool:
    """True when clamd called the bytes clean, False when no scanner is configured.

    Fails closed: an unreachable or erring clamd refuses the upload. The log lines name the
    procedure and the file's checksum for the operator, never the file name or the uploader.
    """
    configured = str(getattr(settings, "CLAMD", "") or "")
    if not configured:
        VIRUS_SCANS.labels("not_scanned").inc()
        return False
    try:
        address = clamd_address_parse(configured)
        result = clamd_scan(address=address, data=data, timeout=CLAMD_TIMEOUT_SECONDS)
    except ValueError as error:
        logger.error("virus scan: MADOGUCHI_CLAMD is not usable: %s", error)
        raise UploadRefused(_TRY_LATER) from None
    except ScannerError as error:
        logger.error(
            "virus scan: clamd refused to scan (procedure %s, %d bytes): %s "
            "(is clamd's StreamMaxLength below the attachment limit?)",
            procedure.pk,
            len(data),
            error,
        )
        raise UploadRefused(_TRY_LATER) from None
    except ScannerUnavailable as error:
        logger.error("virus scan: clamd unavailable, upload refused: %s", error)
        raise UploadRefused(_TRY_LATER) from None
    if not result.clean:
        logger.warning(
            "virus scan: upload refused, clamd found %s (procedure %s, sha256 %s)",
            result.signature,
            procedure.pk,
            sha256,
        )
        raise UploadRefused(
            "このファイルからウイルスなどの有害なプログラムが見つかったため、受け付けられません。"
            "お使いの機器をウイルス対策ソフトで確認してから、元の書類をもう一度保存して"
            "添付してください。"
        )
    return True


def attachment_open(*, attachment: Attachment) -> bytes:
    """The stored bytes of ``attachment``, decrypted and checked against its SHA-256.

    The caller decides who may read it (its owner, or staff of the application's
    organisation). Raises :class:`AttachmentUnreadable` when the file is missing, the keys do
    not open it or its content changed.
    """
    try:
        with _storage().open(attachment_storage_name(attachment), "rb") as handle:
            token = handle.read()
    except StorageUnavailable:
        raise AttachmentUnreadable(_READ_LATER) from None
    except OSError:
        raise AttachmentUnreadable("添付ファイルが見つかりません。") from None
    try:
        data = decrypt_bytes(token)
    except DecryptionFailed as error:
        raise AttachmentUnreadable(str(error)) from None
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise AttachmentUnreadable("添付ファイルの内容が保存時と一致しません。")
    return data


def attachments_of_application(
    *, organisation: Organisation, application: Application
) -> list[Attachment]:
    """The files an application of ``organisation`` holds, in upload order, with whether a
    virus scanner called each clean (``scanned``); another organisation's: none."""
    return list(
        Attachment.objects.filter(
            application=application, application__organisation=organisation
        ).order_by("created_at", "pk")
    )


def attachment_get_unclaimed(
    *, owner: User | None = None, guest_key: str = "", attachment_id: str | uuid.UUID
) -> Attachment | None:
    """The uploader's own not yet submitted file with this id (hex or UUID), or None."""
    try:
        pk = attachment_id if isinstance(attachment_id, uuid.UUID) else uuid.UUID(attachment_id)
        mine = _owned(owner, guest_key)
    except (ValueError, TypeError, AttributeError):
        return None
    return Attachment.objects.filter(mine, pk=pk).first()


def attachment_delete_unclaimed(
    *, owner: User | None = None, guest_key: str = "", attachment_id: str | uuid.UUID
) -> bool:
    """Delete the uploader's own not yet submitted file (row, then its bytes after commit).

    Returns False, changing nothing, when no such file is theirs (another person's, already
    submitted, or a made-up id): a hostile id is not an error worth a 500.
    """
    attachment = attachment_get_unclaimed(
        owner=owner, guest_key=guest_key, attachment_id=attachment_id
    )
    if attachment is None:
        return False
    name = attachment_storage_name(attachment)
    with transaction.atomic(durable=True):
        deleted, _ = Attachment.objects.filter(pk=attachment.pk, application__isnull=True).delete()
        if deleted:
            transaction.on_commit(lambda: _remove(name))
    return bool(deleted)


def _remove(name: str) -> None:
    try:
        _storage().delete(name)
    except OSError as error:
        logger.error("attachments: file not deleted (%s)", type(error).__name__)


def _expired(now: datetime) -> QuerySet[Attachment]:
    """Unclaimed files older than a draft's lifetime whose uploader has no live draft of
    the procedure (a resident still filling in a form keeps the files the draft shows)."""
    live_draft = Draft.objects.filter(
        applicant_id=OuterRef("owner_id"),
        procedure_id=OuterRef("procedure_id"),
        expires_at__gt=now,
    )
    return Attachment.objects.filter(
        application__isnull=True, created_at__lt=now - DRAFT_LIFETIME
    ).exclude(Exists(live_draft))


def attachments_purge_expired(*, now: datetime, batch_size: int = 500) -> int:
    """Delete unclaimed files (rows and bytes) left longer than ``DRAFT_LIFETIME``, and
    temporary files that a crash left behind. Returns how many attachments were deleted.

    Safe to run at any time and again: a file claimed meanwhile is never touched.
    """
    total = 0
    while True:
        batch = list(_expired(now)[:batch_size])
        if not batch:
            break
        with transaction.atomic():
            deleted, _ = Attachment.objects.filter(
                pk__in=[a.pk for a in batch], application__isnull=True
            ).delete()
        total += deleted
        for attachment in batch:
            if not Attachment.objects.filter(pk=attachment.pk).exists():
                _remove(attachment_storage_name(attachment))
        if len(batch) < batch_size:
            break
    _sweep_temporary(now)
    return total


def _sweep_temporary(now: datetime) -> None:
    """Temporary files a crash left behind while writing (a storage without them has none)."""
    storage = _storage()
    cutoff = now - timedelta(days=1)  # no upload takes a day to write
    try:
        folders, _ = storage.listdir("")
    except (OSError, NotImplementedError):
        return
    for folder in folders:
        if not re.fullmatch(r"[0-9]{4}", folder):
            continue
        try:
            _, names = storage.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not (name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)):
                continue
            try:
                if storage.get_modified_time(f"{folder}/{name}") < cutoff:
                    storage.delete(f"{folder}/{name}")
            except OSError:
                continue
