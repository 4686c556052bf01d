"""What every document we issue shares: A4 with the same margins, the same type (10.5pt body),
paragraphs that break lines the Japanese way (:mod:`madoguchi.documents.linebreak`), the
verification block, and the note on characters no font could show."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from madoguchi.documents.fonts import MISSING_MARK, font_chain, markup
from madoguchi.documents.linebreak import JaParagraph

#: The width of the text block of an A4 page with our margins (210 − 2 × 20 mm).
TEXT_WIDTH = 170 * mm
GRID_COLOUR = colors.HexColor("#767676")
LABEL_BACKGROUND = colors.HexColor("#F2F2F2")
NOTE_COLOUR = colors.HexColor("#333333")
#: Printed under the issuer: the PDF carries the organisation's electronic seal (PAdES)
#: instead of the 公印 stamped on paper.
SEAL_NOTE = "（電子署名により公印を省略）"


@dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    title: ParagraphStyle
    right: ParagraphStyle
    center: ParagraphStyle
    code: ParagraphStyle


def styles(*, body_size: float = 10.5) -> Styles:
    """The paragraph styles of our documents (IPAex Gothic, embedded)."""
    base = font_chain()[0].name
    body = ParagraphStyle("body", fontName=base, fontSize=body_size, leading=body_size * 1.6)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=13, textColor=NOTE_COLOUR)
    return Styles(
        body=body,
        small=small,
        title=ParagraphStyle(
            "title", parent=body, fontSize=17, leading=26, alignment=TA_CENTER, spaceAfter=4
        ),
        right=ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        center=ParagraphStyle("center", parent=body, alignment=TA_CENTER),
        code=ParagraphStyle("code", parent=body, fontSize=12, leading=17),
    )


@dataclass
class Writer:
    """Makes the paragraphs of one document and remembers the characters it could not show."""

    context: str
    default: ParagraphStyle
    missing: list[str] = field(default_factory=list)

    def __call__(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        content, lost = markup(text, context=self.context)
        self.missing.extend(lost)
        return JaParagraph(content, style or self.default)


def facts_table(
    rows: Sequence[Sequence[Flowable | list[Flowable]]],
    widths: Sequence[float],
    *,
    header: bool = False,
) -> Table:
    """A ruled table: labels on a grey ground in the first column (or the first row)."""
    table = Table(
        [list(row) for row in rows],
        colWidths=list(widths),
        repeatRows=int(header),
        splitInRow=1,  # a row taller than a page (very long reasons) flows on
    )
    shaded = (-1, 0) if header else (0, -1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, GRID_COLOUR),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), shaded, LABEL_BACKGROUND),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return table


def missing_note(
    missing: Sequence[str], para: Callable[[str], Paragraph], extra: str = ""
) -> list[Flowable]:
    """A visible note naming the characters printed as 〓 (none when nothing is missing)."""
    if not missing:
        return []
    codes = "、".join(sorted(set(missing)))
    return [
        Spacer(1, 3 * mm),
        para(
            f"注: 文字 {codes} は表示できる書体がないため「{MISSING_MARK}」で示しています。{extra}"
        ),
    ]


def _numbered_canvas(footer: str) -> type[Canvas]:
    """A canvas that, when the document runs to more than one page, prints ``footer`` and
    「n / total」 at the foot of every page (so a page that went astray is known)."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # ReportLab has no types
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - ReportLab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                if total > 1:
                    self.setFont(font_chain()[0].name, 8)
                    self.setFillColor(NOTE_COLOUR)
                    self.drawCentredString(
                        A4[0] / 2, 9 * mm, f"{footer}　{number} / {total}".strip("　")
                    )
                super().showPage()
            super().save()

    return NumberedCanvas


def a4_pdf(
    story: list[Flowable],
    *,
    title: str,
    author: str,
    subject: str = "",
    keywords: str = "",
    footer: str = "",
) -> bytes:
    """Build ``story`` as an A4 PDF in Japanese (lang ja-JP, title shown by readers) with our
    margins; a document of several pages says ``footer`` and the page number on each."""
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=16 * mm,
        title=title,
        author=author,
        subject=subject or title,
        keywords=keywords,
        creator="Madoguchi",
        lang="ja-JP",
        displayDocTitle=True,
    ).build(story, canvasmaker=_numbered_canvas(footer or title))
    return buffer.getvalue()


def _qr_drawing(url: str, size: float) -> Flowable:
    import segno
    from reportlab.graphics.shapes import Drawing, Rect

    qr = segno.make(url, error="m")
    modules = list(qr.matrix_iter(scale=1, border=2))
    cell = size / len(modules)
    drawing = Drawing(size, size)
    for row_index, row in enumerate(modules):
        run_start: int | None = None
        # One rectangle per horizontal run of dark modules: fewer objects, no hairline gaps.
        for col_index, dark in enumerate([*row, False]):
            if dark and run_start is None:
                run_start = col_index
            elif not dark and run_start is not None:
                drawing.add(
                    Rect(
                        run_start * cell,
                        size - (row_index + 1) * cell,
                        (col_index - run_start) * cell,
                        cell,
                        fillColor=colors.black,
                        strokeColor=None,
                    )
                )
                run_start = None
    return drawing


def verification_flowables(
    *,
    code: str,
    verify_url: str,
    para: Callable[..., Paragraph],
    code_style: ParagraphStyle | None = None,
) -> list[Flowable]:
    """The block every issued document ends with, in a thin frame: a QR code of its /verify/
    address (segno, drawn as vectors) beside its verification code (照合番号) and how to use
    it."""
    if not code:
        return []
    size = 24 * mm
    code_para = para(f"照合番号　{code}", code_style) if code_style else para(f"照合番号　{code}")
    text = [
        code_para,
        para(
            "この文書が本物であること、取消しや訂正がないことは、左のQRコードを読み取るか、"
            f"次のページで照合番号を入力して、どなたでも確認できます。 {verify_url}"
        ),
    ]
    table = Table(
        [[_qr_drawing(verify_url, size), text]],
        colWidths=[size + 6 * mm, TEXT_WIDTH - size - 6 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.5, GRID_COLOUR),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return [Spacer(1, 5 * mm), table]
