"""Importing counts of procedures done in other systems (eLTAX, the library's OPAC, the water
utility …) per organisation × national category × fiscal year or month (件数の取込).

One service, :func:`counts_import`, used by ``madoguchi stats import FILE`` (the platform
operator) and by the console upload (an organisation admin, for their own organisation).

The file (CSV in UTF-8 with or without BOM or in Shift_JIS/cp932, or xlsx) is read and checked
as a whole; then either every row is stored, in one transaction, or nothing is and
:class:`ImportRejected` lists every problem with its row, column and value. Decisions, where
the issue leaves them open:

* **Columns** by their header in the first row: 団体コード, 年度, 手続, 総件数, オンライン件数
  (required), 月 and 団体名 (optional; 団体名, when filled, must be the name of the coded
  organisation, which catches a wrong code). Any other header is refused, so a misspelt
  column never silently goes unread.
* **Organisations**: unknown codes, deactivated organisations (merged away) and the wards of
  designated cities (sub-units, counted in their city) are refused; an
  organisation admin imports only their own organisation's rows. A group operator
  (共同利用グループ) does not import for the group's members: the counts are each member's own
  figures, and its own admin answers for them; a prefecture collecting its municipalities'
  files hands them to the platform operator, whose command imports any organisation.
* **A year or its months, never both**: for one organisation × category × fiscal year the
  figures are either one year total (no 月) or monthly rows, never both, since adding them
  would count the year twice. In one file, both are refused. Against what is stored: a year
  total replaces the stored months of that year (the usual end-of-year step: months during the
  year, the audited total at its end) and the report counts them as replaced; monthly rows
  replace a stored year total only when the file brings all twelve months of that year, so a
  partial file can never make a year's figure shrink to a few months.
* **Replacing**: a row for the same organisation × category × fiscal year × month as a stored
  row replaces it; the report says how many rows were replaced.
* **Limits**: 10 MB, 100,000 rows; months and fiscal years not yet begun are refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final, NoReturn

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.lgcode import InvalidLgCode, parse_lg_code
from madoguchi.core.time import to_tokyo
from madoguchi.forms.japanese import ERAS
from madoguchi.stats.categories import category, category_find, name_key
from madoguchi.stats.figures import figures_cache_clear, rate
from madoguchi.stats.models import CountImport, CountImportOrganisation, ImportedCount
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import Organisation

if TYPE_CHECKING:
    from django.contrib.auth.models import _User as User

MAX_FILE_BYTES: Final = 10 * 1024 * 1024
MAX_ROWS: Final = 100_000
#: Problems listed in full; beyond this the rejection says how many more there were.
MAX_PROBLEMS: Final = 1000
#: Counts above this are a typing mistake (the nation's yearly total is about 10^9).
MAX_COUNT: Final = 10**12
MAX_CELL_CHARS: Final = 200
MAX_COLUMNS: Final = 64
#: The uncompressed size an xlsx may unpack to (a zip bomb is refused before it is opened).
MAX_XLSX_UNPACKED: Final = 200 * 1024 * 1024
FIRST_FISCAL_YEAR: Final = 2000
SHEET_NAME: Final = "件数"

CODE, YEAR, MONTH, CATEGORY, TOTAL, ONLINE, NAME = (
    "団体コード",
    "年度",
    "月",
    "手続",
    "総件数",
    "オンライン件数",
    "団体名",
)
REQUIRED_COLUMNS: Final = (CODE, YEAR, CATEGORY, TOTAL, ONLINE)
OPTIONAL_COLUMNS: Final = (MONTH, NAME)
#: The template's column order.
TEMPLATE_COLUMNS: Final = (CODE, NAME, YEAR, MONTH, CATEGORY, TOTAL, ONLINE)
#: What each column holds, shown on the console page and printed by the command.
COLUMN_HELP: Final = (
    (CODE, "必須", "全国地方公共団体コード。6桁（検査数字つき）または5桁（例: 141003 / 14100）"),
    (NAME, "任意", "団体名（確認用）。書いたときは団体コードの団体の名称と一致すること"),
    (YEAR, "必須", "年度（4月〜翌年3月）。西暦（2024）または和暦（令和6年度・R6・平成30年度）"),
    (
        MONTH,
        "任意",
        "空欄なら年度の合計。月ごとなら 1〜12、または 2025年5月・2025-05・令和7年5月"
        "（その年度の中の月）",
    ),
    (CATEGORY, "必須", "国の手続分類のコード（例: eltax-filing）または正式名称"),
    (TOTAL, "必須", "総件数（窓口・郵送・オンラインの合計）。0以上の整数。全角数字・桁区切り可"),
    (ONLINE, "必須", "うちオンライン件数。0以上の整数で、総件数以下"),
)


# --- Results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """One reason a file was refused. ``row`` is the row number as a spreadsheet shows it (the
    header is row 1); None for the file as a whole. ``value`` is safe to show anywhere:
    control and invisible characters are spelt out and it is cut to 40 characters."""

    row: int | None
    column: str
    value: str
    reason: str

    def line(self) -> str:
        where = "ファイル" if self.row is None else f"{self.row}行目"
        if self.column:
            where += f"・{self.column}"
        shown = f"「{self.value}」" if self.value else ""
        return f"{where}{shown}: {self.reason}"


class ImportRejected(Exception):
    """The file was refused as a whole; nothing was stored. ``problems`` holds the first
    :data:`MAX_PROBLEMS` reasons in row order; ``more`` how many were left out."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        ordered = sorted(problems, key=lambda p: p.row or 0)
        self.problems: tuple[RowProblem, ...] = tuple(ordered[:MAX_PROBLEMS])
        self.more = max(0, len(ordered) - MAX_PROBLEMS)
        self.message = "ファイルを取り込めませんでした（何も取り込んでいません）。" + (
            ordered[0].line() if len(ordered) == 1 else f"問題が {len(ordered):,} 件あります。"
        )
        super().__init__(self.message)


