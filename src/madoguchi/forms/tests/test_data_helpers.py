"""Japanese data helpers: banks and branches by name or kana (全銀協 master from
``zengin-code``), telephone numbers hyphenated by area code (``phonenumbers``), and an address
that must lie in the receiving organisation's own area (``within_organisation``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import madoguchi.forms.field_types  # noqa: F401  (registers the field types)
from madoguchi.forms.banks import (
    SEARCH_LIMIT,
    bank_get,
    banks_search,
    branch_get,
    branches_search,
    data_version,
)
from madoguchi.forms.base import Area, FieldError, field_types
from madoguchi.forms.engine import display_rows, validate
from madoguchi.forms.field_types import format_phone
from madoguchi.forms.schema import build_spec

from .factories import CTX, TODAY, definition, field, spec

KAMAKURA = Area(name="鎌倉市", prefecture="神奈川県", municipality="鎌倉市")
YOKOHAMA = Area(name="横浜市", prefecture="神奈川県", municipality="横浜市")
HAYAMA = Area(name="葉山町", prefecture="神奈川県", municipality="葉山町")
KANAGAWA = Area(name="神奈川県", prefecture="神奈川県")

# --- Banks and branches ----------------------------------------------------------------------


def account(**parts: Any) -> dict[str, Any]:
    return {
        "bank_code": "0001",
        "branch_code": "001",
        "account_type": "ordinary",
        "account_number": "1234567",
        "holder": "ヨコハマ タロウ",
        **parts,
    }


def test_the_bank_master_is_the_packaged_zengin_data():
    mizuho, minatomirai = bank_get("0001"), branch_get("0138", "307")
    assert mizuho is not None
    assert mizuho.name == "みずほ"
    assert minatomirai is not None
    assert minatomirai.name == "みなとみらい"
    assert bank_get("9999") is None
    assert branch_get("0001", "999") is None
    assert len(data_version()) == 8
    assert data_version().startswith("20")


@pytest.mark.parametrize("query", ["みずほ", "ミズホ", "ﾐｽﾞﾎ", "ｍｉｚｕｈｏ", "0001", "みず"])
def test_a_resident_finds_a_bank_by_name_kana_or_code(query):
    assert next(b.code for b in banks_search(query)) == "0001"


def test_a_branch_reading_with_small_kana_matches_the_masters_large_kana():
    # The master writes 東京 as トウキヨウ; people type とうきょう.
    found = branches_search("0001", "とうきょう")
    assert found[0].code == "001"
    assert found[0].name == "東京営業部"
    assert [b.code for b in branches_search("0138", "みなとみらい")] == ["307"]
    assert [b.code for b in branches_search("0138", "307")] == ["307"]


def test_exact_matches_come_first_and_the_list_is_short():
    assert banks_search("横浜")[0].code == "0138"
    assert len(banks_search("信用金庫")) <= SEARCH_LIMIT
    assert len(banks_search("信金", limit=500)) == SEARCH_LIMIT


@pytest.mark.parametrize(
    "query", ["", "   ", "x" * 100_000, "\x00", "'; drop table banks;--", "%", "🏦", "\u202e"]
)
def test_hostile_searches_find_nothing_and_never_fail(query):
    assert isinstance(banks_search(query), list)
    assert isinstance(branches_search("0001", query), list)
    assert branches_search("../../etc/passwd", "東京") == []


def test_an_unknown_bank_code_is_a_clear_japanese_error():
    with pytest.raises(FieldError) as error:
        field_types["bank_account"].normalise(account(bank_code="9999"), spec("bank_account"), CTX)
    assert error.value.errors == {
        "bank_code": "金融機関コード 9999 の金融機関は見つかりません。"
        "コードを確かめるか、金融機関名で探してください。"
    }


def test_an_unknown_branch_code_names_the_bank():
    with pytest.raises(FieldError) as error:
        field_types["bank_account"].normalise(account(branch_code="999"), spec("bank_account"), CTX)
    assert error.value.errors["branch_code"].startswith(
        "みずほ（0001）に支店コード 999 の支店は見つかりません。"
    )


def test_the_confirmation_shows_bank_and_branch_names_beside_the_codes():
    value = field_types["bank_account"].normalise(account(), spec("bank_account"), CTX)
    shown = field_types["bank_account"].display(value, spec("bank_account"))
    assert shown == "みずほ（0001） 東京営業部（001） 普通 ●●●●567 ヨコハマ タロウ"
    value = field_types["bank_account"].normalise(
        account(bank_code="0138", branch_code="307"), spec("bank_account"), CTX
    )
    assert "横浜（0138） みなとみらい支店（307）" in field_types["bank_account"].display(
        value, spec("bank_account")
    )


def test_a_stored_code_the_master_no_longer_knows_is_still_shown():
    old = account(bank_code="9998", branch_code="123", account_number="0000001")
    assert (
        field_types["bank_account"]
        .display(old, spec("bank_account"))
        .startswith("金融機関 9998 支店 123 普通")
    )


# --- Telephone numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("０４６７－２３－１１１１", "0467231111", "0467-23-1111"),  # 鎌倉: 4-digit area code
        ("0312345678", "0312345678", "03-1234-5678"),  # 東京: 2 digits
        ("045 671 2121", "0456712121", "045-671-2121"),  # 横浜: 3 digits
        ("09012345678", "09012345678", "090-1234-5678"),
        ("0120-123-456", "0120123456", "0120-123-456"),
        ("+81 466 12 3456", "0466123456", "0466-12-3456"),
    ],
)
def test_a_phone_number_is_stored_as_digits_and_shown_with_hyphens_by_area_code(
    typed, stored, shown
):
    phone = field_types["phone"]
    value = phone.normalise(typed, spec("phone"), CTX)
    assert value == stored
    assert phone.display(value, spec("phone")) == shown


def test_a_number_outside_the_numbering_plan_is_shown_as_stored():
    assert format_phone("0000000000") == "0000000000"
    assert format_phone("") == ""


# --- The organisation's own area ---------------------------------------------------------------


def test_an_area_holds_its_wards_and_the_towns_of_its_gun():
    assert YOKOHAMA.contains(prefecture="神奈川県", city="横浜市中区")
    assert HAYAMA.contains(prefecture="神奈川県", city="三浦郡葉山町")
    assert KAMAKURA.contains(prefecture="神奈川県", city="鎌倉市")
    assert not KAMAKURA.contains(prefecture="神奈川県", city="横浜市中区")
    assert not KAMAKURA.contains(prefecture="東京都", city="鎌倉市")
    assert KANAGAWA.contains(prefecture="神奈川県", city="鎌倉市")
    assert not KANAGAWA.contains(prefecture="東京都", city="千代田区")
    # 府中市 of 東京都 is not 府中町 of 広島県, nor is 中町 the end of 府中町 without a 郡.
    assert not Area(name="中町", prefecture="広島県", municipality="中町").contains(
        prefecture="広島県", city="安芸郡府中町"
    )


def address(**parts: str) -> dict[str, str]:
    return {"postal_code": "248-0012", "block": "1-1", **parts}


def test_kamakura_refuses_a_yokohama_address_with_a_clear_japanese_error():
    within = spec("address", within_organisation=True)
    ctx = replace(CTX, area=KAMAKURA)
    with pytest.raises(FieldError) as error:
        field_types["address"].normalise(address(postal_code="231-0023"), within, ctx)
    assert error.value.errors == {
        "postal_code": "鎌倉市内の住所を入力してください。この手続は鎌倉市内の住所に限ります"
        "（入力された住所: 神奈川県横浜市中区）。"
    }
    value = field_types["address"].normalise(address(), within, ctx)
    assert value["city"] == "鎌倉市"


def test_an_address_typed_without_a_postal_code_is_checked_by_its_city():
    within = spec("address", within_organisation=True)
    ctx = replace(CTX, area=KAMAKURA)
    with pytest.raises(FieldError) as error:
        field_types["address"].normalise(
            {"prefecture": "神奈川県", "city": "藤沢市", "block": "1-1"}, within, ctx
        )
    assert "鎌倉市内の住所を入力してください" in error.value.errors["city"]
    # A Kamakura city typed beside a Yokohama postal code is refused by the code.
    with pytest.raises(FieldError) as error:
        field_types["address"].normalise(
            address(postal_code="231-0023", city="鎌倉市"), within, ctx
        )
    assert set(error.value.errors) == {"postal_code"}


def test_without_the_option_or_without_an_organisation_any_address_is_accepted():
    ctx = replace(CTX, area=KAMAKURA)
    field_types["address"].normalise(address(postal_code="231-0023"), spec("address"), ctx)
    within = spec("address", within_organisation=True)
    field_types["address"].normalise(address(postal_code="231-0023"), within, CTX)


def test_a_postal_code_field_can_be_restricted_too():
    within = spec("postal_code", within_organisation=True)
    ctx = replace(CTX, area=KAMAKURA)
    assert field_types["postal_code"].normalise("248-0012", within, ctx) == "2480012"
    with pytest.raises(FieldError, match="鎌倉市内の住所を入力してください"):
        field_types["postal_code"].normalise("231-0023", within, ctx)
    assert field_types["postal_code"].normalise("231-0023", within, replace(CTX, area=YOKOHAMA))


def test_the_example_of_a_restricted_field_lies_in_the_area():
    ctx = replace(CTX, area=HAYAMA)
    within = spec("address", within_organisation=True)
    example = field_types["address"].example(within, ctx)
    assert field_types["address"].normalise(example, within, ctx)["city"] == "三浦郡葉山町"


def test_validate_passes_the_area_to_the_fields():
    form = build_spec(
        definition(
            field(
                "place", "address", "収集場所", required=True, options={"within_organisation": True}
            ),
            field("tel", "phone", "電話番号"),
        )
    )
    answers = {"place": address(postal_code="231-0023"), "tel": "0467231111"}
    refused = validate(form, answers, today=TODAY, area=KAMAKURA)
    assert "鎌倉市内の住所" in refused.errors["place.postal_code"]
    accepted = validate(form, {**answers, "place": address()}, today=TODAY, area=KAMAKURA)
    assert accepted.ok
    rows = {label: text for _, label, text in display_rows(form, accepted.answers)}
    assert rows["電話番号"] == "0467-23-1111"


def test_the_option_must_be_a_boolean():
    from madoguchi.forms.schema import InvalidDefinition, check_definition

    with pytest.raises(InvalidDefinition, match="within_organisation"):
        check_definition(
            definition(field("place", "address", "住所", options={"within_organisation": "yes"}))
        )
