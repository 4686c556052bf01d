"""Reads of the statistics' inputs."""

from __future__ import annotations

from collections.abc import Collection

from madoguchi.catalog.models import Procedure
from madoguchi.stats.categories import category
from madoguchi.stats.models import ProcedureClassification

#: The key of a national template's metadata that names its national category by default.
TEMPLATE_CATEGORY_KEY = "statistics_category"


def procedure_categories(*, organisation_ids: Collection[int] | None = None) -> dict[int, str]:
    """The national category code each procedure is counted under, by procedure id.

    An organisation's own classification (``ProcedureClassification``) wins; otherwise the
    category its national template names (``statistics_category`` in the template's
    metadata). Procedures with neither, or classified as not counted (empty code), or whose
    code is not in any list, are absent.
    """
    procedures = Procedure.objects.all()
    overrides = ProcedureClassification.objects.all()
    if organisation_ids is not None:
        procedures = procedures.filter(organisation_id__in=list(organisation_ids))
        overrides = overrides.filter(organisation_id__in=list(organisation_ids))
    chosen: dict[int, str] = {}
    for procedure_id, metadata in procedures.values_list("pk", "template_version__metadata"):
        code = (metadata or {}).get(TEMPLATE_CATEGORY_KEY) if isinstance(metadata, dict) else None
        if code:
            chosen[procedure_id] = str(code)
    for procedure_id, code in overrides.values_list("procedure_id", "category_code"):
        if code:
            chosen[procedure_id] = code
        else:
            chosen.pop(procedure_id, None)
    return {pk: code for pk, code in chosen.items() if category(code) is not None}
