"""Figures of the online usage rate (オンライン利用率): per organisation, prefecture and nation.

Public interface (the screens, the API and the open data call only these)
----------------------------------------------------------------------------
Every function takes keyword arguments, reads only (no write, no lock) and returns frozen
dataclasses that can be cached and rendered as they are:

``organisation_table(*, organisation, category_list, fiscal_year) -> OrganisationTable``
    The table municipalities publish: one :class:`OrganisationRow` per category of the list
    (in list order, zeros included) with this year's :class:`Figure`, last year's, and the
    year-on-year change; ``table.total`` sums the rows. A designated city's table includes its
    wards (``table.wards``); a ward's own table is the ward alone. PUBLIC (cached).
``organisation_monthly(*, organisation, category_list, fiscal_year) -> OrganisationMonthly``
    Per category × month, April → March (``MONTH_LABELS``), plus imported figures of the whole
    year that have no month (``year_only``). NOT PUBLIC: the console calls
    ``organisation_monthly_for(user=…, …)``, which applies :func:`monthly_detail_visible`
    (the organisation's active staff, operators of a group the organisation belongs to) and
    raises :class:`FiguresNotVisible` (→ 404) otherwise.
``prefecture_table(*, prefecture_code, category_list, fiscal_year, sort="code")``
    → ``PrefectureTable``: each municipality of the prefecture side by side
    (:class:`MunicipalityRow`: total, online, rate, population, offering online), the
    prefectural government's own row, the municipalities' sum and the whole sum, the 公表値
    of the prefecture if entered. ``sort`` is one of ``PREFECTURE_SORTS`` (ValueError else);
    a rate of None sorts last; ``categories`` sums the whole prefecture per category.
    Unknown prefecture → ``UnknownPrefecture`` (tenants). PUBLIC.
``prefecture_figures(*, category_list, fiscal_year) -> tuple[PrefectureFigure, ...]``
    The 47 prefectures in code order, each as a whole (= ``prefecture_table(...).total``),
    zeros included, for the national map. PUBLIC (cached).
``national_table(*, category_list, top_year=None, top=10) -> NationalTable``
    The ministry's form per fiscal year (:class:`NationalYear`): the plain sum over all
    organisations, the population-method estimate (:class:`NationalEstimate`, with its
    inputs and formula) and the 公表値 (:class:`Published`) when entered; years are those
    with counts or a published figure, oldest first. Plus the top categories (by online
    count) of ``top_year`` (default: the latest year with counts), and ``categories``: every
    category of the list in that year. PUBLIC.
``deployment_status(*, category_list, fiscal_year, prefecture_code=None)``
    → ``DeploymentStatus``: per category, organisations offering it online (a published
    platform procedure in that category, or imported online counts > 0 in the fiscal year),
    their share of the municipalities, the population they cover (and how many offering
    municipalities have no population). PUBLIC.
``default_category_list(*, fiscal_year=None) -> CategoryList`` (the list used when none is
asked for), ``fiscal_year_of(day) -> int``, ``fiscal_year_months(fiscal_year) -> tuple[date, ...]``,
``rate(total=, online=)`` and ``figures_cache_clear()``.

Where numbers come from
    Platform counts: :func:`madoguchi.applications.selectors.arrival_counts` (exact GROUP BY
    over the applications, test applications never, purged applications still) and
    :func:`madoguchi.reservations.selectors.booking_counts` (each confirmed booking of a
    facility whose ``procedure`` is set is one procedure of its channel, online or counter —
    a booking never confirmed is not counted), mapped to a
    national category by :func:`madoguchi.stats.selectors.procedure_categories`. Imported
    counts: ``ImportedCount`` rows. A figure's ``total`` is platform online + counter + mail +
    imported total; ``online`` is platform online + imported online (:class:`Breakdown` keeps
    the parts). For an organisation × category × fiscal year, a whole-year imported row
    (month 0) is the imported figure of the year when it exists; otherwise the monthly
    imported rows are summed (never both: no double count).

Wards (行政区)
    A ward's counts belong to its designated city in every table above the ward itself: the
    city's table, the prefecture's municipality row of the city, and the national sums. A ward
    never appears as a municipality of its own, so nothing is counted twice.

Cache
    The public aggregates are cached in Django's default cache (``CACHES`` is not set, so
    a per-process memory cache) for ``CACHE_SECONDS`` (60 s) under a generation key;
    :func:`figures_cache_clear` bumps the generation; ``published_figure_set`` calls it
    after its commit, and so must every other write of the figures' inputs (the import of
    counts, a change of a procedure's classification). With a per-process cache the other
    processes see such a change within the minute; applications arriving show within a
    minute too. The monthly detail is not cached.

Results carry :class:`OrganisationRef` (code, names, kind, population, coordinates), never a
model instance, and :class:`CategoryRef`; rates are ``Decimal`` (``rate_text`` prints them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db.models import Q, Sum

from madoguchi.applications.selectors import ArrivalCount, arrival_counts
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.core.tenancy import ALL, tenant_scope
from madoguchi.identity.models import GroupOperator, Staff
from madoguchi.reservations.selectors import BookingCount, booking_counts
from madoguchi.stats.categories import CategoryList, category_lists
from madoguchi.stats.models import ImportedCount, PublishedFigure
from madoguchi.stats.selectors import procedure_categories
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import GroupMembership, Organisation
from madoguchi.tenants.selectors import prefecture_get

if TYPE_CHECKING:
    from madoguchi.identity.models import User

_TENTH = Decimal("0.1")

#: Months of a fiscal year as the tables show them.
MONTH_LABELS = (
    "4月",
    "5月",
    "6月",
    "7月",
    "8月",
    "9月",
    "10月",
    "11月",
    "12月",
    "1月",
    "2月",
    "3月",
)

#: Sort keys of :func:`prefecture_table` and their Japanese labels; ``-`` = descending.
PREFECTURE_SORTS: dict[str, str] = {
    "code": "団体コード順",
    "-rate": "利用率の高い順",
    "rate": "利用率の低い順",
    "-total": "総件数の多い順",
    "-online": "オンライン件数の多い順",
    "-population": "人口の多い順",
}

CACHE_SECONDS = 60


def rate(*, total: int, online: int) -> Decimal | None:
    """The online usage rate in percent to one decimal place, rounded half up
    (199,208 of 389,170 → 51.2); None when nothing was counted (never a division by zero).

    Exact: computed in decimal arithmetic from the integers, never through a float.
    """
    if total <= 0:
        return None
    return (Decimal(online) * 100 / Decimal(total)).quantize(_TENTH, rounding=ROUND_HALF_UP)


def rate_text(value: Decimal | None) -> str:
    """A rate as the tables print it: ``51.2`` or ``—`` (nothing counted)."""
    return "—" if value is None else f"{value:.1f}"


def fiscal_year_of(day: date) -> int:
    """The fiscal year (年度) of a day: April–March, named by the year it starts in."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_months(fiscal_year: int) -> tuple[date, ...]:
    """The first days of the twelve months of a fiscal year, April → March."""
    return tuple(
        date(fiscal_year + (1 if month < 4 else 0), month, 1)
        for month in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)
    )


