"""Japanese text normalisation that is safe to apply to what people type.

``search_key`` folds the differences people do not care about when they search: full-width
and half-width forms (NFKC), hiragana and katakana, case, and spaces. Names themselves are
stored exactly as given; only the search column holds folded text.
"""

from __future__ import annotations

import re
import unicodedata

_HIRAGANA_START = 0x3041
_HIRAGANA_END = 0x3096
_KATAKANA_OFFSET = 0x60
_SPACES = re.compile(r"[\s\u3000]+")
# C0/C1 controls, bidi overrides and marks, zero-width characters (word joiner, soft hyphen,
# invisible operators included) and variation selectors (葛󠄀 = 葛 + IVS): never meaningful in
# a search, so 葛󠄀飾区 typed with an IVS still finds 葛飾区.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufe00-\ufe0f\ufeff\U000e0100-\U000e01ef\ud800-\udfff]"
)


def hiragana_to_katakana(text: str) -> str:
    """Turn hiragana into katakana (ぁ–ゖ → ァ–ヶ), leaving everything else as it is."""
    return "".join(
        chr(ord(ch) + _KATAKANA_OFFSET) if _HIRAGANA_START <= ord(ch) <= _HIRAGANA_END else ch
        for ch in text
    )


def strip_invisible(text: str) -> str:
    """Remove control, bidi-override and zero-width characters."""
    return _INVISIBLE.sub("", text)


def search_key(text: str) -> str:
    """Fold ``text`` for matching: NFKC, katakana, lower case, no spaces or invisibles."""
    folded = unicodedata.normalize("NFKC", strip_invisible(text))
    folded = hiragana_to_katakana(folded).casefold()
    return _SPACES.sub("", folded)
