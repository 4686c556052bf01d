"""Romanised search keys for organisation names (``kamakura`` → 鎌倉市).

The master gives each organisation its kana reading (かまくらし); ``jaconv`` (pure Python,
maintained, no dictionary to download) writes it in Hepburn-style romaji (kamakurashi).
People type romaji with or without long vowels (Tōkyō, Toukyou, Tokyo; Ōsaka, Oosaka,
Osaka), so both the stored key and the query are also folded to one spelling: macrons
dropped, ``ou``/``oo`` → ``o``, ``uu`` → ``u``. Keys are computed once, when the master is
loaded, never per request.
"""

from __future__ import annotations

import re
import unicodedata

import jaconv

from madoguchi.core.text import hiragana_to_katakana

_LONG_VOWELS = (("ou", "o"), ("oo", "o"), ("uu", "u"))
_NOT_LETTERS = re.compile(r"[^a-z]+")


def kana_to_romaji(kana: str) -> str:
    """かまくらし / カマクラシ → ``kamakurashi`` (lower case, letters only)."""
    hiragana = jaconv.kata2hira(hiragana_to_katakana(kana))
    return _NOT_LETTERS.sub("", jaconv.kana2alphabet(hiragana).lower())


def romaji_fold(text: str) -> str:
    """One spelling for the romaji people type: no macrons, no long vowels, letters only."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    letters = _NOT_LETTERS.sub("", "".join(c for c in decomposed if not unicodedata.combining(c)))
    previous = None
    while previous != letters:
        previous = letters
        for long, short in _LONG_VOWELS:
            letters = letters.replace(long, short)
    return letters


def romaji_keys(kana: str) -> str:
    """The romaji part of an organisation's search key: as written and folded."""
    written = kana_to_romaji(kana)
    if not written:
        return ""
    folded = romaji_fold(written)
    return written if folded == written else f"{written} {folded}"


def is_romaji_query(text: str) -> bool:
    """True when ``text`` is latin letters (with spaces, hyphens, apostrophes or macrons)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bool(stripped.strip()) and re.fullmatch(r"[A-Za-z\s\-'’.]+", stripped) is not None
