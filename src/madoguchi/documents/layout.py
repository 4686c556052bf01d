"""What every document we issue shares: A4 with the same margins, and the note on characters
no font could show."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from madoguchi.documents.fonts import MISSING_MARK


def missing_note(
    missing: Sequence[str], para: Callable[[str], Paragraph], extra: str = ""
) -> list[Flowable]:
    """A visible note naming the characters printed as 〓 (none when nothing is missing)."""
    if not missing:
        return []
    codes = "、".join(sorted(set(missing)))
    return [
        Spacer(1, 4 * mm),
        para(
            f"注: 文字 {codes} は表示できる書体がないため「{MISSING_MARK}」で示しています。{extra}"
        ),
    ]


def a4_pdf(story: list[Flowable], *, title: str, author: str) -> bytes:
    """Build ``story`` as an A4 PDF in Japanese with our margins."""
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=author,
        lang="ja-JP",
    ).build(story)
    return buffer.getvalue()


def verification_flowables(
    *, code: str, verify_url: str, para: Callable[[str], Paragraph]
) -> list[Flowable]:
    """The block every issued document ends with: a QR code of its /verify/ address (segno,
    drawn as vectors) beside its verification code (照合番号) and how to use it."""
    if not code:
        return []
    import segno
    from reportlab.graphics.shapes import Drawing, Rect
    from reportlab.platypus import Table

    qr = segno.make(verify_url, error="m")
    modules = list(qr.matrix_iter(scale=1, border=2))
    size = 24 * mm
    cell = size / len(modules)
    drawing = Drawing(size, size)
    for row_index, row in enumerate(modules):
        for col_index, dark in enumerate(row):
            if dark:
                drawing.add(
                    Rect(
                        col_index * cell,
                        size - (row_index + 1) * cell,
                        cell,
                        cell,
                        fillColor=colors.black,
                        strokeColor=None,
                    )
                )
    text = [
        para(f"照合番号: {code}"),
        para(
            f"この文書が本物であること、取消しや訂正がないことは、{verify_url} "
            "（左のQRコード）で、どなたでも確認できます。"
        ),
    ]
    return [Spacer(1, 6 * mm), Table([[drawing, text]], colWidths=[28 * mm, 142 * mm])]