def default_category_list(*, fiscal_year: int | None = None) -> CategoryList:
    """The list a table uses when none is asked for: of the lists that apply to
    ``fiscal_year`` (any year when None), the ministry's main series first (the 21 guideline
    procedures until FY2019, the priority procedures since), then a current one (no last
    year), then the one that applied last. Raises ``LookupError`` when no list is shipped."""
    lists = category_lists()
    if not lists:
        raise LookupError("no category list")
    fitting = [c for c in lists if fiscal_year is None or c.applies_to(fiscal_year)] or list(lists)
    return max(
        fitting,
        key=lambda c: (
            c.main_series,
            c.last_fiscal_year is None,
            c.last_fiscal_year or 0,
            c.first_fiscal_year,
        ),
    )


class FiguresNotVisible(LookupError):
    """The person may not see this organisation's monthly detail (answer 404)."""


# --- Results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationRef:
    """What the tables show of an organisation (no model instance: safe to cache)."""

    id: int
    lg_code: str
    name: str
    display_name: str
    kind: str
    kind_label: str
    prefecture_code: str
    population: int | None
    population_as_of: date | None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True)
class CategoryRef:
    code: str
    name: str


@dataclass(frozen=True)
class Breakdown:
    """Where a figure's counts come from."""

    platform_online: int = 0
    platform_counter: int = 0
    platform_mail: int = 0
    imported_total: int = 0
    imported_online: int = 0

    def __add__(self, other: Breakdown) -> Breakdown:
        return Breakdown(
            self.platform_online + other.platform_online,
            self.platform_counter + other.platform_counter,
            self.platform_mail + other.platform_mail,
            self.imported_total + other.imported_total,
            self.imported_online + other.imported_online,
        )


@dataclass(frozen=True)
class Figure:
    """Total and online count; the rate is derived (one decimal, half up)."""

    breakdown: Breakdown = Breakdown()

    @property
    def total(self) -> int:
        b = self.breakdown
        return b.platform_online + b.platform_counter + b.platform_mail + b.imported_total

    @property
    def online(self) -> int:
        return self.breakdown.platform_online + self.breakdown.imported_online

    @property
    def rate(self) -> Decimal | None:
        return rate(total=self.total, online=self.online)

    @property
    def rate_text(self) -> str:
        return rate_text(self.rate)

    @property
    def counted(self) -> bool:
        return self.total > 0

    def __add__(self, other: Figure) -> Figure:
        return Figure(self.breakdown + other.breakdown)


@dataclass(frozen=True)
class OrganisationRow:
    category: CategoryRef | None  # None on the total row
    current: Figure
    previous: Figure

    @property
    def rate_change(self) -> Decimal | None:
        """This year's rate minus last year's, in percentage points (None if either is)."""
        if self.current.rate is None or self.previous.rate is None:
            return None
        return self.current.rate - self.previous.rate

    @property
    def total_change(self) -> int:
        return self.current.total - self.previous.total


@dataclass(frozen=True)
class OrganisationTable:
    organisation: OrganisationRef
    category_list_code: str
    category_list_name: str
    fiscal_year: int
    #: Whether the list applied in that fiscal year (a table outside it is shown with a note).
    list_applies: bool
    rows: tuple[OrganisationRow, ...]
    total: OrganisationRow
    #: Wards whose counts are included (a designated city's table).
    wards: tuple[OrganisationRef, ...]


@dataclass(frozen=True)
class MonthlyRow:
    category: CategoryRef | None  # None on the total row
    #: Twelve figures, April → March.
    months: tuple[Figure, ...]
    #: Imported figures of the whole year that have no month (month 0).
    year_only: Figure
    year: Figure


