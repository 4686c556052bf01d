"""団体マスタ: the operator loads every prefecture and municipality from ``japancode``."""

import dataclasses
import re

import pytest
from django.db.models import F, QuerySet

from madoguchi.core.lgcode import is_valid
from madoguchi.core.time import now
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.master import MasterDataError, _code, load_master_data
from madoguchi.tenants.models import MasterLoad, Organisation
from madoguchi.tenants.selectors import kind_counts
from madoguchi.tenants.services import organisation_master_load

TOTAL = 1963


@pytest.fixture(scope="module")
def master_data():
    return load_master_data()


def _kind(kind: str) -> QuerySet[Organisation]:
    return Organisation.objects.filter(kind=kind)


# --- what the session load left in the database ---------------------------------------------


def test_master_holds_every_prefecture_and_municipality(db):
    assert Organisation.objects.count() == TOTAL
    assert _kind(OrganisationKind.PREFECTURE).count() == 47
    assert _kind(OrganisationKind.CITY).count() == 772
    assert _kind(OrganisationKind.DESIGNATED_CITY).count() == 20
    assert _kind(OrganisationKind.TOWN).count() == 743
    assert _kind(OrganisationKind.VILLAGE).count() == 183
    assert _kind(OrganisationKind.SPECIAL_WARD).count() == 23
    assert _kind(OrganisationKind.WARD).count() == 175
    municipalities = Organisation.objects.exclude(
        kind__in=(OrganisationKind.PREFECTURE, OrganisationKind.WARD)
    )
    assert municipalities.count() == 1741
    cities = municipalities.filter(
        kind__in=(OrganisationKind.CITY, OrganisationKind.DESIGNATED_CITY)
    )
    assert cities.count() == 792
    assert not Organisation.objects.filter(active=False).exists()


def test_kind_counts_selector_agrees(db):
    assert kind_counts() == {
        "prefecture": 47,
        "designated_city": 20,
        "city": 772,
        "town": 743,
        "village": 183,
        "special_ward": 23,
        "ward": 175,
    }


def test_every_ward_belongs_to_a_designated_city_of_its_prefecture(db):
    wards = Organisation.objects.filter(kind=OrganisationKind.WARD).select_related("parent")
    assert wards.count() == 175
    for ward in wards:
        assert ward.parent is not None, ward
        assert ward.parent.kind == OrganisationKind.DESIGNATED_CITY, ward
        assert ward.parent.prefecture_code == ward.prefecture_code, ward
        assert ward.lg_code[:2] == ward.prefecture_code
    assert not Organisation.objects.exclude(kind=OrganisationKind.WARD).filter(parent__isnull=False)
    # every designated city has wards
    assert (
        Organisation.objects.filter(kind=OrganisationKind.DESIGNATED_CITY, wards__isnull=True)
        .distinct()
        .count()
        == 0
    )


def test_every_municipality_points_at_its_prefecture(db):
    assert not Organisation.objects.filter(kind=OrganisationKind.PREFECTURE).exclude(
        prefecture__isnull=True
    )
    others = Organisation.objects.exclude(kind=OrganisationKind.PREFECTURE)
    assert not others.filter(prefecture__isnull=True).exists()
    assert not others.exclude(prefecture__prefecture_code=F("prefecture_code")).exists()
    assert not others.exclude(prefecture__kind=OrganisationKind.PREFECTURE).exists()


def test_every_lg_code_has_a_valid_check_digit(db):
    codes = list(Organisation.objects.values_list("lg_code", flat=True))
    assert len(codes) == TOTAL
    assert [code for code in codes if not is_valid(code)] == []
    for code, prefecture_code in Organisation.objects.values_list("lg_code", "prefecture_code"):
        assert code[:2] == prefecture_code


def test_sapporo_keeps_its_leading_zero(db):
    sapporo = Organisation.objects.get(lg_code="011002")
    assert sapporo.name == "札幌市"
    assert sapporo.kind == OrganisationKind.DESIGNATED_CITY
    assert sapporo.prefecture_code == "01"
    assert sapporo.prefecture is not None
    assert sapporo.prefecture.name == "北海道"
    assert sapporo.code5 == "01100"
    assert sapporo.wards.count() == 10
    chuo = sapporo.wards.get(lg_code="011011")
    assert chuo.name == "中央区"
    assert chuo.display_name == "札幌市中央区"
    assert not chuo.is_tenant


