"""The group operators' overview (運用者の画面): one row per member organisation of a shared
group — procedures published, applications received this month, the online usage rate of
the fiscal year, the last staff login, the seal certificate's expiry — with a totals row.

Read only, and for the operators of that group (the entry point checks who asks). A handful
of grouped queries for the whole group, never one per organisation, except the online rate,
which is :func:`madoguchi.stats.figures.organisation_table` (cached for a minute, as the
statistics pages read it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from django.db.models import Count, Max

from madoguchi.applications.models import Application
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import to_tokyo
from madoguchi.documents.seal import seal_certificate_expiry
from madoguchi.identity.models import Staff
from madoguchi.stats.figures import (
    Figure,
    default_category_list,
    fiscal_year_of,
    organisation_table,
)
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.selectors import group_members

#: A seal certificate that expires within this many days is pointed out.
SEAL_WARNING_DAYS: Final = 90
#: The sortable columns (query parameter ``sort``; a leading "-" sorts descending).
SORTS: Final = ("lg_code", "name", "procedures", "applications", "rate", "last_login", "seal")


@dataclass(frozen=True)
class MemberRow:
    organisation: Organisation
    procedures_published: int
    applications_this_month: int
    #: This fiscal year's figure (platform counts and imported counts): rate None when nothing
    #: was counted.
    figure: Figure | None
    last_staff_login: datetime | None
    seal_expires_at: datetime | None
    #: Whole days until the seal certificate expires (negative: expired); None without one.
    seal_days_left: int | None

    @property
    def rate(self) -> Decimal | None:
        return self.figure.rate if self.figure is not None else None


@dataclass(frozen=True)
class GroupOverview:
    rows: tuple[MemberRow, ...]
    month_start: date
    fiscal_year: int
    category_list_name: str
    sort: str
    procedures_published: int
    applications_this_month: int
    figure: Figure
    seal_warning_days: int = SEAL_WARNING_DAYS

    @property
    def rate(self) -> Decimal | None:
        return self.figure.rate


def _month_start(now: datetime) -> tuple[date, datetime]:
    local = to_tokyo(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.date(), start


def _column(sort: str) -> Callable[[MemberRow], Any]:
    keys: dict[str, Callable[[MemberRow], Any]] = {
        "lg_code": lambda r: r.organisation.lg_code,
        "name": lambda r: r.organisation.name,
        "procedures": lambda r: r.procedures_published,
        "applications": lambda r: r.applications_this_month,
        "rate": lambda r: r.rate,
        "last_login": lambda r: r.last_staff_login,
        "seal": lambda r: r.seal_expires_at,
    }
    return keys[sort.removeprefix("-")]


def _sorted(rows: Sequence[MemberRow], sort: str) -> list[MemberRow]:
    """By the column, ties by 団体コード (ascending either way); rows without a value (no
    rate, never logged in, no certificate) last, whichever way is sorted."""
    column = _column(sort)
    by_code = sorted(rows, key=lambda r: r.organisation.lg_code)
    present = [r for r in by_code if column(r) is not None]
    missing = [r for r in by_code if column(r) is None]
    # Python's sort is stable, also reversed: equal values keep the 団体コード order.
    present.sort(key=column, reverse=sort.startswith("-"))
    return present + missing


def group_overview(*, group: SharedGroup, now: datetime, sort: str = "lg_code") -> GroupOverview:
    """Every member organisation of ``group`` with its figures, sorted by ``sort`` (one of
    :data:`SORTS`, optionally with a leading "-"; anything else sorts by 団体コード).
    Never raises for a group without members (empty rows, zero totals)."""
    if sort.removeprefix("-") not in SORTS:
        sort = "lg_code"
    members = list(group_members(group=group))
    ids = [m.pk for m in members]
    month, since = _month_start(now)
    published = dict(
        Procedure.objects.filter(organisation_id__in=ids, status=ProcedureStatus.PUBLISHED)
        .values("organisation_id")
        .annotate(n=Count("id"))
        .values_list("organisation_id", "n")
    )
    received = dict(
        Application.objects.filter(organisation_id__in=ids, arrived_at__gte=since, is_test=False)
        .values("organisation_id")
        .annotate(n=Count("id"))
        .values_list("organisation_id", "n")
    )
    logins = dict(
        Staff.objects.filter(organisation_id__in=ids)
        .values("organisation_id")
        .annotate(last=Max("user__last_login"))
        .values_list("organisation_id", "last")
    )
    fiscal_year = fiscal_year_of(month)
    try:
        category_list = default_category_list(fiscal_year=fiscal_year)
    except LookupError:
        category_list = None
    rows = []
    for org in members:
        figure = (
            organisation_table(
                organisation=org, category_list=category_list, fiscal_year=fiscal_year
            ).total.current
            if category_list is not None
            else None
        )
        expiry = seal_certificate_expiry(org)
        rows.append(
            MemberRow(
                organisation=org,
                procedures_published=published.get(org.pk, 0),
                applications_this_month=received.get(org.pk, 0),
                figure=figure,
                last_staff_login=logins.get(org.pk),
                seal_expires_at=expiry,
                seal_days_left=(expiry - now).days if expiry is not None else None,
            )
        )
    return GroupOverview(
        rows=tuple(_sorted(rows, sort)),
        month_start=month,
        fiscal_year=fiscal_year,
        category_list_name=category_list.name if category_list is not None else "",
        sort=sort,
        procedures_published=sum(r.procedures_published for r in rows),
        applications_this_month=sum(r.applications_this_month for r in rows),
        figure=sum((r.figure for r in rows if r.figure is not None), Figure()),
    )
