"""Each field type, fed what residents type and what attackers send.

Whatever arrives, a field type either returns the value to store or raises FieldError with a
Japanese sentence; nothing else may escape, or the resident would see a 500.
"""

import re
from typing import Any

import pytest

import madoguchi.forms.field_types  # noqa: F401  (registers the field types)
from madoguchi.forms.base import FieldError, FieldSpec, field_types
from madoguchi.forms.constants import Privacy
from madoguchi.forms.field_types import mask_my_number
from madoguchi.forms.japanese import my_number_check_digit

from .factories import CHOICES, CTX, spec

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

#: Options each type needs to be usable at all (the rest keep their defaults).
NEEDED_OPTIONS: dict[str, dict[str, Any]] = {
    "choice": {"choices": CHOICES},
    "multichoice": {"choices": CHOICES},
    "computed": {"expression": 1},
}
#: Types whose value never comes from normalise(): computed by the engine, or no value at all.
ENGINE_ONLY = {"group", "computed", "notice"}


def spec_for(key: str) -> FieldSpec:
    return spec(key, **NEEDED_OPTIONS.get(key, {}))


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = {
    "full-width digits": "１２３４５６７８９０",
    "half-width kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
    "emoji": "😀🎌",
    "outside the BMP": "𠮷",
    "はしご高": "髙",
    "compatibility ideograph": "﨑",
    "NUL": "abc\x00def",
    "escape": "\x1b[2J",
    "right-to-left override": "invoice\u202efdp.exe",
    "isolate": "\u2066x\u2069",
    "byte order mark": "\ufeff2025-04-01",
    "lone surrogate": "\ud800",
    "1 MB of text": "あ" * 1_000_000,
    "1 MB of digits": "9" * 1_000_000,
    "html": "<script>alert('x')</script>",
    "sql": "'; DROP TABLE x; --",
    "int": 12345,
    "negative int": -1,
    "huge int": 10**100,
    "float": 1.5,
    "huge float": 1e300,
    "tiny float": 1e-300,
    "nan": float("nan"),
    "infinity": float("inf"),
    "true": True,
    "false": False,
    "none": None,
    "empty list": [],
    "list": ["a", "b"],
    "list of lists": [["a"], ["b"]],
    "list of none": [None],
    "list of dicts": [{}],
    "empty dict": {},
    "dict": {"a": 1},
    "nested lists 100 deep": nested(100),
    "nested dicts": {"a": {"b": {"c": "d"}}},
    "unknown sub-key": {"family": "山田", "admin": True},
    "sub-values of the wrong type": {
        "family": 1,
        "given": [],
        "postal_code": {},
        "block": None,
        "bank_code": True,
        "account_type": ["ordinary"],
        "holder": {"x": 1},
    },
    "sub-values that are hostile": {
        "family": "\u202e",
        "given_kana": "😀",
        "prefecture": "\x00",
        "postal_code": "9" * 100_000,
        "holder": "\ud800",
        "account_number": "1" * 100_000,
    },
    "attachment-like with a huge size": [{"id": "abcdefgh", "kind": "pdf", "size": 10**100}],
    "attachment-like with wrong types": [{"id": 1, "kind": ["pdf"], "size": "1", "name": {}}],
}


@pytest.mark.parametrize("key", list(field_types))
def test_the_example_of_every_field_type_is_accepted(key):
    ftype = field_types[key]
    example = ftype.example(spec_for(key), CTX)
    if key in ENGINE_ONLY:
        assert example in (None, [])
        return
    value = ftype.normalise(example, spec_for(key), CTX)
    assert value is not None
    # What was stored reads back unchanged, and can be shown.
    assert ftype.normalise(value, spec_for(key), CTX) == value
    assert isinstance(ftype.display(value, spec_for(key)), str)