@dataclass(frozen=True)
class ImportedRow:
    row: int
    lg_code: str
    organisation_name: str
    category_code: str
    category_name: str
    fiscal_year: int
    month: int
    total: int
    online: int
    replaced: bool

    @property
    def rate(self) -> Decimal | None:
        return rate(total=self.total, online=self.online)

    @property
    def period(self) -> str:
        return period_label(self.fiscal_year, self.month)


@dataclass(frozen=True)
class ImportReport:
    batch_id: int
    file_name: str
    file_format: str
    rows: tuple[ImportedRow, ...]
    #: Stored rows that this import overwrote or (a year total over months) removed.
    replaced: int
    organisations: int

    def summary(self) -> str:
        text = (
            f"{self.file_name}（{self.file_format}）から {len(self.rows):,} 行を取り込みました"
            f"（{self.organisations:,} 団体）。"
        )
        if self.replaced:
            text += f"取り込み済みの {self.replaced:,} 行を置き換えました。"
        else:
            text += "置き換えた行はありません。"
        return text


def period_label(fiscal_year: int, month: int) -> str:
    """令和6年度（2024年度） or 2024年度 5月 (for a month: the calendar month)."""
    label = f"{fiscal_year}年度（{wareki_fiscal_year(fiscal_year)}）"
    if month:
        year = fiscal_year if month >= 4 else fiscal_year + 1
        label += f" {year}年{month}月"
    return label


def wareki_fiscal_year(fiscal_year: int) -> str:
    """令和6年度 for 2024; 令和元年度 for 2019 (平成31年度 is the same year)."""
    for span in reversed(list(ERAS.values())):
        if fiscal_year >= span.since.year:
            year = fiscal_year - span.since.year + 1
            return f"{span.name}{'元' if year == 1 else year}年度"
    return f"{fiscal_year}年度"


# --- Safe display ----------------------------------------------------------------------------

_SHOWN_MAX: Final = 40


def shown(value: object) -> str:
    """A cell's value as it may be shown on a page or a terminal: control, format and private
    characters written as <U+XXXX>, at most 40 characters."""
    text = "" if value is None else str(value)
    out: list[str] = []
    for ch in text[: _SHOWN_MAX + 1]:
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
            out.append(f"<U+{ord(ch):04X}>")
        else:
            out.append(ch)
    result = "".join(out)
    if len(text) > _SHOWN_MAX:
        result = result[:_SHOWN_MAX] + "…"
    return result


# --- Reading the file ------------------------------------------------------------------------

Cell = str | int | float | datetime | date | None


@dataclass
class _Table:
    file_format: str
    encoding: str
    header: list[str]
    #: (row number, cells) of the rows that are not empty.
    rows: list[tuple[int, list[Cell]]]


def _refuse(reason: str, *, row: int | None = None, column: str = "", value: str = "") -> NoReturn:
    raise ImportRejected([RowProblem(row=row, column=column, value=value, reason=reason)])


_UTF8_BOM: Final = b"\xef\xbb\xbf"


