"""search_key: a resident finds 横浜市 however they type it; names stay as written."""

import pytest

from madoguchi.core.text import hiragana_to_katakana, search_key, strip_invisible


def test_half_width_katakana_hiragana_and_katakana_match():
    assert search_key("ﾖｺﾊﾏ") == search_key("よこはま") == search_key("ヨコハマ") == "ヨコハマ"


def test_half_width_voiced_marks_are_composed():
    assert search_key("ｼﾌﾞﾔ") == search_key("しぶや") == "シブヤ"


def test_full_width_and_half_width_ascii_match():
    assert search_key("ＡＢＣ１２３") == search_key("abc123") == search_key("ABC123") == "abc123"


@pytest.mark.parametrize("typed", ["横浜 市", "横浜　市", " 横浜市 ", "横\t浜\n市", "横浜\u00a0市"])
def test_spaces_of_every_width_are_ignored(typed):
    assert search_key(typed) == "横浜市"


@pytest.mark.parametrize(
    "invisible",
    [
        "\u202e",  # RIGHT-TO-LEFT OVERRIDE
        "\u202d",  # LEFT-TO-RIGHT OVERRIDE
        "\u202a",  # LEFT-TO-RIGHT EMBEDDING
        "\u202c",  # POP DIRECTIONAL FORMATTING
        "\u2066",  # LEFT-TO-RIGHT ISOLATE
        "\u2067",  # RIGHT-TO-LEFT ISOLATE
        "\u2069",  # POP DIRECTIONAL ISOLATE
        "\u200e",  # LEFT-TO-RIGHT MARK
        "\u200f",  # RIGHT-TO-LEFT MARK
        "\u061c",  # ARABIC LETTER MARK
        "\u200b",  # ZERO WIDTH SPACE
        "\u200c",  # ZERO WIDTH NON-JOINER
        "\u200d",  # ZERO WIDTH JOINER
        "\u2060",  # WORD JOINER
        "\ufeff",  # ZERO WIDTH NO-BREAK SPACE (BOM)
        "\u00ad",  # SOFT HYPHEN
        "\x00",
        "\x1b",
        "\x85",
    ],
)
def test_bidi_overrides_and_zero_width_characters_are_stripped(invisible):
    assert search_key(f"{invisible}横{invisible}浜市{invisible}") == "横浜市"
    assert strip_invisible(f"a{invisible}b") == "ab"


@pytest.mark.parametrize("name", ["𠮷野", "髙橋", "山﨑", "𠮷田 髙﨑"])
def test_characters_outside_jis_x_0208_are_kept(name):
    key = search_key(name)
    for ch in name.replace(" ", ""):
        assert ch in key
    assert "吉" not in key
    assert "高" not in key
    assert "崎" not in key


def test_hiragana_to_katakana_leaves_everything_else_alone():
    assert hiragana_to_katakana("ぁゖ漢字ABCカナ𠮷") == "ァヶ漢字ABCカナ𠮷"


def test_empty_and_invisible_only_text_folds_to_nothing():
    assert search_key("") == ""
    assert search_key(" \u3000\u200b\u202e") == ""
