"""Japanese line breaking (日本語の改行処理) for every paragraph of the documents we print.

ReportLab breaks Japanese text between any two characters (``wordWrap="CJK"``) or, without
it, splits a line-long "word" wherever it overflows: "10,000円" could end one line with
"10,00" and begin the next with "0円". On an official notice that reads as a different
amount. :class:`JaParagraph` breaks lines by these rules instead:

- Between two Japanese characters a line may break, except where 禁則 (JIS X 4051) forbids:
  no closing bracket, comma, full stop, small kana or prolonged sound mark at the start of a
  line (:data:`NO_LINE_START`), no opening bracket at the end of one (:data:`NO_LINE_END`).
- Runs that must be read whole never break inside (:func:`break_opportunities`): numbers and
  amounts with their unit (10,000円, ¥1,234, 3か月), dates and times (令和8年12月4日,
  2026-12-04, 9:00〜12:00), document numbers (鎌こ第123号, 第2条), receipt numbers
  (142042-261204-01234567), verification codes (7K3Q-M2XD-90PA-RT4N), URLs, and any run of
  Latin letters and digits.
- A line breaks after spaces, never before one; a space at the end of a line hangs.
- A run longer than the whole line is broken where it overflows (it cannot be helped), and
  every character is kept: nothing is ever dropped or hidden.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus.paragraph import (
    Paragraph,
    ParaLines,
    _handleBulletWidth,
    cjkU,
    makeCJKParaLine,
)

#: Characters a line must not begin with (行頭禁則).
NO_LINE_START = frozenset(
    "、。，．,.：；:;？！?!・）)］]｝}」』】〕〉》〙〗’”»"
    "ヽヾゝゞ々〻ーぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
    "‐゠–〜～…‥％%‰℃°′″"
)
#: Characters that may hang past the end of a line rather than begin the next (ぶら下げ).
HANGING = frozenset("、。，．,.")
#: Where a run too long for a line breaks when it must (URLs, codes, receipt numbers).
SOFT_SEPARATORS = frozenset("/-_.?&=#")
#: Characters a line must not end with (行末禁則).
NO_LINE_END = frozenset("（(［[｛{「『【〔〈《〘〖‘“«¥￥$＄#＃№")

_DIGITS = r"[0-9０-９]"
_NUM = rf"{_DIGITS}+(?:[,，.．]{_DIGITS}+)*"
_UNIT = (
    r"(?:億円|万円|千円|円|銭|万|千|億|か月|ヶ月|ケ月|箇月|カ月|ヵ月|年度|年|月|日|時|分|秒|"
    r"歳|才|人|名|件|通|枚|部|冊|回|個|台|戸|世帯|号|条|項|点|割|倍|番|丁目|番地|階|"
    r"㎡|平方メートル|メートル|センチメートル|キロ|ｍ|ｃｍ|cm|mm|m|kg|g|%|％)"
)
_WAREKI = r"(?:令和|平成|昭和|大正|明治)"
_WEEKDAY = r"(?:[（(][月火水木金土日](?:・祝)?[）)])"
#: Runs that are read whole, longest first where they overlap.
PROTECTED = re.compile(
    "|".join(
        [
            # URLs and mail addresses (ASCII only; a Japanese character ends them).
            r"(?:https?|ftp)://[!-~]+",
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+",
            # 和暦 dates with era, 元年, optional month, day and weekday: 令和8年12月4日（金）.
            rf"{_WAREKI}\s?(?:元|{_DIGITS}+)年(?:{_DIGITS}+月(?:{_DIGITS}+日)?)?{_WEEKDAY}?",
            # Western dates: 2026年12月4日, 12月4日（金）, 2026-12-04, 2026/12/4.
            rf"{_DIGITS}+年{_DIGITS}+月(?:{_DIGITS}+日)?{_WEEKDAY}?",
            rf"{_DIGITS}+月{_DIGITS}+日{_WEEKDAY}?",
            # Times: 9:00〜12:00, 14時30分05秒.
            rf"{_DIGITS}+[:：]{_DIGITS}+(?:[:：]{_DIGITS}+)?"
            rf"(?:[〜～\-–]{_DIGITS}+[:：]{_DIGITS}+(?:[:：]{_DIGITS}+)?)?",
            rf"{_DIGITS}+時(?:{_DIGITS}+分(?:{_DIGITS}+秒)?)?",
            # Document numbers with their prefix: 鎌こ第123号, and 第2条第1項, 第3版.
            rf"(?:[\u4e00-\u9fff々〆ヶ]{{1,3}}[\u3041-\u309f\u30a1-\u30ffＡ-Ｚ]{{0,2}})?第{_DIGITS}+"
            r"(?:号|条|項|版|回|期|次|条の[0-9０-９]+)"
            rf"(?:第{_DIGITS}+(?:項|号))*",
            # Amounts: ¥1,234 and 10,000円, numbers with their unit or counter.
            rf"[¥￥$＄]\s?{_NUM}(?:円|万円)?",
            rf"{_NUM}\s?{_UNIT}",
            # Any other run of Latin letters, digits and ASCII signs: receipt numbers,
            # verification codes, digests, words.
            r"[!-~]+",
            rf"{_NUM}",
        ]
    )
)


def protected_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every run of ``text`` that must not be broken inside."""
    return [match.span() for match in PROTECTED.finditer(text) if match.end() - match.start() > 1]


