"""Reads of the organisation master and the shared groups."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from madoguchi.core.lgcode import parse_lg_code, with_check_digit
from madoguchi.core.text import search_key
from madoguchi.tenants.constants import REGIONS, OrganisationKind
from madoguchi.tenants.models import MasterLoad, Organisation, SharedGroup
from madoguchi.tenants.romaji import is_romaji_query, romaji_fold

MAX_QUERY_LENGTH = 100


class UnknownPrefecture(LookupError):
    """No prefecture has that code."""


def organisation_get(*, code: str) -> Organisation:
    """The organisation with a 6-digit (or 5-digit) code.

    Raises ``InvalidLgCode`` (malformed code, Japanese message) or
    ``Organisation.DoesNotExist`` (well-formed, but no such organisation).
    """
    lg_code = parse_lg_code(code)
    return Organisation.objects.select_related("prefecture", "parent").get(lg_code=lg_code)


def organisations_filter(
    *,
    prefecture: str | None = None,
    kind: str | None = None,
    q: str | None = None,
    active: bool | None = True,
) -> QuerySet[Organisation]:
    """Organisations matching every given filter, in code order.

    ``q`` matches a part of the name (wards with their city), the kana reading, the code or
    the romanised reading (``kamakura``, ``Tōkyō``), ignoring full-/half-width,
    hiragana/katakana, case, spaces and long vowels in romaji. Filters that are ``None`` are
    not applied. Raises ``ValueError`` for a malformed prefecture code or kind.
    """
    qs = Organisation.objects.select_related("parent").order_by("lg_code")
    if prefecture is not None:
        qs = qs.filter(prefecture_code=normalise_prefecture_code(prefecture))
    if kind is not None:
        if kind not in OrganisationKind.values:
            raise ValueError(kind)
        qs = qs.filter(kind=kind)
    if active is not None:
        qs = qs.filter(active=active)
    if q is not None:
        key = search_key(q[:MAX_QUERY_LENGTH])
        if key:
            condition = Q(search_key__contains=key)
            if is_romaji_query(q[:MAX_QUERY_LENGTH]):
                # Kamakura, Tōkyō, Toukyou, Chuo-ku: the folded romaji stored at master load.
                folded = romaji_fold(q[:MAX_QUERY_LENGTH])
                if folded:
                    condition |= Q(search_key__contains=folded)
            qs = qs.filter(condition)
    return qs


def normalise_prefecture_code(raw: str) -> str:
    """'14', '１４' or '4' → '14'. Raises ``ValueError`` unless it is 01–47."""
    text = unicodedata.normalize("NFKC", raw[:8]).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 47:
        raise ValueError("都道府県コードは01から47までの数字で指定してください。")
    return text.zfill(2)


def prefecture_get(*, code: str) -> Organisation:
    """The prefecture with a two-digit JIS X 0401 code. Raises ``UnknownPrefecture``."""
    try:
        pref_code = normalise_prefecture_code(code)
    except ValueError:
        raise UnknownPrefecture(code) from None
    try:
        return Organisation.objects.get(
            lg_code=with_check_digit(pref_code + "000"), kind=OrganisationKind.PREFECTURE
        )
    except Organisation.DoesNotExist:
        raise UnknownPrefecture(code) from None


@dataclass(frozen=True)
class Region:
    name: str
    prefectures: list[Organisation]


def prefectures_by_region() -> list[Region]:
    """The 47 prefectures grouped by 地方, for the national top page."""
    prefectures = {
        org.prefecture_code: org
        for org in Organisation.objects.filter(kind=OrganisationKind.PREFECTURE, active=True)
    }
    return [
        Region(name, [prefectures[c] for c in codes if c in prefectures]) for name, codes in REGIONS
    ]


@dataclass(frozen=True)
class KindGroup:
    kind: str
    label: str
    organisations: list[Organisation]


def municipalities_by_kind(*, prefecture: Organisation) -> list[KindGroup]:
    """Active municipalities of a prefecture grouped by kind; designated cities carry wards."""
    orgs = list(
        Organisation.objects.filter(prefecture_code=prefecture.prefecture_code, active=True)
        .exclude(kind__in=(OrganisationKind.PREFECTURE, OrganisationKind.WARD))
        .prefetch_related("wards")
        .order_by("lg_code")
    )
    groups: list[KindGroup] = []
    for kind in (
        OrganisationKind.DESIGNATED_CITY,
        OrganisationKind.CITY,
        OrganisationKind.SPECIAL_WARD,
        OrganisationKind.TOWN,
        OrganisationKind.VILLAGE,
    ):
        members = [org for org in orgs if org.kind == kind]
        if members:
            groups.append(KindGroup(str(kind), str(kind.label), members))
    return groups


def kind_counts(*, active: bool = True) -> dict[str, int]:
    """How many organisations of each kind the master holds."""
    rows = (
        Organisation.objects.filter(active=active).values("kind").annotate(n=Count("id")).order_by()
    )
    counts = {str(kind): 0 for kind in OrganisationKind.values}
    counts.update({row["kind"]: row["n"] for row in rows})
    return counts


def portal_group_for_prefecture(*, prefecture: Organisation) -> SharedGroup | None:
    """The active shared group whose portal is this prefecture's, if any."""
    return SharedGroup.objects.filter(prefecture=prefecture, active=True).first()


def groups_of_organisation(*, organisation: Organisation) -> QuerySet[SharedGroup]:
    return SharedGroup.objects.filter(memberships__organisation=organisation, active=True)


def group_members(*, group: SharedGroup) -> QuerySet[Organisation]:
    return Organisation.objects.filter(group_memberships__group=group).order_by("lg_code")


def group_get(*, slug: str) -> SharedGroup:
    """Raises ``SharedGroup.DoesNotExist``."""
    return SharedGroup.objects.get(slug=slug[:64], active=True)


def last_master_load() -> MasterLoad | None:
    return MasterLoad.objects.first()
