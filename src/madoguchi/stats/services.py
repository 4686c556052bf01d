"""Writes of the statistics' inputs: how an organisation classifies its procedures."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import User
from madoguchi.identity.selectors import active_staff_of
from madoguchi.stats.categories import CODE_RE, category
from madoguchi.stats.models import ProcedureClassification
from madoguchi.tenants.models import Organisation


class ClassificationError(ValueError):
    """A classification was refused; ``message`` is Japanese, for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def procedure_classify(
    *,
    organisation: Organisation,
    procedure: Procedure,
    category_code: object,
    actor: User,
    now: datetime,
) -> ProcedureClassification | None:
    """Choose the national category a procedure of ``organisation`` is counted under.

    ``category_code`` is a category code of one of the lists (the procedure is counted under
    it), ``""`` (「集計の対象外」: the procedure is not counted, e.g. a survey) or ``None``
    (back to the default of the national template it was adopted from; own procedures
    without a template are then not counted). Returns the stored classification, or None
    after going back to the default.

    Raises ``Procedure.DoesNotExist`` for another organisation's procedure, and
    :class:`ClassificationError` (Japanese, nothing changed) when ``actor`` is not an active
    admin of ``organisation`` or the code is not a category of any list. Records
    ``procedure.classified`` with the code before and after (None meaning the default).
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    staff = active_staff_of(user=actor)
    if staff is None or staff.organisation_id != organisation.pk or staff.role != StaffRole.ADMIN:
        raise ClassificationError("手続の分類は、この団体の団体管理者だけが変更できます。")
    code: str | None
    if category_code is None:
        code = None
    elif isinstance(category_code, str):
        code = category_code.strip()
        if code and (not CODE_RE.match(code) or category(code) is None):
            raise ClassificationError(
                "選んだ分類が国の手続分類の一覧にありません。一覧から選び直してください。"
            )
    else:
        raise ClassificationError("分類の指定が正しくありません。一覧から選び直してください。")
    with transaction.atomic(durable=True):
        locked = Procedure.objects.select_for_update().get(
            pk=procedure.pk, organisation=organisation
        )
        existing = ProcedureClassification.objects.filter(procedure=locked).first()
        before = existing.category_code if existing is not None else None
        stored: ProcedureClassification | None
        if code is None:
            if existing is not None:
                existing.delete()
            stored = None
        elif existing is None:
            stored = ProcedureClassification.objects.create(
                organisation=organisation,
                procedure=locked,
                category_code=code,
                set_by=actor,
                set_at=now,
            )
        else:
            existing.category_code = code
            existing.set_by = actor
            existing.set_at = now
            existing.save(update_fields=["category_code", "set_by", "set_at"])
            stored = existing
        audit_record(
            action=AuditAction.PROCEDURE_CLASSIFIED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email,
            target_type="procedure",
            target_id=locked.pk,
            detail={"before": before, "after": code},
        )
    return stored
