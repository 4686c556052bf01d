"""Japanese line breaking: numbers, amounts, dates, document and receipt numbers, codes and
URLs are never split across lines when they fit on one; 禁則 holds; no character is lost."""

from __future__ import annotations

import io

import pypdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import SimpleDocTemplate

from madoguchi.documents.fonts import font_chain, markup
from madoguchi.documents.linebreak import (
    NO_LINE_END,
    NO_LINE_START,
    JaParagraph,
    break_opportunities,
    paragraph_lines,
)

SIZE = 10.5


def style() -> ParagraphStyle:
    return ParagraphStyle("body", fontName=font_chain()[0].name, fontSize=SIZE, leading=16)


def lines_of(text: str, width: float) -> list[str]:
    content, missing = markup(text)
    assert not missing
    return paragraph_lines(JaParagraph(content, style()), width)


def width_of(text: str) -> float:
    return float(stringWidth(text, font_chain()[0].name, SIZE))


def boundaries(lines: list[str]) -> set[int]:
    """Offsets in the joined text where one line ends and the next begins."""
    offsets, total = set(), 0
    for line in lines[:-1]:
        total += len(line)
        offsets.add(total)
    return offsets


def assert_whole(text: str, tokens: list[str], width: float) -> list[str]:
    lines = lines_of(text, width)
    assert "".join(lines) == text, "a character was lost or added"
    cuts = boundaries(lines)
    position = 0
    for token in tokens:
        start = text.index(token, position)
        position = start + len(token)
        # A token that fits on a line (with a bracket or comma glued to it) is never split.
        if width_of(token) + 3 * SIZE <= width:
            inside = [cut for cut in cuts if start < cut < start + len(token)]
            assert not inside, f"{token!r} split at width {width}: {lines}"
    return lines


EXAMPLE = (
    "使用料は10,000円（減免後¥1,234）です。令和8年12月4日に鎌こ第123号で通知しました。"
    "受付番号142042-261204-01234567、照合番号7K3Q-M2XD-90PA-RT4N、"
    "https://madoguchi.example.jp/verify/7K3Q-M2XD-90PA-RT4N をご確認ください。"
    "期限は2026-12-04の9:00〜12:00で、3か月以内に審査請求ができます。"
)
EXAMPLE_TOKENS = [
    "10,000円",
    "¥1,234",
    "令和8年12月4日",
    "鎌こ第123号",
    "142042-261204-01234567",
    "7K3Q-M2XD-90PA-RT4N",
    "https://madoguchi.example.jp/verify/7K3Q-M2XD-90PA-RT4N",
    "2026-12-04",
    "9:00〜12:00",
    "3か月",
]


def test_the_reported_amount_no_longer_breaks_between_its_digits():
    # "10,000円" at the end of a line used to break as "10,00 / 0円".
    text = "お支払いいただく使用料の合計は10,000円です。"
    for width in range(40, 260, 3):
        lines = assert_whole(text, ["10,000円"], width)
        assert not any(line.endswith("10,00") for line in lines)


def test_every_kind_of_token_stays_whole_at_every_width():
    for width in range(60, 480, 2):
        assert_whole(EXAMPLE, EXAMPLE_TOKENS, width)


def test_no_line_starts_with_a_closing_mark_or_ends_with_an_opening_one():
    text = "決定の理由は、「所得の要件（児童手当法第5条）」を満たさないことです。以上、通知します。"
    for width in range(40, 300, 1):
        lines = lines_of(text, width)
        assert "".join(lines) == text
        for line in lines[1:]:
            assert line[0] not in NO_LINE_START, (width, lines)
        for line in lines[:-1]:
            assert line[-1] not in NO_LINE_END, (width, lines)


def test_a_token_longer_than_the_line_breaks_but_keeps_every_character():
    token = "https://madoguchi.example.jp/verify/" + "A" * 80
    text = f"確認先は{token}です。"
    for width in (30, 45, 80, 120):
        lines = lines_of(text, width)
        assert "".join(lines) == text
        assert len(lines) > 1
        # every line but the last is full enough: nothing hangs off far beyond the width
        assert all(width_of(line) <= width + SIZE for line in lines)


def test_a_line_breaks_after_a_space_and_the_space_is_kept():
    text = "詳しくは https://example.jp/a を見てください。"
    lines = lines_of(text, width_of("詳しくは https://") + 1)
    assert "".join(lines) == text
    assert lines[0] == "詳しくは "


def test_break_opportunities_mark_the_inside_of_a_token_as_unbreakable():
    text = "金額10,000円"
    allowed = break_opportunities(text)
    assert allowed[2]  # before 1
    assert not any(allowed[3:])


def test_explicit_line_breaks_and_markup_survive():
    content, _ = markup("一行目")
    paragraph = JaParagraph(content + "<br/>" + markup("二行目の10,000円")[0], style())
    lines = paragraph_lines(paragraph, 400)
    assert [line.strip() for line in lines] == ["一行目", "二行目の10,000円"]


# --- property: any mix of words and tokens, at any width ----------------------------------

WORDS = ["申請について", "の通知を", "あなたの", "ご確認ください", "に基づき", "として", "を"]
PUNCT = ["、", "。", "（", "）", "「", "」"]
amounts = st.integers(min_value=0, max_value=10**9).map(lambda n: f"{n:,}円")
yen = st.integers(min_value=0, max_value=10**7).map(lambda n: f"¥{n:,}")
wareki = st.tuples(st.integers(1, 30), st.integers(1, 12), st.integers(1, 28)).map(
    lambda d: f"令和{d[0]}年{d[1]}月{d[2]}日"
)
iso = st.dates().map(lambda d: d.isoformat())
docno = st.tuples(st.sampled_from(["鎌", "鎌こ", "葉福", "横浜子"]), st.integers(1, 99999)).map(
    lambda p: f"{p[0]}第{p[1]}号"
)
receipt = st.tuples(
    st.integers(10**5, 10**6 - 1), st.integers(0, 999999), st.integers(0, 10**8 - 1)
).map(lambda r: f"{r[0]}-{r[1]:06d}-{r[2]:08d}")
code = st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=16, max_size=16).map(
    lambda c: "-".join(c[i : i + 4] for i in range(0, 16, 4))
)
url = code.map(lambda c: f"https://madoguchi.example.jp/verify/{c}")
tokens = st.one_of(amounts, yen, wareki, iso, docno, receipt, code, url)


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    parts: list[str] = []
    chosen: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        parts.append(draw(st.sampled_from(WORDS)))
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(PUNCT)))
        token = draw(tokens)
        parts.append(token)
        chosen.append(token)
        parts.append(draw(st.sampled_from(WORDS)))
    return "".join(parts), chosen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), st.integers(min_value=24, max_value=500))
def test_no_token_is_ever_split_and_no_character_lost(case, width):
    text, chosen = case
    assert_whole(text, chosen, width)


def test_the_built_pdf_holds_the_tokens_whole_on_their_lines():
    buffer = io.BytesIO()
    story = [JaParagraph(markup(EXAMPLE)[0], style())]
    SimpleDocTemplate(buffer, pagesize=(260, 800), leftMargin=20, rightMargin=20).build(story)
    extracted = pypdf.PdfReader(io.BytesIO(buffer.getvalue())).pages[0].extract_text()
    lines = extracted.splitlines()
    for token in EXAMPLE_TOKENS:
        if width_of(token) + 3 * SIZE <= 220:
            assert any(token in line for line in lines), (token, lines)
