"""Japanese-aware parsing used by the field types: 和暦, kana, numbers people write.

Each parser takes what a person typed and returns a normalised value, or raises
:class:`ParseError` whose message is a Japanese sentence saying what to do.

Input normalisation, decided here once for every field type (入力値の正規化):

1. Every typed text goes through :func:`clean_text`. Refused, with a message: control
   characters (NUL, ESC, DEL, C1; tab and newline only where lines are allowed), bidi
   overrides and isolates, interlinear annotation characters, lone surrogates, and U+FFFD
   (the replacement character: the text was garbled on the way, and storing it would keep
   the damage). Removed silently: invisible format characters (U+200B, U+2060, U+FEFF,
   U+00AD, LRM/RLM …, see :func:`madoguchi.core.text.strip_format`). Then NFC, which keeps
   CJK compatibility ideographs such as 﨑 and 塚 as typed (:func:`madoguchi.core.text.compose`),
   and surrounding spaces (U+3000 included) go. A value in which nothing is visible (only
   spaces, joiners or marks) is empty, so it never satisfies a required field.
2. Names (:func:`clean_name`): the same, and half-width katakana become full-width
   (ﾔﾏﾀﾞ → ヤマダ). Nothing else changes: no NFKC, so 髙, 﨑, 𠮷 and variation selectors stay.
   フリガナ are folded to full-width katakana (:func:`katakana_reading`).
3. The numbered parts of an address, 番地 and 建物名 (:func:`clean_address_number`), are
   NFKC-folded: １－２ → 1-2, ① → 1, Ⅲ → III, ㈱ → (株), ＡＢＣ → ABC. This is the common
   practice of address matching (the same number written two ways is one address), and the
   folded forms are plain JIS X 0208 / ASCII, so exports in Shift_JIS never lose them.
   都道府県・市区町村・町域 are place names compared with the postal data: rule 2 applies.
4. Numbers, dates, telephone numbers and postal codes are read after NFKC (全角数字 → 半角);
   a number must be finite (JSON ``Infinity`` and ``NaN`` are refused), and circled or
   superscript digits (①, ⑩, ²) are refused in numbers, not read as 1, 10, 2.
5. Free text (1行・複数行) follows rule 1 only: half-width kana are kept as typed there.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Final

import japanera

from madoguchi.core.text import (
    compose,
    fold_halfwidth_katakana,
    has_visible,
    hiragana_to_katakana,
    strip_format,
)


class ParseError(ValueError):
    """What a person typed cannot be read; the message says how to write it."""


# --- Characters ------------------------------------------------------------------------------

#: C0/C1 controls (tab and newline are handled by the caller), bidi overrides and isolates
#: (used to disguise text, e.g. file names), interlinear annotation characters.
_FORBIDDEN = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufff9-\ufffb]"
)
_LINE_BREAKS = re.compile(r"\r\n?")


def clean_text(raw: str, *, multiline: bool = False) -> str:
    """Rule 1 of the module docstring: refuse what cannot be stored honestly, remove what
    cannot be seen, NFC-compose, strip; "" when nothing visible is left.

    Names and free text keep their characters (髙, 﨑, 𠮷, emoji): no NFKC here.
    """
    text = _LINE_BREAKS.sub("\n", raw)
    if not multiline and ("\n" in text or "\t" in text):
        text = text.replace("\t", " ").replace("\n", " ")
    if _FORBIDDEN.search(text):
        raise ParseError(
            "使用できない文字（制御文字や文字の向きを変える記号）が含まれています。取り除いてから入力してください。"
        )
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise ParseError("読み取れない文字が含まれています。")
    if "\ufffd" in text:
        raise ParseError(
            "文字化けした部分（�）があります。元の文章を確かめて、正しい文字で入力し直してください。"
        )
    text = compose(strip_format(text)).strip()
    return text if has_visible(text) else ""


def clean_name(raw: str) -> str:
    """Rule 2: a name as typed, with half-width katakana made full-width (ﾔﾏﾀﾞ → ヤマダ)."""
    return clean_text(fold_halfwidth_katakana(raw))


def clean_address_number(raw: str) -> str:
    """Rule 3: 番地 and 建物名 NFKC-folded (１－２ → 1-2, ① → 1, Ⅲ → III, ㈱ → (株))."""
    text = unicodedata.normalize("NFKC", clean_text(raw)).strip()
    return text if has_visible(text) else ""


def ascii_digits(raw: str) -> str:
    """Full-width digits and punctuation to ASCII (NFKC), spaces removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw))