@dataclass(frozen=True)
class OrganisationMonthly:
    organisation: OrganisationRef
    category_list_code: str
    category_list_name: str
    fiscal_year: int
    months: tuple[date, ...]
    rows: tuple[MonthlyRow, ...]
    total: MonthlyRow
    wards: tuple[OrganisationRef, ...]


@dataclass(frozen=True)
class Published:
    """A published figure (公表値) as entered, in 件."""

    total: int
    online: int
    source: str
    entered_at: date | None

    @property
    def rate(self) -> Decimal | None:
        return rate(total=self.total, online=self.online)

    @property
    def rate_text(self) -> str:
        return rate_text(self.rate)


@dataclass(frozen=True)
class CategoryFigure:
    category: CategoryRef
    figure: Figure


@dataclass(frozen=True)
class MunicipalityRow:
    organisation: OrganisationRef
    figure: Figure
    #: Categories of the list it offers online (see deployment_status for the rule).
    categories_online: int

    @property
    def offers_online(self) -> bool:
        return self.categories_online > 0


@dataclass(frozen=True)
class PrefectureTable:
    prefecture: OrganisationRef
    category_list_code: str
    category_list_name: str
    fiscal_year: int
    sort: str
    rows: tuple[MunicipalityRow, ...]
    #: The prefectural government's own procedures.
    government: MunicipalityRow
    municipalities_total: Figure
    total: Figure
    published: Published | None
    #: Municipalities without a population in the master.
    population_missing: int
    #: The whole prefecture (municipalities and government) per category, in list order.
    categories: tuple[CategoryFigure, ...] = ()


@dataclass(frozen=True)
class PrefectureFigure:
    """One prefecture as a whole (its municipalities and its government), for the map."""

    prefecture: OrganisationRef
    figure: Figure
    #: Organisations of the prefecture (wards in their city) with counts in the year.
    reporting: int


@dataclass(frozen=True)
class EstimateStratum:
    """One stratum of the population method: municipalities, or prefectural governments."""

    label: str
    #: Organisations of the stratum with counts in the year.
    reporting: int
    #: … of which without population: excluded from the estimate.
    reporting_without_population: int
    reporting_population: int
    #: All organisations of the stratum, their known population, and how many lack one.
    organisations: int
    population: int
    population_missing: int
    #: Counts of the reporting organisations with population (the estimate's inputs).
    base: Figure
    total: int
    online: int

    @property
    def coverage(self) -> Decimal | None:
        """Reporting population ÷ the stratum's population, in percent (one decimal)."""
        return rate(total=self.population, online=self.reporting_population)


@dataclass(frozen=True)
class NationalEstimate:
    """推計値: each stratum's counts scaled by its population over the reporting population."""

    strata: tuple[EstimateStratum, ...]
    formula: str

    @property
    def total(self) -> int:
        return sum(s.total for s in self.strata)

    @property
    def online(self) -> int:
        return sum(s.online for s in self.strata)

    @property
    def rate(self) -> Decimal | None:
        return rate(total=self.total, online=self.online)

    @property
    def rate_text(self) -> str:
        return rate_text(self.rate)

    @property
    def population_missing(self) -> int:
        """Organisations of every stratum without a population in the master."""
        return sum(s.population_missing for s in self.strata)

    @property
    def complete(self) -> bool:
        """True when every organisation's population is known: only then is the estimate a
        national one. Otherwise it covers only the organisations with a population, and the
        screens say so instead of presenting it as the nation's."""
        return self.population_missing == 0


@dataclass(frozen=True)
class NationalYear:
    fiscal_year: int
    #: 単純合計: the plain sum over every organisation.
    plain: Figure
    reporting_organisations: int
    estimate: NationalEstimate | None
    published: Published | None


@dataclass(frozen=True)
class NationalTable:
    category_list_code: str
    category_list_name: str
    #: Oldest first.
    years: tuple[NationalYear, ...]
    top_year: int | None
    top_categories: tuple[CategoryFigure, ...]
    #: Every category of the list in ``top_year``, in list order (zeros included).
    categories: tuple[CategoryFigure, ...] = ()


@dataclass(frozen=True)
class DeploymentRow:
    category: CategoryRef
    #: Organisations (prefectures included) offering it online.
    organisations: int
    municipalities: int
    #: Of the scope's municipalities, in percent (one decimal).
    share: Decimal | None
    population_covered: int
    #: Offering municipalities without a population (not in ``population_covered``).
    population_missing: int
    via_platform: int
    via_import: int


@dataclass(frozen=True)
class DeploymentStatus:
    category_list_code: str
    category_list_name: str
    fiscal_year: int
    prefecture: OrganisationRef | None
    #: Municipalities in scope (wards are part of their city) and their known population.
    municipalities: int
    population: int
    population_missing: int
    rows: tuple[DeploymentRow, ...]


# --- Reading the inputs -------------------------------------------------------------------

_GENERATION_KEY = "madoguchi.stats.figures.generation"

#: Kinds counted as municipalities (市区町村). Wards (行政区) belong to their city.
MUNICIPAL_KINDS = frozenset(
    {
        OrganisationKind.DESIGNATED_CITY,
        OrganisationKind.CITY,
        OrganisationKind.TOWN,
        OrganisationKind.VILLAGE,
        OrganisationKind.SPECIAL_WARD,
    }
)

_EMPTY = Figure()