@pytest.mark.parametrize("what", list(HOSTILE))
@pytest.mark.parametrize("key", sorted(set(field_types) - ENGINE_ONLY))
def test_hostile_input_is_refused_in_japanese_or_accepted_never_a_crash(key, what):
    ftype = field_types[key]
    raw = HOSTILE[what]
    if ftype.is_empty(raw):
        return  # the engine decides about empty answers
    try:
        value = ftype.normalise(raw, spec_for(key), CTX)
    except FieldError as error:
        errors = error.errors
    else:
        # Accepted: then it is a clean value that reads back the same and can be shown.
        assert ftype.normalise(value, spec_for(key), CTX) == value
        ftype.display(value, spec_for(key))
        return
    assert errors, "a FieldError must say what is wrong"
    for path, message in errors.items():
        assert isinstance(path, str)
        assert JAPANESE.search(message), message


@pytest.mark.parametrize("key", sorted(set(field_types) - ENGINE_ONLY))
def test_is_empty_never_crashes_however_deep_the_value(key):
    deep: Any = "x"
    for _ in range(5000):
        deep = {"k": deep}
    field_types[key].is_empty(deep)
    field_types[key].is_empty(nested(5000))


def test_every_field_type_has_a_japanese_label_and_a_valid_options_schema():
    from jsonschema import Draft202012Validator

    for key, ftype in field_types.items():
        assert ftype.key == key
        assert JAPANESE.search(ftype.label)
        Draft202012Validator.check_schema(ftype.options_schema)


# --- Text ------------------------------------------------------------------------------------


def test_text_keeps_what_was_typed_but_trims_it():
    assert field_types["text"].normalise("  髙橋 𠮷子 😀 ", spec("text"), CTX) == "髙橋 𠮷子 😀"


def test_text_is_limited_to_its_length_and_says_how_long_it_is():
    with pytest.raises(FieldError) as caught:
        field_types["text"].normalise("あ" * 11, spec("text", max_length=10), CTX)
    assert caught.value.errors[""] == "10文字以内で入力してください（現在11文字）。"
    with pytest.raises(FieldError, match="3文字以上"):
        field_types["text"].normalise("あ", spec("text", min_length=3), CTX)


def test_single_line_text_has_no_line_breaks_and_textarea_keeps_them():
    assert field_types["text"].normalise("一\n二", spec("text"), CTX) == "一 二"
    assert field_types["textarea"].normalise("一\r\n二", spec("textarea"), CTX) == "一\n二"


def test_a_number_typed_in_a_text_field_stays_text():
    assert field_types["text"].normalise(42, spec("text"), CTX) == "42"


# --- Numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("3", 3),
        ("３", 3),
        ("1,234", 1234),
        ("１，２３４円", 1234),
        (7, 7),
        (" 12 ", 12),
        ("-5", -5),
    ],
)
def test_a_whole_number_is_read_however_it_is_written(typed, value):
    assert field_types["number"].normalise(typed, spec("number"), CTX) == value


def test_a_number_respects_min_and_max_with_its_unit():
    copies = spec("number", min=1, max=10, unit="通")
    with pytest.raises(FieldError) as caught:
        field_types["number"].normalise("0", copies, CTX)
    assert caught.value.errors[""] == "1通以上で入力してください。"
    with pytest.raises(FieldError) as caught:
        field_types["number"].normalise("11", copies, CTX)
    assert caught.value.errors[""] == "10通以下で入力してください。"
    assert field_types["number"].normalise("10", copies, CTX) == 10


def test_decimals_are_kept_as_text_with_the_declared_places():
    height = spec("number", decimals=1, unit="cm")
    assert field_types["number"].normalise("170.5", height, CTX) == "170.5"
    assert field_types["number"].normalise(170, height, CTX) == "170.0"
    with pytest.raises(FieldError, match="小数点以下1桁まで"):
        field_types["number"].normalise("170.55", height, CTX)
    with pytest.raises(FieldError, match="整数で"):
        field_types["number"].normalise("1.5", spec("number"), CTX)
    assert field_types["number"].display("170.5", height) == "170.5cm"
    assert field_types["number"].display(1234567, spec("number", unit="円")) == "1,234,567円"


@pytest.mark.parametrize("raw", ["9" * 30, 1e300, 10**40, "1" + "0" * 29, "1e5", "NaN", "Infinity"])
def test_an_absurdly_large_or_unreadable_number_is_refused_not_a_crash(raw):
    with pytest.raises(FieldError):
        field_types["number"].normalise(raw, spec("number"), CTX)


# --- Dates -----------------------------------------------------------------------------------