def _decode(content: bytes) -> tuple[str, str]:
    """The text of a CSV and the encoding it was in; refuses anything but UTF-8 and cp932."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        _refuse(
            "UTF-16 のファイルは取り込めません。Excel では「CSV UTF-8（コンマ区切り）」"
            "で保存してください。"
        )
    if b"\x00" in content:
        _refuse("CSV ではないファイルです（文字でないデータが含まれています）。")
    if content.startswith(_UTF8_BOM):
        body = content[len(_UTF8_BOM) :]
        try:
            return body.decode("utf-8"), "UTF-8（BOM付き）"
        except UnicodeDecodeError as error:
            line = body[: error.start].count(b"\n") + 1
            _refuse(
                f"UTF-8（BOM付き）のファイルですが、{line}行目に UTF-8 でない文字があります。"
                "Shift_JIS など別の文字コードの行が混ざっていないか確かめ、"
                "文字コードを一つにそろえて保存し直してください。",
                row=line,
            )
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    utf8_lines: list[int] = []
    sjis_lines: list[int] = []
    broken: list[int] = []
    for number, line_bytes in enumerate(content.split(b"\n"), start=1):
        if line_bytes.isascii():
            continue
        try:
            line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            utf8_lines.append(number)
            continue
        try:
            decoded = line_bytes.decode("cp932")
        except UnicodeDecodeError:
            broken.append(number)
            continue
        # cp932 maps 0xFD–0xFF and the user-defined rows (外字) to private-use characters:
        # nobody's counts are written in them, so such a line is not Shift_JIS text.
        if any(unicodedata.category(ch) == "Co" for ch in decoded):
            broken.append(number)
        else:
            sjis_lines.append(number)
    if utf8_lines and (sjis_lines or broken):
        other = (sjis_lines or broken)[:5]
        _refuse(
            "文字コードが混在しています: "
            f"{_numbers(utf8_lines)}行目は UTF-8、{_numbers(other)}行目は Shift_JIS（または"
            "ほかの文字コード）です。文字コードを一つにそろえて保存し直してください。",
            row=min(utf8_lines[0], other[0]),
        )
    if broken:
        _refuse(
            f"{_numbers(broken)}行目が UTF-8 でも Shift_JIS でも読めません。"
            "CSV（UTF-8 または Shift_JIS）か Excel（xlsx）のファイルを選んでください。",
            row=broken[0],
        )
    return content.decode("cp932"), "Shift_JIS"


def _numbers(lines: Sequence[int]) -> str:
    text = "・".join(str(n) for n in lines[:5])
    return text + ("など" if len(lines) > 5 else "")


def _read_csv(content: bytes) -> _Table:
    text, encoding = _decode(content)
    if "\ufffd" in text:
        row = text[: text.index("\ufffd")].count("\n") + 1
        _refuse(
            "文字化けした文字（U+FFFD）があります。元のデータから保存し直してください。",
            row=row,
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[Cell]]] = []
    header: list[str] | None = None
    try:
        for record in reader:
            number = reader.line_num
            if header is None:
                header = record
                if "\t" in "".join(record) and len(record) == 1:
                    _refuse(
                        "タブ区切りのファイルは取り込めません。カンマ区切り（CSV）で保存してください。",
                        row=1,
                    )
                continue
            if not any(cell.strip() for cell in record):
                continue
            rows.append((number, list(record)))
            if len(rows) > MAX_ROWS:
                _refuse(f"行が多すぎます（{MAX_ROWS:,}行まで）。ファイルを分けてください。")
    except csv.Error as error:
        _refuse(
            f'CSV として読めません（{reader.line_num}行目: 引用符 " の対応や区切りを'
            f"確かめてください）。[{shown(error)}]",
            row=reader.line_num,
        )
    if header is None:
        _refuse("ファイルが空です。1行目に見出し、2行目から件数を書いてください。")
    assert header is not None
    return _Table("CSV", encoding, [str(cell) for cell in header], rows)


def _read_xlsx(content: bytes) -> _Table:
    # Imported here: openpyxl is large and only xlsx files need it.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        _refuse(
            "Excel（xlsx）のファイルとして読めません。ファイルが壊れていないか確かめてください。"
        )
    if unpacked > MAX_XLSX_UNPACKED:
        _refuse("展開すると大きすぎるファイルです。件数の表だけを保存し直してください。")
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        _refuse(
            "Excel（xlsx）のファイルとして読めません。ファイルが壊れていないか確かめてください。"
        )
    except Exception:  # a hostile file may break the XML parser in any way
        _refuse(
            "Excel（xlsx）のファイルとして読めません。ファイルが壊れていないか確かめてください。"
        )
    try:
        return _xlsx_table(book)
    except ImportRejected:
        raise
    except Exception:  # malformed sheet XML surfaces while rows are read
        _refuse("Excel（xlsx）のシートを読めません。ファイルが壊れていないか確かめてください。")
    finally:
        book.close()
    raise AssertionError("unreachable")


def _xlsx_table(book: object) -> _Table:
    sheetnames: list[str] = book.sheetnames  # type: ignore[attr-defined]
    if not sheetnames:
        _refuse("シートがありません。")
    sheet = book[SHEET_NAME] if SHEET_NAME in sheetnames else book.worksheets[0]  # type: ignore[attr-defined,index]
    header: list[str] | None = None
    rows: list[tuple[int, list[Cell]]] = []
    for number, raw in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
        cells: list[Cell] = []
        for cell in raw:
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", None) == "f" or (
                value is not None and not isinstance(value, str | int | float | datetime | date)
            ):
                # Not evaluated: the formula's text, refused when the row is checked.
                cells.append(_Formula(value if isinstance(value, str) else shown(value)))
            elif isinstance(value, bool):
                cells.append(str(value))
            else:
                cells.append(value)
        if header is None:
            header = ["" if value is None else str(value) for value in cells]
            continue
        if all(value is None or (isinstance(value, str) and not value.strip()) for value in cells):
            continue
        rows.append((number, cells))
        if len(rows) > MAX_ROWS:
            _refuse(f"行が多すぎます（{MAX_ROWS:,}行まで）。ファイルを分けてください。")
    if header is None or not any(h.strip() for h in header):
        _refuse("シートが空です。1行目に見出し、2行目から件数を書いてください。")
    assert header is not None
    title = str(getattr(sheet, "title", ""))
    return _Table(f"xlsx・シート「{shown(title)}」", "xlsx", header, rows)


def _read(content: bytes) -> _Table:
    if not content or not content.strip(b" \t\r\n" + _UTF8_BOM):
        _refuse("ファイルが空です。1行目に見出し、2行目から件数を書いてください。")
    if len(content) > MAX_FILE_BYTES:
        _refuse(f"ファイルが大きすぎます（{MAX_FILE_BYTES // (1024 * 1024)} MB まで）。")
    if content.startswith(b"PK\x03\x04"):
        return _read_xlsx(content)
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        _refuse("古い Excel 形式（xls）は取り込めません。xlsx 形式か CSV で保存し直してください。")
    if content.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        _refuse("CSV または Excel（xlsx）のファイルを選んでください。")
    return _read_csv(content)


# --- Checking the rows -----------------------------------------------------------------------


def _header_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _columns(header: list[str]) -> tuple[dict[str, int], list[RowProblem]]:
    problems: list[RowProblem] = []
    known = {_header_key(name): name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    positions: dict[str, int] = {}
    for index, raw in enumerate(header):
        key = _header_key(raw)
        if not key:
            continue
        name = known.get(key)
        if name is None:
            problems.append(
                RowProblem(
                    row=1,
                    column=f"{index + 1}列目",
                    value=shown(raw),
                    reason="知らない見出しです。使える見出しは "
                    + "・".join(TEMPLATE_COLUMNS)
                    + " です（ひな形の CSV を使ってください）。",
                )
            )
        elif name in positions:
            problems.append(
                RowProblem(
                    row=1,
                    column=f"{index + 1}列目",
                    value=shown(raw),
                    reason=f"見出し「{name}」が2回あります（{positions[name] + 1}列目と"
                    f"{index + 1}列目）。",
                )
            )
        else:
            positions[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        problems.append(
            RowProblem(
                row=1,
                column="見出し",
                value="",
                reason="必須の見出しがありません: "
                + "・".join(missing)
                + "。1行目を見出しにしてください（ひな形の CSV を使ってください）。",
            )
        )
    return positions, problems


class _Bad(ValueError):
    """One cell's problem (the message is Japanese)."""


