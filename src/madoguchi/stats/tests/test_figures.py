"""The figures: exact counts from applications made through the platform plus imported counts,
per organisation, prefecture and nation, in fiscal years (April–March, Japan time)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.applications.models import Application
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import GroupOperator
from madoguchi.stats.categories import CategoryList, category_list
from madoguchi.stats.figures import (
    FiguresNotVisible,
    deployment_status,
    fiscal_year_of,
    monthly_detail_visible,
    national_table,
    organisation_monthly_for,
    organisation_table,
    prefecture_figures,
    prefecture_table,
)
from madoguchi.stats.models import PublishedFigure
from madoguchi.stats.services import (
    PublishedFigureInvalid,
    published_figure_set,
    published_figures_seed,
)
from madoguchi.tenants.models import GroupMembership, Organisation, SharedGroup
from madoguchi.tenants.selectors import UnknownPrefecture
from madoguchi.testing import (
    counts_imported,
    procedure_classified,
    resident_create,
    staff_create,
    submit,
    valid_answers,
)

pytestmark = pytest.mark.django_db


def _list(code: str) -> CategoryList:
    found = category_list(code)
    assert found is not None
    return found


G21 = _list("guideline-21")
JST_MIDNIGHT_APRIL_2019 = datetime(2019, 3, 31, 15, 0, tzinfo=UTC)


def arrive(procedure, resident, at: datetime, *, channel: str = "online", test: bool = False):
    application = submit(procedure, resident, valid_answers(procedure)).application
    Application.objects.filter(pk=application.pk).update(
        arrived_at=at, channel=channel, is_test=test
    )
    return application


def row(table, code):
    return next(r for r in table.rows if r.category is not None and r.category.code == code)


def test_an_organisations_table_is_exact_from_its_applications_and_imports(organisation, resident):
    events = procedure_classified(organisation, "event-application")
    fy2018 = datetime(2018, 6, 10, 3, 0, tzinfo=UTC)
    for _ in range(3):
        arrive(events, resident, fy2018)
    arrive(events, resident, fy2018, channel="counter")
    arrive(events, resident, fy2018, channel="mail")
    arrive(events, resident, fy2018, test=True)  # 運用テスト: never counted
    arrive(events, resident, datetime(2017, 9, 1, tzinfo=UTC))  # the year before
    counts_imported(
        organisation,
        ("library-reservation", 2018, 0, 1000, 600),
        # Monthly rows only: summed.
        ("eltax-filing", 2018, 4, 10, 7),
        ("eltax-filing", 2018, 3, 5, 5),
        # A whole-year row and monthly rows: the year's row is the figure, never both.
        ("facility-reservation", 2018, 0, 200, 150),
        ("facility-reservation", 2018, 5, 20, 15),
        ("library-reservation", 2017, 0, 900, 450),
    )

    table = organisation_table(organisation=organisation, category_list=G21, fiscal_year=2018)

    assert [r.category.code for r in table.rows if r.category] == [c.code for c in G21.categories]
    event = row(table, "event-application")
    assert (event.current.total, event.current.online, event.current.rate) == (
        5,
        3,
        Decimal("60.0"),
    )
    assert event.current.breakdown.platform_counter == 1
    assert event.current.breakdown.platform_mail == 1
    assert (event.previous.total, event.previous.online) == (1, 1)
    assert event.rate_change == Decimal("-40.0")
    library = row(table, "library-reservation")
    assert (library.current.total, library.current.online, library.current.rate_text) == (
        1000,
        600,
        "60.0",
    )
    assert library.current.breakdown.imported_total == 1000
    assert library.previous.rate == Decimal("50.0")
    assert (
        row(table, "eltax-filing").current.total,
        row(table, "eltax-filing").current.online,
    ) == (
        15,
        12,
    )
    assert row(table, "facility-reservation").current.total == 200
    assert (table.total.current.total, table.total.current.online) == (1220, 765)
    assert table.total.current.rate == Decimal("62.7")
    assert table.list_applies
    assert table.organisation.lg_code == "141003"


def test_a_fiscal_year_ends_at_midnight_on_31_march_in_japan(organisation, resident):
    events = procedure_classified(organisation, "event-application")
    arrive(events, resident, datetime(2019, 3, 31, 14, 59, 59, tzinfo=UTC))
    arrive(events, resident, JST_MIDNIGHT_APRIL_2019)

    fy2018 = organisation_table(organisation=organisation, category_list=G21, fiscal_year=2018)
    fy2019 = organisation_table(organisation=organisation, category_list=G21, fiscal_year=2019)

    assert row(fy2018, "event-application").current.total == 1  # 31 March 23:59:59 JST
    assert row(fy2019, "event-application").current.total == 1  # 1 April 00:00 JST
    assert row(fy2019, "event-application").previous.total == 1
    assert fiscal_year_of(datetime(2019, 3, 31).date()) == 2018
    assert fiscal_year_of(datetime(2019, 4, 1).date()) == 2019


def test_wards_count_in_their_city_and_never_twice(organisation, resident):
    ward = Organisation.objects.filter(parent=organisation).order_by("lg_code").first()
    assert ward is not None
    counts_imported(ward, ("library-reservation", 2018, 0, 100, 80))
    counts_imported(organisation, ("library-reservation", 2018, 0, 50, 10))
    events = procedure_classified(organisation, "event-application")
    arrive(events, resident, datetime(2018, 7, 1, tzinfo=UTC))

    city = organisation_table(organisation=organisation, category_list=G21, fiscal_year=2018)
    alone = organisation_table(organisation=ward, category_list=G21, fiscal_year=2018)
    kanagawa = prefecture_table(prefecture_code="14", category_list=G21, fiscal_year=2018)
    nation = national_table(category_list=G21)

    assert (city.total.current.total, city.total.current.online) == (151, 91)
    assert ward.lg_code in {w.lg_code for w in city.wards}
    assert (alone.total.current.total, alone.wards) == (100, ())
    codes = [r.organisation.lg_code for r in kanagawa.rows]
    assert ward.lg_code not in codes
    yokohama = next(r for r in kanagawa.rows if r.organisation.lg_code == "141003")
    assert yokohama.figure.total == 151
    assert (kanagawa.municipalities_total.total, kanagawa.total.total) == (151, 151)
    (year,) = nation.years
    assert (year.fiscal_year, year.plain.total, year.plain.online) == (2018, 151, 91)
    assert year.reporting_organisations == 1
    by_code = {
        p.prefecture.prefecture_code: p
        for p in prefecture_figures(category_list=G21, fiscal_year=2018)
    }
    assert len(by_code) == 47
    assert (by_code["14"].figure.total, by_code["14"].reporting) == (151, 1)
    assert by_code["13"].figure.total == 0


def test_prefecture_table_side_by_side_sorted_with_missing_populations(
    organisation, other_organisation
):
    Organisation.objects.update(population=None)
    Organisation.objects.filter(pk=organisation.pk).update(population=3_770_000)
    kanagawa_org = Organisation.objects.get(lg_code="140007")
    counts_imported(organisation, ("library-reservation", 2018, 0, 300, 150))
    counts_imported(other_organisation, ("library-reservation", 2018, 0, 100, 100))
    counts_imported(kanagawa_org, ("eltax-filing", 2018, 0, 40, 40))

    table = prefecture_table(
        prefecture_code="14", category_list=G21, fiscal_year=2018, sort="-rate"
    )

    assert [r.organisation.lg_code for r in table.rows[:2]] == ["142042", "141003"]
    assert table.rows[2].figure.rate is None  # nothing counted sorts last
    assert table.rows[0].offers_online
    assert not table.rows[2].offers_online
    assert (table.government.figure.total, table.total.total, table.total.online) == (
        40,
        440,
        290,
    )
    assert table.population_missing == len(table.rows) - 1
    by_code = prefecture_table(prefecture_code="14", category_list=G21, fiscal_year=2018)
    assert [r.organisation.lg_code for r in by_code.rows] == sorted(
        r.organisation.lg_code for r in by_code.rows
    )
    with pytest.raises(ValueError, match="並べ替え"):
        prefecture_table(prefecture_code="14", category_list=G21, fiscal_year=2018, sort="x")
    with pytest.raises(UnknownPrefecture):
        prefecture_table(prefecture_code="48", category_list=G21, fiscal_year=2018)


def test_national_estimate_by_population_shows_its_inputs_and_never_guesses(
    organisation, other_organisation
):
    Organisation.objects.update(population=None)
    Organisation.objects.filter(pk=organisation.pk).update(population=3_000_000)
    Organisation.objects.filter(lg_code="141305").update(population=1_000_000)  # 川崎市
    counts_imported(organisation, ("library-reservation", 2018, 0, 300, 150))
    # 鎌倉市 reports but has no population: in the plain sum, excluded from the estimate.
    counts_imported(other_organisation, ("library-reservation", 2018, 0, 100, 100))

    (year,) = national_table(category_list=G21).years

    assert (year.plain.total, year.plain.online, year.plain.rate) == (400, 250, Decimal("62.5"))
    estimate = year.estimate
    assert estimate is not None
    municipal = estimate.strata[0]
    assert municipal.label == "市区町村"
    assert (municipal.reporting, municipal.reporting_without_population) == (2, 1)
    assert (municipal.reporting_population, municipal.population) == (3_000_000, 4_000_000)
    assert municipal.coverage == Decimal("75.0")
    assert municipal.population_missing == municipal.organisations - 2
    # 300 × 4,000,000 ÷ 3,000,000 = 400; 150 × 4/3 = 200.
    assert (municipal.total, municipal.online) == (400, 200)
    assert (estimate.total, estimate.online, estimate.rate) == (400, 200, Decimal("50.0"))
    assert "人口" in estimate.formula
    assert estimate.strata[1].reporting == 0


def test_the_national_table_shows_the_ministrys_published_rates():
    report = published_figures_seed(now=now())

    table = national_table(category_list=G21)

    assert report.created == 3
    assert [(y.fiscal_year, y.published.rate_text) for y in table.years if y.published] == [
        (2016, "51.2"),
        (2017, "52.4"),
        (2018, "52.6"),
    ]
    first = table.years[0].published
    assert first is not None
    assert (first.total, first.online) == (389_170_000, 199_208_000)
    assert "総務省" in first.source
    assert table.years[0].estimate is None
    assert not table.years[0].plain.counted
    assert published_figures_seed(now=now()).kept == 3  # idempotent


def test_an_operator_enters_and_replaces_a_published_figure_by_command(capsys):
    call_command(
        "stats", "published", "set", "--list", "guideline-21", "--fiscal-year", "2016",
        "--total", "389170000", "--online", "199208000", "--source", "総務省 公表資料",
    )  # fmt: skip
    assert "51.2%" in capsys.readouterr().out
    national_table(category_list=G21)  # cached now
    call_command(
        "stats", "published", "set", "--list", "guideline-21", "--fiscal-year", "2016",
        "--total", "1000", "--online", "1", "--source", "訂正", "--thousands",
    )  # fmt: skip

    figure = PublishedFigure.objects.get(category_list="guideline-21", fiscal_year=2016)
    assert (figure.total, figure.online, figure.source) == (1_000_000, 1_000, "訂正")
    events = AuditEvent.objects.filter(action="stats.published_figure_set").order_by("pk")
    assert [e.detail["previous"] for e in events] == [
        None,
        {"total": 389_170_000, "online": 199_208_000},
    ]
    # The cache was cleared on commit: the replaced figure shows at once.
    (year,) = national_table(category_list=G21).years
    assert year.published is not None
    assert year.published.rate_text == "0.1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"category_list": "nope"}, "ありません"),
        ({"fiscal_year": 2025}, "登録できません"),
        ({"fiscal_year": 99999}, "西暦"),
        ({"online": 2000}, "超えています"),
        ({"total": -1}, "0以上"),
        ({"source": "   "}, "出典"),
        ({"prefecture_code": "99"}, "都道府県コード"),
    ],
)
def test_a_bad_published_figure_is_refused_in_japanese_and_nothing_changes(changes, message):
    given = {
        "prefecture_code": "",
        "category_list": "guideline-21",
        "fiscal_year": 2016,
        "total": 1000,
        "online": 500,
        "source": "出典",
        "actor": None,
        "now": now(),
    }
    with pytest.raises(PublishedFigureInvalid, match=message):
        published_figure_set(**(given | changes))
    assert not PublishedFigure.objects.exists()
    assert not AuditEvent.objects.filter(action="stats.published_figure_set").exists()


def test_the_command_says_what_is_wrong_in_japanese():
    with pytest.raises(CommandError, match="超えています"):
        call_command(
            "stats", "published", "set", "--list", "guideline-21", "--fiscal-year", "2016",
            "--total", "1", "--online", "2", "--source", "x",
        )  # fmt: skip


def test_deployment_status_counts_who_offers_a_category_online(organisation, other_organisation):
    Organisation.objects.update(population=None)
    Organisation.objects.filter(pk=organisation.pk).update(population=3_000_000)
    procedure_classified(organisation, "event-application")
    counts_imported(other_organisation, ("event-application", 2018, 0, 10, 3))
    counts_imported(
        Organisation.objects.get(lg_code="141305"), ("event-application", 2018, 0, 10, 0)
    )

    kanagawa = deployment_status(category_list=G21, fiscal_year=2018, prefecture_code="14")
    nation = deployment_status(category_list=G21, fiscal_year=2018)

    event = next(r for r in kanagawa.rows if r.category.code == "event-application")
    assert (event.organisations, event.municipalities) == (2, 2)  # not 川崎 (no online count)
    assert (event.via_platform, event.via_import) == (1, 1)
    assert event.population_covered == 3_000_000
    assert event.population_missing == 1
    assert event.share == (Decimal(2) * 100 / kanagawa.municipalities).quantize(Decimal("0.1"))
    national_event = next(r for r in nation.rows if r.category.code == "event-application")
    assert national_event.municipalities == 2
    assert nation.municipalities > kanagawa.municipalities
    assert all(
        r.organisations == 0 for r in kanagawa.rows if r.category.code != "event-application"
    )


def test_the_monthly_detail_is_for_the_organisations_staff_and_its_groups_operators(
    organisation, other_organisation, resident
):
    ward = Organisation.objects.filter(parent=organisation).first()
    assert ward is not None
    events = procedure_classified(organisation, "event-application")
    arrive(events, resident, datetime(2018, 4, 30, 15, 30, tzinfo=UTC))  # 1 May JST
    counts_imported(organisation, ("eltax-filing", 2018, 0, 12, 6))
    counts_imported(ward, ("library-reservation", 2019, 3, 5, 5))  # March 2020 = FY2019
    staff = staff_create(organisation, email="s@yokohama.test", role=StaffRole.REVIEWER)
    stranger = staff_create(other_organisation, email="s@kamakura.test", role=StaffRole.REVIEWER)
    operator = resident_create("operator@example.jp")
    group = SharedGroup.objects.create(slug="kanagawa", name="神奈川県共同利用")
    GroupOperator.objects.create(user=operator, group=group)

    assert monthly_detail_visible(user=staff.user, organisation=organisation)
    assert monthly_detail_visible(user=staff.user, organisation=ward)
    assert not monthly_detail_visible(user=stranger.user, organisation=organisation)
    assert not monthly_detail_visible(user=resident, organisation=organisation)
    assert not monthly_detail_visible(user=operator, organisation=organisation)
    with pytest.raises(FiguresNotVisible):
        organisation_monthly_for(
            user=stranger.user, organisation=organisation, category_list=G21, fiscal_year=2018
        )
    GroupMembership.objects.create(group=group, organisation=organisation, joined_at=now())
    assert monthly_detail_visible(user=operator, organisation=organisation)

    monthly = organisation_monthly_for(
        user=operator, organisation=organisation, category_list=G21, fiscal_year=2018
    )
    event = row(monthly, "event-application")
    assert [f.total for f in event.months] == [0, 1] + [0] * 10
    eltax = row(monthly, "eltax-filing")
    assert (eltax.year_only.total, eltax.year.total) == (12, 12)
    assert monthly.total.year.total == 13
    next_year = organisation_monthly_for(
        user=staff.user, organisation=organisation, category_list=G21, fiscal_year=2019
    )
    assert next_year.months[-1].isoformat() == "2020-03-01"
    assert row(next_year, "library-reservation").months[-1].total == 5


def test_a_prefectures_published_figure_is_shown_beside_its_sum(organisation):
    counts_imported(organisation, ("library-reservation", 2018, 0, 300, 150))
    published_figure_set(
        prefecture_code="１４",
        category_list="guideline-21",
        fiscal_year=2018,
        total=1_000,
        online=523,
        source="神奈川県 公表資料",
        actor=None,
        now=now(),
    )

    table = prefecture_table(prefecture_code="14", category_list=G21, fiscal_year=2018)

    assert table.published is not None
    assert (table.published.total, table.published.rate_text) == (1_000, "52.3")
    assert table.total.rate_text == "50.0"
    assert PublishedFigure.objects.get().prefecture_code == "14"
    # The national table shows only the nation's published figures.
    assert all(year.published is None for year in national_table(category_list=G21).years)
