"""Text and numbers as they arrive in requests: the character-level rules, decided once.

``parse_int`` is the one reader of integers sent in a request (a form field, a query string,
a header): ASCII digits only. ``str.isdigit()`` accepts ``①``, ``²`` and ``٣`` and ``int()``
accepts ``٣``, `` 3 `` and ``3_000``; neither is a safe check for an id.

The character rules that the forms engine (:func:`madoguchi.forms.japanese.clean_text`)
applies to every typed text are defined here:

- :func:`strip_format` removes invisible format characters (zero-width space U+200B, word
  joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, LRM/RLM, Hangul fillers, …). ZWJ/ZWNJ and
  variation selectors stay: they belong to emoji and to 異体字 (葛󠄀).
- :func:`has_visible` says whether any character would be seen; a value without one (only
  spaces, U+3000, joiners, marks) is empty.
- :func:`compose` is NFC, except that CJK compatibility ideographs (U+F900–U+FAFF,
  U+2F800–U+2FA1F) are kept as typed: NFC would turn some of them (塚 U+FA10, 神 U+FA19)
  into their unified form, and a name must stay as written.
- :func:`visible_text` applies these to free text typed outside the forms engine (staff
  reasons, messages, notes, purposes): a required one made only of invisible characters is
  empty, and is refused as empty.
- :func:`fold_halfwidth_katakana` turns ｶﾀｶﾅ into カタカナ (ｶﾞ → ガ) and nothing else.

``search_key`` folds the differences people do not care about when they search: full-width
and half-width forms (NFKC), hiragana and katakana, case, and spaces. Names themselves are
stored as given; only the search column holds folded text.
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


#: Invisible format characters that carry nothing in Japanese administrative text: soft
#: hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer vowel
#: inherents, Mongolian free variation selectors and vowel separator, zero-width space, LRM,
#: RLM, word joiner and invisible operators, deprecated format controls, BOM, braille blank,
#: halfwidth Hangul filler, shorthand format controls.
_FORMAT = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f"
    "\u2060-\u2064\u206a-\u206f\u2800\u3164\ufeff\uffa0\U0001bca0-\U0001bca3]"
)
#: Categories of characters that show nothing by themselves.
_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
_COMPAT_IDEOGRAPH = re.compile("([\uf900-\ufaff\U0002f800-\U0002fa1f])")
_HALFWIDTH_KATAKANA = re.compile("[\uff61-\uff9f]+")
_ASCII_INT = re.compile("[0-9]{1,18}")


def parse_int(value: object, *, minimum: int = 0, maximum: int = 2**63 - 1) -> int | None:
    """The integer in ``value`` (a request value), or None when it is not one.

    Only 1–18 ASCII digits are read: no sign, no spaces, no ``_``, no ``①²٣``, so the result
    always fits a database integer. A number outside ``minimum``–``maximum`` is None too;
    the caller turns None into its own Japanese message (400/404 or a field error).
    """
    if not isinstance(value, str) or not _ASCII_INT.fullmatch(value):
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None


def strip_format(text: str) -> str:
    """Remove invisible format characters (see the module docstring for which)."""
    return _FORMAT.sub("", text)


def has_visible(text: str) -> bool:
    """True when at least one character of ``text`` is seen (not a space, control or mark)."""
    return any(unicodedata.category(ch) not in _UNSEEN for ch in text)


def compose(text: str) -> str:
    """NFC (e + U+0301 → é, か + U+3099 → が), keeping CJK compatibility ideographs as typed."""
    if text.isascii():
        return text
    parts = _COMPAT_IDEOGRAPH.split(text)
    return "".join(
        part if index % 2 else unicodedata.normalize("NFC", part)
        for index, part in enumerate(parts)
    )


def fold_halfwidth_katakana(text: str) -> str:
    """ｶﾀｶﾅ → カタカナ (ｶﾞ → ガ, ｰ → ー, ｡ → 。); every other character is left alone.

    A lone half-width voiced mark becomes the combining one; :func:`compose` then joins it
    to the kana before it (か + ﾞ → が).
    """
    return _HALFWIDTH_KATAKANA.sub(lambda m: unicodedata.normalize("NFKC", m[0]), text)


def hiragana_to_katakana(text: str) -> str:
    """Turn hiragana into katakana (ぁ–ゖ → ァ–ヶ), leaving everything else as it is."""
    return "".join(
        chr(ord(ch) + _KATAKANA_OFFSET) if _HIRAGANA_START <= ord(ch) <= _HIRAGANA_END else ch
        for ch in text
    )


def visible_text(text: str) -> str:
    """Free text a person typed for another to read — a reason, a message, a note, a purpose,
    a name given to a token: NUL and invisible format characters removed, NFC-composed,
    trimmed; "" when nothing visible is left, so that a required text cannot be answered
    with zero-width spaces. Line breaks stay."""
    text = compose(strip_format(text.replace("\x00", ""))).strip()
    return text if has_visible(text) else ""


def strip_invisible(text: str) -> str:
    """Remove control, bidi-override and zero-width characters."""
    return _INVISIBLE.sub("", text)


def search_key(text: str) -> str:
    """Fold ``text`` for matching: NFKC, katakana, lower case, no spaces or invisibles."""
    folded = unicodedata.normalize("NFKC", strip_invisible(text))
    folded = hiragana_to_katakana(folded).casefold()
    return _SPACES.sub("", folded)


_KANJI_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_KANJI_NUMBER = re.compile("[〇零一二三四五六七八九十百千]+(?=丁目|番|号|の|-|$)")
_ADDRESS_SEPARATORS = re.compile(
    "(丁目|番地の?|番|号|の(?=[0-9])|(?<=[0-9])[‐‑‒–—―−ーｰ-](?=[0-9]))"
)


def _kanji_number(match: re.Match[str]) -> str:
    text, total, current = match.group(0), 0, 0
    for char in text:
        if char in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[char]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[char]
            total += (current or 1) * unit
            current = 0
    return str(total + current)


def name_key(text: str) -> str:
    """A person's name folded for comparing two sources (the card and a form): NFKC, no
    spaces or invisible characters. 髙 and 高 stay different: a name is what is written."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", strip_invisible(text)))


def address_key(text: str) -> str:
    """An address folded for comparing two sources: NFKC, no spaces, kanji numerals before
    丁目/番/号 as digits, and 丁目・番地・番・号・の and dashes as one separator, so that
    「御成町一丁目18番10号」, 「御成町1-18-10」 and 「御成町１丁目１８－１０」 are equal."""
    folded = name_key(text)
    folded = _KANJI_NUMBER.sub(_kanji_number, folded)
    folded = _ADDRESS_SEPARATORS.sub("-", folded)
    return re.sub("-+", "-", folded).strip("-")