def test_a_date_is_stored_in_iso_form_and_shown_in_both_calendars():
    date_type = field_types["date"]
    assert date_type.normalise("令和7年4月1日", spec("date"), CTX) == "2025-04-01"
    assert date_type.display("2025-04-01", spec("date")) == "令和7年4月1日（2025年）"


def test_a_date_outside_its_bounds_names_the_bound_in_both_calendars():
    with pytest.raises(FieldError) as caught:
        field_types["date"].normalise("2025-03-31", spec("date", min="today"), CTX)
    assert caught.value.errors[""] == "令和7年4月1日（2025-04-01）以降の日付を入力してください。"
    with pytest.raises(FieldError, match="以前の日付"):
        field_types["date"].normalise("2025-04-02", spec("date", max="today"), CTX)


def test_a_birth_date_cannot_be_in_the_future_nor_before_meiji():
    with pytest.raises(FieldError, match="以前の日付"):
        field_types["birth_date"].normalise("2025-04-02", spec("birth_date"), CTX)
    with pytest.raises(FieldError, match="明治以降"):
        field_types["date"].normalise("1867-12-31", spec("date"), CTX)


def test_an_adult_is_eighteen_years_ago_or_earlier():
    adult = spec("birth_date", max="today-18y")
    assert field_types["birth_date"].normalise("2007-04-01", adult, CTX) == "2007-04-01"
    with pytest.raises(FieldError):
        field_types["birth_date"].normalise("2007-04-02", adult, CTX)


def test_weekdays_only_refuses_weekends_and_national_holidays():
    visit = spec("date", weekdays_only=True)
    assert field_types["date"].normalise("2025-04-01", visit, CTX) == "2025-04-01"  # 火曜日
    for holiday in (
        "2025-04-05",
        "2025-04-06",
        "2025-04-29",
        "2025-05-05",
    ):  # 土 日 昭和の日 こどもの日
        with pytest.raises(FieldError, match="平日"):
            field_types["date"].normalise(holiday, visit, CTX)


@pytest.mark.parametrize("bound", ["today+9999y", "today-9999y", "today+9999m", "today-9999d"])
def test_a_far_relative_bound_is_simply_far_away_and_does_not_hang(bound):
    far = spec("date", min=bound) if "-" in bound else spec("date", max=bound)
    assert field_types["date"].normalise("2025-04-01", far, CTX) == "2025-04-01"
    field_types["date"].example(far, CTX)


# --- Choices ---------------------------------------------------------------------------------


def test_a_choice_must_be_one_of_the_values():
    commute = spec("choice", choices=CHOICES)
    assert field_types["choice"].normalise(" bus ", commute, CTX) == "bus"
    assert field_types["choice"].display("bus", commute) == "バス"
    with pytest.raises(FieldError, match="選択肢の中から"):
        field_types["choice"].normalise("バス", commute, CTX)


def test_multichoice_dedupes_and_keeps_the_order_of_the_form():
    commute = spec("multichoice", choices=CHOICES)
    assert field_types["multichoice"].normalise(["car", "walk", "car"], commute, CTX) == [
        "walk",
        "car",
    ]
    assert field_types["multichoice"].normalise("bus", commute, CTX) == ["bus"]
    assert field_types["multichoice"].display(["walk", "car"], commute) == "徒歩、自動車"


def test_multichoice_counts_the_selections():
    two_or_three = spec("multichoice", choices=CHOICES, min_selected=2, max_selected=2)
    with pytest.raises(FieldError, match="2つ以上"):
        field_types["multichoice"].normalise(["bus", "bus"], two_or_three, CTX)
    with pytest.raises(FieldError, match="2つまで"):
        field_types["multichoice"].normalise(["bus", "car", "walk"], two_or_three, CTX)


@pytest.mark.parametrize("raw", [["bus", 1], ["bus", None], [["bus"]], ["taxi"], ["bus"] * 501])
def test_multichoice_refuses_anything_but_known_values(raw):
    with pytest.raises(FieldError):
        field_types["multichoice"].normalise(raw, spec("multichoice", choices=CHOICES), CTX)