_INJECTION: Final = ("=", "+", "@", "\t", "\r")


class _Formula(str):
    """An xlsx cell holding a formula (its text; never evaluated)."""

    __slots__ = ()


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, _Formula):
        raise _Bad(
            "数式のセルは取り込めません。値だけを貼り付け（値の貼り付け）してから保存してください。"
        )
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if isinstance(value, str):
        if len(text) > MAX_CELL_CHARS:
            raise _Bad(f"長すぎます（{MAX_CELL_CHARS}文字まで）。")
        if text.startswith(_INJECTION):
            raise _Bad("= + @ で始まる値（数式）は取り込めません。数式ではなく値を入れてください。")
        if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in text):
            raise _Bad("制御文字が含まれています。")
    return text


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+$")
_NEGATIVE = ("-", "−", "‐", "－", "▲", "△", "ー")


def _count(value: Cell) -> int:
    if isinstance(value, bool):
        raise _Bad("件数は数字で書いてください。")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise _Bad("件数は整数で書いてください（小数は使えません）。")
        number = int(value)
    elif isinstance(value, datetime | date):
        raise _Bad("件数の欄が日付になっています。数字で書いてください。")
    else:
        raw = _text(value)
        if any(unicodedata.category(ch) == "No" for ch in raw):
            raise _Bad("丸数字や上付きの数字は使えません。0〜9 の数字で書いてください。")
        text = _fold(raw).removesuffix("件")
        if not text:
            raise _Bad("件数を書いてください（0件なら 0）。")
        if text.startswith(_NEGATIVE) or raw.strip().startswith(_NEGATIVE):
            raise _Bad("件数に負の数は使えません。")
        if re.fullmatch(r"[\d,]*\.\d*", text):
            raise _Bad("件数は整数で書いてください（小数は使えません）。")
        if text.isascii() and text.isdigit():
            number = int(text)
        elif _GROUPED.match(text):
            number = int(text.replace(",", ""))
        elif re.fullmatch(r"[\d,]+", text):
            raise _Bad("桁区切りのカンマの位置が正しくありません（例: 1,234,567）。")
        else:
            raise _Bad("件数は数字で書いてください（例: 1234 や 1,234）。")
    if number < 0:
        raise _Bad("件数に負の数は使えません。")
    if number > MAX_COUNT:
        raise _Bad("件数が大きすぎます。桁を確かめてください。")
    return number


_ERA_INITIALS: Final = {"R": "令和", "H": "平成"}
_FISCAL_YEAR = re.compile(
    r"^(?:(?P<era>令和|平成|R|H)\.?(?P<era_year>元|\d{1,2})|(?P<year>\d{4}))(?:年度|年)?$"
)


def _era_year(era_text: str, era_year_text: str) -> tuple[str, int, int]:
    era = _ERA_INITIALS.get(era_text, era_text)
    span = ERAS[era]
    number = 1 if era_year_text == "元" else int(era_year_text)
    if number < 1:
        raise _Bad(f"{era}は元年（1年）から数えます。")
    return era, number, span.since.year + number - 1


