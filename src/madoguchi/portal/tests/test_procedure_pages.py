"""A resident finds a procedure of their municipality — from its page, a life event or a
search — and reads what they need before applying: identity, fee, documents, contact."""

from __future__ import annotations

import html
from typing import Any

import pytest

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.services import (
    procedure_adopt,
    procedure_update_settings,
)
from madoguchi.core.time import now
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import Organisation
from madoguchi.testing import publish_own

# The catalog's fixtures (catalog/tests/conftest.py), for this module.

NINTEI_NAME = "児童手当等の受給資格及び児童手当の額についての認定請求"


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def page_url(procedure: Procedure, code: str = "141003") -> str:
    return f"/o/{code}/procedures/{procedure.pk}/"


def publish(procedure: Procedure) -> Procedure:
    return procedure_set_status(
        organisation=procedure.organisation,
        procedure=procedure,
        status=ProcedureStatus.PUBLISHED,
    )


@pytest.fixture
def juminhyo_yokohama(organisation, fee_template) -> Procedure:
    """横浜市's 住民票の写し, at its own fee of 250円 a copy, with its contact."""
    procedure = procedure_adopt(
        organisation=organisation,
        template_version=fee_template,
        settings={
            "parameters": {"unit_fee": 250},
            "department": "市民局 窓口サービス課",
            "contact": "045-000-0000（平日 8時45分〜17時15分）",
            "counter": "各区役所 戸籍課",
        },
        now=now(),
    )
    return publish(procedure)


@pytest.fixture
def kamakura_nintei(other_organisation, nintei) -> Procedure:
    procedure = procedure_adopt(organisation=other_organisation, template_version=nintei, now=now())
    return publish(procedure)


# --- The organisation page ----------------------------------------------------------------------


def test_the_organisation_page_lists_published_procedures_only(
    client, organisation, published, fee_template
):
    procedure_adopt(organisation=organisation, template_version=fee_template, now=now())  # draft
    closed = publish_own(organisation, "kominkan", "公民館の利用申込み")
    procedure_set_status(organisation=organisation, procedure=closed, status=ProcedureStatus.CLOSED)

    page = text(client.get("/o/141003/"))

    assert "オンラインでできる手続" in page
    assert f'<a href="{page_url(published)}">{NINTEI_NAME}</a>' in page
    assert "住民票の写しの交付請求" not in page
    assert "公民館の利用申込み" not in page
    assert '/life-events/birth/?o=141003"' in page


def test_another_organisations_procedures_are_not_on_the_page(client, kamakura_nintei, db):
    page = text(client.get("/o/141003/"))

    assert NINTEI_NAME not in page
    assert NINTEI_NAME in text(client.get("/o/142042/"))


def test_a_merged_organisation_offers_no_procedures(client, other_organisation, kamakura_nintei):
    other_organisation.active = False
    other_organisation.save(update_fields=["active"])

    page = text(client.get("/o/142042/"))

    assert "この団体は合併などにより現在は存在しません。" in page
    assert NINTEI_NAME not in page
    assert client.get(page_url(kamakura_nintei, "142042")).status_code == 404


# --- A procedure's page -------------------------------------------------------------------------


def test_the_procedure_page_says_what_is_needed_before_applying(client, juminhyo_yokohama):
    response = client.get(page_url(juminhyo_yokohama))

    assert response.status_code == 200
    page = text(response)
    assert "<h1>住民票の写しの交付請求</h1>" in page
    assert "住民票の写しを郵送で受け取るための請求です。" in page
    # Identity
    assert (
        "レベル2（本人確認書類の画像等）。窓口などで本人確認書類を確認したアカウントで、"
        "パスキーでログインして申請します。" in page
    )
    assert "いまのあなたの本人確認" not in page  # nobody is logged in
    assert "電子署名は不要です。" in page
    # The organisation's own fee, not the template's 300円
    assert "1通あたりの手数料 250円（オンライン決済で納めます）" in page
    assert "300円" not in page
    assert "標準処理期間は7日です。" in page
    # Documents
    assert (
        "<strong>本人確認書類</strong>（必須） 運転免許証などの写し （JPEG画像・PNG画像・PDF）"
        in page
    )
    # What will be asked
    assert "請求の内容</strong>: 請求者の氏名、電話番号、必要な通数、使いみち" in page
    # Contact
    assert "市民局 窓口サービス課" in page
    assert "045-000-0000（平日 8時45分〜17時15分）" in page
    assert "各区役所 戸籍課" in page
    assert '/life-events/moving/?o=141003">引越し</a>' in page