@pytest.mark.parametrize(
    ("raw", "value"), [(True, True), (False, False), ("はい", True), ("no", False)]
)
def test_yes_or_no(raw, value):
    assert field_types["yesno"].normalise(raw, spec("yesno"), CTX) is value


def test_consent_is_only_a_clear_yes():
    consent = field_types["consent"]
    assert consent.normalise(True, spec("consent"), CTX) is True
    assert consent.normalise("on", spec("consent"), CTX) is True
    assert consent.is_empty(False)
    assert consent.is_empty("off")
    for unclear in ("maybe", 1, [True], {"agree": True}):
        with pytest.raises(FieldError, match="同意する場合は"):
            consent.normalise(unclear, spec("consent"), CTX)


# --- Contact ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Taro.Yamada@Example.JP", "Taro.Yamada@example.jp"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
        (" taro@example.jp ", "taro@example.jp"),
    ],
)
def test_an_email_address_lower_cases_only_its_domain(typed, stored):
    assert field_types["email"].normalise(typed, spec("email"), CTX) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "taro",
        "taro@",
        "@example.jp",
        "taro@@example.jp",
        "taro@example",
        "taro@example.jp\nBcc: victim@example.jp",
        "a" * 250 + "@example.jp",
        "taro@exa mple.jp<script>",
    ],
)
def test_a_malformed_email_address_is_refused_with_an_example(typed):
    with pytest.raises(FieldError) as caught:
        field_types["email"].normalise(typed, spec("email"), CTX)
    assert "メールアドレス" in caught.value.errors[""]


def test_a_postal_code_must_exist():
    postal = field_types["postal_code"]
    assert postal.normalise("〒231-0023", spec("postal_code"), CTX) == "2310023"
    assert postal.display("2310023", spec("postal_code")) == "〒231-0023"
    with pytest.raises(FieldError) as caught:
        postal.normalise("999-9999", spec("postal_code"), CTX)
    assert caught.value.errors[""] == (
        "郵便番号 999-9999 に当たる住所が見つかりません。番号を確かめてください。"
    )


# --- Address ---------------------------------------------------------------------------------


def test_the_postal_code_fills_in_the_address_the_resident_left_empty():
    value = field_types["address"].normalise(
        {"postal_code": "２３１－００２３", "block": "１－１", "building": "市庁舎"},
        spec("address"),
        CTX,
    )
    assert value == {
        "postal_code": "2310023",
        "prefecture": "神奈川県",
        "city": "横浜市中区",
        "town": "山下町",
        "block": "1-1",
        "building": "市庁舎",
    }
    assert field_types["address"].display(value, spec("address")) == (
        "〒231-0023 神奈川県横浜市中区山下町1-1 市庁舎"
    )


def test_what_the_resident_typed_is_kept_over_the_postal_data():
    value = field_types["address"].normalise(
        {"postal_code": "231-0023", "town": "山下町（中華街）", "block": "1"}, spec("address"), CTX
    )
    assert value["town"] == "山下町（中華街）"
    assert value["city"] == "横浜市中区"


def test_a_postal_code_shared_by_two_cities_does_not_guess_the_city():
    # 004-0000 is used for both 札幌市厚別区 and 札幌市清田区.
    with pytest.raises(FieldError) as caught:
        field_types["address"].normalise(
            {"postal_code": "004-0000", "block": "1"}, spec("address"), CTX
        )
    assert caught.value.errors == {"city": "市区町村を入力してください。"}
    value = field_types["address"].normalise(
        {"postal_code": "004-0000", "city": "札幌市清田区", "block": "1"}, spec("address"), CTX
    )
    assert value["city"] == "札幌市清田区"


def test_an_unknown_postal_code_is_refused_on_the_postal_code_part():
    with pytest.raises(FieldError) as caught:
        field_types["address"].normalise(
            {"postal_code": "999-9999", "block": "1"}, spec("address"), CTX
        )
    assert caught.value.errors == {"postal_code": "この郵便番号に当たる住所が見つかりません。"}