def _generation() -> int:
    value = cache.get(_GENERATION_KEY)
    if value is None:
        cache.add(_GENERATION_KEY, 1, None)
        value = cache.get(_GENERATION_KEY, 1)
    return int(value)


def figures_cache_clear() -> None:
    """Forget every cached figure (call after a write of the figures' inputs commits)."""
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:
        cache.set(_GENERATION_KEY, 2, None)


def _cached[T](name: str, key: tuple[object, ...], compute: Callable[[], T]) -> T:
    cache_key = f"madoguchi.stats.{name}.{_generation()}." + ".".join(map(str, key))
    hit: T | None = cache.get(cache_key)
    if hit is not None:
        return hit
    # A cached figure is public and the same for everyone: it is computed across every
    # organisation whoever asks first (a console request's narrower database scope would
    # otherwise count zeros and serve them to the public pages for CACHE_SECONDS).
    with tenant_scope(ALL):
        value = compute()
    cache.set(cache_key, value, CACHE_SECONDS)
    return value


def _ref(org: Organisation) -> OrganisationRef:
    return OrganisationRef(
        id=org.pk,
        lg_code=org.lg_code,
        name=org.name,
        display_name=org.display_name,
        kind=org.kind,
        kind_label=OrganisationKind(org.kind).label,
        prefecture_code=org.prefecture_code,
        population=org.population,
        population_as_of=org.population_as_of,
        latitude=org.latitude,
        longitude=org.longitude,
    )


def _unit_id(org: Organisation) -> int:
    """The organisation a count belongs to in tables above a ward: a ward's city."""
    if org.kind == OrganisationKind.WARD and org.parent_id is not None:
        return org.parent_id
    return org.pk


def _channel(channel: str, count: int) -> Breakdown:
    if channel == "online":
        return Breakdown(platform_online=count)
    if channel == "counter":
        return Breakdown(platform_counter=count)
    return Breakdown(platform_mail=count)


def _platform(
    *,
    organisation_ids: Collection[int] | None,
    codes: frozenset[str],
    fiscal_years: tuple[int, int] | None,
) -> Iterable[tuple[int, str, date, Breakdown]]:
    """(organisation id, category, month, counts) of applications made through the platform
    (exact; test applications never), for the fiscal years ``(first, last)`` or all."""
    categories = procedure_categories(organisation_ids=organisation_ids)
    if not any(code in codes for code in categories.values()):
        return  # no procedure of the list's categories: no application can count
    since = until = None
    if fiscal_years is not None:
        since, until = date(fiscal_years[0], 4, 1), date(fiscal_years[1] + 1, 3, 1)
    rows: list[ArrivalCount | BookingCount] = [
        *arrival_counts(organisation_ids=organisation_ids, since=since, until=until),
        *booking_counts(organisation_ids=organisation_ids, since=since, until=until),
    ]
    for row in rows:
        code = categories.get(row.procedure_id) if row.procedure_id is not None else None
        if code is not None and code in codes:
            yield row.organisation_id, code, row.month, _channel(row.channel, row.count)


_IMPORT_KEY = ("organisation_id", "category_code", "fiscal_year")