_KATAKANA_NAME = re.compile(r"^[\u30a1-\u30f6\u30fc\u30fd\u30fe\u30f4・　 ]+$")


def to_katakana(raw: str) -> str:
    """Half-width katakana and hiragana to full-width katakana (フリガナ)."""
    # NFKC turns ｶﾞ into ガ; hiragana then becomes katakana.
    text = hiragana_to_katakana(unicodedata.normalize("NFKC", raw)).strip()
    return re.sub(r"\s+", " ", text)


def katakana_reading(raw: str, *, label: str = "フリガナ") -> str:
    text = to_katakana(clean_text(raw))
    if not text:
        return ""
    if not _KATAKANA_NAME.match(text):
        raise ParseError(f"{label}はカタカナで入力してください。")
    return text


# --- Numbers ---------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def parse_number(raw: str) -> str:
    """'１，２３４' → '1234'. Returns the canonical decimal text or raises ParseError.

    Full-width digits are folded; circled, superscript and fraction digits (①, ⑩, ², ½) are
    refused rather than read (NFKC would make ①②③ the number 123 and ⑩ the number 10).
    """
    if any(unicodedata.category(ch) == "No" for ch in raw):
        raise ParseError(
            "丸数字や上付きの数字は使えません。0〜9 の数字で入力してください（例: 1234）。"
        )
    text = ascii_digits(raw).replace(",", "").replace("円", "")
    text = text.replace("−", "-").replace("ー", "-")
    if not _NUMBER.match(text):
        raise ParseError("数字で入力してください（例: 1234）。")
    return text


# --- Dates (西暦 and 和暦) ---------------------------------------------------------------------


@dataclass(frozen=True)
class EraSpan:
    name: str
    initial: str
    since: date
    until: date | None  # exclusive


_MODERN = ("明治", "大正", "昭和", "平成", "令和")
_INITIALS = {"明治": "M", "大正": "T", "昭和": "S", "平成": "H", "令和": "R"}
ERAS: Final[dict[str, EraSpan]] = {
    era.kanji: EraSpan(era.kanji, _INITIALS[era.kanji], era.since, era.until)
    for era in japanera.ERA_DATA_GENERAL
    if era.kanji in _MODERN
}
_ERA_BY_INITIAL = {span.initial: span for span in ERAS.values()}

_WAREKI = re.compile(
    r"^(?P<era>明治|大正|昭和|平成|令和|[MTSHR])\.?(?P<year>元|\d{1,3})(?:年|[./-])"
    r"(?P<month>\d{1,2})(?:月|[./-])(?P<day>\d{1,2})日?$"
)
_SEIREKI = re.compile(
    r"^(?P<year>\d{4})(?:年|[./-])(?P<month>\d{1,2})(?:月|[./-])(?P<day>\d{1,2})日?$"
)
_COMPACT = re.compile(r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})$")


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ParseError(f"{year}年{month}月{day}日という日付はありません。") from None