def break_opportunities(text: str) -> list[bool]:
    """``result[i]`` tells whether a line may break before ``text[i]`` (``result[0]`` is
    always False: a line holds at least one character)."""
    allowed = [index > 0 for index in range(len(text))]
    for index in range(1, len(text)):
        char, before = text[index], text[index - 1]
        if char == " " or (before != " " and (char in NO_LINE_START or before in NO_LINE_END)):
            allowed[index] = False
    for start, end in protected_spans(text):
        for index in range(start + 1, end):
            allowed[index] = False
    return allowed


def _is_break(u: Any) -> bool:
    return hasattr(u.frag, "lineBreak")


def lines_split(glyphs: Sequence[Any], max_widths: Sequence[float]) -> list[tuple[int, int, float]]:
    """Greedy line breaking of ``glyphs`` (each with ``.width`` and its character as ``str``)
    into lines no wider than ``max_widths`` (one per line, the last repeated) where the text
    allows. Returns (start, end, width) per line; together the lines hold every glyph."""
    text = "".join(str(u)[:1] or "\n" for u in glyphs)
    allowed = break_opportunities(text)
    lines: list[tuple[int, int, float]] = []
    start = 0
    count = len(glyphs)
    while start < count:
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        width = 0.0
        index = start
        end = count
        while index < count:
            u = glyphs[index]
            if _is_break(u):  # an explicit <br/>: ends the line here
                end = index + 1
                break
            glyph_width = float(u.width)
            if width + glyph_width > max_width + 1e-6 and index > start and str(u) != " ":
                # Overflow at ``index``: the last place at or before it where breaking is
                # allowed; none (a run longer than a line) breaks where it overflows.
                end = _break_at(text, allowed, start, index)
                break
            width += glyph_width
            index += 1
        last = end
        while last > start and str(glyphs[last - 1]) == " ":  # a hanging space: not counted
            last -= 1
        used = sum(float(glyphs[i].width) for i in range(start, last))
        lines.append((start, end, used))
        start = end
    return lines


