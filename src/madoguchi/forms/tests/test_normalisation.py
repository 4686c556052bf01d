"""Input normalisation, decided once in the forms engine (issue 9, findings 9 and 10).

What a resident cannot see cannot answer a required question; names keep their characters but
not the accidents of typing (half-width kana, decomposed accents); 番地 numbers are folded;
garbled text and numbers that are not numbers are refused with a Japanese message.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict

from madoguchi.core.text import compose, parse_int
from madoguchi.forms.base import field_types
from madoguchi.forms.engine import validate
from madoguchi.forms.japanese import ParseError, clean_address_number, clean_name, clean_text
from madoguchi.forms.rendering import answers_from_post

from .factories import CTX, TODAY, field, form, spec

INVISIBLE = {
    "zero width space": "\u200b",
    "byte order mark": "\ufeff",
    "word joiner": "\u2060",
    "soft hyphen": "\u00ad",
    "ideographic space": "\u3000",
    "ideographic spaces and a zero width space": "\u3000\u200b\u3000",
    "zero width joiner": "\u200d",
    "variation selector": "\ufe0f",
    "hangul filler": "\u3164",
    "braille blank": "\u2800",
    "left-to-right mark": "\u200e",
    "combining mark alone": "\u0301",
    "spaces and tabs": " \t ",
}


@pytest.fixture(scope="module")
def shinsei():
    return form(
        field("name", "person_name", "氏名", required=True, options={"kana_required": False}),
        field("address", "address", "住所", required=True),
        field("note", "text", "備考", required=True),
        field("count", "number", "通数"),
    )


def answers(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": {"family": "山田", "given": "花子"},
        "address": {"postal_code": "231-0023", "block": "1-1"},
        "note": "よろしくお願いします",
    }
    return {**base, **overrides}


# --- One integer parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    ["①", "②③", "٣", "²", "３", " 3", "3 ", "+3", "-3", "3_000", "1e3", "0x1", "", "9" * 19, None],
)
def test_only_ascii_digits_are_read_as_an_integer(hostile):
    assert parse_int(hostile) is None


def test_an_integer_is_read_within_its_bounds():
    assert parse_int("0") == 0
    assert parse_int("42") == 42
    assert parse_int("9" * 18) == 10**18 - 1
    assert parse_int("0", minimum=1) is None
    assert parse_int("50", maximum=49) is None


# --- Invisible values are empty ----------------------------------------------------------------


@pytest.mark.parametrize("invisible", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_value_nothing_visible_in_it_does_not_answer_a_required_name(shinsei, invisible):
    result = validate(shinsei, answers(name={"family": invisible, "given": invisible}), today=TODAY)
    assert "name" not in result.answers
    # Blank to the eye: the whole name is missing, or the family name within it.
    assert result.errors in (
        {"name.family": "姓を入力してください。"},
        {"name": "氏名を入力してください。"},
    )


@pytest.mark.parametrize("invisible", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_value_nothing_visible_in_it_does_not_answer_a_required_block(shinsei, invisible):
    address = {"postal_code": "2310023", "block": invisible}
    result = validate(shinsei, answers(address=address), today=TODAY)
    assert result.errors == {"address.block": "番地を入力してください。"}


@pytest.mark.parametrize("invisible", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_value_nothing_visible_in_it_does_not_answer_a_required_text(shinsei, invisible):
    result = validate(shinsei, answers(note=invisible), today=TODAY)
    assert result.errors == {"note": "備考を入力してください。"}
    assert "note" not in result.answers


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_control_characters_never_answer_a_required_field(shinsei, control):
    result = validate(shinsei, answers(note=f"{control}よろしく"), today=TODAY)
    assert "使用できない文字" in result.errors["note"]
    result = validate(shinsei, answers(note=control), today=TODAY)
    assert "note" not in result.answers
    assert result.errors["note"]
    result = validate(shinsei, answers(name={"family": f"山{control}"}), today=TODAY)
    assert "使用できない文字" in result.errors["name.family"]


def test_invisible_format_characters_inside_text_are_removed():
    assert clean_text("横浜\u200b市\ufeff中区\u2060\u00ad") == "横浜市中区"
    assert clean_text("\ufeff2025-04-01") == "2025-04-01"


def test_emoji_joiners_and_variation_selectors_are_kept_where_something_is_seen():
    family = "👨\u200d👩\u200d👧"
    assert clean_text(family) == family
    assert clean_name("葛\U000e0100飾") == "葛\U000e0100飾"


# --- Garbled text and numbers that are not numbers ---------------------------------------------


def test_the_replacement_character_is_refused_as_garbled_text(shinsei):
    with pytest.raises(ParseError, match="文字化け"):
        clean_text("山\ufffd田")
    result = validate(shinsei, answers(name={"family": "山\ufffd"}), today=TODAY)
    assert "文字化け" in result.errors["name.family"]
    result = validate(
        shinsei, answers(address={"postal_code": "2310023", "block": "\ufffd"}), today=TODAY
    )
    assert "文字化け" in result.errors["address.block"]


@pytest.mark.parametrize("code_point", [0xD800, 0xDBFF, 0xDC00, 0xDFFF])
def test_a_lone_surrogate_is_refused_in_a_name(shinsei, code_point):
    result = validate(shinsei, answers(name={"family": f"山{chr(code_point)}"}), today=TODAY)
    assert "読み取れない文字" in result.errors["name.family"]


@pytest.mark.parametrize("not_a_number", [float("inf"), float("-inf"), float("nan")])
def test_infinity_and_nan_are_refused_and_never_stored_as_text(shinsei, not_a_number):
    result = validate(shinsei, answers(count=not_a_number, note=not_a_number), today=TODAY)
    assert "Infinity" in result.errors["count"]
    assert "Infinity" in result.errors["note"]
    assert "count" not in result.answers
    assert "note" not in result.answers


# --- Names -------------------------------------------------------------------------------------


def test_half_width_katakana_in_a_name_is_made_full_width(shinsei):
    result = validate(shinsei, answers(name={"family": "ﾔﾏﾀﾞ", "given": "ﾊﾟﾄﾘｼｱ"}), today=TODAY)
    assert result.answers["name"]["family"] == "ヤマダ"
    assert result.answers["name"]["given"] == "パトリシア"


def test_decomposed_characters_in_a_name_are_composed(shinsei):
    name = {"family": "Rene\u0301", "given": "か\u3099く"}
    result = validate(shinsei, answers(name=name), today=TODAY)
    assert result.answers["name"]["family"] == "Ren\u00e9"
    assert result.answers["name"]["given"] == "がく"


def test_a_half_width_voiced_mark_after_a_full_width_kana_joins_it():
    assert clean_name("か\uff9eく") == "がく"


@pytest.mark.parametrize(
    "name",
    [
        "髙橋",  # はしご高 U+9AD9
        "山﨑",  # たつさき U+FA11
        "𠮷野",  # U+20BB7
        "\ufa10本",  # 塚 U+FA10: NFC would make it 塚 U+585A
        "\ufa19田",  # 神 U+FA19: NFC would make it 神 U+795E
        "渡邊",
        "ＡＢＣ",  # full-width letters are kept in names: no NFKC
    ],
)
def test_names_keep_every_character_as_typed(shinsei, name):
    result = validate(shinsei, answers(name={"family": name}), today=TODAY)
    assert result.answers["name"]["family"] == name


def test_compose_keeps_compatibility_ideographs_and_composes_around_them():
    assert compose("\ufa10e\u0301") == "\ufa10\u00e9"
    assert compose("\U0002f800") == "\U0002f800"


def test_free_text_keeps_half_width_katakana():
    assert clean_text("ｶﾀｶﾅ") == "ｶﾀｶﾅ"


# --- Addresses ---------------------------------------------------------------------------------


def test_address_numbers_are_folded_and_place_names_keep_their_characters(shinsei):
    address = {
        "postal_code": "２３１－００２３",
        "block": "１－②－Ⅲ",
        "building": "ﾒｿﾞﾝ㈱ビル　ＡＢ棟１０１",
    }
    result = validate(shinsei, answers(address=address), today=TODAY)
    assert result.errors == {}
    stored = result.answers["address"]
    assert stored["postal_code"] == "2310023"
    assert stored["block"] == "1-2-III"
    assert stored["building"] == "メゾン(株)ビル AB棟101"
    assert stored["prefecture"] == "神奈川県"


def test_a_half_width_town_name_is_made_full_width():
    assert clean_name("ﾆﾎﾝｵｵﾄﾞｵﾘ") == "ニホンオオドオリ"
    assert clean_address_number("\u200b") == ""


# --- Partial stored values are shown, never a KeyError -----------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        {"postal_code": "2310023", "block": "", "building": ""},
        {"block": "1-1"},
        {"prefecture": "神奈川県"},
        {"postal_code": "23"},
        {"city": None, "town": 5},
        {},
        None,
        "横浜市中区日本大通1",
    ],
)
def test_an_address_is_shown_whatever_parts_it_has(stored):
    text = field_types["address"].display(stored, spec("address"))
    assert isinstance(text, str)


def test_a_partial_address_shows_what_it_has():
    text = field_types["address"].display(
        {"postal_code": "2310023", "block": "1-1"}, spec("address")
    )
    assert text == "〒231-0023 1-1"


@pytest.mark.parametrize("stored", [{"given": "花子"}, {}, None, "山田"])
def test_a_name_is_shown_whatever_parts_it_has(stored):
    assert isinstance(field_types["person_name"].display(stored, spec("person_name")), str)


# --- Posted forms ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_group():
    return form(
        field("note", "text", "備考"),
        field(
            "members",
            "group",
            "世帯員",
            options={"max_items": 5},
            fields=[field("name", "text", "氏名", required=True)],
        ),
    )


@pytest.mark.parametrize("index", ["①", "٣", "²", "３", "-1", "1_0", "9" * 30, "50", ""])
def test_a_group_index_that_is_not_ascii_digits_is_ignored(with_group, index):
    data = QueryDict(mutable=True)
    data["members.0.name"] = "山田"
    data[f"members.{index}.name"] = "攻撃"
    assert answers_from_post(with_group, data) == {"members": [{"name": "山田"}]}


def test_nul_characters_are_removed_from_posted_values(with_group):
    data = QueryDict(mutable=True)
    data["note"] = "\x00よろ\x00しく"
    data["members.0.name"] = "山\x00田"
    answers = answers_from_post(with_group, data)
    assert answers == {"note": "よろしく", "members": [{"name": "山田"}]}
    assert validate(with_group, answers, today=TODAY).ok


def test_the_field_types_refuse_nul_sent_as_json(shinsei):
    result = validate(shinsei, answers(note="a\x00b"), today=TODAY)
    assert "使用できない文字" in result.errors["note"]
    assert CTX.today == TODAY


def test_a_phone_number_in_arabic_indic_digits_is_refused_not_stored():
    from madoguchi.forms.base import FieldError

    with pytest.raises(FieldError, match="電話番号は数字"):
        field_types["phone"].normalise("٠٤٥٦٧١٢١٢١", spec("phone"), CTX)
    assert (
        field_types["phone"].normalise("０４５-６７１-２１２１", spec("phone"), CTX) == "0456712121"
    )


def test_a_postal_code_of_circled_digits_is_looked_up_as_nothing():
    from madoguchi.forms.postal import lookup

    assert lookup("①②③④⑤⑥⑦") == ()


@pytest.mark.parametrize("typed", ["①②③", "⑩", "²", "½", "1⁰"])
def test_circled_and_superscript_digits_are_refused_in_numbers_not_read(typed):
    """Found in the browser: ①②③ in 数量 was read as 123, ⑩ as 10."""
    from madoguchi.forms.base import FieldError

    with pytest.raises(FieldError, match="丸数字"):
        field_types["number"].normalise(typed, spec("number"), CTX)
    assert field_types["number"].normalise("１２３", spec("number"), CTX) == 123
