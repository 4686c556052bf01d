"""全国地方公共団体コード: what a person types, and what the parser makes of it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.core.lgcode import (
    MAX_INPUT_LENGTH,
    InvalidLgCode,
    check_digit,
    is_valid,
    parse_lg_code,
    prefecture_code,
    with_check_digit,
)

KNOWN_CODES = {
    "011002": "札幌市",
    "131016": "千代田区",
    "130001": "東京都",
    "141003": "横浜市",
    "142042": "鎌倉市",
}


@pytest.mark.parametrize("code", sorted(KNOWN_CODES))
def test_check_digit_of_real_organisations(code):
    assert check_digit(code[:5]) == code[5]
    assert with_check_digit(code[:5]) == code
    assert is_valid(code)


@pytest.mark.parametrize("code", sorted(KNOWN_CODES))
def test_six_digit_code_is_accepted_as_typed(code):
    assert parse_lg_code(code) == code


def test_five_digit_jis_code_gets_its_check_digit():
    assert parse_lg_code("13101") == "131016"
    assert parse_lg_code("01100") == "011002"


def test_five_digit_code_is_refused_when_six_are_required():
    with pytest.raises(InvalidLgCode, match="6桁"):
        parse_lg_code("13101", allow_five=False)


def test_wrong_check_digit_names_the_correct_one():
    with pytest.raises(InvalidLgCode) as caught:
        parse_lg_code("131017")
    message = str(caught.value)
    assert "検査数字" in message
    assert "検査数字は 6 です" in message


def test_full_width_digits_are_normalised_to_ascii():
    assert parse_lg_code("１３１０１６") == "131016"
    assert parse_lg_code("１３１０１") == "131016"


def test_surrounding_spaces_are_ignored():
    assert parse_lg_code("  131016\u3000") == "131016"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "指定してください"),
        ("   ", "指定してください"),
        ("\u3000\t\n", "指定してください"),
        ("13101a", "数字だけ"),
        ("abcdef", "数字だけ"),
        ("1310166", "7桁"),
        ("1310", "4桁"),
        ("-131016", "数字だけ"),
        ("13101.6", "数字だけ"),
        ("131 016", "数字だけ"),
        ("131016\x00", "数字だけ"),
        ("\x00", "数字だけ"),
        ("🏯131016", "数字だけ"),
        ("１３１０１６😀", "数字だけ"),
        ("٣١٠١٦", "数字だけ"),  # Arabic-Indic digits are digits, but not ours
        ("1" * 10_000, "長すぎます"),
        ("1" * (MAX_INPUT_LENGTH + 1), "長すぎます"),
    ],
)
def test_hostile_input_gets_a_japanese_error(raw, message):
    with pytest.raises(InvalidLgCode, match=message):
        parse_lg_code(raw)


def test_check_digit_refuses_what_is_not_five_ascii_digits():
    for raw in ("1310", "131016", "１３１０１", "1310a"):
        with pytest.raises(InvalidLgCode):
            check_digit(raw)


@pytest.mark.parametrize("raw", ["", "13101", "1310166", "１３１０１６", "13101a", "131017"])
def test_is_valid_is_false_for_anything_but_a_verified_six_digit_code(raw):
    assert not is_valid(raw)


def test_prefecture_code_is_the_first_two_digits():
    assert prefecture_code("011002") == "01"
    assert prefecture_code("142042") == "14"


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_DIGITISH = st.text(alphabet="0123456789０１２３４５６７８９ \u3000-.+a", max_size=12)


@given(st.one_of(st.text(), _DIGITISH))
def test_any_text_gives_a_valid_code_or_invalid_lg_code(raw):
    try:
        code = parse_lg_code(raw)
    except InvalidLgCode as error:
        message = str(error)
    else:
        assert len(code) == 6
        assert code.isascii()
        assert code.isdigit()
        assert is_valid(code)
        return
    assert message  # a Japanese sentence for the person who typed it
    assert message.isprintable()


@given(st.integers(min_value=0, max_value=99_999).map(lambda n: f"{n:05d}"))
def test_every_five_digit_code_round_trips(code5):
    code6 = with_check_digit(code5)
    assert parse_lg_code(code6) == code6
    assert parse_lg_code(code5) == code6
    assert parse_lg_code(code5.translate(_FULL_WIDTH)) == code6
