"""What residents type, read the way a counter clerk would read it: 和暦 and 西暦, kana of every
width, telephone numbers with any hyphen, and identifiers whose last digit checks the others."""

import itertools
import re
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.forms.japanese import (
    ERAS,
    ParseError,
    clean_text,
    corporate_number_check_digit,
    katakana_reading,
    my_number_check_digit,
    parse_date,
    parse_phone,
    parse_postal_code,
    wareki,
)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def refusal(func: Any, raw: str, **kwargs: Any) -> str:
    """The message a resident reads when ``raw`` is refused; it must be Japanese."""
    with pytest.raises(ParseError) as caught:
        func(raw, **kwargs)
    message = str(caught.value)
    assert JAPANESE.search(message), message
    return message


# --- Dates: 西暦 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "2025-04-01",
        "2025/4/1",
        "2025/04/01",
        "2025.4.1",
        "2025年4月1日",
        "2025年04月01日",
        "20250401",
        "２０２５－０４－０１",
        "２０２５年４月１日",
        " 2025-04-01 ",
        "2025 年 4 月 1 日",
    ],
)
def test_a_resident_may_write_the_western_date_in_any_usual_way(typed):
    assert parse_date(typed) == date(2025, 4, 1)


# --- Dates: 和暦 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("令和7年4月1日", date(2025, 4, 1)),
        ("令和７年４月１日", date(2025, 4, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和1年5月1日", date(2019, 5, 1)),
        ("R7.4.1", date(2025, 4, 1)),
        ("r7.4.1", date(2025, 4, 1)),
        ("R07.04.01", date(2025, 4, 1)),
        ("Ｒ７．４．１", date(2025, 4, 1)),
        ("H31/4/30", date(2019, 4, 30)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("S60.4.1", date(1985, 4, 1)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("T1.7.30", date(1912, 7, 30)),
        ("明治45年7月29日", date(1912, 7, 29)),
    ],
)
def test_a_resident_may_write_the_date_in_the_japanese_era(typed, expected):
    assert parse_date(typed) == expected


def test_a_heisei_date_after_the_abdication_is_refused_with_the_reiwa_date_it_means():
    message = refusal(parse_date, "平成31年5月1日")
    assert "平成31年5月1日はありません" in message
    assert "令和元年5月1日" in message


def test_showa_ended_on_the_seventh_of_january_1989():
    message = refusal(parse_date, "昭和64年1月8日")
    assert "平成元年1月8日" in message


def test_a_reiwa_date_before_the_era_began_points_to_heisei_and_keeps_gannen():
    message = refusal(parse_date, "令和元年4月30日")
    assert "令和元年4月30日はありません" in message
    assert "平成31年4月30日" in message


def test_a_day_that_does_not_exist_is_named_in_the_message():
    assert "2025年2月30日という日付はありません" in refusal(parse_date, "2025-02-30")
    assert "2025年2月29日" in refusal(parse_date, "令和7年2月29日")
    assert parse_date("令和6年2月29日") == date(2024, 2, 29)


def test_there_is_no_year_zero_of_an_era():
    assert "元年" in refusal(parse_date, "令和0年1月1日")


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "x" * 1_000_000,
        "2" * 1_000_000,
        "😀",
        "2025-04-01😀",
        "来週の火曜日",
        "2025-4",
        "4/1/2025",
        "令和七年四月一日",
        "慶応4年1月1日",
        "2025-04-01T10:00:00",
        "\u202e2025-04-01",
        "2025--04-01",
    ],
)
def test_what_is_not_a_date_is_refused_with_an_example_of_how_to_write_one(typed):
    refusal(parse_date, typed)


def test_an_empty_date_asks_for_one():
    assert refusal(parse_date, "") == "日付を入力してください。"


# --- wareki(): dates shown the way residents read them -------------------------------------


@pytest.mark.parametrize(
    ("day", "shown"),
    [
        (date(2025, 4, 1), "令和7年4月1日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 30), "大正元年7月30日"),
    ],
)
def test_wareki_names_the_era_and_says_gannen_for_its_first_year(day, shown):
    assert wareki(day) == shown


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=ERAS["明治"].since, max_value=date(2200, 12, 31)))
def test_every_date_shown_in_wareki_reads_back_as_the_same_date(day):
    assert parse_date(wareki(day)) == day


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1000, 1, 1)))
def test_every_iso_date_reads_back_as_the_same_date(day):
    assert parse_date(day.isoformat()) == day
    assert parse_date(day.strftime("%Y%m%d")) == day


def test_each_era_begins_the_day_after_the_last_one_ends():
    spans = list(ERAS.values())
    assert [s.name for s in spans] == ["明治", "大正", "昭和", "平成", "令和"]
    for earlier, later in itertools.pairwise(spans):
        assert earlier.until == later.since
        assert wareki(later.since - timedelta(days=1)).startswith(earlier.name)
        assert wareki(later.since).startswith(f"{later.name}元年")
    assert spans[-1].until is None