def _fiscal_year(value: Cell, *, current: int) -> int:
    if isinstance(value, datetime | date):
        raise _Bad("年度の欄が日付になっています。2024 や 令和6年度 の形で書いてください。")
    text = _fold(_text(value)).upper()
    if not text:
        raise _Bad("年度を書いてください（例: 2024 や 令和6年度）。")
    match = _FISCAL_YEAR.match(text)
    if not match:
        raise _Bad("年度は 2024・2024年度・令和6年度・R6 の形で書いてください。")
    if match["year"]:
        year = int(match["year"])
    else:
        era, number, year = _era_year(match["era"], match["era_year"])
        until = ERAS[era].until
        if until is not None and year > until.year:
            raise _Bad(
                f"{era}{number}年度はありません（{year}年度は{wareki_fiscal_year(year)}です）。"
            )
    if year < FIRST_FISCAL_YEAR:
        raise _Bad(f"{FIRST_FISCAL_YEAR}年度より前の件数は取り込めません。")
    if year > current:
        raise _Bad(f"{year}年度はまだ始まっていません（いまは{current}年度です）。")
    return year


_MONTH_ONLY = re.compile(r"^(?P<month>\d{1,2})月?$")
_YEAR_MONTH = re.compile(r"^(?P<year>\d{4})(?:年|[-/.])(?P<month>\d{1,2})月?$")
_ERA_MONTH = re.compile(
    r"^(?P<era>令和|平成|R|H)\.?(?P<era_year>元|\d{1,2})(?:年|[-/.])(?P<month>\d{1,2})月?$"
)


def _month(value: Cell, *, fiscal_year: int, today: date) -> int:
    """The calendar month (1–12) inside ``fiscal_year``, or 0 for a year total."""
    year: int | None = None
    if isinstance(value, datetime | date):
        year, month = value.year, value.month
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():
            raise _Bad("月は 1〜12 の整数で書いてください。")
        month = int(value)
    else:
        text = _fold(_text(value)).upper()
        if not text:
            return 0
        if match := _MONTH_ONLY.match(text):
            month = int(match["month"])
        elif match := _YEAR_MONTH.match(text):
            year, month = int(match["year"]), int(match["month"])
        elif match := _ERA_MONTH.match(text):
            era, number, year = _era_year(match["era"], match["era_year"])
            month = int(match["month"])
            span = ERAS[era]
            if 1 <= month <= 12 and (
                (span.until is not None and date(year, month, 1) >= span.until)
                or date(year, month, 28) < span.since
            ):
                raise _Bad(f"{era}{number}年{month}月はありません。")
        else:
            raise _Bad("月は 5・5月・2025年5月・2025-05・令和7年5月 の形で書いてください。")
    if not 1 <= month <= 12:
        raise _Bad("月は 1〜12 で書いてください。")
    in_year = fiscal_year if month >= 4 else fiscal_year + 1
    if year is not None and year != in_year:
        owner = year if month >= 4 else year - 1
        raise _Bad(
            f"{year}年{month}月は{owner}年度の月です。{fiscal_year}年度の月は"
            f"{fiscal_year}年4月〜{fiscal_year + 1}年3月です。"
        )
    if date(in_year, month, 1) > today:
        raise _Bad(f"{in_year}年{month}月はまだ来ていません。")
    return month


@dataclass(frozen=True)
class _Candidate:
    row: int
    organisation: Organisation
    category_code: str
    fiscal_year: int
    month: int
    total: int
    online: int

    @property
    def key(self) -> tuple[int, str, int, int]:
        return (self.organisation.pk, self.category_code, self.fiscal_year, self.month)

    @property
    def year_key(self) -> tuple[int, str, int]:
        return (self.organisation.pk, self.category_code, self.fiscal_year)


