"""Open data (オープンデータ): every public table of the figures as a file.

Files and URLs (the portal serves them; the names do not change)
    ``/statistics/organisations/<lg_code>/<fy>.csv``     :func:`organisation_file`
    ``/statistics/prefectures/<nn>/<fy>.csv``            :func:`prefecture_file`
    ``/statistics/national/<fy>.csv``                    :func:`national_file`
    ``/statistics/deployment/<fy>.csv`` (whole nation) and
    ``/statistics/prefectures/<nn>/deployment/<fy>.csv`` :func:`deployment_file`
    each with ``?list=<category list code>``; the file is ``<fy>.csv`` (UTF-8 with a BOM, so
    that Excel reads it), ``<fy>-sjis.csv`` (Shift_JIS as Windows writes it, cp932),
    ``<fy>.xlsx`` or ``<fy>.json``, i.e. the ``fmt`` of :data:`FORMATS` ``csv``,
    ``sjis.csv``, ``xlsx`` and ``json``. Every function returns an :class:`OpenDataFile`
    (bytes, file name, content type) and raises ``ValueError`` for an unknown format, and what
    the figures raise (``UnknownPrefecture``). ``to_csv``, ``to_csv_sjis``, ``to_xlsx`` and
    ``to_json`` turn any table of :mod:`madoguchi.stats.figures` into one format.

Columns
    One header row of Japanese column names (listed in README「統計とオープンデータ」), then
    one row per category / municipality / fiscal year. Counts are plain integers in 件
    without separators; rates are percent to one decimal place (rounded half up) and empty
    when nothing was counted; years are fiscal years (年度, April–March) in 西暦. Summary rows
    (合計, 市区町村計, the prefectural government) have an empty code column. No personal data
    is ever in them: counts per organisation and category only.

Shift_JIS
    Written with cp932 (NEC and IBM extensions kept, so 髙 and ① survive). A character cp932
    cannot represent (𠮷, 﨑 is fine, emoji) becomes 〓 (下駄記号) and is *reported* in
    ``OpenDataFile.unmappable`` (row, column, character, code point) — never a silent ``?``;
    :func:`cp932_problems` lists them before the download, so the page can say which names
    are affected and point to the UTF-8 file. JIS/Microsoft variants (〜 → ～, − → －) are
    written as Windows would and are not reported.

Formula injection
    A text cell that starts with ``= + - @``, TAB or CR gets a leading ``'`` in CSV; in xlsx
    text is always written as a string cell, never a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import xlsxwriter

from madoguchi.stats.categories import CategoryList
from madoguchi.stats.figures import (
    DeploymentStatus,
    Figure,
    MunicipalityRow,
    NationalEstimate,
    NationalTable,
    OrganisationTable,
    PrefectureTable,
    Published,
    deployment_status,
    national_table,
    organisation_table,
    prefecture_table,
)
from madoguchi.tenants.models import Organisation

#: Formats by URL extension, with their content types.
FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "sjis.csv": "text/csv; charset=shift_jis",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json; charset=utf-8",
}
GETA = "〓"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
#: What Windows writes for characters that differ only by the JIS/Microsoft mapping.
CP932_EQUIVALENTS = str.maketrans(
    {
        "\u301c": "\uff5e",  # 〜 → ～
        "\u2212": "\uff0d",  # − → －
        "\u2016": "\u2225",  # ‖ → ∥
        "\u00a2": "\uffe0",
        "\u00a3": "\uffe1",
        "\u00ac": "\uffe2",
        "\u2014": "\u2015",  # — → ―
    }
)

Cell = str | int | Decimal | None


@dataclass(frozen=True)
class Unmappable:
    """A character of the Shift_JIS file that cp932 cannot represent, written as 〓."""

    #: 1-based data row (0 = the header).
    row: int
    column: str
    value: str
    character: str

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.character):04X}"


@dataclass(frozen=True)
class OpenDataFile:
    content: bytes
    filename: str
    content_type: str
    unmappable: tuple[Unmappable, ...] = ()


@dataclass(frozen=True)
class Sheet:
    """A table as rows of typed cells (the common shape of every format but JSON)."""

    name: str
    stem: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    #: Columns holding rates (percent, one decimal): number-formatted in xlsx.
    rate_columns: frozenset[int] = frozenset()


Table = OrganisationTable | PrefectureTable | NationalTable | DeploymentStatus


# --- The files at their URLs ---------------------------------------------------------------


def organisation_file(
    *, organisation: Organisation, category_list: CategoryList, fiscal_year: int, fmt: str
) -> OpenDataFile:
    _check(fmt)
    table = organisation_table(
        organisation=organisation, category_list=category_list, fiscal_year=fiscal_year
    )
    return _render(table, fmt)


def prefecture_file(
    *, prefecture_code: str, category_list: CategoryList, fiscal_year: int, fmt: str
) -> OpenDataFile:
    _check(fmt)
    table = prefecture_table(
        prefecture_code=prefecture_code, category_list=category_list, fiscal_year=fiscal_year
    )
    return _render(table, fmt)


def national_file(*, category_list: CategoryList, fiscal_year: int, fmt: str) -> OpenDataFile:
    """The national series (every year of the list, as the national table) with the top
    categories of ``fiscal_year`` (xlsx: second sheet; JSON: ``top_categories``)."""
    _check(fmt)
    table = national_table(category_list=category_list, top_year=fiscal_year)
    return _render(table, fmt)


def deployment_file(
    *,
    category_list: CategoryList,
    fiscal_year: int,
    fmt: str,
    prefecture_code: str | None = None,
) -> OpenDataFile:
    _check(fmt)
    table = deployment_status(
        category_list=category_list, fiscal_year=fiscal_year, prefecture_code=prefecture_code
    )
    return _render(table, fmt)


def cp932_problems(table: Table) -> tuple[Unmappable, ...]:
    """What the Shift_JIS file of ``table`` could not write (empty: nothing is lost)."""
    return _sjis(sheets(table)[0])[1]


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError("形式は " + "、".join(FORMATS) + " のいずれかです。")


def _render(table: Table, fmt: str) -> OpenDataFile:
    return {"csv": to_csv, "sjis.csv": to_csv_sjis, "xlsx": to_xlsx, "json": to_json}[fmt](table)


# --- One function per format ----------------------------------------------------------------


def to_csv(table: Table) -> OpenDataFile:
    """CSV in UTF-8 with a BOM, CRLF, RFC 4180 quoting."""
    sheet = sheets(table)[0]
    text = _csv_text(sheet)
    return OpenDataFile(
        content=b"\xef\xbb\xbf" + text.encode("utf-8"),
        filename=f"{sheet.stem}.csv",
        content_type=FORMATS["csv"],
    )


def to_csv_sjis(table: Table) -> OpenDataFile:
    """CSV in Shift_JIS (cp932): unrepresentable characters as 〓, each one reported."""
    sheet = sheets(table)[0]
    safe, problems = _sjis(sheet)
    return OpenDataFile(
        content=_csv_text(safe).encode("cp932"),
        filename=f"{sheet.stem}-sjis.csv",
        content_type=FORMATS["sjis.csv"],
        unmappable=problems,
    )


def to_xlsx(table: Table) -> OpenDataFile:
    """xlsx: one sheet per table (the national file adds its top categories), text as string
    cells, counts as numbers, rates as numbers shown to one decimal."""
    parts = sheets(table)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    tenth = book.add_format({"num_format": "0.0"})
    for sheet in parts:
        ws = book.add_worksheet(sheet.name[:31])
        for col, name in enumerate(sheet.header):
            ws.write_string(0, col, name, bold)
        for r, values in enumerate(sheet.rows, start=1):
            for col, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, str):
                    ws.write_string(r, col, value)
                elif col in sheet.rate_columns:
                    ws.write_number(r, col, float(value), tenth)
                else:
                    ws.write_number(r, col, int(value))
        ws.freeze_panes(1, 0)
    book.close()
    return OpenDataFile(
        content=buffer.getvalue(), filename=f"{parts[0].stem}.xlsx", content_type=FORMATS["xlsx"]
    )


def to_json(table: Table) -> OpenDataFile:
    """JSON (UTF-8): the table with its rows as ``{category, name, total, online, rate}`` (or
    the organisation's / year's equivalent); rates as strings with one decimal, or null."""
    data, stem = _json(table)
    return OpenDataFile(
        content=json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"),
        filename=f"{stem}.json",
        content_type=FORMATS["json"],
    )


# --- Tables as sheets -----------------------------------------------------------------------


def sheets(table: Table) -> tuple[Sheet, ...]:
    """``table`` as sheets of typed cells (the first is the CSV's)."""
    if isinstance(table, OrganisationTable):
        return (_organisation_sheet(table),)
    if isinstance(table, PrefectureTable):
        return (_prefecture_sheet(table),)
    if isinstance(table, NationalTable):
        return _national_sheets(table)
    return (_deployment_sheet(table),)


ORGANISATION_COLUMNS = (
    "全国地方公共団体コード",
    "団体名",
    "年度",
    "手続一覧",
    "手続コード",
    "手続名",
    "総件数",
    "オンライン件数",
    "オンライン利用率",
    "前年度総件数",
    "前年度オンライン件数",
    "前年度オンライン利用率",
    "窓口件数",
    "郵送件数",
    "取込総件数",
    "取込オンライン件数",
)


def _organisation_sheet(table: OrganisationTable) -> Sheet:
    org = table.organisation
    rows = []
    for row in (*table.rows, table.total):
        b = row.current.breakdown
        rows.append(
            (
                org.lg_code,
                org.display_name,
                table.fiscal_year,
                table.category_list_code,
                row.category.code if row.category else "",
                row.category.name if row.category else "合計",
                row.current.total,
                row.current.online,
                row.current.rate,
                row.previous.total,
                row.previous.online,
                row.previous.rate,
                b.platform_counter,
                b.platform_mail,
                b.imported_total,
                b.imported_online,
            )
        )
    return Sheet(
        name=f"{org.display_name}{table.fiscal_year}年度",
        stem=f"statistics-{org.lg_code}-{table.fiscal_year}-{table.category_list_code}",
        header=ORGANISATION_COLUMNS,
        rows=tuple(rows),
        rate_columns=frozenset({8, 11}),
    )


PREFECTURE_COLUMNS = (
    "全国地方公共団体コード",
    "団体名",
    "種別",
    "年度",
    "手続一覧",
    "総件数",
    "オンライン件数",
    "オンライン利用率",
    "人口",
    "人口の基準日",
    "オンラインで提供する手続の数",
)


def _municipality_cells(table: PrefectureTable, row: MunicipalityRow) -> tuple[Cell, ...]:
    org = row.organisation
    return (
        org.lg_code,
        org.display_name,
        org.kind_label,
        table.fiscal_year,
        table.category_list_code,
        row.figure.total,
        row.figure.online,
        row.figure.rate,
        org.population,
        org.population_as_of.isoformat() if org.population_as_of else None,
        row.categories_online,
    )


def _summary_cells(table: PrefectureTable, label: str, figure: Figure) -> tuple[Cell, ...]:
    return (
        "",
        label,
        "",
        table.fiscal_year,
        table.category_list_code,
        figure.total,
        figure.online,
        figure.rate,
        None,
        None,
        None,
    )


def _prefecture_sheet(table: PrefectureTable) -> Sheet:
    rows = [_municipality_cells(table, row) for row in table.rows]
    rows.append(_municipality_cells(table, table.government))
    rows.append(_summary_cells(table, "市区町村計", table.municipalities_total))
    rows.append(_summary_cells(table, "合計", table.total))
    code = table.prefecture.prefecture_code
    return Sheet(
        name=f"{table.prefecture.name}{table.fiscal_year}年度",
        stem=f"statistics-pref{code}-{table.fiscal_year}-{table.category_list_code}",
        header=PREFECTURE_COLUMNS,
        rows=tuple(rows),
        rate_columns=frozenset({7}),
    )


NATIONAL_COLUMNS = (
    "年度",
    "手続一覧",
    "年間総手続件数",
    "オンライン利用件数",
    "オンライン利用率",
    "報告団体数",
    "推計_年間総手続件数",
    "推計_オンライン利用件数",
    "推計_オンライン利用率",
    "推計_人口のある報告団体の人口",
    "推計_全団体の人口",
    "推計_人口がなく除いた報告団体数",
    "推計_人口が不明な団体数",
    "公表値_年間総手続件数",
    "公表値_オンライン利用件数",
    "公表値_オンライン利用率",
    "公表値_出典",
)
TOP_COLUMNS = (
    "年度",
    "順位",
    "手続コード",
    "手続名",
    "総件数",
    "オンライン件数",
    "オンライン利用率",
)


def _national_sheets(table: NationalTable) -> tuple[Sheet, ...]:
    rows = []
    for year in table.years:
        est = year.estimate
        pub = year.published
        rows.append(
            (
                year.fiscal_year,
                table.category_list_code,
                year.plain.total if year.plain.counted else None,
                year.plain.online if year.plain.counted else None,
                year.plain.rate,
                year.reporting_organisations,
                est.total if est else None,
                est.online if est else None,
                est.rate if est else None,
                sum(s.reporting_population for s in est.strata) if est else None,
                sum(s.population for s in est.strata) if est else None,
                sum(s.reporting_without_population for s in est.strata) if est else None,
                sum(s.population_missing for s in est.strata) if est else None,
                pub.total if pub else None,
                pub.online if pub else None,
                pub.rate if pub else None,
                pub.source if pub else None,
            )
        )
    stem = f"statistics-national-{table.category_list_code}"
    top = tuple(
        (
            table.top_year,
            rank,
            item.category.code,
            item.category.name,
            item.figure.total,
            item.figure.online,
            item.figure.rate,
        )
        for rank, item in enumerate(table.top_categories, start=1)
    )
    return (
        Sheet(
            name="全国",
            stem=stem if table.top_year is None else f"{stem}-{table.top_year}",
            header=NATIONAL_COLUMNS,
            rows=tuple(rows),
            rate_columns=frozenset({4, 8, 15}),
        ),
        Sheet(
            name="上位の手続",
            stem=stem,
            header=TOP_COLUMNS,
            rows=top,
            rate_columns=frozenset({6}),
        ),
    )


DEPLOYMENT_COLUMNS = (
    "範囲",
    "年度",
    "手続一覧",
    "手続コード",
    "手続名",
    "オンラインで提供する団体数",
    "うち市区町村数",
    "市区町村数",
    "市区町村に占める割合",
    "提供市区町村の人口",
    "人口が不明な提供市区町村数",
    "プラットフォームで提供する団体数",
    "取込件数でオンラインがある団体数",
)


def _deployment_sheet(table: DeploymentStatus) -> Sheet:
    scope = table.prefecture.name if table.prefecture else "全国"
    rows = tuple(
        (
            scope,
            table.fiscal_year,
            table.category_list_code,
            row.category.code,
            row.category.name,
            row.organisations,
            row.municipalities,
            table.municipalities,
            row.share,
            row.population_covered,
            row.population_missing,
            row.via_platform,
            row.via_import,
        )
        for row in table.rows
    )
    place = f"pref{table.prefecture.prefecture_code}" if table.prefecture else "national"
    return Sheet(
        name=f"提供状況{table.fiscal_year}年度",
        stem=f"deployment-{place}-{table.fiscal_year}-{table.category_list_code}",
        header=DEPLOYMENT_COLUMNS,
        rows=rows,
        rate_columns=frozenset({8}),
    )


# --- CSV --------------------------------------------------------------------------------------


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.1f}"
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _csv_text(sheet: Sheet) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(sheet.header)
    for row in sheet.rows:
        writer.writerow([_text(value) for value in row])
    return out.getvalue()