def test_chiyoda_is_a_special_ward_of_tokyo(db):
    chiyoda = Organisation.objects.get(lg_code="131016")
    assert chiyoda.name == "千代田区"
    assert chiyoda.kind == OrganisationKind.SPECIAL_WARD
    assert chiyoda.is_tenant
    assert chiyoda.prefecture is not None
    assert chiyoda.prefecture.lg_code == "130001"
    assert chiyoda.prefecture.name == "東京都"
    assert chiyoda.parent is None
    assert str(chiyoda) == "千代田区（131016）"


def test_kana_readings_are_katakana(db):
    katakana = re.compile(r"[\u30a1-\u30fa\u30fc]+")
    kanas = dict(Organisation.objects.values_list("lg_code", "kana"))
    assert [code for code, kana in kanas.items() if not katakana.fullmatch(kana)] == []
    assert kanas["141003"] == "ヨコハマシ"
    assert kanas["011011"] == "チュウオウク"  # the ward's own reading, without the city's


def test_search_key_folds_name_kana_and_code(db):
    yokohama = Organisation.objects.get(lg_code="141003")
    assert "横浜市" in yokohama.search_key
    assert "ヨコハマシ" in yokohama.search_key
    assert "141003" in yokohama.search_key
    naka = Organisation.objects.get(parent=yokohama, name="中区")
    assert "横浜市中区" in naka.search_key


# --- loading again -----------------------------------------------------------------------------


def test_loading_the_same_master_again_changes_nothing(db):
    before = dict(Organisation.objects.values_list("lg_code", "updated_at"))
    loads = MasterLoad.objects.count()

    report = organisation_master_load(now=now())

    assert report.changed is False
    assert report.unchanged == TOTAL
    assert (report.created, report.updated, report.deactivated, report.reactivated) == (
        0,
        0,
        0,
        0,
    )
    assert report.changes == []
    assert report.source.startswith("japancode ")
    assert MasterLoad.objects.count() == loads + 1
    last = MasterLoad.objects.first()
    assert last is not None
    assert last.unchanged == TOTAL
    assert last.digest == report.digest
    assert len(last.digest) == 64
    assert dict(Organisation.objects.values_list("lg_code", "updated_at")) == before


def test_merged_town_is_deactivated_not_deleted_and_comes_back(db, master_data):
    town = next(r for r in master_data.records if r.kind == OrganisationKind.TOWN)
    merged = dataclasses.replace(
        master_data, records=tuple(r for r in master_data.records if r is not town)
    )
    organisation = Organisation.objects.get(lg_code=town.lg_code)
    organisation.population = 12_345
    organisation.save()
    merger_at = now()

    report = organisation_master_load(now=merger_at, data=merged)

    assert report.deactivated == 1
    assert report.unchanged == TOTAL - 1
    assert report.changed
    assert len(report.changes) == 1
    assert report.changes[0].startswith(f"無効化 {town.lg_code} {town.name}")
    assert "削除はしません" in report.changes[0]
    assert Organisation.objects.count() == TOTAL
    organisation.refresh_from_db()
    assert organisation.active is False
    assert organisation.deactivated_at == merger_at
    assert organisation.population == 12_345  # nothing else about it is lost
    assert MasterLoad.objects.get(digest=report.digest, deactivated=1)

    # Loading the merged data again leaves the deactivated town alone.
    again = organisation_master_load(now=now(), data=merged)
    assert again.changed is False
    assert again.unchanged == TOTAL - 1

    # The full master brings it back.
    restored = organisation_master_load(now=now())
    assert restored.reactivated == 1
    assert restored.unchanged == TOTAL - 1
    assert restored.changes == [f"再有効化 {town.lg_code} {town.name}"]
    organisation.refresh_from_db()
    assert organisation.active is True
    assert organisation.deactivated_at is None
    assert organisation.population == 12_345