# --- Check digits, against reference implementations written from the rule texts ------------


def reference_my_number_check_digit(first11: str) -> int:
    """行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 / 総務省令 第5条:

    検査用数字 = 11 − (Σ_{n=1}^{11} Pn × Qn を 11 で除した余り)
    ただし余りが 1 以下のときは 0。Pn は最下位の桁を1桁目とした n 桁目の数字、
    Qn は 1 ≦ n ≦ 6 のとき n + 1、7 ≦ n ≦ 11 のとき n − 5。
    """
    weights_left_to_right = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    total = sum(int(p) * q for p, q in zip(first11, weights_left_to_right, strict=True))
    remainder = total % 11
    if remainder <= 1:
        return 0
    return 11 - remainder


def reference_corporate_number_check_digit(base12: str) -> int:
    """法人番号の指定等に関する省令 第2条: 検査用数字（先頭の1桁）=
    9 − (Σ_{n=1}^{12} Pn × Qn を 9 で除した余り)。Pn は最下位の桁を1桁目とした n 桁目の数字、
    Qn は n が奇数のとき 1、偶数のとき 2。"""
    weights_left_to_right = [2, 1] * 6  # the 12th digit from the right is even: weight 2
    total = sum(int(p) * q for p, q in zip(base12, weights_left_to_right, strict=True))
    return 9 - total % 9


def test_the_reference_my_number_rule_agrees_with_the_usual_worked_example():
    # 123456789018 is the example used in 総務省's explanations of the check digit.
    assert reference_my_number_check_digit("12345678901") == 8


@pytest.mark.parametrize(
    "corporate_number",
    [
        "7000012050002",  # 国税庁
        "1180301018771",  # トヨタ自動車株式会社
    ],
)
def test_published_corporate_numbers_pass_both_the_reference_and_the_code(corporate_number):
    check, base = int(corporate_number[0]), corporate_number[1:]
    assert reference_corporate_number_check_digit(base) == check
    assert corporate_number_check_digit(base) == check


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_my_number_check_digit_follows_the_ministry_rule(first11):
    assert my_number_check_digit(first11) == reference_my_number_check_digit(first11)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_corporate_number_check_digit_follows_the_ministry_rule(base12):
    digit = corporate_number_check_digit(base12)
    assert digit == reference_corporate_number_check_digit(base12)
    assert 1 <= digit <= 9


# --- Telephone numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("045-671-2121", "0456712121"),  # 横浜市役所: a fixed line, 10 digits
        ("0456712121", "0456712121"),
        ("(045) 671-2121", "0456712121"),
        ("（045）671-2121", "0456712121"),
        ("090-1234-5678", "09012345678"),  # a mobile, 11 digits
        ("070 1234 5678", "07012345678"),
        ("050-1234-5678", "05012345678"),
        ("0120-123-456", "0120123456"),  # toll-free
        ("0800-123-4567", "08001234567"),
        ("+81-45-671-2121", "0456712121"),
        ("+81 90 1234 5678", "09012345678"),
        ("＋８１－９０－１２３４－５６７８", "09012345678"),
        ("０４５－６７１－２１２１", "0456712121"),
        ("０４５　６７１　２１２１", "0456712121"),
    ],
)
def test_a_telephone_number_is_kept_as_its_digits(typed, digits):
    assert parse_phone(typed) == digits


@pytest.mark.parametrize(
    "hyphen",
    [
        "-",  # HYPHEN-MINUS
        "\u2010",  # HYPHEN
        "\u2011",  # NON-BREAKING HYPHEN
        "\u2012",  # FIGURE DASH
        "\u2013",  # EN DASH
        "\u2014",  # EM DASH
        "\u2015",  # HORIZONTAL BAR
        "\u2212",  # MINUS SIGN (the full-width "−" of many Japanese input methods)
        "\u30fc",  # KATAKANA-HIRAGANA PROLONGED SOUND MARK (ー typed in kana mode)
        "\uff0d",  # FULLWIDTH HYPHEN-MINUS
        "\uff70",  # HALFWIDTH KATAKANA PROLONGED SOUND MARK
        "\ufe63",  # SMALL HYPHEN-MINUS
    ],
)
def test_every_kind_of_hyphen_a_resident_may_type_separates_the_digits(hyphen):
    assert parse_phone(f"045{hyphen}671{hyphen}2121") == "0456712121"
    assert parse_postal_code(f"231{hyphen}0023") == "2310023"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("045-671-212", "10桁"),
        ("045-671-21212", "10桁"),
        ("090-1234-567", "11桁"),
        ("090-1234-56789", "11桁"),
        ("0120-123-4567", "10桁"),
        ("045-ABC-2121", "数字とハイフン"),
        ("tel:0456712121", "数字とハイフン"),
        ("045-671-2121 内線123", "数字とハイフン"),
        ("456712121", "市外局番"),
        ("00456712121", "市外局番"),
        ("+", "数字とハイフン"),
        ("😀", "数字とハイフン"),
    ],
)
def test_a_wrong_telephone_number_is_refused_saying_what_is_wrong(typed, says):
    assert says in refusal(parse_phone, typed)


