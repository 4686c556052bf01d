"""金融機関・支店: codes, names and kana, offline, from the PyPI package ``zengin-code``.

``zengin-code`` packages the 全銀協 bank and branch master (the data of the zengin-code
project, refreshed by its maintainers; the package version ends in the data's date, e.g.
``1.1.0.20260824``). Updating the data is ``uv lock --upgrade-package zengin-code``.

What this module guarantees:

- :func:`bank_get` / :func:`branch_get` answer ``None`` for an unknown code, never raise.
- :func:`banks_search` / :func:`branches_search` match a code prefix, the name (全角/半角 and
  upper/lower case folded), the reading in kana (ひらがな or カタカナ, with or without
  small kana, long-vowel marks and spaces: the master writes 「トウキヨウ」 for 東京) or in
  rōmaji as the master spells it (``mizuho``), and
  return at most ``limit`` results, exact matches first. A query of any size or content is
  answered (hostile text finds nothing).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from madoguchi.core.text import search_key

#: The most results one search returns (a list a person can read through).
SEARCH_LIMIT = 20
#: Longer queries are cut: no bank name or reading is longer.
_MAX_QUERY = 40

_SMALL_KANA = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_DROP = str.maketrans("", "", "ー－-‐ 　・.")


@dataclass(frozen=True)
class BankInfo:
    code: str
    name: str
    kana: str
    roma: str = ""


@dataclass(frozen=True)
class BranchInfo:
    bank_code: str
    code: str
    name: str
    kana: str
    roma: str = ""


def _fold(text: str) -> str:
    """Name or reading folded for matching (see the module docstring)."""
    return search_key(text[:_MAX_QUERY]).upper().translate(_SMALL_KANA).translate(_DROP)


@cache
def _master() -> dict[str, tuple[BankInfo, dict[str, BranchInfo]]]:
    # Imported here: the package reads its whole master (about 30 000 branches) on import,
    # which only the pages that need it should pay for.
    from zengin_code import Bank

    master: dict[str, tuple[BankInfo, dict[str, BranchInfo]]] = {}
    for code, bank in Bank.all.items():
        info = BankInfo(
            code=str(code), name=str(bank.name), kana=str(bank.kana), roma=str(bank.roma)
        )
        branches = {
            str(b.code): BranchInfo(
                bank_code=info.code,
                code=str(b.code),
                name=str(b.name),
                kana=str(b.kana),
                roma=str(b.roma),
            )
            for b in bank.branches.values()
        }
        master[info.code] = (info, branches)
    return master


def _keys(item: BankInfo | BranchInfo) -> tuple[str, ...]:
    return (_fold(item.name), _fold(item.kana), _fold(item.roma))


@cache
def _folded_banks() -> tuple[tuple[BankInfo, tuple[str, ...]], ...]:
    return tuple((info, _keys(info)) for info, _ in _master().values())


def data_version() -> str:
    """The date of the bank master in use (the package version's last part)."""
    import zengin_code

    return str(zengin_code.__version__).rsplit(".", 1)[-1]


def bank_get(code: str) -> BankInfo | None:
    entry = _master().get(code) if isinstance(code, str) else None
    return entry[0] if entry else None


def branch_get(bank_code: str, branch_code: str) -> BranchInfo | None:
    entry = _master().get(bank_code) if isinstance(bank_code, str) else None
    if entry is None or not isinstance(branch_code, str):
        return None
    return entry[1].get(branch_code)


def _rank[T](candidates: list[tuple[T, str, tuple[str, ...]]], query: str, limit: int) -> list[T]:
    """Candidates are (item, code, folded names); exact, then prefix, then part matches."""
    text = unicodedata.normalize("NFKC", query[:_MAX_QUERY]).strip()
    folded = _fold(text)
    if not folded:
        return []
    scored: list[tuple[int, str, T]] = []
    for item, code, keys in candidates:
        if text.isascii() and text.isdigit():
            if code.startswith(text):
                scored.append((0 if code == text else 1, code, item))
            continue
        if folded in keys:
            scored.append((0, code, item))
        elif any(key.startswith(folded) for key in keys):
            scored.append((1, code, item))
        elif any(folded in key for key in keys):
            scored.append((2, code, item))
    scored.sort(key=lambda row: (row[0], row[1]))
    return [item for _, _, item in scored[: max(0, min(limit, SEARCH_LIMIT))]]


def banks_search(query: str, *, limit: int = SEARCH_LIMIT) -> list[BankInfo]:
    """Banks whose code starts with, or whose name or reading contains, ``query``."""
    return _rank([(info, info.code, keys) for info, keys in _folded_banks()], query, limit)


def branches_search(bank_code: str, query: str, *, limit: int = SEARCH_LIMIT) -> list[BranchInfo]:
    """Branches of one bank (none when the bank is unknown), matched like :func:`banks_search`."""
    entry = _master().get(bank_code) if isinstance(bank_code, str) else None
    if entry is None:
        return []
    return _rank([(b, b.code, _keys(b)) for b in entry[1].values()], query, limit)