def test_an_address_without_postal_code_needs_every_part_and_a_real_prefecture():
    with pytest.raises(FieldError) as caught:
        field_types["address"].normalise({"building": "ビル"}, spec("address"), CTX)
    assert set(caught.value.errors) == {"prefecture", "city", "block"}
    with pytest.raises(FieldError) as caught:
        field_types["address"].normalise(
            {"prefecture": "神奈川", "city": "横浜市中区", "block": "1"}, spec("address"), CTX
        )
    assert caught.value.errors == {
        "prefecture": "都道府県名を正しく入力してください（例: 神奈川県）。"
    }


def test_an_address_with_unknown_parts_is_refused():
    with pytest.raises(FieldError, match="不明な項目"):
        field_types["address"].normalise(
            {"postal_code": "2310023", "block": "1", "x": "y"}, spec("address"), CTX
        )


# --- Names -----------------------------------------------------------------------------------


def test_a_name_is_kept_exactly_and_its_furigana_made_katakana():
    value = field_types["person_name"].normalise(
        {"family": "髙橋", "given": "𠮷子", "family_kana": "たかはし", "given_kana": "ﾖｼｺ"},
        spec("person_name"),
        CTX,
    )
    assert value == {
        "family": "髙橋",
        "given": "𠮷子",
        "family_kana": "タカハシ",
        "given_kana": "ヨシコ",
    }
    assert (
        field_types["person_name"].display(value, spec("person_name"))
        == "髙橋 𠮷子（タカハシ ヨシコ）"
    )


def test_a_name_with_sakizaki_is_not_folded_to_the_common_form():
    value = field_types["person_name"].normalise(
        {"family": "山﨑", "family_kana": "ヤマザキ"}, spec("person_name"), CTX
    )
    assert value["family"] == "山﨑"


def test_a_name_needs_a_family_name_and_furigana_for_each_part():
    with pytest.raises(FieldError) as caught:
        field_types["person_name"].normalise({"given": "太郎"}, spec("person_name"), CTX)
    assert caught.value.errors == {
        "family": "姓を入力してください。",
        "family_kana": "姓のフリガナを入力してください。",
        "given_kana": "名のフリガナを入力してください。",
    }
    with pytest.raises(FieldError) as caught:
        field_types["person_name"].normalise(
            {"family": "山田", "family_kana": "ヤマダ", "given": "太郎"}, spec("person_name"), CTX
        )
    assert caught.value.errors == {"given_kana": "名のフリガナを入力してください。"}


def test_furigana_may_be_optional():
    value = field_types["person_name"].normalise(
        {"family": "山田", "given": "太郎"}, spec("person_name", kana_required=False), CTX
    )
    assert value == {"family": "山田", "given": "太郎", "family_kana": "", "given_kana": ""}
    assert field_types["person_name"].display(value, spec("person_name")) == "山田 太郎"


def test_a_name_refuses_kanji_furigana_and_hidden_characters_part_by_part():
    with pytest.raises(FieldError) as caught:
        field_types["person_name"].normalise(
            {"family": "山田\u202e", "family_kana": "山田", "given": "x" * 51},
            spec("person_name"),
            CTX,
        )
    assert set(caught.value.errors) == {"family", "family_kana", "given"}
    assert caught.value.errors["family_kana"] == "フリガナはカタカナで入力してください。"


# --- Identifiers -----------------------------------------------------------------------------


def test_my_number_is_checked_and_shown_masked():
    my_number = field_types["my_number"]
    assert my_number.normalise("1234 5678 9018", spec("my_number"), CTX) == "123456789018"
    assert (
        my_number.normalise("１２３４－５６７８－９０１８", spec("my_number"), CTX)
        == "123456789018"
    )
    assert my_number.normalise("1234−5678−9018", spec("my_number"), CTX) == "123456789018"
    assert my_number.display("123456789018", spec("my_number")) == "●●●●●●●●9018"
    assert my_number.display("123456789018", spec("my_number"), reveal=True) == "123456789018"
    assert my_number.forced_privacy == Privacy.SPECIFIC
    assert mask_my_number("") == ""


@pytest.mark.parametrize("wrong", ["123456789010", "123456789019", "223456789018"])
def test_my_number_with_a_wrong_check_digit_is_refused(wrong):
    with pytest.raises(FieldError, match="検査用の数字"):
        field_types["my_number"].normalise(wrong, spec("my_number"), CTX)