def test_town_that_becomes_a_city_is_updated_in_place(db, master_data):
    town = next(r for r in master_data.records if r.lg_code == "143219")
    assert town.name == "寒川町"
    city = dataclasses.replace(town, name="寒川市", kana="サムカワシ", kind=OrganisationKind.CITY)
    renamed = dataclasses.replace(
        master_data,
        records=tuple(city if r is town else r for r in master_data.records),
    )
    organisation = Organisation.objects.get(lg_code="143219")
    pk = organisation.pk

    report = organisation_master_load(now=now(), data=renamed)

    assert report.updated == 1
    assert report.unchanged == TOTAL - 1
    assert (report.created, report.deactivated, report.reactivated) == (0, 0, 0)
    [line] = report.changes
    assert line.startswith("更新 143219 寒川市: ")
    assert "name: '寒川町' → '寒川市'" in line
    assert "kana: 'サムカワマチ' → 'サムカワシ'" in line
    assert "kind: 'town' → 'city'" in line
    organisation.refresh_from_db()
    assert organisation.pk == pk
    assert organisation.name == "寒川市"
    assert organisation.kind == OrganisationKind.CITY
    assert "サムカワシ" in organisation.search_key
    assert organisation.active


def test_new_municipality_is_created_under_its_prefecture(db, master_data):
    kanagawa = next(r for r in master_data.records if r.lg_code == "140007")
    new = dataclasses.replace(
        kanagawa,
        lg_code="149993",
        name="新市",
        kana="シンシ",
        name_en="",
        kind=OrganisationKind.CITY,
    )
    report = organisation_master_load(
        now=now(), data=dataclasses.replace(master_data, records=(*master_data.records, new))
    )
    assert report.created == 1
    assert report.changes == ["追加 149993 新市"]
    created = Organisation.objects.get(lg_code="149993")
    assert created.prefecture is not None
    assert created.prefecture.lg_code == "140007"
    assert created.active


# --- data we cannot interpret ----------------------------------------------------------------


def test_codes_from_the_package_get_their_leading_zero_back():
    assert _code("11002", "municipality 札幌市") == "011002"
    assert _code(" 131016 ", "municipality 千代田区") == "131016"


@pytest.mark.parametrize("raw", ["11003", "131017", "abc", "", "1310166", "１３１０１６"])
def test_record_with_an_invalid_code_is_refused(raw):
    with pytest.raises(MasterDataError, match="not a valid 全国地方公共団体コード") as caught:
        _code(raw, "municipality 架空町")
    assert "municipality 架空町" in str(caught.value)


def test_master_data_is_verified_and_ordered(master_data):
    assert len(master_data.records) == TOTAL
    assert all(is_valid(r.lg_code) for r in master_data.records)
    levels = [
        0 if r.kind == OrganisationKind.PREFECTURE else 2 if r.kind == OrganisationKind.WARD else 1
        for r in master_data.records
    ]
    assert levels == sorted(levels)


# --- Romanised names (issue 11, item 13) ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kamakura", "鎌倉市"),
        ("Kamakura", "鎌倉市"),
        ("KAMAKURA-SHI", "鎌倉市"),
        ("tokyo", "東京都"),
        ("Tōkyō", "東京都"),
        ("toukyou", "東京都"),
        ("osaka", "大阪府"),
        ("sapporo", "札幌市"),
        ("hokkaido", "北海道"),
    ],
)
def test_romanised_names_find_the_organisation(db, query, expected):
    from madoguchi.tenants.selectors import organisations_filter

    names = [org.display_name for org in organisations_filter(q=query)]
    assert expected in names


@pytest.mark.parametrize("query", ["zzzz", "'", "-", "%", "_", "kamakura%"])
def test_romaji_queries_that_name_nothing_find_nothing_and_never_fail(db, query):
    from madoguchi.tenants.selectors import organisations_filter

    assert list(organisations_filter(q=query)) == []


def test_the_romaji_key_is_stored_at_master_load_not_computed_per_request(db):
    kamakura = Organisation.objects.get(lg_code="142042")
    assert "kamakurashi" in kamakura.search_key


def test_the_portal_search_finds_kamakura_by_its_romanised_name(client, db):
    page = client.get("/search/", {"q": "kamakura"})
    assert page.status_code == 200
    assert "鎌倉市" in page.content.decode()