def _imported(*, where: Q, group_by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Imported counts summed by ``group_by`` (fields of :data:`_IMPORT_KEY`): a whole-year
    row (month 0) is the year's figure where it exists, else the monthly rows are (never
    both). One scan: the database sums year and monthly rows apart per organisation ×
    category × fiscal year (no correlated subquery), the choice and the rest are summed here.
    """
    rows = (
        ImportedCount.objects.filter(where)
        .values_list(*_IMPORT_KEY)
        .annotate(
            year_total=Sum("total", filter=Q(month=0)),
            year_online=Sum("online", filter=Q(month=0)),
            months_total=Sum("total", filter=Q(month__gt=0)),
            months_online=Sum("online", filter=Q(month__gt=0)),
        )
        .order_by()
    )
    positions = [_IMPORT_KEY.index(name) for name in group_by]
    sums: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        if row[3] is not None:
            total, online = int(row[3]), int(row[4] or 0)
        else:
            total, online = int(row[5] or 0), int(row[6] or 0)
        key = tuple(row[i] for i in positions)
        acc = sums.setdefault(key, [0, 0])
        acc[0] += total
        acc[1] += online
    return [(*key, total, online) for key, (total, online) in sums.items()]


def _imported_breakdown(total: int | None, online: int | None) -> Breakdown:
    return Breakdown(imported_total=int(total or 0), imported_online=int(online or 0))


def _add(into: dict[Any, Breakdown], key: Any, value: Breakdown) -> None:
    into[key] = into[key] + value if key in into else value


def _published(
    *, prefecture_code: str, category_list: CategoryList, fiscal_year: int
) -> Published | None:
    row = PublishedFigure.objects.filter(
        prefecture_code=prefecture_code, category_list=category_list.code, fiscal_year=fiscal_year
    ).first()
    return _published_of(row) if row is not None else None


def _published_of(row: PublishedFigure) -> Published:
    return Published(
        total=row.total, online=row.online, source=row.source, entered_at=row.entered_at.date()
    )


def _categories(category_list: CategoryList) -> tuple[CategoryRef, ...]:
    return tuple(CategoryRef(code=c.code, name=c.name) for c in category_list.categories)


def _members(organisation: Organisation) -> list[Organisation]:
    """The organisation and the wards whose counts its table includes."""
    wards = Organisation.objects.filter(parent=organisation, kind=OrganisationKind.WARD)
    return [organisation, *wards.select_related("parent").order_by("lg_code")]


# --- Organisation ---------------------------------------------------------------------------


def organisation_table(
    *, organisation: Organisation, category_list: CategoryList, fiscal_year: int
) -> OrganisationTable:
    """The organisation's per-category table for a fiscal year with the year before (PUBLIC,
    cached for ``CACHE_SECONDS``). A designated city includes its wards."""
    return _cached(
        "organisation",
        (organisation.pk, category_list.code, category_list.version, fiscal_year),
        lambda: _organisation_table(organisation, category_list, fiscal_year),
    )


def _organisation_table(
    organisation: Organisation, category_list: CategoryList, fiscal_year: int
) -> OrganisationTable:
    members = _members(organisation)
    ids = [m.pk for m in members]
    codes = category_list.codes
    counts: dict[tuple[str, int], Breakdown] = {}
    for _org, code, month, value in _platform(
        organisation_ids=ids, codes=codes, fiscal_years=(fiscal_year - 1, fiscal_year)
    ):
        _add(counts, (code, fiscal_year_of(month)), value)
    for code, year, total, online in _imported(
        where=Q(
            organisation_id__in=ids,
            category_code__in=codes,
            fiscal_year__in=(fiscal_year - 1, fiscal_year),
        ),
        group_by=("category_code", "fiscal_year"),
    ):
        _add(counts, (code, year), _imported_breakdown(total, online))
    rows = tuple(
        OrganisationRow(
            category=category,
            current=Figure(counts.get((category.code, fiscal_year), Breakdown())),
            previous=Figure(counts.get((category.code, fiscal_year - 1), Breakdown())),
        )
        for category in _categories(category_list)
    )
    return OrganisationTable(
        organisation=_ref(organisation),
        category_list_code=category_list.code,
        category_list_name=category_list.name,
        fiscal_year=fiscal_year,
        list_applies=category_list.applies_to(fiscal_year),
        rows=rows,
        total=OrganisationRow(
            category=None,
            current=sum((row.current for row in rows), _EMPTY),
            previous=sum((row.previous for row in rows), _EMPTY),
        ),
        wards=tuple(_ref(m) for m in members[1:]),
    )


def organisation_monthly(
    *, organisation: Organisation, category_list: CategoryList, fiscal_year: int
) -> OrganisationMonthly:
    """Per category × month (April → March) of one fiscal year. NOT PUBLIC and not cached:
    entry points call :func:`organisation_monthly_for`, which checks who may see it.

    Imported counts of an organisation × category whose year was imported as a whole
    (month 0) are in ``year_only``, and its monthly rows (if any) are left out, so that the
    months plus ``year_only`` always add up to the year's figure of :func:`organisation_table`.
    """
    members = _members(organisation)
    ids = [m.pk for m in members]
    codes = category_list.codes
    months = fiscal_year_months(fiscal_year)
    index = {month: i for i, month in enumerate(months)}
    monthly: dict[tuple[str, int], Breakdown] = {}
    year_only: dict[str, Breakdown] = {}
    for _org, code, month, value in _platform(
        organisation_ids=ids, codes=codes, fiscal_years=(fiscal_year, fiscal_year)
    ):
        _add(monthly, (code, index[month]), value)
    imported = list(
        ImportedCount.objects.filter(
            organisation_id__in=ids, category_code__in=codes, fiscal_year=fiscal_year
        ).values_list("organisation_id", "category_code", "month", "total", "online")
    )
    whole_year = {(org, code) for org, code, number, _t, _o in imported if number == 0}
    for org, code, number, total, online in imported:
        value = _imported_breakdown(total, online)
        if number == 0:
            _add(year_only, code, value)
        elif (org, code) not in whole_year:
            _add(monthly, (code, index[date(fiscal_year + (number < 4), number, 1)]), value)
    rows = []
    for category in _categories(category_list):
        figures = tuple(Figure(monthly.get((category.code, i), Breakdown())) for i in range(12))
        only = Figure(year_only.get(category.code, Breakdown()))
        rows.append(
            MonthlyRow(
                category=category,
                months=figures,
                year_only=only,
                year=sum(figures, only),
            )
        )
    total_months = tuple(sum((row.months[i] for row in rows), _EMPTY) for i in range(12))
    total_only = sum((row.year_only for row in rows), _EMPTY)
    return OrganisationMonthly(
        organisation=_ref(organisation),
        category_list_code=category_list.code,
        category_list_name=category_list.name,
        fiscal_year=fiscal_year,
        months=months,
        rows=tuple(rows),
        total=MonthlyRow(
            category=None,
            months=total_months,
            year_only=total_only,
            year=sum(total_months, total_only),
        ),
        wards=tuple(_ref(m) for m in members[1:]),
    )


def monthly_detail_visible(*, user: User, organisation: Organisation) -> bool:
    """Whether ``user`` may see ``organisation``'s monthly detail: an active staff member of
    it (of its city, for a ward), or an operator of an active shared group it belongs to."""
    if not user.is_authenticated:
        return False
    target_id = _unit_id(organisation)
    if Staff.objects.filter(
        user=user, active=True, organisation_id=target_id, organisation__active=True
    ).exists():
        return True
    groups = GroupMembership.objects.filter(organisation_id=target_id, group__active=True)
    return GroupOperator.objects.filter(user=user, group_id__in=groups.values("group_id")).exists()


def organisation_monthly_for(
    *, user: User, organisation: Organisation, category_list: CategoryList, fiscal_year: int
) -> OrganisationMonthly:
    """:func:`organisation_monthly` for someone :func:`monthly_detail_visible` allows;
    raises :class:`FiguresNotVisible` (answer 404, as for any other organisation's data)."""
    if not monthly_detail_visible(user=user, organisation=organisation):
        raise FiguresNotVisible(organisation.lg_code)
    return organisation_monthly(
        organisation=organisation, category_list=category_list, fiscal_year=fiscal_year
    )


# --- Who offers what online -----------------------------------------------------------------


def _offering(
    *, organisations: dict[int, Organisation] | None, codes: frozenset[str], fiscal_year: int
) -> dict[int, dict[str, set[str]]]:
    """unit id → category → {"platform", "import"}: a published platform procedure in the
    category, or imported online counts > 0 in the fiscal year."""
    ids = list(organisations) if organisations is not None else None
    units = _unit_map(organisations)
    result: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    categories = procedure_categories(organisation_ids=ids)
    procedures = Procedure.objects.filter(status=ProcedureStatus.PUBLISHED)
    where = Q(category_code__in=codes, fiscal_year=fiscal_year)
    if ids is not None:
        procedures = procedures.filter(organisation_id__in=ids)
        where &= Q(organisation_id__in=ids)
    for procedure_id, organisation_id in procedures.values_list("pk", "organisation_id"):
        code = categories.get(procedure_id)
        if code in codes:
            result[units.get(organisation_id, organisation_id)][code].add("platform")
    for organisation_id, code, _total, online in _imported(
        where=where, group_by=("organisation_id", "category_code")
    ):
        if online and online > 0:
            result[units.get(organisation_id, organisation_id)][code].add("import")
    return result


def _unit_map(organisations: dict[int, Organisation] | None) -> dict[int, int]:
    """Ward id → city id (only wards are in it)."""
    wards = (
        organisations.values()
        if organisations is not None
        else Organisation.objects.filter(kind=OrganisationKind.WARD).only("pk", "kind", "parent_id")
    )
    return {org.pk: _unit_id(org) for org in wards if org.kind == OrganisationKind.WARD}


# --- Prefecture -----------------------------------------------------------------------------


def _sort_key(sort: str) -> Callable[[MunicipalityRow], tuple[Any, ...]]:
    field = sort.lstrip("-")
    descending = sort.startswith("-")

    def key(row: MunicipalityRow) -> tuple[Any, ...]:
        value: Any
        if field == "code":
            return (row.organisation.lg_code,)
        if field == "rate":
            value = row.figure.rate
        elif field == "population":
            value = row.organisation.population
        else:
            value = getattr(row.figure, field)
        if value is None:
            return (1, 0, row.organisation.lg_code)  # unknown last, either way
        return (0, -value if descending else value, row.organisation.lg_code)

    return key


def prefecture_table(
    *, prefecture_code: str, category_list: CategoryList, fiscal_year: int, sort: str = "code"
) -> PrefectureTable:
    """The prefecture's municipalities side by side for a fiscal year (PUBLIC, cached).

    Raises ``UnknownPrefecture`` (no such prefecture) and ``ValueError`` (``sort`` not in
    :data:`PREFECTURE_SORTS`). Municipalities are the active ones plus any inactive one with
    counts in the year (a merged town's past); wards are inside their city's row.
    """
    if sort not in PREFECTURE_SORTS:
        raise ValueError("並べ替えは " + "、".join(PREFECTURE_SORTS) + " のいずれかです。")
    prefecture = prefecture_get(code=prefecture_code)
    return _cached(
        "prefecture",
        (prefecture.prefecture_code, category_list.code, category_list.version, fiscal_year, sort),
        lambda: _prefecture_table(prefecture, category_list, fiscal_year, sort),
    )


def _prefecture_table(
    prefecture: Organisation, category_list: CategoryList, fiscal_year: int, sort: str
) -> PrefectureTable:
    organisations = {
        org.pk: org
        for org in Organisation.objects.filter(
            prefecture_code=prefecture.prefecture_code
        ).select_related("parent")
    }
    units = _unit_map(organisations)
    codes = category_list.codes
    ids = list(organisations)
    counts: dict[int, Breakdown] = {}
    by_category: dict[str, Breakdown] = {}
    for org_id, code, _month, value in _platform(
        organisation_ids=ids, codes=codes, fiscal_years=(fiscal_year, fiscal_year)
    ):
        _add(counts, units.get(org_id, org_id), value)
        _add(by_category, code, value)
    for org_id, code, total, online in _imported(
        where=Q(organisation_id__in=ids, category_code__in=codes, fiscal_year=fiscal_year),
        group_by=("organisation_id", "category_code"),
    ):
        _add(counts, units.get(org_id, org_id), _imported_breakdown(total, online))
        _add(by_category, code, _imported_breakdown(total, online))
    offering = _offering(organisations=organisations, codes=codes, fiscal_year=fiscal_year)

    def row(org: Organisation) -> MunicipalityRow:
        return MunicipalityRow(
            organisation=_ref(org),
            figure=Figure(counts.get(org.pk, Breakdown())),
            categories_online=len(offering.get(org.pk, {})),
        )

    rows = [
        row(org)
        for org in organisations.values()
        if org.kind in MUNICIPAL_KINDS and (org.active or org.pk in counts)
    ]
    rows.sort(key=_sort_key(sort))
    government = row(prefecture)
    municipalities_total = sum((r.figure for r in rows), _EMPTY)
    return PrefectureTable(
        prefecture=_ref(prefecture),
        category_list_code=category_list.code,
        category_list_name=category_list.name,
        fiscal_year=fiscal_year,
        sort=sort,
        rows=tuple(rows),
        government=government,
        municipalities_total=municipalities_total,
        total=municipalities_total + government.figure,
        published=_published(
            prefecture_code=prefecture.prefecture_code,
            category_list=category_list,
            fiscal_year=fiscal_year,
        ),
        population_missing=sum(1 for r in rows if r.organisation.population is None),
        categories=tuple(
            CategoryFigure(category=c, figure=Figure(by_category.get(c.code, Breakdown())))
            for c in _categories(category_list)
        ),
    )


def prefecture_figures(
    *, category_list: CategoryList, fiscal_year: int
) -> tuple[PrefectureFigure, ...]:
    """Every prefecture as a whole for a fiscal year, in code order (PUBLIC, cached); the
    figure of each equals its :func:`prefecture_table` ``total``."""
    return _cached(
        "prefectures",
        (category_list.code, category_list.version, fiscal_year),
        lambda: _prefecture_figures(category_list, fiscal_year),
    )


def _prefecture_figures(
    category_list: CategoryList, fiscal_year: int
) -> tuple[PrefectureFigure, ...]:
    organisations = {
        org.pk: org for org in Organisation.objects.select_related("parent").order_by("lg_code")
    }
    units = _unit_map(organisations)
    codes = category_list.codes
    counts: dict[int, Breakdown] = {}
    for org_id, _code, _month, value in _platform(
        organisation_ids=None, codes=codes, fiscal_years=(fiscal_year, fiscal_year)
    ):
        _add(counts, units.get(org_id, org_id), value)
    for org_id, total, online in _imported(
        where=Q(category_code__in=codes, fiscal_year=fiscal_year), group_by=("organisation_id",)
    ):
        _add(counts, units.get(org_id, org_id), _imported_breakdown(total, online))
    by_prefecture: dict[str, Breakdown] = {}
    reporting: dict[str, int] = defaultdict(int)
    for unit, value in counts.items():
        org = organisations.get(unit)
        if org is None or not (
            org.kind in MUNICIPAL_KINDS or org.kind == OrganisationKind.PREFECTURE
        ):
            continue
        _add(by_prefecture, org.prefecture_code, value)
        if Figure(value).counted:
            reporting[org.prefecture_code] += 1
    return tuple(
        PrefectureFigure(
            prefecture=_ref(org),
            figure=Figure(by_prefecture.get(org.prefecture_code, Breakdown())),
            reporting=reporting[org.prefecture_code],
        )
        for org in organisations.values()
        if org.kind == OrganisationKind.PREFECTURE
    )


# --- Nation ---------------------------------------------------------------------------------

ESTIMATE_FORMULA = (
    "推計値 = 層ごとの（人口のある報告団体の件数 × 層の人口 ÷ 人口のある報告団体の人口）の合計。"
    "層は市区町村（行政区は指定都市に含む）と都道府県。報告団体はその年度に件数のある団体。"
    "人口が団体マスタにない団体は推計から除き、その数を示す（補わない）。"
    "件数は1件未満を四捨五入。"
)

_STRATA: tuple[tuple[str, frozenset[str]], ...] = (
    ("市区町村", MUNICIPAL_KINDS),
    ("都道府県", frozenset({OrganisationKind.PREFECTURE})),
)


def _scale(count: int, population: int, reporting_population: int) -> int:
    """count × population ÷ reporting_population, rounded half up, in integers."""
    return (2 * count * population + reporting_population) // (2 * reporting_population)


def _estimate(
    units: dict[int, Breakdown], organisations: dict[int, Organisation]
) -> NationalEstimate | None:
    strata = []
    for label, kinds in _STRATA:
        members = [org for org in organisations.values() if org.kind in kinds]
        active = [org for org in members if org.active]
        reporting = [org for org in members if org.pk in units and Figure(units[org.pk]).counted]
        with_population = [org for org in reporting if org.population is not None]
        base = sum((Figure(units[org.pk]) for org in with_population), _EMPTY)
        reporting_population = sum(org.population or 0 for org in with_population)
        population = sum(org.population or 0 for org in active)
        total = online = 0
        if reporting_population > 0:
            total = _scale(base.total, population, reporting_population)
            online = _scale(base.online, population, reporting_population)
        strata.append(
            EstimateStratum(
                label=label,
                reporting=len(reporting),
                reporting_without_population=len(reporting) - len(with_population),
                reporting_population=reporting_population,
                organisations=len(active),
                population=population,
                population_missing=sum(1 for org in active if org.population is None),
                base=base,
                total=total,
                online=online,
            )
        )
    if not any(s.reporting_population for s in strata):
        return None
    return NationalEstimate(strata=tuple(strata), formula=ESTIMATE_FORMULA)


def national_table(
    *, category_list: CategoryList, top_year: int | None = None, top: int = 10
) -> NationalTable:
    """The ministry's form for the list, one row per fiscal year the list applies to that has
    counts or a published figure (PUBLIC, cached)."""
    return _cached(
        "national",
        (category_list.code, category_list.version, top_year, top),
        lambda: _national_table(category_list, top_year, top),
    )


def _national_table(category_list: CategoryList, top_year: int | None, top: int) -> NationalTable:
    organisations = {
        org.pk: org
        for org in Organisation.objects.only(
            "pk", "kind", "parent_id", "population", "active", "prefecture_code"
        )
    }
    units = _unit_map(organisations)
    codes = category_list.codes
    by_unit: dict[tuple[int, int], Breakdown] = {}
    by_category: dict[tuple[str, int], Breakdown] = {}
    for org_id, code, month, value in _platform(
        organisation_ids=None, codes=codes, fiscal_years=None
    ):
        year = fiscal_year_of(month)
        _add(by_unit, (units.get(org_id, org_id), year), value)
        _add(by_category, (code, year), value)
    for org_id, code, year, total, online in _imported(
        where=Q(category_code__in=codes), group_by=_IMPORT_KEY
    ):
        value = _imported_breakdown(total, online)
        _add(by_unit, (units.get(org_id, org_id), year), value)
        _add(by_category, (code, year), value)
    published = {
        row.fiscal_year: _published_of(row)
        for row in PublishedFigure.objects.filter(
            prefecture_code="", category_list=category_list.code
        )
    }
    counted_years = {year for (_unit, year), value in by_unit.items() if Figure(value).counted}
    years = []
    for year in sorted(counted_years | set(published)):
        if not category_list.applies_to(year):
            continue
        year_units = {unit: value for (unit, y), value in by_unit.items() if y == year}
        plain = Figure(sum(year_units.values(), Breakdown()))
        years.append(
            NationalYear(
                fiscal_year=year,
                plain=plain,
                reporting_organisations=sum(
                    1 for value in year_units.values() if Figure(value).counted
                ),
                estimate=_estimate(year_units, organisations) if plain.counted else None,
                published=published.get(year),
            )
        )
    if top_year is None:
        with_counts = [y.fiscal_year for y in years if y.plain.counted]
        top_year = max(with_counts) if with_counts else None
    every: list[CategoryFigure] = []
    if top_year is not None:
        every = [
            CategoryFigure(
                category=c, figure=Figure(by_category.get((c.code, top_year), Breakdown()))
            )
            for c in _categories(category_list)
        ]
    tops = [t for t in every if t.figure.counted]
    tops.sort(key=lambda t: (-t.figure.online, -t.figure.total, t.category.code))
    return NationalTable(
        category_list_code=category_list.code,
        category_list_name=category_list.name,
        years=tuple(years),
        top_year=top_year,
        top_categories=tuple(tops[:top]),
        categories=tuple(every),
    )


# --- Deployment -----------------------------------------------------------------------------


def deployment_status(
    *, category_list: CategoryList, fiscal_year: int, prefecture_code: str | None = None
) -> DeploymentStatus:
    """Per category: who offers it online in the fiscal year, their share of the
    municipalities and the population they cover (PUBLIC, cached). Raises
    ``UnknownPrefecture`` for an unknown ``prefecture_code``."""
    prefecture = prefecture_get(code=prefecture_code) if prefecture_code is not None else None
    return _cached(
        "deployment",
        (
            prefecture.prefecture_code if prefecture else "all",
            category_list.code,
            category_list.version,
            fiscal_year,
        ),
        lambda: _deployment_status(category_list, fiscal_year, prefecture),
    )


def _deployment_status(
    category_list: CategoryList, fiscal_year: int, prefecture: Organisation | None
) -> DeploymentStatus:
    scope = Organisation.objects.only(
        "pk", "kind", "parent_id", "population", "active", "prefecture_code"
    )
    if prefecture is not None:
        scope = scope.filter(prefecture_code=prefecture.prefecture_code)
    organisations = {org.pk: org for org in scope}
    offering = _offering(
        organisations=organisations if prefecture is not None else None,
        codes=category_list.codes,
        fiscal_year=fiscal_year,
    )
    municipalities = [
        org for org in organisations.values() if org.kind in MUNICIPAL_KINDS and org.active
    ]
    rows = []
    for category in _categories(category_list):
        offering_units = [
            organisations[unit]
            for unit, codes in offering.items()
            if category.code in codes and unit in organisations
        ]
        offering_municipalities = [
            org for org in offering_units if org.kind in MUNICIPAL_KINDS and org.active
        ]
        rows.append(
            DeploymentRow(
                category=category,
                organisations=len(offering_units),
                municipalities=len(offering_municipalities),
                share=rate(total=len(municipalities), online=len(offering_municipalities)),
                population_covered=sum(org.population or 0 for org in offering_municipalities),
                population_missing=sum(
                    1 for org in offering_municipalities if org.population is None
                ),
                via_platform=sum(
                    1 for org in offering_units if "platform" in offering[org.pk][category.code]
                ),
                via_import=sum(
                    1 for org in offering_units if "import" in offering[org.pk][category.code]
                ),
            )
        )
    return DeploymentStatus(
        category_list_code=category_list.code,
        category_list_name=category_list.name,
        fiscal_year=fiscal_year,
        prefecture=_ref(prefecture) if prefecture is not None else None,
        municipalities=len(municipalities),
        population=sum(org.population or 0 for org in municipalities),
        population_missing=sum(1 for org in municipalities if org.population is None),
        rows=tuple(rows),
    )
