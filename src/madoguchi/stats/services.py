"""Writes of the statistics: how an organisation classifies its procedures, and published
figures (公表値).

Every service owns its transaction (``transaction.atomic(durable=True)``), records an audit
event in it, and clears the cached figures once it has committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import User
from madoguchi.identity.selectors import active_staff_of
from madoguchi.stats.categories import CODE_RE, category
from madoguchi.stats.categories import category_list as category_list_get
from madoguchi.stats.figures import figures_cache_clear
from madoguchi.stats.models import ProcedureClassification, PublishedFigure
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import normalise_prefecture_code

#: The national figures shipped with the platform (in 千件 there, stored in 件).
SEED_FILE = Path(__file__).resolve().parent / "published" / "national.yaml"
MAX_SOURCE = 400
FIRST_FISCAL_YEAR = 1990
LAST_FISCAL_YEAR = 2100
#: Larger than any count a nation has (10¹⁴ 件), below the database's bigint.
MAX_COUNT = 10**14


class PublishedFigureInvalid(ValueError):
    """The figure cannot be entered; the message (Japanese) says why and what to do."""


def published_figure_set(
    *,
    prefecture_code: str,
    category_list: str,
    fiscal_year: int,
    total: int,
    online: int,
    source: str,
    actor: User | None,
    now: datetime,
) -> PublishedFigure:
    """Enter, or replace, the published figure (公表値) of the nation (``prefecture_code``
    empty) or a prefecture for one category list and fiscal year, counts in 件.

    Guarantees: one figure per place × list × year (a second entry replaces the first and the
    audit event keeps the previous counts); the figure is shown beside the computed ones from
    the next read (the figures' cache is cleared on commit). Raises
    :class:`PublishedFigureInvalid` — unknown list, a year the list does not apply to,
    negative counts, online above total, a missing source — before anything is written.
    """
    place = ""
    if prefecture_code.strip():
        try:
            place = normalise_prefecture_code(prefecture_code)
        except ValueError as error:
            raise PublishedFigureInvalid(str(error)) from None
    chosen = category_list_get(category_list.strip())
    if chosen is None:
        raise PublishedFigureInvalid(
            f"手続一覧「{category_list}」はありません。stats/national の一覧のコードで指定してください。"
        )
    if not FIRST_FISCAL_YEAR <= fiscal_year <= LAST_FISCAL_YEAR:
        raise PublishedFigureInvalid(
            f"年度は{FIRST_FISCAL_YEAR}から{LAST_FISCAL_YEAR}までの西暦で指定してください。"
        )
    if not chosen.applies_to(fiscal_year):
        last = f"{chosen.last_fiscal_year}年度" if chosen.last_fiscal_year else "現在"
        raise PublishedFigureInvalid(
            f"{chosen.name}は{chosen.first_fiscal_year}年度から{last}までの一覧です。"
            f"{fiscal_year}年度の公表値は登録できません。"
        )
    if not 0 <= total <= MAX_COUNT or not 0 <= online <= MAX_COUNT:
        raise PublishedFigureInvalid("件数は0以上の整数で指定してください（単位は件）。")
    if online > total:
        raise PublishedFigureInvalid(
            "オンライン利用件数が年間総手続件数を超えています。公表資料の数字を確認してください。"
        )
    source = " ".join(source.split())
    if not source:
        raise PublishedFigureInvalid("出典（公表資料の名称）を指定してください。")
    if len(source) > MAX_SOURCE:
        raise PublishedFigureInvalid(f"出典は{MAX_SOURCE}文字以内で指定してください。")
    with transaction.atomic(durable=True):
        previous = (
            PublishedFigure.objects.select_for_update()
            .filter(prefecture_code=place, category_list=chosen.code, fiscal_year=fiscal_year)
            .first()
        )
        before = {"total": previous.total, "online": previous.online} if previous else None
        figure, _created = PublishedFigure.objects.update_or_create(
            prefecture_code=place,
            category_list=chosen.code,
            fiscal_year=fiscal_year,
            defaults={
                "total": total,
                "online": online,
                "source": source,
                "entered_by": actor,
                "entered_at": now,
            },
        )
        audit_record(
            action=AuditAction.PUBLISHED_FIGURE_SET,
            now=now,
            actor=actor,
            actor_label="" if actor is not None else "運用者（コマンド）",
            target_type="published_figure",
            target_id=figure.pk,
            detail={
                "prefecture_code": place,
                "category_list": chosen.code,
                "fiscal_year": fiscal_year,
                "total": total,
                "online": online,
                "previous": before,
            },
        )
    # Durable: the block above has committed here, so the next read sees the new figure.
    figures_cache_clear()
    return figure


@dataclass(frozen=True)
class SeedReport:
    created: int
    kept: int


def published_figures_seed(*, now: datetime, path: Path = SEED_FILE) -> SeedReport:
    """Enter the shipped national figures (``stats/published/national.yaml``) that are not
    entered yet, through :func:`published_figure_set`; a figure already there (perhaps
    corrected by an operator) is kept. Idempotent."""
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    unit = int(data.get("unit", 1))
    created = kept = 0
    for entry in data["figures"]:
        exists = PublishedFigure.objects.filter(
            prefecture_code=str(entry.get("prefecture_code", "")),
            category_list=str(entry["category_list"]),
            fiscal_year=int(entry["fiscal_year"]),
        ).exists()
        if exists:
            kept += 1
            continue
        published_figure_set(
            prefecture_code=str(entry.get("prefecture_code", "")),
            category_list=str(entry["category_list"]),
            fiscal_year=int(entry["fiscal_year"]),
            total=int(entry["total"]) * unit,
            online=int(entry["online"]) * unit,
            source=str(entry.get("source", data["source"])),
            actor=None,
            now=now,
        )
        created += 1
    return SeedReport(created=created, kept=kept)


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
    figures_cache_clear()
    return stored
