"""A resident searches procedures the way people type: kana or kanji, full- or half-width,
everyday words (引っ越し, 赤ちゃん), a life event, their own municipality."""

from __future__ import annotations

from typing import Any

import pytest

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import procedures_search
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.testing import publish_own

NINTEI_NAME = "児童手当等の受給資格及び児童手当の額についての認定請求"


def names(**query: Any) -> list[str]:
    return [p.name for p in procedures_search(**query)]


def found(**query: Any) -> set[tuple[str, str]]:
    return {(p.organisation.lg_code, p.name) for p in procedures_search(**query)}


@pytest.fixture
def yokohama(organisation, published) -> dict[str, Procedure]:
    """横浜市 publishes 児童手当 (adopted) and a few procedures of its own."""
    procedures = {"nintei": published}
    for slug, title, kana in [
        ("tenshutsu", "転出届", "テンシュツトドケ"),
        ("tennyu-yoyaku", "転入届の来庁予約", "テンニュウトドケノライチョウヨヤク"),
        ("jusho-henko", "国民健康保険の住所変更届", ""),
        ("suido", "水道使用開始・中止の届出", "スイドウシヨウカイシ"),
        ("kominkan", "公民館の利用申込み", "コウミンカンノリヨウモウシコミ"),
        ("hoiku-josei", "第２子以降の保育料助成の申請", ""),
        ("keiro", "令和8年度 敬老祝い金の申請", ""),
        ("genmen", "手数料100%減免の申請", ""),
    ]:
        procedures[slug] = publish_own(organisation, slug, title, kana=kana)
    return procedures


@pytest.fixture
def kamakura(other_organisation, nintei) -> Procedure:
    """鎌倉市 publishes 児童手当 too."""
    procedure = procedure_adopt(organisation=other_organisation, template_version=nintei, now=now())
    return procedure_set_status(
        organisation=other_organisation, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )


# --- Words as people type them -----------------------------------------------------------------


def test_a_procedure_is_found_by_its_name(yokohama):
    assert names(q="児童手当") == [NINTEI_NAME]
    assert names(q="公民館") == ["公民館の利用申込み"]


def test_a_procedure_is_found_by_its_reading_typed_in_hiragana(yokohama):
    assert names(q="じどうてあて") == [NINTEI_NAME]
    assert names(q="こうみんかん") == ["公民館の利用申込み"]


def test_half_width_katakana_is_the_same_as_full_width(yokohama):
    assert names(q="ｼﾞﾄﾞｳﾃｱﾃ") == [NINTEI_NAME]
    assert names(q="ｺｳﾐﾝｶﾝ") == ["公民館の利用申込み"]


def test_full_width_and_half_width_digits_find_each_other(yokohama):
    assert names(q="第2子") == ["第２子以降の保育料助成の申請"]
    assert names(q="第２子") == ["第２子以降の保育料助成の申請"]
    assert names(q="令和８年度") == ["令和8年度 敬老祝い金の申請"]


def test_every_word_must_match(yokohama, kamakura):
    assert found(q="児童手当　鎌倉") == {("142042", NINTEI_NAME)}
    assert found(q="児童手当 横浜") == {("141003", NINTEI_NAME)}
    assert names(q="児童手当 公民館") == []


def test_the_organisation_name_is_searched_too(yokohama, kamakura):
    assert found(q="鎌倉") == {("142042", NINTEI_NAME)}
    assert found(q="かまくら") == {("142042", NINTEI_NAME)}


def test_a_template_synonym_finds_the_adopted_procedure(yokohama):
    assert names(q="子ども手当") == [NINTEI_NAME]


# --- Everyday words and their synonyms --------------------------------------------------------


def test_hikkoshi_finds_moving_in_and_out_address_changes_and_water(yokohama):
    result = set(names(q="引っ越し"))

    assert {
        "転出届",
        "転入届の来庁予約",
        "国民健康保険の住所変更届",
        "水道使用開始・中止の届出",
    } <= result
    assert "公民館の利用申込み" not in result
    assert "第２子以降の保育料助成の申請" not in result