def test_the_shipped_juminhyo_shows_the_organisations_own_unit_fee(client, organisation, juminhyo):
    unit = next(
        (
            name
            for name, p in juminhyo.metadata.get("parameters", {}).items()
            if p.get("unit") == "円"
        ),
        None,
    )
    if unit is None:
        pytest.skip("the shipped juminhyo template has no fee parameter")
    param = juminhyo.metadata["parameters"][unit]
    fee = min(param.get("max", 350), 350)
    procedure = procedure_adopt(
        organisation=organisation,
        template_version=juminhyo,
        settings={"parameters": {unit: fee}},
        now=now(),
    )
    publish(procedure)

    page = text(client.get(page_url(procedure)))

    assert f"{param['label']} {fee}円" in page


def test_the_child_allowance_page_asks_for_the_my_number_card(client, shipped):
    page = text(client.get(page_url(shipped)))

    assert "レベル3（マイナンバーカード）。マイナンバーカードで本人確認をします" in page
    assert "マイナンバーカードによる電子署名が必要です。" in page
    assert "手数料</dt><dd>かかりません。" in page
    assert "振込先口座を確認できる書類</strong>（必須）" in page
    assert "別居監護申立書</strong>（該当する場合）" in page
    assert "所得課税証明書" not in page  # an optional document this organisation does not ask for
    # No contact set: the page invents none (the organisation sets its own, issue 11).
    assert "横浜市の窓口にお問い合わせください。" not in page


def test_the_page_follows_the_organisations_later_settings(client, organisation, published):
    procedure_update_settings(
        organisation=organisation,
        procedure=published,
        settings={
            "optional_fields": {"income_certificate": True},
            "contact": "こども家庭課\n045-111-1111",
        },
        now=now(),
    )

    page = text(client.get(page_url(published)))

    assert "所得課税証明書</strong>（該当する場合）" in page
    assert "こども家庭課<br>045-111-1111" in page


def test_the_reception_period_is_shown_in_japan_time(client, organisation, published):
    from datetime import datetime

    from madoguchi.core.time import TOKYO

    procedure_update_settings(
        organisation=organisation,
        procedure=published,
        settings={},
        reception_starts_at=datetime(2026, 4, 1, 9, 0, tzinfo=TOKYO),
        now=now(),
    )

    assert "2026年4月1日 09:00 〜" in text(client.get(page_url(published)))


def test_a_draft_procedure_is_not_found(client, adopted):
    response = client.get(page_url(adopted))

    assert response.status_code == 404
    assert NINTEI_NAME not in text(response)


def test_a_closed_procedure_is_not_found(client, organisation, published):
    procedure_set_status(
        organisation=organisation, procedure=published, status=ProcedureStatus.CLOSED
    )

    assert client.get(page_url(published)).status_code == 404


def test_another_organisations_procedure_under_this_organisation_is_not_found(
    client, kamakura_nintei, db
):
    response = client.get(page_url(kamakura_nintei, "141003"))

    assert response.status_code == 404
    assert NINTEI_NAME not in text(response)
    assert client.get(page_url(kamakura_nintei, "142042")).status_code == 200


def test_a_procedure_under_a_ward_of_its_city_is_not_found(client, organisation, published):
    ward = Organisation.objects.filter(parent=organisation, kind=OrganisationKind.WARD).first()
    assert ward is not None  # 鶴見区 and the other wards of 横浜市

    assert client.get(page_url(published, ward.lg_code)).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/o/141003/procedures/999999999/",
        "/o/141003/procedures/99999999999999999999999/",
        "/o/141004/procedures/1/",
        "/o/999999/procedures/1/",
        "/o/abc/procedures/1/",
        "/o/%00/procedures/1/",
        "/o/141003/procedures/abc/",
        "/o/141003/procedures/-1/",
    ],
)
def test_a_procedure_address_nobody_could_mean_is_404(client, published, path):
    assert client.get(path).status_code == 404


# --- Life events --------------------------------------------------------------------------------


