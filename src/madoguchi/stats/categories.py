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

    def applies_to(self, fiscal_year: int) -> bool:
        return self.first_fiscal_year <= fiscal_year and (
            self.last_fiscal_year is None or fiscal_year <= self.last_fiscal_year
        )

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(category.code for category in self.categories)


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


@cache
def _catalogue() -> tuple[tuple[CategoryList, ...], dict[str, Category], dict[str, Category]]:
    lists: list[CategoryList] = []
    raw_categories: dict[str, tuple[str, tuple[str, ...]]] = {}
    memberships: dict[str, list[str]] = {}
    parsed: list[tuple[dict[str, Any], list[str]]] = []
    for path in sorted(DATA_DIR.glob("*.yaml")):
        data = _load_file(path)
        try:
            list_code = str(data["code"])
            entries = data["categories"]
            source = data["source"]
        except KeyError as missing:
            raise CategoryDataError(f"{path.name}: {missing} is missing") from None
        codes: list[str] = []
        for entry in entries:
            code = str(entry["code"])
            if not CODE_RE.match(code):
                raise CategoryDataError(f"{path.name}: bad category code {code!r}")
            name = str(entry["name"])
            aliases = tuple(str(alias) for alias in entry.get("aliases", ()))
            known = raw_categories.get(code)
            if known is not None and name_key(known[0]) != name_key(name):
                # The same code must mean the same category in every list.
                if name_key(name) not in {name_key(a) for a in known[1]}:
                    raise CategoryDataError(
                        f"{path.name}: {code} is named {name!r} here and {known[0]!r} elsewhere"
                    )
            merged = tuple(dict.fromkeys((*(known[1] if known else ()), *aliases)))
            raw_categories[code] = (known[0] if known else name, merged)
            if code in codes:
                raise CategoryDataError(f"{path.name}: {code} appears twice")
            codes.append(code)
            memberships.setdefault(code, []).append(list_code)
        parsed.append((data | {"_source": source}, codes))
    by_code = {
        code: Category(code=code, name=name, aliases=aliases, lists=tuple(memberships[code]))
        for code, (name, aliases) in raw_categories.items()
    }
    for data, codes in parsed:
        source = data["_source"]
        lists.append(
            CategoryList(
                code=str(data["code"]),
                name=str(data["name"]),
                version=str(data["version"]),
                source=Source(
                    title=str(source["title"]),
                    publisher=str(source["publisher"]),
                    url=str(source.get("url", "")),
                    published=str(source.get("published", "")),
                ),
                first_fiscal_year=int(data["first_fiscal_year"]),
                last_fiscal_year=(
                    int(data["last_fiscal_year"]) if data.get("last_fiscal_year") else None
                ),
                categories=tuple(by_code[code] for code in codes),
                note=str(data.get("note", "")),
            )
        )
    if len({item.code for item in lists}) != len(lists):
        raise CategoryDataError("two lists share a code")
    by_name: dict[str, Category] = {}
    for category in by_code.values():
        for spelling in (category.name, *category.aliases):
            by_name.setdefault(name_key(spelling), category)
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