def test_hikkoshi_in_hiragana_finds_the_same(yokohama):
    assert {"転出届", "水道使用開始・中止の届出"} <= set(names(q="ひっこし"))


def test_akachan_finds_the_child_allowance(yokohama):
    result = names(q="赤ちゃん")

    assert NINTEI_NAME in result
    assert "公民館の利用申込み" not in result


# --- Filters ----------------------------------------------------------------------------------


def test_a_life_event_lists_its_procedures(yokohama, kamakura):
    assert found(life_event="birth") == {("141003", NINTEI_NAME), ("142042", NINTEI_NAME)}
    assert found(life_event="care") == set()
    assert found(life_event="no-such-event") == set()


def test_a_life_event_and_an_organisation_together(organisation, yokohama, kamakura):
    assert found(life_event="birth", organisation=organisation) == {("141003", NINTEI_NAME)}


def test_the_organisation_filter_keeps_to_that_organisation(
    organisation, other_organisation, yokohama, kamakura
):
    assert found(q="児童手当", organisation=organisation) == {("141003", NINTEI_NAME)}
    assert found(q="児童手当", organisation=other_organisation) == {("142042", NINTEI_NAME)}
    assert found(q="公民館", organisation=other_organisation) == set()


def test_the_prefecture_filter(yokohama, kamakura):
    assert len(found(q="児童手当", prefecture_code="14")) == 2
    assert found(q="児童手当", prefecture_code="13") == set()


# --- Only what residents may apply for --------------------------------------------------------


def test_draft_and_closed_procedures_are_not_found(organisation, yokohama):
    procedure_set_status(
        organisation=organisation, procedure=yokohama["kominkan"], status=ProcedureStatus.DRAFT
    )
    procedure_set_status(
        organisation=organisation, procedure=yokohama["nintei"], status=ProcedureStatus.CLOSED
    )

    assert names(q="公民館") == []
    assert names(q="児童手当") == []
    assert names(life_event="birth") == []
    assert "転出届" in names(q="転出")


def test_a_procedure_never_published_is_not_found(organisation, adopted):
    assert adopted.status == ProcedureStatus.DRAFT
    assert names(q="児童手当") == []


def test_procedures_of_an_organisation_that_no_longer_exists_are_not_found(
    other_organisation, kamakura, yokohama
):
    other_organisation.active = False  # merged into another municipality
    other_organisation.save(update_fields=["active"])

    assert found(q="児童手当") == {("141003", NINTEI_NAME)}
    assert found(q="鎌倉") == set()
    assert found(organisation=other_organisation) == set()


# --- Hostile words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "児" * 5000,
        "\x00",
        "児童\x00手当",
        "\u202e児童手当\u202c",
        "%' OR 1=1 --",
        "'; DROP TABLE catalog_procedure; --",
        "\\",
        "<script>alert(1)</script>",
        "🏯",
        "\u3000\u3000",
        "a " * 100,
    ],
)
def test_hostile_words_never_fail(yokohama, q):
    result = list(procedures_search(q=q))

    assert all(p.status == ProcedureStatus.PUBLISHED for p in result)
    assert Procedure.objects.filter(organisation__lg_code="141003").count() == len(yokohama)


def test_invisible_characters_inside_a_word_are_ignored(yokohama):
    assert names(q="児童\x00手当") == [NINTEI_NAME]
    assert names(q="\u202e児童手当\u202c") == [NINTEI_NAME]


def test_sql_in_the_words_is_just_text(yokohama):
    assert names(q="%' OR 1=1 --") == []


def test_like_wildcards_match_only_themselves(yokohama):
    assert names(q="%") == ["手数料100%減免の申請"]
    assert names(q="_") == []
    assert names(q="児童%") == []
    assert names(q="児_手当") == []


def test_only_the_first_words_of_a_very_long_query_count(yokohama):
    # 8 words at most: extra words are ignored rather than making the query ever larger.
    assert names(q="児童手当 " + "存在しない " * 7 + "公民館 " * 50) == []
    assert names(q="児童手当 " * 20) == [NINTEI_NAME]