def _sjis(sheet: Sheet) -> tuple[Sheet, tuple[Unmappable, ...]]:
    """The sheet with every text as cp932 will write it, and what could not be written."""
    problems: list[Unmappable] = []

    def clean(r: int, col: int, value: Cell) -> Cell:
        if not isinstance(value, str):
            return value
        prepared = value.translate(CP932_EQUIVALENTS)
        out = []
        for ch in prepared:
            try:
                ch.encode("cp932")
            except UnicodeEncodeError:
                problems.append(
                    Unmappable(row=r, column=sheet.header[col], value=value, character=ch)
                )
                out.append(GETA)
            else:
                out.append(ch)
        return "".join(out)

    rows = tuple(
        tuple(clean(r, col, value) for col, value in enumerate(row))
        for r, row in enumerate(sheet.rows, start=1)
    )
    return (
        Sheet(sheet.name, sheet.stem, sheet.header, rows, sheet.rate_columns),
        tuple(problems),
    )


# --- JSON -------------------------------------------------------------------------------------


def _rate_json(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def figure_json(figure: Figure) -> dict[str, Any]:
    b = figure.breakdown
    return {
        "total": figure.total,
        "online": figure.online,
        "rate": _rate_json(figure.rate),
        "sources": {
            "platform_online": b.platform_online,
            "platform_counter": b.platform_counter,
            "platform_mail": b.platform_mail,
            "imported_total": b.imported_total,
            "imported_online": b.imported_online,
        },
    }


def _json(table: Table) -> tuple[dict[str, Any], str]:
    stem = sheets(table)[0].stem
    base = {"category_list": {"code": table.category_list_code, "name": table.category_list_name}}
    if isinstance(table, OrganisationTable):
        org = table.organisation
        return base | {
            "organisation": {"lg_code": org.lg_code, "name": org.display_name},
            "fiscal_year": table.fiscal_year,
            "wards": [w.lg_code for w in table.wards],
            "rows": [
                {
                    "category": row.category.code if row.category else None,
                    "name": row.category.name if row.category else "合計",
                    **figure_json(row.current),
                    "previous": figure_json(row.previous),
                }
                for row in table.rows
            ],
            "total": figure_json(table.total.current),
            "previous_total": figure_json(table.total.previous),
        }, stem
    if isinstance(table, PrefectureTable):
        return base | {
            "prefecture": {
                "code": table.prefecture.prefecture_code,
                "name": table.prefecture.name,
            },
            "fiscal_year": table.fiscal_year,
            "rows": [_municipality_json(row) for row in table.rows],
            "government": _municipality_json(table.government),
            "municipalities_total": figure_json(table.municipalities_total),
            "total": figure_json(table.total),
            "published": _published_json(table.published),
            "population_missing": table.population_missing,
        }, stem
    if isinstance(table, NationalTable):
        return base | {
            "years": [
                {
                    "fiscal_year": year.fiscal_year,
                    "plain": figure_json(year.plain),
                    "reporting_organisations": year.reporting_organisations,
                    "estimate": _estimate_json(year.estimate),
                    "published": _published_json(year.published),
                }
                for year in table.years
            ],
            "top_year": table.top_year,
            "top_categories": [
                {"category": item.category.code, "name": item.category.name}
                | figure_json(item.figure)
                for item in table.top_categories
            ],
        }, stem
    return base | {
        "prefecture": table.prefecture.prefecture_code if table.prefecture else None,
        "fiscal_year": table.fiscal_year,
        "municipalities": table.municipalities,
        "population": table.population,
        "population_missing": table.population_missing,
        "rows": [
            {
                "category": row.category.code,
                "name": row.category.name,
                "organisations": row.organisations,
                "municipalities": row.municipalities,
                "share": _rate_json(row.share),
                "population_covered": row.population_covered,
                "population_missing": row.population_missing,
                "via_platform": row.via_platform,
                "via_import": row.via_import,
            }
            for row in table.rows
        ],
    }, stem


def _municipality_json(row: MunicipalityRow) -> dict[str, Any]:
    org = row.organisation
    return {
        "lg_code": org.lg_code,
        "name": org.display_name,
        "kind": org.kind,
        "population": org.population,
        "categories_online": row.categories_online,
    } | figure_json(row.figure)


def _published_json(published: Published | None) -> dict[str, Any] | None:
    if published is None:
        return None
    return {
        "total": published.total,
        "online": published.online,
        "rate": _rate_json(published.rate),
        "source": published.source,
    }


def _estimate_json(estimate: NationalEstimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "total": estimate.total,
        "online": estimate.online,
        "rate": _rate_json(estimate.rate),
        "complete": estimate.complete,
        "formula": estimate.formula,
        "strata": [
            {
                "label": s.label,
                "reporting": s.reporting,
                "reporting_without_population": s.reporting_without_population,
                "reporting_population": s.reporting_population,
                "organisations": s.organisations,
                "population": s.population,
                "population_missing": s.population_missing,
                "coverage": _rate_json(s.coverage),
                "base_total": s.base.total,
                "base_online": s.base.online,
                "total": s.total,
                "online": s.online,
            }
            for s in estimate.strata
        ],
    }


__all__: Sequence[str] = (
    "FORMATS",
    "OpenDataFile",
    "Unmappable",
    "cp932_problems",
    "deployment_file",
    "national_file",
    "organisation_file",
    "prefecture_file",
    "sheets",
    "to_csv",
    "to_csv_sjis",
    "to_json",
    "to_xlsx",
)
