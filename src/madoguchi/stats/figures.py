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
    a rate of None sorts last. Unknown prefecture → ``UnknownPrefecture`` (tenants). PUBLIC.
``national_table(*, category_list, top_year=None, top=10) -> NationalTable``
    The ministry's form per fiscal year (:class:`NationalYear`): the plain sum over all
    organisations, the population-method estimate (:class:`NationalEstimate`, with its
    inputs and formula) and the 公表値 (:class:`Published`) when entered; years are those
    with counts or a published figure, oldest first. Plus the top categories (by online
    count) of ``top_year`` (default: the latest year with counts). PUBLIC.
``deployment_status(*, category_list, fiscal_year, prefecture_code=None)``
    → ``DeploymentStatus``: per category, organisations offering it online (a published
    platform procedure in that category, or imported online counts > 0 in the fiscal year),
    their share of the municipalities, the population they cover (and how many offering
    municipalities have no population). PUBLIC.
``fiscal_year_of(day) -> int``, ``fiscal_year_months(fiscal_year) -> tuple[date, ...]``,
``rate(total=, online=)`` and ``figures_cache_clear()``.

Where numbers come from
    Platform counts: :func:`madoguchi.applications.selectors.arrival_counts` (exact GROUP BY
    over the applications, test applications never, purged applications still), mapped to a
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
    :func:`figures_cache_clear` bumps the generation and is called by every write of the
    figures' inputs in this app (published figures, imports). Applications arriving show
    within a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

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


@dataclass(frozen=True)
class NationalYear:
    fiscal_year: int
    #: 単純合計: the plain sum over every organisation.
    plain: Figure
    reporting_organisations: int
    estimate: NationalEstimate | None
    published: Published | None


@dataclass(frozen=True)
class CategoryFigure:
    category: CategoryRef
    figure: Figure


@dataclass(frozen=True)
class NationalTable:
    category_list_code: str
    category_list_name: str
    #: Oldest first.
    years: tuple[NationalYear, ...]
    top_year: int | None
    top_categories: tuple[CategoryFigure, ...]


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
