"""Kinds of organisation and the regions (地方) used to group prefectures on the portal."""

from __future__ import annotations

from typing import Final

from django.db import models


class OrganisationKind(models.TextChoices):
    PREFECTURE = "prefecture", "都道府県"
    DESIGNATED_CITY = "designated_city", "指定都市"
    CITY = "city", "市"
    TOWN = "town", "町"
    VILLAGE = "village", "村"
    SPECIAL_WARD = "special_ward", "特別区"
    WARD = "ward", "行政区"


#: Kinds that are tenants (団体). Wards of designated cities are sub-units of their city.
TENANT_KINDS: Final = frozenset(
    {
        OrganisationKind.PREFECTURE,
        OrganisationKind.DESIGNATED_CITY,
        OrganisationKind.CITY,
        OrganisationKind.TOWN,
        OrganisationKind.VILLAGE,
        OrganisationKind.SPECIAL_WARD,
    }
)
MUNICIPALITY_KINDS: Final = TENANT_KINDS - {OrganisationKind.PREFECTURE}

#: 地方区分 by JIS X 0401 prefecture code, in the order used on the national top page.
REGIONS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("北海道", ("01",)),
    ("東北", ("02", "03", "04", "05", "06", "07")),
    ("関東", ("08", "09", "10", "11", "12", "13", "14")),
    ("中部", ("15", "16", "17", "18", "19", "20", "21", "22", "23")),
    ("近畿", ("24", "25", "26", "27", "28", "29", "30")),
    ("中国", ("31", "32", "33", "34", "35")),
    ("四国", ("36", "37", "38", "39")),
    ("九州・沖縄", ("40", "41", "42", "43", "44", "45", "46", "47")),
)

MASTER_SOURCE: Final = "japancode"