def test_my_number_of_the_wrong_length_says_how_many_digits_were_typed():
    with pytest.raises(FieldError) as caught:
        field_types["my_number"].normalise("12345678901", spec("my_number"), CTX)
    assert (
        caught.value.errors[""]
        == "個人番号は12桁の数字で入力してください（11桁が入力されました）。"
    )


def test_my_number_every_valid_number_is_accepted():
    for base in ("00000000000", "99999999999", "31415926535"):
        number = base + str(my_number_check_digit(base))
        assert field_types["my_number"].normalise(number, spec("my_number"), CTX) == number


def test_a_corporate_number_is_checked_by_its_first_digit():
    corporate = field_types["corporate_number"]
    assert corporate.normalise("7000012050002", spec("corporate_number"), CTX) == "7000012050002"
    assert corporate.normalise("7-0000-1205-0002", spec("corporate_number"), CTX) == "7000012050002"
    with pytest.raises(FieldError, match="最初の1桁は検査用"):
        corporate.normalise("8000012050002", spec("corporate_number"), CTX)
    with pytest.raises(FieldError, match="13桁"):
        corporate.normalise("700001205000", spec("corporate_number"), CTX)


# --- Bank account ----------------------------------------------------------------------------


def account(**parts: Any) -> dict[str, Any]:
    return {
        "bank_code": "0009",
        "branch_code": "123",
        "account_type": "ordinary",
        "account_number": "12345",
        "holder": "ﾖｺﾊﾏ ﾀﾛｳ",
        **parts,
    }


def test_a_bank_account_pads_the_number_and_writes_the_holder_as_on_the_passbook():
    value = field_types["bank_account"].normalise(account(), spec("bank_account"), CTX)
    assert value == {
        "bank_code": "0009",
        "branch_code": "123",
        "account_type": "ordinary",
        "account_number": "0012345",
        "holder": "ヨコハマ タロウ",
    }
    assert field_types["bank_account"].display(value, spec("bank_account")) == (
        "三井住友（0009） 立売堀支店（123） 普通 ●●●●345 ヨコハマ タロウ"
    )
    assert "0012345" in field_types["bank_account"].display(
        value, spec("bank_account"), reveal=True
    )


def test_a_holder_in_hiragana_or_latin_letters_is_written_in_passbook_form():
    value = field_types["bank_account"].normalise(
        account(holder="よこはま　たろう"), spec("bank_account"), CTX
    )
    assert value["holder"] == "ヨコハマ タロウ"
    value = field_types["bank_account"].normalise(
        account(holder="ｶ)ﾏﾄﾞｸﾞﾁ"), spec("bank_account"), CTX
    )
    assert value["holder"] == "カ)マドグチ"
    value = field_types["bank_account"].normalise(
        account(holder="yokohama taro"), spec("bank_account"), CTX
    )
    assert value["holder"] == "YOKOHAMA TARO"


def test_a_holder_in_kanji_is_refused():
    with pytest.raises(FieldError) as caught:
        field_types["bank_account"].normalise(account(holder="横浜太郎"), spec("bank_account"), CTX)
    assert caught.value.errors == {
        "holder": "口座名義はカタカナ（通帳の表記どおり）で入力してください。"
    }


def test_every_wrong_part_of_a_bank_account_is_named():
    with pytest.raises(FieldError) as caught:
        field_types["bank_account"].normalise(
            account(
                bank_code="9",
                branch_code="12a",
                account_type="secret",
                account_number="12345678",
                holder="",
            ),
            spec("bank_account"),
            CTX,
        )
    assert set(caught.value.errors) == {
        "bank_code",
        "branch_code",
        "account_type",
        "account_number",
        "holder",
    }


@pytest.mark.parametrize("account_type", [["ordinary"], {"ordinary": 1}, 1, None, True])
def test_an_account_type_that_is_not_a_word_is_refused_not_a_crash(account_type):
    with pytest.raises(FieldError) as caught:
        field_types["bank_account"].normalise(
            account(account_type=account_type), spec("bank_account"), CTX
        )
    assert caught.value.errors == {"account_type": "預金の種別を選んでください。"}


