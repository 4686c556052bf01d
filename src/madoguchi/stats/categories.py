"""National procedure categories (国の手続分類): versioned lists in ``stats/national/*.yaml``.

Each file is one list (e.g. the 21 target procedures of the online-use promotion guideline,
the current list of procedures local governments should put online first, the 子育て・介護
procedures of マイナポータル), with its version, the fiscal years it applies to and its
source. A category has a stable code: the same code in two lists is the same category, so
that the historical series and the current list add up. A category is also found by its
official Japanese name after NFKC normalisation (「地方税申告手続(eLTAX)」 with half-width
brackets finds 「地方税申告手続（eLTAX）」).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "national"
#: The file naming the default category of each national template (not a list).
DEFAULTS_FILE = "template-defaults.yaml"
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


class CategoryDataError(ValueError):
    """A category file is malformed (raised at load, so a broken file never ships)."""


@dataclass(frozen=True)
class Source:
    title: str
    publisher: str
    url: str
    published: str


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    #: Other official spellings of the name that also find it.
    aliases: tuple[str, ...] = ()
    #: The lists (codes) it belongs to.
    lists: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class CategoryList:
    code: str
    name: str
    version: str
    source: Source
    first_fiscal_year: int
    #: The last fiscal year the list applied to; None while it is current.
    last_fiscal_year: int | None
    categories: tuple[Category, ...]
    note: str = ""
    #: How many procedures the source lists (None where the source fixes no number).
    expected_count: int | None = None
    #: True while some of the source's entries could not be confirmed and are missing here
    #: (the note says which and where to check them).
    incomplete: bool = False
    #: The list of the ministry's main yearly series for the years it applies to (the 21
    #: guideline procedures until FY2019, the priority procedures since): tables use it when
    #: no list is asked for. Supplementary lists (子育て・介護, 被災者支援) are not.
    main_series: bool = False
    #: The name of each category as this list spells it (code, name), where lists differ.
    listed_names: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def applies_to(self, fiscal_year: int) -> bool:
        return self.first_fiscal_year <= fiscal_year and (
            self.last_fiscal_year is None or fiscal_year <= self.last_fiscal_year
        )

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(category.code for category in self.categories)

    def listed_name(self, code: str) -> str:
        """The name of a category as this list spells it."""
        for listed_code, name in self.listed_names:
            if listed_code == code:
                return name
        found = category(code)
        return found.name if found is not None else code

    @property
    def missing_count(self) -> int:
        """How many of the source's procedures are not (yet) in this file."""
        if self.expected_count is None:
            return 0
        return self.expected_count - len(self.categories)