def _break_at(text: str, allowed: Sequence[bool], start: int, overflow: int) -> int:
    """Where the line from ``start`` breaks when ``text[overflow]`` no longer fits."""
    for candidate in range(overflow, start, -1):
        if allowed[candidate]:
            return candidate
    # No allowed break on this line. A comma or full stop hangs in the margin (ぶら下げ).
    after = overflow + 1
    if text[overflow] in HANGING and (after == len(text) or allowed[after]):
        return after
    # A run longer than the line: break after a separator inside it (/, -, ., ?) where one
    # is on the line, else where it overflows; never before a character that must not
    # begin a line when another place is possible.
    for candidate in range(overflow, start + 1, -1):
        if text[candidate - 1] in SOFT_SEPARATORS and text[candidate] not in NO_LINE_START:
            return candidate
    for candidate in range(overflow, start, -1):
        if text[candidate] not in NO_LINE_START:
            return candidate
    return overflow


_ASCII_SPACES = re.compile(r"[ \t\r\n\f\v]+")


def _clean(text: str) -> str:
    """ReportLab's whitespace cleaning, but for ASCII whitespace only: the ideographic space
    (U+3000) of 鎌倉市長　松尾　崇 and of a paragraph's indent stays as written."""
    return _ASCII_SPACES.sub(" ", text).strip(" ")


class JaParagraph(Paragraph):  # type: ignore[misc]  # ReportLab has no types
    """A :class:`~reportlab.platypus.Paragraph` that breaks lines by the rules of this module
    (use it for every paragraph of a document)."""

    def __init__(
        self,
        text: str | None,
        style: Any = None,
        bulletText: Any = None,  # noqa: N803 - ReportLab's names
        frags: Any = None,
        caseSensitive: int = 1,  # noqa: N803
        encoding: str = "utf8",
    ) -> None:
        if style is None:
            style = ParagraphStyle(name="paragraphImplicitDefaultStyle")
        self.caseSensitive = caseSensitive
        self.encoding = encoding
        self._setup(text, style, bulletText or getattr(style, "bulletText", None), frags, _clean)

    def breakLines(self, width: Any) -> Any:  # noqa: N802 - ReportLab's name
        return self.breakLinesCJK(width)

    def breakLinesCJK(self, maxWidths: Any) -> Any:  # noqa: N802, N803 - ReportLab's names
        widths = list(maxWidths) if isinstance(maxWidths, (list, tuple)) else [maxWidths]
        style = self.style
        self.height = 0
        if hasattr(self, "blPara") and getattr(self, "_splitpara", False):
            return self.blPara
        _handleBulletWidth(self.bulletText, style, widths)
        glyphs: list[Any] = []
        for frag in self.frags:
            text = frag.text if hasattr(frag, "text") else "".join(getattr(frag, "words", []))
            if isinstance(text, bytes):
                text = text.decode("utf8")
            if text:
                glyphs.extend(cjkU(char, frag, "utf8") for char in text)
            else:
                glyphs.append(cjkU(text, frag, "utf8"))
        if not glyphs:
            return ParaLines(
                kind=0,
                fontSize=style.fontSize,
                fontName=style.fontName,
                textColor=style.textColor,
                lines=[],
                ascent=style.fontSize,
                descent=-0.2 * style.fontSize,
            )
        auto_leading = getattr(self, "autoLeading", getattr(style, "autoLeading", ""))
        calc_bounds = auto_leading not in ("", "off")
        lines = []
        for number, (start, end, used) in enumerate(lines_split(glyphs, widths)):
            max_width = widths[min(number, len(widths) - 1)]
            line_break = _is_break(glyphs[end - 1])
            lines.append(
                makeCJKParaLine(
                    glyphs[start:end], max_width, used, max_width - used, line_break, calc_bounds
                )
            )
        return ParaLines(kind=1, lines=lines)


def paragraph_lines(paragraph: Paragraph, width: float) -> list[str]:
    """The text of each line of ``paragraph`` wrapped at ``width`` points (for tests and
    checks)."""
    paragraph.wrap(width, 10**6)
    result = []
    for line in paragraph.blPara.lines:
        if hasattr(line, "words"):
            result.append("".join(getattr(word, "text", "") for word in line.words))
        else:  # kind 0 lines: (space, [words])
            result.append(" ".join(line[1]))
    return result
