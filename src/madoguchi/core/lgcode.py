"""全国地方公共団体コード (lg_code): parsing, check digits and normalisation.

The code has five digits (JIS X 0401 prefecture + JIS X 0402 municipality) and a sixth check
digit: weights 6,5,4,3,2 from the left, ``(11 - sum % 11) % 10``. People and files give it
in many shapes (full-width digits, five digits, leading zeros dropped by spreadsheets), so
everything that accepts a code goes through :func:`parse_lg_code`.
"""

from __future__ import annotations

import unicodedata
from typing import Final

_WEIGHTS: Final = (6, 5, 4, 3, 2)
MAX_INPUT_LENGTH: Final = 32


class InvalidLgCode(ValueError):
    """A value that is not a 全国地方公共団体コード; the message is Japanese, for a person."""


def check_digit(code5: str) -> str:
    """Return the check digit of a five-digit code."""
    if len(code5) != 5 or not code5.isascii() or not code5.isdigit():
        raise InvalidLgCode("団体コードの上5桁は半角数字5桁で指定してください。")
    total = sum(int(digit) * weight for digit, weight in zip(code5, _WEIGHTS, strict=True))
    return str((11 - total % 11) % 10)


def with_check_digit(code5: str) -> str:
    """Return the six-digit code for a five-digit code."""
    return code5 + check_digit(code5)


def is_valid(code6: str) -> bool:
    """True when ``code6`` is six ASCII digits with a correct check digit."""
    if len(code6) != 6 or not code6.isascii() or not code6.isdigit():
        return False
    return check_digit(code6[:5]) == code6[5]


def parse_lg_code(raw: str, *, allow_five: bool = True) -> str:
    """Normalise what a person typed into a verified six-digit code.

    Accepts full-width digits and surrounding spaces, and (when ``allow_five``) the
    five-digit JIS form, whose check digit is computed. Raises :class:`InvalidLgCode` with a
    Japanese message saying what is wrong; never returns an unverified code.
    """
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidLgCode("団体コードが長すぎます。6桁（または5桁）の数字で指定してください。")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidLgCode("団体コードを指定してください。")
    if not (text.isascii() and text.isdigit()):
        raise InvalidLgCode("団体コードは数字だけで指定してください（例: 131016）。")
    if len(text) == 5 and allow_five:
        return with_check_digit(text)
    if len(text) != 6:
        raise InvalidLgCode(
            f"団体コードは6桁（または5桁）で指定してください（{len(text)}桁が指定されました）。"
        )
    expected = check_digit(text[:5])
    if text[5] != expected:
        raise InvalidLgCode(
            f"団体コード {text} の検査数字（6桁目）が正しくありません。"
            f"上5桁 {text[:5]} なら検査数字は {expected} です。"
        )
    return text


def prefecture_code(code6: str) -> str:
    """The two-digit JIS X 0401 prefecture code of a verified code."""
    return code6[:2]