def parse_date(raw: str) -> date:
    """Read a date written in 西暦 or 和暦.

    Accepts 2025-04-01, 2025/4/1, 2025年4月1日, 20250401, 令和7年4月1日, 令和元年5月1日,
    R7.4.1, H31/4/30 and full-width forms. A 和暦 date outside its era (平成31年5月1日) is
    refused with the era it belongs to, rather than silently moved.
    """
    text = ascii_digits(raw).upper()
    if not text:
        raise ParseError("日付を入力してください。")
    if len(text) > 20:
        raise ParseError("日付は 2025-04-01 や 令和7年4月1日 の形で入力してください。")
    match = _WAREKI.match(text)
    if match:
        era_text = match["era"]
        span = _ERA_BY_INITIAL[era_text] if len(era_text) == 1 else ERAS[era_text]
        era_year = 1 if match["year"] == "元" else int(match["year"])
        if era_year < 1:
            raise ParseError(f"{span.name}の年は元年（1年）から数えます。")
        result = _make_date(span.since.year + era_year - 1, int(match["month"]), int(match["day"]))
        if result < span.since or (span.until is not None and result >= span.until):
            actual = wareki(result)
            typed_year = "元" if era_year == 1 else str(era_year)
            raise ParseError(
                f"{span.name}{typed_year}年{int(match['month'])}月{int(match['day'])}日はありません"
                f"（西暦{result.year}年{result.month}月{result.day}日は{actual}です）。"
            )
        return result
    match = _SEIREKI.match(text) or _COMPACT.match(text)
    if match:
        return _make_date(int(match["year"]), int(match["month"]), int(match["day"]))
    raise ParseError("日付は 2025-04-01 や 令和7年4月1日 の形で入力してください。")


def wareki(value: date) -> str:
    """令和7年4月1日 for 2025-04-01 (元年 for the first year)."""
    for span in reversed(list(ERAS.values())):
        if value >= span.since:
            year = value.year - span.since.year + 1
            year_text = "元" if year == 1 else str(year)
            return f"{span.name}{year_text}年{value.month}月{value.day}日"
    return f"{value.year}年{value.month}月{value.day}日"


# --- Identifiers with check digits -----------------------------------------------------------


def my_number_check_digit(first11: str) -> int:
    """個人番号の検査用数字 (総務省令): weights 2–7 from the right, twice."""
    total = 0
    for n, digit in enumerate(reversed(first11), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(digit) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def corporate_number_check_digit(last12: str) -> int:
    """法人番号の検査用数字: 9 - (Σ digit × (1 or 2, alternating from the right)) mod 9."""
    total = 0
    for n, digit in enumerate(reversed(last12), start=1):
        total += int(digit) * (2 if n % 2 == 0 else 1)
    return 9 - total % 9


# --- Telephone numbers ------------------------------------------------------------------------

#: Hyphens, dashes and minus signs people type between digits (after NFKC, which already turns
#: the full-width and small hyphen-minus into "-" and half-width ｰ into ー).
HYPHENS = re.compile(r"[-\u2010-\u2015\u2212\u30fc]")

_MOBILE_PREFIXES = ("070", "080", "090", "050", "060", "020")


def parse_phone(raw: str) -> str:
    """A Japanese telephone number, returned as digits with hyphens removed.

    Fixed lines have 10 digits starting with 0 (not 00); mobile, IP and similar numbers have
    11 digits starting with 070/080/090/050/060/020; 0120 and 0800 are toll-free.
    """
    text = ascii_digits(raw)
    text = HYPHENS.sub("", re.sub(r"[()（）]", "", text))
    if text.startswith("+81"):
        text = "0" + text[3:]
    if not (text.isascii() and text.isdigit()):  # ٣ (Arabic-Indic) survives NFKC
        raise ParseError("電話番号は数字とハイフンで入力してください（例: 045-123-4567）。")
    if not text.startswith("0") or text.startswith("00"):
        raise ParseError("電話番号は市外局番（0から始まる番号）から入力してください。")
    if text.startswith(_MOBILE_PREFIXES) or text.startswith("0800"):
        if len(text) != 11:
            raise ParseError("携帯電話などの番号は11桁で入力してください（例: 090-1234-5678）。")
    elif len(text) != 10:
        raise ParseError("電話番号の桁数が正しくありません（固定電話は市外局番から10桁です）。")
    return text


# --- Postal codes ----------------------------------------------------------------------------


def parse_postal_code(raw: str) -> str:
    """'〒２３１－００２３' → '2310023'."""
    text = ascii_digits(raw).replace("〒", "")
    text = HYPHENS.sub("", text)
    if not (text.isascii() and text.isdigit() and len(text) == 7):
        raise ParseError("郵便番号は7桁の数字で入力してください（例: 231-0023）。")
    return text