# --- Postal codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["231-0023", "2310023", "〒231-0023", "〒２３１－００２３", "２３１００２３", " 231 0023 "],
)
def test_a_postal_code_is_kept_as_seven_digits(typed):
    assert parse_postal_code(typed) == "2310023"


@pytest.mark.parametrize(
    "typed",
    ["", "231-002", "231-00234", "abc-defg", "231_0023", "٢٣١٠٠٢٣", "2310023😀", "2" * 10**6],
)
def test_anything_but_seven_digits_is_not_a_postal_code(typed):
    assert "7桁" in refusal(parse_postal_code, typed)


# --- フリガナ --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "reading"),
    [
        ("ヤマダ タロウ", "ヤマダ タロウ"),
        ("やまだ たろう", "ヤマダ タロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),
        ("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ"),
        ("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ"),
        ("ヤマダ　タロウ", "ヤマダ タロウ"),
        ("  やまだ   たろう  ", "ヤマダ タロウ"),
        ("ゔぁいおりん", "ヴァイオリン"),
        ("スミス・ジョン", "スミス・ジョン"),
        ("", ""),
    ],
)
def test_furigana_becomes_full_width_katakana(typed, reading):
    assert katakana_reading(typed) == reading


@pytest.mark.parametrize("typed", ["山田", "Yamada", "ヤマダ1", "ヤマダ😀", "ﾔﾏﾀﾞ太郎"])
def test_furigana_in_kanji_or_latin_letters_is_refused(typed):
    assert refusal(katakana_reading, typed) == "フリガナはカタカナで入力してください。"


def test_the_refusal_names_the_field_it_is_about():
    assert refusal(katakana_reading, "山田", label="姓のフリガナ").startswith("姓のフリガナ")


def test_furigana_with_control_characters_is_refused_before_it_is_converted():
    assert "制御文字" in refusal(katakana_reading, "ヤマ\u202eダ")


# --- clean_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "\x00",  # NUL
        "\x07",  # BEL
        "\x1b[31m",  # ESC: terminal colour codes in an export
        "\x7f",  # DEL
        "\x85",  # C1 NEXT LINE
        "\u202a",  # LEFT-TO-RIGHT EMBEDDING
        "\u202d",  # LEFT-TO-RIGHT OVERRIDE
        "\u202e",  # RIGHT-TO-LEFT OVERRIDE: "invoice\u202efdp.exe"
        "\u2066",  # LEFT-TO-RIGHT ISOLATE
        "\u2067",  # RIGHT-TO-LEFT ISOLATE
        "\u2069",  # POP DIRECTIONAL ISOLATE
        "\ufffb",  # INTERLINEAR ANNOTATION TERMINATOR
    ],
)
def test_control_and_direction_changing_characters_are_refused(hostile):
    message = refusal(clean_text, f"横浜{hostile}市")
    assert "使用できない文字" in message


@pytest.mark.parametrize("code_point", [0xD800, 0xDFFF, 0xD842])
def test_a_lone_surrogate_is_refused(code_point):
    refusal(clean_text, f"𠮷{chr(code_point)}")


@pytest.mark.parametrize(
    "name",
    [
        "𠮷野",  # U+20BB7, outside the BMP
        "髙橋",  # はしご高
        "山﨑",  # たつさき (U+FA11, a compatibility ideograph NFKC would turn into 崎)
        "葛\U000e0100飾",  # with an ideographic variation selector
        "ｶﾀｶﾅ",  # half-width kana are kept in free text
        "😀",
        "👨\u200d👩\u200d👧",  # a family emoji joined by ZWJ
    ],
)
def test_names_and_free_text_keep_every_character_exactly(name):
    assert clean_text(name) == name


def test_surrounding_spaces_are_trimmed_but_inner_ones_kept():
    assert clean_text("  山田　太郎 \u3000") == "山田　太郎"


def test_a_single_line_field_turns_line_breaks_and_tabs_into_spaces():
    assert clean_text("一行目\r\n二行目\tです") == "一行目 二行目 です"


def test_a_multiline_field_keeps_line_breaks_in_one_form():
    assert clean_text("一行目\r\n二行目\r三行目\n四行目", multiline=True) == (
        "一行目\n二行目\n三行目\n四行目"
    )
    assert clean_text("表\tの列", multiline=True) == "表\tの列"


def test_a_carriage_return_alone_is_not_a_hidden_character():
    assert clean_text("a\rb") == "a b"
