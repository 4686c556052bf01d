"""What every document we issue shares: A4 with the same margins, and the note on characters
no font could show."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

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