def _fiscal_year_of(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def _organisations(
    table: _Table, positions: dict[str, int]
) -> tuple[dict[str, Organisation], dict[str, str]]:
    """The organisations the rows name, by normalised code; and each raw code's problem."""
    codes: dict[str, str] = {}
    bad: dict[str, str] = {}
    for _number, cells in table.rows:
        index = positions[CODE]
        raw = cells[index] if index < len(cells) else None
        try:
            text = _text(raw)
        except _Bad:
            continue
        if text in codes or text in bad:
            continue
        try:
            codes[text] = parse_lg_code(text)
        except InvalidLgCode as error:
            bad[text] = str(error)
    found = Organisation.objects.filter(lg_code__in=set(codes.values())).select_related(
        "parent", "prefecture"
    )
    by_code = {organisation.lg_code: organisation for organisation in found}
    return {raw: by_code[code] for raw, code in codes.items() if code in by_code}, bad


@dataclass(frozen=True)
class _CellReader:
    cells: list[Cell]
    positions: dict[str, int]

    def __call__(self, name: str) -> Cell:
        index = self.positions.get(name)
        return None if index is None or index >= len(self.cells) else self.cells[index]


def _check_rows(
    table: _Table,
    positions: dict[str, int],
    *,
    scope_organisation: Organisation | None,
    today: date,
) -> tuple[list[_Candidate], list[RowProblem]]:
    problems: list[RowProblem] = []
    organisations, bad_codes = _organisations(table, positions)
    current = _fiscal_year_of(today)
    width = max(positions.values()) + 1
    candidates: list[_Candidate] = []
    for number, cells in table.rows:
        row_problems: list[RowProblem] = []
        cell = _CellReader(cells, positions)

        def bad(
            name: str,
            reason: str,
            cell: _CellReader = cell,
            number: int = number,
            found: list[RowProblem] = row_problems,
        ) -> None:
            found.append(RowProblem(number, name, shown(cell(name)), reason))

        extra = [
            index
            for index, value in enumerate(cells)
            if index >= width or index not in positions.values()
            if value is not None and str(value).strip()
        ]
        if extra:
            row_problems.append(
                RowProblem(
                    number,
                    f"{extra[0] + 1}列目",
                    shown(cells[extra[0]]),
                    "見出しのない列に値があります。余分な列を消してください。",
                )
            )
        organisation: Organisation | None = None
        try:
            code_text = _text(cell(CODE))
        except _Bad as error:
            bad(CODE, str(error))
        else:
            if code_text in bad_codes:
                bad(CODE, bad_codes[code_text])
            elif code_text not in organisations:
                bad(
                    CODE,
                    f"団体コード {parse_lg_code(code_text)} の団体は見つかりません"
                    "（団体マスタにありません）。",
                )
            else:
                organisation = organisations[code_text]
                if not organisation.active:
                    bad(
                        CODE,
                        f"{organisation.display_name}（{organisation.lg_code}）は無効になった"
                        "団体（合併など）です。件数は取り込めません。",
                    )
                    organisation = None
                elif organisation.kind == OrganisationKind.WARD:
                    parent = organisation.parent
                    city = f"{parent.display_name}（{parent.lg_code}）" if parent else "指定都市"
                    bad(
                        CODE,
                        f"{organisation.display_name}は行政区です。件数は{city}の件数として"
                        "まとめて取り込んでください（区ごとに取り込むと市の件数と二重に数えます）。",
                    )
                    organisation = None
                elif scope_organisation is not None and organisation.pk != scope_organisation.pk:
                    bad(
                        CODE,
                        f"{scope_organisation.display_name}（{scope_organisation.lg_code}）の"
                        f"件数だけを取り込めます。{organisation.display_name}"
                        f"（{organisation.lg_code}）の行は取り込めません。",
                    )
                    organisation = None
        if organisation is not None and NAME in positions:
            try:
                name_text = _text(cell(NAME))
            except _Bad as error:
                bad(NAME, str(error))
            else:
                names = {
                    name_key(organisation.name),
                    name_key(organisation.display_name),
                }
                if organisation.kind != "prefecture" and organisation.prefecture is not None:
                    names.add(name_key(organisation.prefecture.name + organisation.display_name))
                if name_text.strip() and name_key(name_text) not in names:
                    bad(
                        NAME,
                        f"団体コード {organisation.lg_code} は{organisation.display_name}です。"
                        "団体コードか団体名を確かめてください。",
                    )
        category_code = ""
        try:
            category_text = _text(cell(CATEGORY))
        except _Bad as error:
            bad(CATEGORY, str(error))
        else:
            if not category_text.strip():
                bad(CATEGORY, "手続（国の手続分類のコードまたは正式名称）を書いてください。")
            else:
                found = category_find(category_text)
                if found is None:
                    bad(
                        CATEGORY,
                        "国の手続分類にない手続です。分類のコード（例: eltax-filing）か"
                        "正式名称で書いてください。",
                    )
                else:
                    category_code = found.code
        fiscal_year = 0
        try:
            fiscal_year = _fiscal_year(cell(YEAR), current=current)
        except _Bad as error:
            bad(YEAR, str(error))
        month = 0
        if fiscal_year:
            try:
                month = _month(cell(MONTH), fiscal_year=fiscal_year, today=today)
            except _Bad as error:
                bad(MONTH, str(error))
        counts: dict[str, int] = {}
        for name in (TOTAL, ONLINE):
            try:
                counts[name] = _count(cell(name))
            except _Bad as error:
                bad(name, str(error))
        if len(counts) == 2 and counts[ONLINE] > counts[TOTAL]:
            bad(
                ONLINE,
                f"オンライン件数（{counts[ONLINE]:,}）が総件数（{counts[TOTAL]:,}）より"
                "多くなっています。総件数はオンラインを含むすべての件数です。",
            )
        if row_problems:
            problems.extend(row_problems)
            continue
        assert organisation is not None
        candidates.append(
            _Candidate(
                number,
                organisation,
                category_code,
                fiscal_year,
                month,
                counts[TOTAL],
                counts[ONLINE],
            )
        )
    problems.extend(_check_within_file(candidates))
    return candidates, problems


def _describe(candidate: _Candidate) -> str:
    found = category(candidate.category_code)
    name = found.name if found else candidate.category_code
    return (
        f"{candidate.organisation.display_name}・{name}・"
        f"{period_label(candidate.fiscal_year, candidate.month)}"
    )


def _check_within_file(candidates: list[_Candidate]) -> Iterator[RowProblem]:
    first: dict[tuple[int, str, int, int], int] = {}
    for candidate in candidates:
        earlier = first.setdefault(candidate.key, candidate.row)
        if earlier != candidate.row:
            yield RowProblem(
                candidate.row,
                "",
                "",
                f"{earlier}行目と同じ件数（{_describe(candidate)}）が2回あります。"
                "どちらか一方にしてください。",
            )
    by_year: dict[tuple[int, str, int], list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_year[candidate.year_key].append(candidate)
    for rows in by_year.values():
        totals = [c for c in rows if c.month == 0]
        months = [c for c in rows if c.month != 0]
        if totals and months:
            yield RowProblem(
                months[0].row,
                MONTH,
                "",
                f"{_describe(totals[0])}の年度の合計（{totals[0].row}行目）と月ごとの件数が"
                "同じファイルにあります。二重に数えることになるので、どちらか一方にしてください。",
            )


def _check_against_stored(
    candidates: list[_Candidate], stored: dict[tuple[int, str, int], dict[int, ImportedCount]]
) -> Iterator[RowProblem]:
    months_in_file: dict[tuple[int, str, int], set[int]] = defaultdict(set)
    first_row: dict[tuple[int, str, int], _Candidate] = {}
    for candidate in candidates:
        if candidate.month:
            months_in_file[candidate.year_key].add(candidate.month)
            first_row.setdefault(candidate.year_key, candidate)
    for year_key, months in months_in_file.items():
        existing = stored.get(year_key, {})
        if 0 in existing and len(months) < 12:
            candidate = first_row[year_key]
            yield RowProblem(
                candidate.row,
                MONTH,
                "",
                f"{candidate.organisation.display_name}・"
                f"{_category_name(candidate.category_code)}の{candidate.fiscal_year}年度は"
                "年度の合計が取り込み済みです。月ごとの件数で置き換えるときは12か月分"
                f"そろえてください（このファイルには{len(months)}か月分）。"
                "年度の合計を直すときは、月の欄を空にして取り込んでください。",
            )


def _category_name(code: str) -> str:
    found = category(code)
    return found.name if found else code


# --- The service -----------------------------------------------------------------------------


def counts_import(
    *,
    content: bytes,
    file_name: str,
    scope_organisation: Organisation | None,
    actor: User | None,
    now: datetime,
) -> ImportReport:
    """Import a file of counts (CSV or xlsx) as a whole, or nothing.

    ``scope_organisation`` None is the platform operator (any organisation); otherwise only
    that organisation's rows are accepted. Guarantees: either every row is stored in one
    durable transaction — with one :class:`CountImport`, one :class:`CountImportOrganisation`
    and one audit event per organisation concerned — or :class:`ImportRejected` is raised with
    the reasons (row, column, value shown safely, Japanese reason) and nothing stored changes.
    A row for an organisation × category × fiscal year × month already stored replaces it; a
    year total replaces that year's stored months; months replace a stored year total only
    when all twelve come (see the module's notes). Raises only :class:`ImportRejected`.
    """
    table = _read(content)
    positions, problems = _columns(table.header)
    if problems:
        if table.encoding == "Shift_JIS" and any(
            "\uff61" <= ch <= "\uff9f" for ch in "".join(table.header)
        ):
            # EUC-JP and other encodings read as Shift_JIS come out as half-width kana.
            problems.append(
                RowProblem(
                    row=None,
                    column="",
                    value="",
                    reason="見出しが文字化けしています。UTF-8 でも Shift_JIS でもない文字コード"
                    "（EUC-JP など）のようです。UTF-8 か Shift_JIS で保存し直してください。",
                )
            )
        raise ImportRejected(problems)
    if not table.rows:
        _refuse("見出しの下に件数の行がありません。")
    today = to_tokyo(now).date()
    candidates, row_problems = _check_rows(
        table, positions, scope_organisation=scope_organisation, today=today
    )
    if row_problems:
        raise ImportRejected(row_problems)
    safe_name = shown(file_name.replace("\\", "/").rsplit("/", 1)[-1])[:200] or "（名前なし）"
    try:
        return _store(
            candidates,
            file_name=safe_name,
            table=table,
            digest=hashlib.sha256(content).hexdigest(),
            scope_organisation=scope_organisation,
            actor=actor,
            now=now,
        )
    except IntegrityError:
        # Another import of the same rows committed in between (the unique key caught it).
        _refuse("同じ件数の別の取込と同時に実行されました。もう一度取り込んでください。")
        raise


def _store(
    candidates: list[_Candidate],
    *,
    file_name: str,
    table: _Table,
    digest: str,
    scope_organisation: Organisation | None,
    actor: User | None,
    now: datetime,
) -> ImportReport:
    organisation_ids = {c.organisation.pk for c in candidates}
    with transaction.atomic(durable=True):
        stored: dict[tuple[int, str, int], dict[int, ImportedCount]] = defaultdict(dict)
        existing = ImportedCount.objects.select_for_update().filter(
            organisation_id__in=organisation_ids,
            fiscal_year__in={c.fiscal_year for c in candidates},
            category_code__in={c.category_code for c in candidates},
        )
        for count in existing:
            stored[(count.organisation_id, count.category_code, count.fiscal_year)][count.month] = (
                count
            )
        problems = list(_check_against_stored(candidates, stored))
        if problems:
            raise ImportRejected(problems)
        batch = CountImport.objects.create(
            organisation=scope_organisation,
            file_name=file_name,
            file_sha256=digest,
            encoding=table.encoding[:16],
            rows=len(candidates),
            imported_by=actor if actor is not None and actor.pk else None,
            imported_at=now,
        )
        to_update: list[ImportedCount] = []
        to_create: list[ImportedCount] = []
        to_delete: list[int] = []
        replaced_by_org: dict[int, int] = defaultdict(int)
        rows_by_org: dict[int, int] = defaultdict(int)
        report_rows: list[ImportedRow] = []
        for candidate in candidates:
            org_id = candidate.organisation.pk
            rows_by_org[org_id] += 1
            year = stored.get(candidate.year_key, {})
            same = year.get(candidate.month)
            removed: list[ImportedCount] = []
            if candidate.month == 0:
                removed = [count for month, count in year.items() if month != 0]
            elif 0 in year:
                removed = [year.pop(0)]
            for count in removed:
                to_delete.append(count.pk)
                if candidate.month == 0:
                    year.pop(count.month, None)
            replaced = len(removed) + (1 if same is not None else 0)
            replaced_by_org[org_id] += replaced
            if same is not None:
                same.total, same.online, same.batch = candidate.total, candidate.online, batch
                to_update.append(same)
            else:
                to_create.append(
                    ImportedCount(
                        organisation=candidate.organisation,
                        category_code=candidate.category_code,
                        fiscal_year=candidate.fiscal_year,
                        month=candidate.month,
                        total=candidate.total,
                        online=candidate.online,
                        batch=batch,
                    )
                )
            report_rows.append(
                ImportedRow(
                    row=candidate.row,
                    lg_code=candidate.organisation.lg_code,
                    organisation_name=candidate.organisation.display_name,
                    category_code=candidate.category_code,
                    category_name=_category_name(candidate.category_code),
                    fiscal_year=candidate.fiscal_year,
                    month=candidate.month,
                    total=candidate.total,
                    online=candidate.online,
                    replaced=replaced > 0,
                )
            )
        if to_delete:
            ImportedCount.objects.filter(pk__in=to_delete).delete()
        if to_update:
            ImportedCount.objects.bulk_update(to_update, ["total", "online", "batch"])
        ImportedCount.objects.bulk_create(to_create, batch_size=1000)
        replaced_total = sum(replaced_by_org.values())
        batch.replaced = replaced_total
        batch.save(update_fields=["replaced"])
        organisations = {c.organisation.pk: c.organisation for c in candidates}
        CountImportOrganisation.objects.bulk_create(
            [
                CountImportOrganisation(
                    batch=batch,
                    organisation_id=org_id,
                    rows=rows_by_org[org_id],
                    replaced=replaced_by_org[org_id],
                )
                for org_id in sorted(rows_by_org)
            ]
        )
        for org_id in sorted(rows_by_org):
            audit_record(
                action=AuditAction.STATS_COUNTS_IMPORTED,
                now=now,
                organisation=organisations[org_id],
                actor=actor,
                actor_label="" if actor is not None else "運用者（madoguchi stats import）",
                target_type="count_import",
                target_id=batch.pk,
                detail={
                    "rows": rows_by_org[org_id],
                    "replaced": replaced_by_org[org_id],
                    "file_sha256": digest,
                    "format": table.encoding,
                },
            )
    # The figures read these counts: the cached ones are stale from now on.
    figures_cache_clear()
    return ImportReport(
        batch_id=batch.pk,
        file_name=file_name,
        file_format=table.file_format if table.file_format != "CSV" else f"CSV・{table.encoding}",
        rows=tuple(report_rows),
        replaced=replaced_total,
        organisations=len(rows_by_org),
    )


# --- Reads for the pages ---------------------------------------------------------------------


def count_imports_of(*, organisation: Organisation) -> QuerySet[CountImportOrganisation]:
    """The imports that carried rows of ``organisation``, newest first (who, when, file,
    how many of its rows, how many replaced)."""
    return (
        CountImportOrganisation.objects.filter(organisation=organisation)
        .select_related("batch", "batch__imported_by")
        .order_by("-batch__imported_at", "-batch_id")
    )


def count_import_of(*, organisation: Organisation, batch_id: int) -> CountImportOrganisation | None:
    """One import as ``organisation`` sees it; None when it carried none of its rows (another
    organisation's import is not found)."""
    return (
        CountImportOrganisation.objects.select_related("batch", "batch__imported_by")
        .filter(organisation=organisation, batch_id=batch_id)
        .first()
    )


def imported_counts_of(
    *, organisation: Organisation, batch_id: int | None = None
) -> QuerySet[ImportedCount]:
    """The imported counts of ``organisation`` now in force (newest fiscal year first, then
    category, the year total before its months in fiscal order); with ``batch_id``, those
    that import set."""
    counts = ImportedCount.objects.filter(organisation=organisation)
    if batch_id is not None:
        counts = counts.filter(batch_id=batch_id)
    return counts.order_by("-fiscal_year", "category_code", "month")


def count_import_done(*, file_sha256: str) -> bool:
    """True when a file with this SHA-256 was imported before (by anyone)."""
    return CountImport.objects.filter(file_sha256=file_sha256).exists()


def template_csv() -> bytes:
    """The CSV to fill in: UTF-8 with BOM (so Excel opens it as UTF-8) and the headers only
    (example rows would be imported by whoever uploads the template unchanged)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TEMPLATE_COLUMNS)
    return _UTF8_BOM + buffer.getvalue().encode("utf-8")
