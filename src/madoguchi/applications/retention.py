"""Retention (保存期間): applications past their procedure's retention period are purged.

An application is expired when its arrival (到達) plus the procedure's ``retention_years``
(calendar years, counted in Japan time) has passed *and* its case is closed — approved,
rejected or withdrawn. A case still open past its period is kept: deleting a case someone is
still working on (or that the applicant still waits for) would destroy a pending
administrative act; such cases are counted in the report so that the organisation closes
them, and they are purged on the first run after they close.

The purge deletes the application with everything that hangs off it — revisions (all
answers), attachments (rows and files), messages, internal notes, transitions and issued
documents — and records one audit event per application that names it by receipt number,
procedure id and arrival date only: the record outlives the data without repeating it. In
the same transaction the application moves into the statistics' tally
(:class:`~madoguchi.applications.models.PurgedArrivalCount`), so figures never drop.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.core.files.storage import storages
from django.db import connection, transaction
from django.db.models import ProtectedError

from madoguchi.applications.attachments import STORAGE_ALIAS
from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.models import (
    Application,
    ApplicationRevision,
    Attachment,
    PurgedArrivalCount,
)
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import TOKYO, to_tokyo
from madoguchi.documents.register import documents_purge, documents_purge_by_source_prefix

logger = logging.getLogger(__name__)

#: Closed cases: nothing more will happen to them.
FINAL_STATUSES: Final = frozenset(
    {ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN}
)
PURGE_REASON: Final = "保存期間の経過"


@dataclass(frozen=True)
class PurgeReport:
    purged: int
    #: Past the retention period but still open: kept until the case is closed.
    kept_open: int
    #: Could not be deleted (another record protects them); tried again next run.
    blocked: int
    files_deleted: int


def retention_cutoff(*, now: datetime, years: int) -> datetime:
    """The latest arrival that is expired at ``now`` for a period of ``years`` years.

    Counted on the Japan calendar; an arrival on 29 February expires on 28 February of a
    year without one.
    """
    local = to_tokyo(now)
    try:
        earlier = local.replace(year=local.year - years)
    except ValueError:
        earlier = local.replace(year=local.year - years, day=28)
    return earlier.astimezone(TOKYO)


def _file_names(ids: Iterable[uuid.UUID]) -> list[str]:
    """Files in the attachment storage (``storages["default"]``) that belong to the given
    attachments.

    The storage names every stored file by its attachment's random UUID, whatever the
    folder layout, so a name that carries the UUID (hex, with or without hyphens) is that
    attachment's file. One walk of the storage serves the whole batch.
    """
    wanted: set[str] = set()
    for item in ids:
        wanted.update({item.hex, str(item)})
    if not wanted:
        return []
    storage = storages[STORAGE_ALIAS]
    found: list[str] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        try:
            subfolders, names = storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        prefix = f"{folder}/" if folder else ""
        folders.extend(prefix + sub for sub in subfolders)
        found.extend(prefix + name for name in names if any(key in name for key in wanted))
    return found


def delete_attachment_files(ids: list[uuid.UUID]) -> int:
    """Delete the stored files of the attachments ``ids`` (their rows are gone: call after
    the commit that deleted them). A file that cannot be deleted is logged, never hidden."""
    storage = storages[STORAGE_ALIAS]
    deleted = 0
    for name in _file_names(ids):
        try:
            storage.delete(name)
            deleted += 1
        except OSError as error:
            # The rows are gone; a file left behind is reported, never left silently.
            logger.error("retention: attachment file not deleted (%s)", type(error).__name__)
    return deleted


def _tally_purged(application: Application) -> None:
    """Move one purged application into the statistics' tally (same transaction as the
    deletion), so that the figures of its month stay what they were."""
    table = PurgedArrivalCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organisation_id, procedure_id, month, channel, count) "  # noqa: S608 (table name is ours)
            "VALUES (%s, %s, %s, %s, 1) "
            "ON CONFLICT (organisation_id, procedure_id, month, channel) "
            f"DO UPDATE SET count = {table}.count + 1",
            [
                application.organisation_id,
                application.procedure_id,
                to_tokyo(application.arrived_at).date().replace(day=1),
                application.channel,
            ],
        )


def _purge_one(application_id: int, procedure: Procedure, now: datetime) -> list[uuid.UUID] | None:
    """Delete one application and record it, in one transaction. Returns its attachment ids
    (for the files, deleted after the commit), or None when it is gone or open meanwhile."""
    with transaction.atomic():
        application = Application.objects.select_for_update().filter(pk=application_id).first()
        if application is None or application.status not in FINAL_STATUSES:
            return None
        attachment_ids = list(
            Attachment.objects.filter(
                organisation_id=application.organisation_id, application=application
            ).values_list("pk", flat=True)
        )
        counts = {
            "revisions": ApplicationRevision.objects.filter(
                organisation_id=application.organisation_id, application=application
            ).count(),
            "attachments": len(attachment_ids),
            "messages": application.messages.count(),
            "notes": application.notes.count(),
            "transitions": application.transitions.count(),
            "documents": application.documents.count(),
        }
        audit_record(
            action="application.purged",
            now=now,
            organisation=application.organisation,
            actor_label="保存期間の経過による自動削除",
            target_type="application",
            target_id=application.pk,
            reason=f"{PURGE_REASON}（{procedure.retention_years}年）",
            detail={
                "receipt_number": application.receipt_number,
                "procedure": procedure.pk,
                "arrived_date": to_tokyo(application.arrived_at).date().isoformat(),
                "status": application.status,
                "retention_years": procedure.retention_years,
                **counts,
            },
        )
        if not application.is_test:
            _tally_purged(application)
        documents_purge(
            organisation=application.organisation,
            document_ids=list(application.documents.values_list("record_id", flat=True)),
            now=now,
        )
        # And every other document issued for it (receipts 到達通知 of each revision).
        documents_purge_by_source_prefix(
            organisation=application.organisation,
            prefix=f"application:{application.pk}:",
            now=now,
        )
        # Cascades to revisions, attachments, messages, notes, transitions and documents.
        application.delete()
    return attachment_ids


def applications_purge_expired(*, now: datetime, limit: int = 1000) -> PurgeReport:
    """Delete closed applications whose retention period has passed, at most ``limit``.

    Guarantees: each application goes with all its rows in its own transaction together
    with its audit event ``application.purged`` (receipt number, procedure id, arrival date,
    reason and counts; no answers, no names); its attachment files are deleted after that
    commit. Open cases are kept and counted (``kept_open``). Safe to run again and from
    several workers at once: what is gone is not found twice.
    """
    purged = kept_open = blocked = 0
    files = 0
    for procedure in Procedure.objects.order_by("pk").only("pk", "retention_years"):
        cutoff = retention_cutoff(now=now, years=procedure.retention_years)
        expired = Application.objects.filter(procedure=procedure, arrived_at__lte=cutoff)
        kept_open += expired.exclude(status__in=FINAL_STATUSES).count()
        ids = list(
            expired.filter(status__in=FINAL_STATUSES)
            .order_by("arrived_at", "pk")
            .values_list("pk", flat=True)[: max(limit - purged, 0)]
        )
        for application_id in ids:
            try:
                attachment_ids = _purge_one(application_id, procedure, now)
            except ProtectedError:
                blocked += 1
                logger.warning("retention: application %s is protected, kept", application_id)
                continue
            if attachment_ids is None:
                continue
            if attachment_ids:
                files += delete_attachment_files(attachment_ids)
            purged += 1
        if purged >= limit:
            break
    if purged or kept_open or blocked:
        logger.info(
            "retention: purged %s, kept open %s, blocked %s, files %s",
            purged,
            kept_open,
            blocked,
            files,
        )
    return PurgeReport(purged=purged, kept_open=kept_open, blocked=blocked, files_deleted=files)