def test_a_bank_account_with_unknown_parts_is_refused():
    with pytest.raises(FieldError, match="不明な項目"):
        field_types["bank_account"].normalise(account(pin="1234"), spec("bank_account"), CTX)


# --- Attachments -----------------------------------------------------------------------------


def upload(**parts: Any) -> dict[str, Any]:
    return {"id": "upl_0123456789", "name": "住民票.pdf", "kind": "pdf", "size": 2048, **parts}


def test_an_attachment_keeps_its_reference_and_a_clean_name():
    value = field_types["attachment"].normalise(
        upload(name=" 住民票.pdf "), spec("attachment"), CTX
    )
    assert value == [{"id": "upl_0123456789", "name": "住民票.pdf", "kind": "pdf", "size": 2048}]
    assert field_types["attachment"].display(value, spec("attachment")) == "住民票.pdf（PDF）"


@pytest.mark.parametrize(
    ("item", "says"),
    [
        (upload(kind="exe"), "PDF、JPEG画像、PNG画像 で提出"),
        (upload(kind="heic"), "で提出"),
        (upload(size=10 * 1024 * 1024 + 1), "10MBまで"),
        (upload(size=0), "MBまで"),
        (upload(size="2048"), "MBまで"),
        (upload(size=True), "MBまで"),
        (upload(id="short"), "アップロードしてから"),
        (upload(id="../../etc/passwd"), "アップロードしてから"),
        (upload(id="x" * 65), "アップロードしてから"),
        (upload(id=12345678), "アップロードしてから"),
        (upload(name="invoice\u202efdp.exe"), "使用できない文字"),
        (upload(name=["a"]), "ファイル名"),
        ("upl_0123456789", "アップロードしてから"),
    ],
)
def test_an_attachment_refuses_unknown_kinds_oversize_files_and_bad_ids(item, says):
    with pytest.raises(FieldError) as caught:
        field_types["attachment"].normalise(item, spec("attachment"), CTX)
    assert says in caught.value.errors[""]


def test_an_attachment_respects_its_own_kinds_size_and_count():
    photo = spec("attachment", accept=["jpeg", "heic"], max_bytes=1024, max_files=1)
    with pytest.raises(FieldError, match="JPEG画像、HEIC画像 で提出"):
        field_types["attachment"].normalise(upload(), photo, CTX)
    with pytest.raises(FieldError, match="1個まで"):
        field_types["attachment"].normalise([upload(kind="jpeg", size=1)] * 2, photo, CTX)
    assert field_types["attachment"].normalise([upload(kind="heic", size=1024)], photo, CTX)


# --- The registry ----------------------------------------------------------------------------


def test_an_unknown_field_type_is_a_key_error_that_lists_the_known_ones():
    with pytest.raises(KeyError) as caught:
        field_types["textt"]
    assert "'textt'" in str(caught.value)
    assert "text, textarea" in str(caught.value)
    assert "textt" not in field_types
    assert list(field_types) == sorted(field_types)


def test_a_plugin_cannot_take_the_key_of_another():
    from madoguchi.core.registry import Registry

    registry: Registry[object] = Registry("field type")
    registry.add("text", object())
    with pytest.raises(ValueError, match="'text' is registered twice"):
        registry.add("text", object())


@pytest.mark.parametrize("key", ["date", "birth_date"])
@pytest.mark.parametrize(
    "options",
    [
        {"min": "today-23y"},
        {"min": "today+30d"},
        {"max": "today-18y"},
        {"min": "2025-05-03", "weekdays_only": True},  # 憲法記念日 (Sat), then 5/4, 5/5, 5/6
        {"min": "today-9999y", "weekdays_only": True},
        {"max": "today-9999y"},
        {"min": "today", "max": "today"},
    ],
)
def test_the_example_of_a_date_respects_the_bounds_of_its_field(key, options):
    date_spec = spec(key, **options)
    example = field_types[key].example(date_spec, CTX)
    impossible = options.get("max") == "today-9999y" or (
        key == "birth_date" and options.get("min") in ("today+30d", "2025-05-03")
    )  # after the last day allowed (a birth date is never in the future)
    if impossible:
        return  # no day is valid; the example only must not crash
    assert field_types[key].normalise(example, date_spec, CTX)
