"""添付ファイル: store an upload for an attachment field, read it back, delete and purge.

A file is inspected (:mod:`madoguchi.applications.uploads`), scanned by clamd where
``MADOGUCHI_CLAMD`` is set (:mod:`madoguchi.applications.virus`), then written encrypted to
``DATA_DIR/files/<yyyy>/<uuid hex>`` (the year of its upload, Japan time) before its row is
created. Until an application claims it (``services.claim_attachments``) it belongs to its
uploader: an account (``owner``) or, without an account, a random ``guest_key`` kept in the
guest's session.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from madoguchi.applications.constants import (
    ATTACHMENT_DEFAULT_ACCEPT,
    ATTACHMENT_DEFAULT_MAX_BYTES,
    ATTACHMENT_MAX_BYTES_PER_APPLICATION,
    ATTACHMENT_MAX_FILES_PER_APPLICATION,
    CLAMD_TIMEOUT_SECONDS,
    DRAFT_LIFETIME,
)
from madoguchi.applications.models import Attachment, Draft
from madoguchi.applications.uploads import UploadRefused, inspect_upload
from madoguchi.applications.virus import (
    ScannerError,
    ScannerUnavailable,
    clamd_address_parse,
    clamd_scan,
)
from madoguchi.catalog.models import Procedure
from madoguchi.core.crypto import DecryptionFailed, decrypt_bytes, encrypt_bytes
from madoguchi.core.time import to_tokyo
from madoguchi.forms.base import FieldSpec
from madoguchi.forms.selectors import form_spec

logger = logging.getLogger(__name__)

GUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TRY_LATER = (
    "ただいまファイルの安全確認ができないため、添付を受け付けられません。"
    "しばらくしてからもう一度お試しください。"
)


class AttachmentUnreadable(RuntimeError):
    """A stored file is missing, cannot be decrypted or no longer matches its checksum."""


def attachment_path(attachment: Attachment) -> Path:
    """Where the encrypted bytes of ``attachment`` live."""
    year = to_tokyo(attachment.created_at).year
    return Path(settings.DATA_DIR) / "files" / f"{year:04d}" / attachment.pk.hex


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
    fields = form_spec(procedure.form_version).field_map()
    found = fields.get(field_key)
    if found is None:
        found = next((f for path, f in fields.items() if path.endswith(f".{field_key}")), None)
    return found if found is not None and found.type == "attachment" else None


def _owned(owner: Any, guest_key: str) -> Q:
    """Unclaimed files of one uploader; raises ValueError when neither is given (a bug)."""
    owner_id = getattr(owner, "pk", None)
    if owner_id is not None:
        return Q(owner_id=owner_id, application__isnull=True)
    if isinstance(guest_key, str) and GUEST_KEY_PATTERN.match(guest_key):
        return Q(owner__isnull=True, guest_key=guest_key, application__isnull=True)
    raise ValueError("an attachment belongs to an account or to a guest key")


def attachment_store(
    *,
    procedure: Procedure,
    field_key: str,
    owner: Any = None,
    guest_key: str = "",
    name: str,
    data: bytes,
    now: datetime,
) -> Attachment:
    """Check, scan, encrypt and store one upload for an attachment field of the procedure.

    Guarantees: the file is of a type the field accepts (by content) and within its size;
    the uploader's unclaimed files for this procedure stay within 20 files and 50 MB; where
    clamd is configured it called the file clean (``scanned``); the encrypted bytes are on
    disk (fsynced) before the row exists. Nothing is stored when anything is refused.
    ``owner`` (an account) wins over ``guest_key``; one of them is required (ValueError).
    Raises :class:`~madoguchi.applications.uploads.UploadRefused` (Japanese message).
    """
    mine = _owned(owner, guest_key)
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
        owner=owner if getattr(owner, "pk", None) is not None else None,
        guest_key="" if getattr(owner, "pk", None) is not None else guest_key,
        name=clean.name,
        kind=clean.kind,
        content_type=clean.content_type,
        size=clean.size,
        sha256=clean.sha256,
        scanned=scanned,
        created_at=now,
    )
    path = attachment_path(attachment)
    _write_atomically(path, encrypt_bytes(clean.data))
    try:
        attachment.save(force_insert=True)
    except BaseException:
        path.unlink(missing_ok=True)  # no row, no file: nothing half-stored
        raise
    return attachment


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


def _write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, rename, fsync the folder: after
    a crash the file is either whole or absent, never half written."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def attachment_open(*, attachment: Attachment) -> bytes:
    """The stored bytes of ``attachment``, decrypted and checked against its SHA-256.

    The caller decides who may read it (its owner, or staff of the application's
    organisation). Raises :class:`AttachmentUnreadable` when the file is missing, the keys do
    not open it or its content changed.
    """
    try:
        token = attachment_path(attachment).read_bytes()
    except OSError:
        raise AttachmentUnreadable("添付ファイルが見つかりません。") from None
    try:
        data = decrypt_bytes(token)
    except DecryptionFailed as error:
        raise AttachmentUnreadable(str(error)) from None
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise AttachmentUnreadable("添付ファイルの内容が保存時と一致しません。")
    return data


def attachment_get_unclaimed(
    *, owner: Any = None, guest_key: str = "", attachment_id: str | uuid.UUID
) -> Attachment | None:
    """The uploader's own not yet submitted file with this id (hex or UUID), or None."""
    try:
        pk = attachment_id if isinstance(attachment_id, uuid.UUID) else uuid.UUID(attachment_id)
        mine = _owned(owner, guest_key)
    except (ValueError, TypeError, AttributeError):
        return None
    return Attachment.objects.filter(mine, pk=pk).first()


def attachment_delete_unclaimed(
    *, owner: Any = None, guest_key: str = "", attachment_id: str | uuid.UUID
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
    path = attachment_path(attachment)
    with transaction.atomic():
        deleted, _ = Attachment.objects.filter(pk=attachment.pk, application__isnull=True).delete()
        if deleted:
            transaction.on_commit(lambda: _remove(path))
    return bool(deleted)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
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
                _remove(attachment_path(attachment))
        if len(batch) < batch_size:
            break
    _sweep_temporary(now)
    return total


def _sweep_temporary(now: datetime) -> None:
    root = Path(settings.DATA_DIR) / "files"
    if not root.is_dir():
        return
    cutoff = (now - timedelta(days=1)).timestamp()  # no upload takes a day to write
    for path in root.glob("[0-9][0-9][0-9][0-9]/.*.tmp"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue
