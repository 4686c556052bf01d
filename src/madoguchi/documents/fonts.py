"""Embedded Japanese fonts with a fallback chain, and an honest marker where none has a glyph.

IPAex Gothic ships in the PyPI package ``matplotlib-fontja`` (IPA Font License), so every PDF
embeds a real font and reads the same on every machine. A deployment may add IPAmj明朝
(Debian ``fonts-ipamj-mincho``, the 文字情報基盤 MJ set) for names in 外字 such as 𠮷, or other
TrueType fonts with ``MADOGUCHI_EXTRA_FONTS``. ReportLab's built-in CID fonts are never used:
they are not embedded and show as boxes on machines without Japanese fonts.
"""

from __future__ import annotations

import importlib.util
import logging
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

logger = logging.getLogger(__name__)

#: Shown where no font has the character (〓 is the customary 下駄記号 for a missing glyph).
MISSING_MARK = "〓"
SYSTEM_FONTS = (
    Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf"),  # Debian fonts-ipamj-mincho
)


@dataclass(frozen=True)
class LoadedFont:
    name: str
    path: str
    codepoints: frozenset[int]


def _load(name: str, path: Path) -> LoadedFont | None:
    try:
        font = TTFont(name, str(path))
    except Exception as error:  # a broken or unsupported font file: skip it, say so
        logger.warning("font %s at %s cannot be used: %s", name, path, type(error).__name__)
        return None
    pdfmetrics.registerFont(font)
    return LoadedFont(name, str(path), frozenset(font.face.charToGlyph))


@lru_cache(maxsize=1)
def font_chain() -> tuple[LoadedFont, ...]:
    """Fonts in the order they are tried: IPAex Gothic first, then extra and system fonts."""
    # Locate the file without importing matplotlib_fontja (which would import matplotlib).
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise RuntimeError("matplotlib-fontja is not installed")
    base = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"
    chain: list[LoadedFont] = []
    first = _load("IPAexGothic", Path(str(base)))
    if first is None:  # pragma: no cover - the package always ships it
        raise RuntimeError("IPAex Gothic (matplotlib-fontja) is missing")
    chain.append(first)
    extra = [Path(p) for p in getattr(settings, "EXTRA_FONTS", [])]
    for index, path in enumerate([*extra, *SYSTEM_FONTS]):
        if path.exists():
            loaded = _load(f"Fallback{index}", path)
            if loaded is not None:
                chain.append(loaded)
    return tuple(chain)


def font_for(char: str) -> str | None:
    code = ord(char)
    for font in font_chain():
        if code in font.codepoints:
            return font.name
    return None


def _invisible(char: str) -> bool:
    code = ord(char)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:  # variation selectors
        return True
    return unicodedata.category(char) in {"Cc", "Cf", "Cs"}


def markup(text: str, *, context: str = "") -> tuple[str, list[str]]:
    """ReportLab paragraph markup for ``text`` with a font per run of characters.

    Characters no font can draw become 〓; their code points are returned (and logged for the
    operator, without the surrounding text) so the document can say so visibly. Characters
    that draw nothing (controls, bidi overrides, zero-width characters, variation selectors)
    are left out; line breaks and tabs become spaces.
    """
    runs: list[tuple[str, str]] = []
    missing: list[str] = []
    base = font_chain()[0].name
    for char in text:
        if char in "\n\r\t\u2028\u2029":
            runs.append((base, " "))
            continue
        if _invisible(char):
            # Bidi overrides, zero-width and control characters, variation selectors: they
            # draw nothing and would only reorder or hide text, so they are left out.
            continue
        name = font_for(char)
        if name is None:
            missing.append(f"U+{ord(char):04X}")
            runs.append((base, MISSING_MARK))
            continue
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + char)
        else:
            runs.append((name, char))
    if missing:
        logger.warning(
            "no font has %s (%s)", ", ".join(sorted(set(missing))), context or "document"
        )
    parts = [
        escape(chunk) if name == base else f'<font name="{name}">{escape(chunk)}</font>'
        for name, chunk in runs
    ]
    return "".join(parts), missing
