"""What the statistics screens accept in a query: a fiscal year and a category list.

Shared by the portal's public pages and the console's monthly detail (entry apps do not import
each other). A value that cannot be used raises :class:`BadQuery` with a message for the
person (Japanese first, translated in the portal's English mode); it is never guessed at.
"""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext

from madoguchi.core.time import now, to_tokyo
from madoguchi.stats.categories import CategoryList, category_list
from madoguchi.stats.figures import default_category_list, fiscal_year_of

#: The first fiscal year the selectors offer: the ministry's series starts in FY2016.
FIRST_FISCAL_YEAR = 2016
#: Longer values are refused before any parsing.
MAX_PARAM_LENGTH = 40
_YEAR_RE = re.compile(r"^([0-9]{4})(?:年度)?$")


class BadQuery(ValueError):
    """A query parameter the page cannot use; the message is shown with a 400."""


def current_fiscal_year() -> int:
    """The fiscal year (April–March) of today in Japan."""
    return fiscal_year_of(to_tokyo(now()).date())


def selectable_years() -> tuple[int, ...]:
    """The fiscal years a selector offers, newest first."""
    return tuple(range(current_fiscal_year(), FIRST_FISCAL_YEAR - 1, -1))


def parse_fiscal_year(raw: str | None, *, default: int) -> int:
    """A fiscal year as given: 西暦 four digits (full-width digits and a trailing 年度
    allowed), from FY2016 to next fiscal year; ``default`` when absent or empty."""
    if raw is None or raw == "":
        return default
    if len(raw) > MAX_PARAM_LENGTH:
        raise BadQuery(gettext("年度の指定が長すぎます。"))
    text = unicodedata.normalize("NFKC", raw).strip()
    match = _YEAR_RE.match(text)
    latest = current_fiscal_year() + 1
    if match is None:
        raise BadQuery(
            gettext("年度は西暦4桁で指定してください（例: %(example)s）。")
            % {"example": latest - 2}
        )
    year = int(match.group(1))
    if not FIRST_FISCAL_YEAR <= year <= latest:
        raise BadQuery(
            gettext("年度は%(first)s年度から%(last)s年度までで指定してください。")
            % {"first": FIRST_FISCAL_YEAR, "last": latest}
        )
    return year


def default_list(fiscal_year: int) -> CategoryList:
    """The list tables use for the year when none is asked for (the figures' own rule)."""
    return default_category_list(fiscal_year=fiscal_year)


def parse_list(raw: str | None, *, fiscal_year: int) -> CategoryList:
    """A category list by its code; the default for the year when absent or empty."""
    if raw is None or raw == "":
        return default_list(fiscal_year)
    found = category_list(raw.strip()) if len(raw) <= MAX_PARAM_LENGTH else None
    if found is None:
        raise BadQuery(gettext("指定された手続一覧はありません。一覧から選んでください。"))
    return found
