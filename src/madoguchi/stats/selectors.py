"""Reads of the statistics' inputs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from madoguchi.catalog.models import Procedure
from madoguchi.stats.categories import Category, category, template_defaults
from madoguchi.stats.models import ProcedureClassification
from madoguchi.tenants.models import Organisation


def procedure_categories(*, organisation_ids: Collection[int] | None = None) -> dict[int, str]:
    """The national category code each procedure is counted under, by procedure id.

    An organisation's own classification (``ProcedureClassification``) wins; otherwise the
    default of the national template it was adopted from (``stats/national/
    template-defaults.yaml``, by template slug). Procedures with neither, or classified as
    not counted (empty code), or whose code is not in any list, are absent.
    """
    defaults = template_defaults()
    procedures = Procedure.objects.all()
    overrides = ProcedureClassification.objects.all()
    if organisation_ids is not None:
        procedures = procedures.filter(organisation_id__in=list(organisation_ids))
        overrides = overrides.filter(organisation_id__in=list(organisation_ids))
    chosen: dict[int, str] = {}
    for procedure_id, slug in procedures.values_list("pk", "template_version__template__slug"):
        code = defaults.get(slug) if slug else None
        if code:
            chosen[procedure_id] = code
    for procedure_id, code in overrides.values_list("procedure_id", "category_code"):
        if code:
            chosen[procedure_id] = code
        else:
            chosen.pop(procedure_id, None)
    return {pk: code for pk, code in chosen.items() if category(code) is not None}


@dataclass(frozen=True)
class ProcedureClassificationRow:
    """How one procedure of an organisation is counted, for the console."""

    procedure: Procedure
    #: The category of the national template it was adopted from (None: no default).
    default: Category | None
    #: True when the organisation chose (a category or 「集計の対象外」) itself.
    own_choice: bool
    #: The category it is counted under (None: not counted).
    counted_as: Category | None
    #: The organisation's stored code when it names no category in any list any more.
    unknown_code: str = ""
    set_at: datetime | None = None


def procedure_default_category(procedure: Procedure) -> Category | None:
    """The default category of a procedure (its national template's), or None."""
    version = procedure.template_version
    if version is None:
        return None
    code = template_defaults().get(version.template.slug)
    return category(code) if code else None


def procedure_classification_rows(
    *, organisation: Organisation, procedure_id: int | None = None
) -> list[ProcedureClassificationRow]:
    """Every procedure of ``organisation`` (or just ``procedure_id``, empty when it is not
    the organisation's) with its default, the organisation's own choice and the category it
    is counted under — the same rule as :func:`procedure_categories`."""
    procedures = (
        Procedure.objects.filter(organisation=organisation)
        .select_related("template_version__template")
        .order_by("name", "pk")
    )
    if procedure_id is not None:
        procedures = procedures.filter(pk=procedure_id)
    own = {
        row.procedure_id: row
        for row in ProcedureClassification.objects.filter(organisation=organisation)
    }
    rows: list[ProcedureClassificationRow] = []
    for procedure in procedures:
        default = procedure_default_category(procedure)
        mine = own.get(procedure.pk)
        if mine is None:
            rows.append(ProcedureClassificationRow(procedure, default, False, default))
            continue
        chosen = category(mine.category_code) if mine.category_code else None
        unknown = mine.category_code if mine.category_code and chosen is None else ""
        rows.append(
            ProcedureClassificationRow(
                procedure, default, True, chosen, unknown_code=unknown, set_at=mine.set_at
            )
        )
    return rows