def test_the_birth_life_event_lists_the_child_allowance_of_the_organisation(
    client, published, kamakura_nintei
):
    response = client.get("/life-events/birth/", {"o": "141003"})

    assert response.status_code == 200
    page = text(response)
    assert "出生・子育ての手続（横浜市）" in page
    assert f'<a href="{page_url(published)}">{NINTEI_NAME}</a>' in page
    assert page_url(kamakura_nintei, "142042") not in page


def test_a_life_event_without_procedures_says_so(client, published):
    page = text(client.get("/life-events/care/", {"o": "141003"}))

    assert "横浜市では、このライフイベントの手続はまだオンラインで受け付けていません。" in page


def test_a_life_event_without_an_organisation_asks_for_one(client, templates_loaded):
    page = text(client.get("/life-events/birth/"))

    assert "お住まいの市区町村の団体コード" in page
    assert "主な手続（国のひな形）" in page
    assert NINTEI_NAME in page
    assert "の団体は見つかりません。" not in page


def test_a_code_of_no_organisation_is_named_in_the_notice(client, published):
    page = text(client.get("/life-events/birth/", {"o": "999999"}))

    assert "団体コード「999999」の団体は見つかりません。" in page


@pytest.mark.parametrize("code", ["999999", "141004", "abc", "\x00abc", "1" * 100])
def test_a_bad_organisation_code_shows_a_japanese_notice(client, published, code):
    response = client.get("/life-events/birth/", {"o": code})

    assert response.status_code == 200
    page = text(response)
    assert "の団体は見つかりません。" in page
    assert 'role="alert"' in page
    assert NINTEI_NAME in page  # the templates of the life event are still shown
    assert page_url(published) not in page


def test_invisible_characters_around_a_code_are_ignored_not_echoed(client, published):
    # A bidi override or NUL pasted with the code is dropped: 横浜市 is found, nothing echoed.
    page = text(client.get("/life-events/birth/", {"o": "\u202e141003\x00"}))

    assert "\u202e" not in page
    assert "\x00" not in page
    assert page_url(published) in page


@pytest.mark.parametrize("slug", ["nope", "%00", "birth%00", "x" * 300])
def test_an_unknown_life_event_is_404(client, templates_loaded, slug):
    assert client.get(f"/life-events/{slug}/").status_code == 404


# --- Search ---------------------------------------------------------------------------------------


def test_searching_the_procedure_name_lists_it(client, published, kamakura_nintei):
    response = client.get("/search/", {"q": "児童手当"})

    assert response.status_code == 200
    page = text(response)
    assert (
        f'<a href="{page_url(published)}">{NINTEI_NAME}</a> <span class="sub">（横浜市）</span>'
        in page
    )
    assert f'<a href="{page_url(kamakura_nintei, "142042")}">' in page


def test_a_search_by_an_everyday_word_and_the_city_finds_the_procedure(
    client, published, kamakura_nintei
):
    page = text(client.get("/search/", {"q": "赤ちゃん 横浜"}))

    assert page_url(published) in page
    assert page_url(kamakura_nintei, "142042") not in page


def test_a_draft_is_not_found_by_search(client, adopted):
    page = text(client.get("/search/", {"q": "児童手当"}))

    assert NINTEI_NAME not in page


def test_the_partial_search_results_for_htmx(client, published):
    response = client.get("/search/", {"q": "じどうてあて"}, HTTP_HX_REQUEST="true")

    page = text(response)
    assert "<html" not in page
    assert "に一致する手続: 1件" in page
    assert page_url(published) in page


@pytest.mark.parametrize(
    "q", ["%", "_", "%' OR 1=1 --", "\x00", "\u202e", "児" * 5000, "<script>alert(1)</script>"]
)
def test_hostile_search_words_list_no_procedure(client, published, q):
    response = client.get("/search/", {"q": q})

    assert response.status_code == 200
    assert page_url(published) not in text(response)
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_a_logged_in_resident_reads_what_they_still_need_on_the_procedure_page(
    client, juminhyo_yokohama, resident
):
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    client.force_login(resident)

    page = text(client.get(page_url(juminhyo_yokohama)))

    assert "いまのあなたの本人確認: 身元確認レベル1・当人認証レベル1。" in page
    assert "この手続には身元確認レベル2と当人認証レベル2が必要です。" in page
    assert "/account/identity/" in page