def name_key(text: str) -> str:
    """The key names are compared by: NFKC, no spaces, ASCII letters lower-cased."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", folded).lower()


def _load_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise CategoryDataError(f"{path.name}: not a mapping")
    return data


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str | int) or not str(value).strip():
        raise CategoryDataError(f"{where}: {key} is missing")
    return str(value).strip()


def _join_lines(text: str) -> str:
    """A folded YAML note as one line: Japanese text takes no space where lines were joined."""
    text = " ".join(text.split())
    return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", text)


@dataclass
class _Entry:
    list_code: str
    current: bool
    name: str
    aliases: tuple[str, ...]


def _list_files() -> list[Path]:
    return sorted(path for path in DATA_DIR.glob("*.yaml") if path.name != DEFAULTS_FILE)


@cache
def _catalogue() -> tuple[tuple[CategoryList, ...], dict[str, Category], dict[str, Category]]:
    entries: dict[str, list[_Entry]] = {}
    parsed: list[tuple[dict[str, Any], list[tuple[str, str]], Source]] = []
    for path in _list_files():
        data = _load_file(path)
        where = path.name
        list_code = _text(data, "code", where)
        if not CODE_RE.match(list_code):
            raise CategoryDataError(f"{where}: bad list code {list_code!r}")
        raw_source = data.get("source")
        if not isinstance(raw_source, dict):
            raise CategoryDataError(f"{where}: source is missing")
        source = Source(
            title=_text(raw_source, "title", f"{where} source"),
            publisher=_text(raw_source, "publisher", f"{where} source"),
            url=_text(raw_source, "url", f"{where} source"),
            published=str(raw_source.get("published", "")),
        )
        if not source.url.startswith("https://"):
            raise CategoryDataError(f"{where}: the source's url must be an https address")
        raw_entries = data.get("categories")
        if not isinstance(raw_entries, list) or not raw_entries:
            raise CategoryDataError(f"{where}: categories is missing")
        current = not data.get("last_fiscal_year")
        listed: list[tuple[str, str]] = []
        for entry in raw_entries:
            if not isinstance(entry, dict):
                raise CategoryDataError(f"{where}: a category is not a mapping")
            code = _text(entry, "code", where)
            if not CODE_RE.match(code):
                raise CategoryDataError(f"{where}: bad category code {code!r}")
            if code in dict(listed):
                raise CategoryDataError(f"{where}: {code} appears twice")
            name = _text(entry, "name", f"{where} {code}")
            aliases = tuple(str(alias) for alias in entry.get("aliases", ()) or ())
            listed.append((code, name))
            entries.setdefault(code, []).append(_Entry(list_code, current, name, aliases))
        expected = data.get("expected_count")
        if expected is not None:
            if not isinstance(expected, int) or expected < 1:
                raise CategoryDataError(f"{where}: expected_count must be a positive number")
            if data.get("incomplete"):
                if len(listed) >= expected:
                    raise CategoryDataError(
                        f"{where}: marked incomplete but lists {len(listed)} of {expected}"
                    )
            elif len(listed) != expected:
                raise CategoryDataError(
                    f"{where}: lists {len(listed)} categories, the source has {expected}"
                )
        if data.get("incomplete") and not str(data.get("note", "")).strip():
            raise CategoryDataError(f"{where}: an incomplete list must say why in its note")
        parsed.append((data, listed, source))

    by_code: dict[str, Category] = {}
    for code, seen in entries.items():
        # The canonical name is the one a current list uses (else the first list's).
        canonical = next((e.name for e in seen if e.current), seen[0].name)
        aliases = tuple(
            dict.fromkeys(
                spelling
                for e in seen
                for spelling in (e.name, *e.aliases)
                if name_key(spelling) != name_key(canonical)
            )
        )
        declared = {name_key(a) for e in seen for a in e.aliases} | {name_key(canonical)}
        for e in seen:
            # The same code must mean the same category in every list: a different
            # spelling is accepted only when a list declares it as an alias.
            own = {name_key(a) for a in e.aliases}
            if name_key(e.name) not in declared and name_key(canonical) not in own:
                raise CategoryDataError(
                    f"{e.list_code}: {code} is named {e.name!r} here and {canonical!r} "
                    "elsewhere (declare one as an alias of the other if they are the same)"
                )
        by_code[code] = Category(
            code=code,
            name=canonical,
            aliases=aliases,
            lists=tuple(dict.fromkeys(e.list_code for e in seen)),
        )

    lists: list[CategoryList] = []
    for data, listed, source in parsed:
        lists.append(
            CategoryList(
                code=str(data["code"]),
                name=str(data["name"]),
                version=str(data["version"]),
                source=source,
                first_fiscal_year=int(data["first_fiscal_year"]),
                last_fiscal_year=(
                    int(data["last_fiscal_year"]) if data.get("last_fiscal_year") else None
                ),
                categories=tuple(by_code[code] for code, _ in listed),
                note=_join_lines(str(data.get("note", ""))),
                expected_count=data.get("expected_count"),
                incomplete=bool(data.get("incomplete")),
                main_series=bool(data.get("main_series")),
                listed_names=tuple(listed),
            )
        )
    if len({item.code for item in lists}) != len(lists):
        raise CategoryDataError("two lists share a code")
    by_name: dict[str, Category] = {}
    for found in by_code.values():
        for spelling in (found.name, *found.aliases):
            other = by_name.setdefault(name_key(spelling), found)
            if other.code != found.code:
                raise CategoryDataError(f"{spelling!r} names both {other.code} and {found.code}")
    return tuple(lists), by_code, by_name


def category_lists() -> tuple[CategoryList, ...]:
    """Every list, in file order."""
    return _catalogue()[0]


def category_list(code: str) -> CategoryList | None:
    return next((item for item in category_lists() if item.code == code), None)


def category(code: str) -> Category | None:
    return _catalogue()[1].get(code)


def categories() -> tuple[Category, ...]:
    return tuple(_catalogue()[1].values())


def category_find(text: str) -> Category | None:
    """A category by its code or by its official name (or an official alias), compared
    after NFKC normalisation without spaces; None when nothing matches."""
    stripped = text.strip()
    by_code = _catalogue()[1].get(stripped.lower())
    if by_code is not None:
        return by_code
    return _catalogue()[2].get(name_key(stripped))


@cache
def template_defaults() -> dict[str, str]:
    """The national category each national template (``catalog/national``) is counted
    under by default, by template slug, from ``template-defaults.yaml``.

    Kept here rather than in the templates, so that mapping a template never makes a new
    template version. A slug mapped to nothing (``null``: its procedure is in no confirmed
    list yet) is absent. A code that is in no list fails at load (:class:`CategoryDataError`).
    """
    data = _load_file(DATA_DIR / DEFAULTS_FILE)
    mapping = data.get("templates")
    if not isinstance(mapping, dict):
        raise CategoryDataError(f"{DEFAULTS_FILE}: templates is missing")
    defaults: dict[str, str] = {}
    for slug, code in mapping.items():
        if code is None:
            continue
        if category(str(code)) is None:
            raise CategoryDataError(f"{DEFAULTS_FILE}: {slug} names unknown category {code!r}")
        defaults[str(slug)] = str(code)
    return defaults
