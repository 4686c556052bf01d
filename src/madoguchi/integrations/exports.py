"""Hand-over exports (基幹系への引き渡し): one procedure's applications as CSV or Excel.

The file is meant to be read by a core system (住基・税・福祉) as well as by a person in Excel,
so its layout is fixed by these rules, which do not change with the data:

Columns (one header row of stable keys; optionally a second row of Japanese labels)
    ``receipt_number, arrived_at, status, revision, form_version, channel, received_date``
    (``channel``: ``online``, ``counter`` 窓口 or ``mail`` 郵送; ``received_date``: 受付日, the
    Japan-time date of ``arrived_at``), then one column per answer
    in form order. Composite answers are split into their parts: ``requester_name.family``,
    ``requester_name.given``, ``requester_name.family_kana``, ``requester_name.given_kana``;
    addresses into ``postal_code, prefecture, city, town, block, building``; bank accounts into
    ``bank_code, branch_code, account_type, account_number, holder``. Repeated groups are
    flattened, 1-based, up to the group's ``max_items``: ``members.1.name.family`` …
    ``members.10.birth_date`` — a fixed-width layout that core systems import without parsing
    a second level. The columns are those of every version of the procedure's form: the
    current version's in form order, then fields that only older versions had; an answer
    key that would clash with a fixed column is prefixed ``answers.``.
    On request (``drop_empty``) the answer columns that are empty in every application of
    the selection are left out — a first pass over the selection keeps one flag per column —
    so a group is then laid out up to the largest count in the selection
    (``children.1.…``, ``children.2.…``); the names of the columns kept never change.

Values are the stored, canonical ones, not what the screen shows, except choices: a choice
    is written as its label (「母」) by default and as its code (``mother``) on request
    (``choices="codes"``, for importers), several joined with ``|``; a code no longer among
    the choices is written as it is. Then ISO dates (``2025-04-01``), plain numbers without separators or units,
    ``1``/``0`` for yes/no and consent, several choices or file names joined with ``|``.
    ``arrived_at`` is ISO 8601 in Japan time with its offset (``2025-04-01T09:30:00+09:00``);
    ``status`` is the workflow code (``approved``). Rows are in order of arrival.

Formats
    ``csv-utf8``: UTF-8 with a BOM (so that Excel reads it as UTF-8), CRLF, RFC 4180 quoting.
    ``csv-sjis``: the same in Shift_JIS as Windows writes it (cp932, with the NEC and IBM
    extensions, so ①, ㈱ and 髙 are kept). A character that cp932 cannot represent (𠮷,
    emoji, é) is replaced by 〓 (下駄記号, the customary mark) and *reported*: record, receipt
    number, column, the character and its code point — never a silent ``?``. The console
    shows the list before the download and offers it as a separate CSV (UTF-8). Characters
    that only differ by the JIS/Microsoft mapping are written as the same JIS character
    (〜 U+301C → ～ 0x8160, − U+2212 → － 0x817C, ‖ → ∥, ¢ £ ¬ → ￠ ￡ ￢, — U+2014 →
    ― 0x815C), as Windows itself would, and are not reported. Kana typed with a separate
    voiced mark (か + U+3099, from macOS) is composed first (が).
    ``xlsx``: one sheet, strings as text cells, numbers of number fields as numbers.

Formula injection (CSV injection)
    In CSV a value that starts with ``= + - @``, TAB or CR (or full-width ＝＋－＠, or
    U+2212 which becomes － in Shift_JIS) gets a leading ``'``, so no spreadsheet runs it;
    plain numbers of number fields are left as they are. In xlsx every answer is a string
    cell (never a formula), and such values also carry Excel's quote prefix, so that editing
    the cell does not turn it into a formula either.

特定個人情報 (My Number) and bank accounts (振込先口座)
    My Number is exported masked (●●●●●●●●1234) unless the staff member may reveal it for
    this procedure (団体管理者, or a 審査担当 who may handle it), states a purpose, and asks
    for it; then the values are decrypted, the file name says 特定個人情報, and the audit
    event says so. Bank accounts are masked the same way (account number and holder; bank,
    branch and type stay) and are unmasked on their own request with their own purpose
    (e.g. 支払処理), by the same people — without unmasking My Number, and the other way
    round. The audit event records each choice and its purpose separately
    (``specific``/``specific_purpose``, ``bank``/``bank_purpose``).

Streaming
    Rows come from ``.values_list(...).iterator(chunk_size=2000)`` (a server-side cursor on
    PostgreSQL) and are written in batches, so memory stays flat whatever the row count. xlsx
    is written by XlsxWriter in ``constant_memory`` mode (each row goes to a temporary file
    as it is written; strings are inline, so no shared-string table grows with the data),
    then the finished file is streamed and deleted.

Every export is recorded (``application.export``: procedure, format, row count, filters,
choices, columns left out; the purposes when My Number or bank accounts are included — never
a value) before its first byte is produced.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import xlsxwriter  # no stubs published
from django.db import models
from django.db.models import Count, Max, QuerySet

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.models import Application
from madoguchi.applications.review import MAX_PURPOSE, MIN_PURPOSE, staff_may_move
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure
from madoguchi.core.crypto import DecryptionFailed
from madoguchi.core.text import visible_text
from madoguchi.core.time import TOKYO, to_tokyo
from madoguchi.forms.base import FieldSpec, FormSpec, field_types
from madoguchi.forms.constants import Privacy
from madoguchi.forms.field_types import mask_my_number
from madoguchi.forms.models import FormVersion
from madoguchi.forms.sealed import Sealed
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation


class ExportFormat(models.TextChoices):
    CSV_UTF8 = "csv-utf8", "CSV（UTF-8・BOM付き、Excel向け）"
    CSV_CP932 = "csv-sjis", "CSV（Shift_JIS／cp932、基幹系向け）"
    XLSX = "xlsx", "Excel（xlsx）"


class ExportRefused(ValueError):
    """The export cannot be made as asked; the message (Japanese) says what to change."""


#: Columns every export starts with: (key, label).
FIXED_COLUMNS: Final = (
    ("receipt_number", "受付番号"),
    ("arrived_at", "到達日時"),
    ("status", "状態"),
    ("revision", "回答の版"),
    ("form_version", "様式の版"),
    ("channel", "受付方法"),
    ("received_date", "受付日"),
)
#: The parts of composite answers, in column order: (part, label).
COMPOSITE_PARTS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "person_name": (
        ("family", "姓"),
        ("given", "名"),
        ("family_kana", "姓フリガナ"),
        ("given_kana", "名フリガナ"),
    ),
    "address": (
        ("postal_code", "郵便番号"),
        ("prefecture", "都道府県"),
        ("city", "市区町村"),
        ("town", "町域"),
        ("block", "番地"),
        ("building", "建物名"),
    ),
    "bank_account": (
        ("bank_code", "金融機関コード"),
        ("branch_code", "支店コード"),
        ("account_type", "種別"),
        ("account_number", "口座番号"),
        ("holder", "名義"),
    ),
}
NUMERIC_TYPES: Final = frozenset({"number", "computed"})
CHOICE_TYPES: Final = frozenset({"choice", "multichoice"})
#: How choice answers are written: (value, label) for the console's form.
CHOICE_OUTPUTS: Final = (
    ("labels", "選択肢の名前（例: 現在の住所）"),
    ("codes", "コード（例: current。基幹系への取込み向け）"),
)
#: What a spreadsheet may read as the start of a formula. U+2212 is here because it becomes
#: the full-width minus (0x817C) in Shift_JIS.
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r＝＋－＠\u2212")
#: 下駄記号: the customary mark for a character the target character set cannot hold.
GETA: Final = "〓"
#: Same JIS character, different Unicode code point (JIS X 0208 vs Microsoft's mapping).
CP932_EQUIVALENTS: Final = str.maketrans(
    {
        "\u301c": "\uff5e",  # 〜 WAVE DASH → ～
        "\u2212": "\uff0d",  # − MINUS SIGN → －
        "\u2016": "\u2225",  # ‖ → ∥
        "\u00a2": "\uffe0",  # ¢ → ￠
        "\u00a3": "\uffe1",  # £ → ￡
        "\u00ac": "\uffe2",  # ¬ → ￢
        "\u2014": "\u2015",  # — EM DASH → ― (JIS 1-1-29)
    }
)
_VOICED = re.compile("[\u3041-\u30ff][\u3099\u309a]")
_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")
XLSX_MAX_ROWS: Final = 1_048_576
#: Rows written to the CSV buffer before it is encoded and handed on.
BATCH_ROWS: Final = 500
ITERATOR_CHUNK: Final = 2000
FILE_CHUNK: Final = 64 * 1024
UTF8_BOM: Final = b"\xef\xbb\xbf"


# --- Columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False
    specific: bool = False
    #: A part of a bank account (振込先口座): masked unless asked for with a purpose.
    bank: bool = False


@dataclass(frozen=True)
class Reveal:
    """What one export writes in full; each is asked for, and allowed, on its own."""

    #: 特定個人情報 (My Number) decrypted.
    specific: bool = False
    #: Bank accounts (振込先口座) decrypted: account number and holder in full.
    bank: bool = False
    #: Choice answers as their labels (「現在の住所」) instead of their codes (``current``).
    labels: bool = True


Emitter = Callable[[Any, Reveal], list[str]]


@dataclass(frozen=True)
class _Plan:
    """How one form version's answers become cells, in that version's column order."""

    columns: tuple[Column, ...]
    emitters: tuple[tuple[str, Emitter], ...]


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, list):
        return "|".join(
            str(item.get("name", "")) if isinstance(item, dict) else _scalar(item) for item in value
        )
    if isinstance(value, dict):
        if (sealed := Sealed.from_stored(value)) is not None:
            return sealed.masked
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _specific(value: Any, reveal: bool) -> str:
    """An encrypted value: masked, or decrypted when the export may include it."""
    if value is None or value == "":
        return ""
    if (sealed := Sealed.from_stored(value)) is not None:
        if not reveal:
            return sealed.masked
        try:
            plain = sealed.reveal()
        except DecryptionFailed:
            # Visible in the file and refused by any importer that checks the 12 digits;
            # better than a file cut short in the middle of the download.
            return "（復号できません）"
        return _scalar(plain)
    text = _scalar(value)
    return text if reveal else mask_my_number(text)


def _choice_cell(value: Any, names: Mapping[str, str], out: Reveal) -> str:
    """A choice (or several, joined with ``|``) as labels or as codes; a code no longer among
    the choices is written as it is, never dropped."""
    if not out.labels:
        return _scalar(value)
    items = value if isinstance(value, list) else [value]
    return "|".join(names.get(item, _scalar(item)) for item in items if item not in (None, ""))


def _field_plan(spec: FieldSpec, key: str, label: str) -> tuple[list[Column], Emitter]:
    """Columns and cell maker for one non-group field, named ``key`` / ``label``."""
    specific = spec.privacy == Privacy.SPECIFIC
    parts = COMPOSITE_PARTS.get(spec.type)
    if specific:
        return [Column(key, label, specific=True)], lambda v, out: [_specific(v, out.specific)]
    if spec.type in CHOICE_TYPES:
        choice_names = {
            str(c.get("value")): str(c.get("label", ""))
            for c in spec.option("choices", [])
            if isinstance(c, dict)
        }
        return [Column(key, label)], lambda v, out: [_choice_cell(v, choice_names, out)]
    if parts:
        names = tuple(part for part, _ in parts)
        blank = [""] * len(names)
        bank = spec.type == "bank_account"
        columns = [Column(f"{key}.{part}", f"{label}（{text}）", bank=bank) for part, text in parts]

        def composite(value: Any, out: Reveal) -> list[str]:
            if not isinstance(value, dict):
                return list(blank)
            sealed = Sealed.from_stored(value)
            if sealed is not None:  # a bank account: encrypted, with masked parts kept
                if out.bank:
                    try:
                        value = sealed.reveal()
                    except DecryptionFailed:
                        return ["（復号できません）", *blank[1:]]
                else:
                    value = sealed.parts or {}
                if not isinstance(value, dict):
                    return list(blank)
            return [_scalar(value.get(name)) for name in names]

        return columns, composite
    numeric = spec.type in NUMERIC_TYPES
    return [Column(key, label, numeric=numeric)], lambda v, out: [_scalar(v)]


def _group_plan(spec: FieldSpec, key: str) -> tuple[list[Column], Emitter]:
    item_label = str(spec.option("item_label") or spec.label)
    size = int(spec.option("max_items", 10))
    children = [c for c in spec.fields if field_types[c.type].has_value]
    child_plans = [(child.key, *_field_plan(child, child.key, child.label)) for child in children]
    columns: list[Column] = []
    for index in range(1, size + 1):
        for _key, child_columns, _emit in child_plans:
            for column in child_columns:
                columns.append(
                    Column(
                        f"{key}.{index}.{column.key}",
                        f"{item_label}{index} {column.label}",
                        numeric=column.numeric,
                        specific=column.specific,
                        bank=column.bank,
                    )
                )
    width = len(columns) // size if size else 0
    empty_item = [""] * width
    emitters = [(child_key, emit) for child_key, _, emit in child_plans]

    def group(value: Any, out: Reveal) -> list[str]:
        items = value if isinstance(value, list) else []
        cells: list[str] = []
        for index in range(size):
            item = items[index] if index < len(items) else None
            if not isinstance(item, dict):
                cells.extend(empty_item)
                continue
            for child_key, emit in emitters:
                cells.extend(emit(item.get(child_key), out))
        return cells

    return columns, group


def _plan(spec: FormSpec) -> _Plan:
    fixed = {key for key, _ in FIXED_COLUMNS}
    columns: list[Column] = []
    emitters: list[tuple[str, Emitter]] = []
    for f in spec.fields:
        if not field_types[f.type].has_value:
            continue  # お知らせ (notice) holds no answer
        key = f"answers.{f.key}" if f.key in fixed else f.key
        if f.type == "group":
            cols, emit = _group_plan(f, key)
        else:
            cols, emit = _field_plan(f, key, f.label)
        columns.extend(cols)
        emitters.append((f.key, emit))
    return _Plan(tuple(columns), tuple(emitters))


def _versions(procedure: Procedure) -> list[FormVersion]:
    """Every version of the procedure's form, the current one first, then newest to oldest."""
    current = procedure.form_version
    others = FormVersion.objects.filter(definition_id=current.definition_id).exclude(pk=current.pk)
    return [current, *others.order_by("-version")]


@dataclass(frozen=True)
class Layout:
    """The columns of a procedure's export and how each form version fills them."""

    columns: tuple[Column, ...]
    plans: Mapping[int, _Plan]
    #: For a version whose columns differ from ``columns``: where each column comes from.
    remaps: Mapping[int, tuple[int, ...]]
    versions: Mapping[int, int]  # FormVersion id → version number

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    @property
    def has_specific(self) -> bool:
        return any(c.specific for c in self.columns)

    @property
    def has_bank(self) -> bool:
        return any(c.bank for c in self.columns)


def export_layout(*, procedure: Procedure) -> Layout:
    """The stable columns of ``procedure``'s exports (fixed columns first)."""
    fixed = tuple(Column(key, label) for key, label in FIXED_COLUMNS)
    plans: dict[int, _Plan] = {}
    union: list[Column] = []
    seen: set[str] = set()
    versions: dict[int, int] = {}
    for version in _versions(procedure):
        plan = _plan(form_spec(version))
        plans[version.pk] = plan
        versions[version.pk] = version.version
        for column in plan.columns:
            if column.key not in seen:
                seen.add(column.key)
                union.append(column)
    remaps: dict[int, tuple[int, ...]] = {}
    for version_id, plan in plans.items():
        keys = [c.key for c in plan.columns]
        if keys != [c.key for c in union]:
            position = {key: i for i, key in enumerate(keys)}
            remaps[version_id] = tuple(position.get(c.key, -1) for c in union)
    return Layout(fixed + tuple(union), plans, remaps, versions)


# --- Selection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportOptions:
    format: str = ExportFormat.CSV_UTF8
    arrived_from: date | None = None
    arrived_to: date | None = None
    statuses: tuple[str, ...] = ()
    #: A second header row with the Japanese labels (for people; importers skip it).
    labels: bool = False
    #: Decrypt 特定個人情報 (My Number); needs a permitted role and ``purpose``.
    include_specific: bool = False
    purpose: str = ""
    #: Decrypt bank accounts (振込先口座), independently of My Number; needs a permitted role
    #: and its own ``bank_purpose`` (e.g. 支払処理のため).
    include_bank: bool = False
    bank_purpose: str = ""
    #: Choice answers as ``labels`` (「現在の住所」, the default) or ``codes`` (``current``).
    choices: str = "labels"
    #: Leave out the answer columns that are empty in every application of the selection.
    drop_empty: bool = False

    def filters(self) -> dict[str, Any]:
        """The filters as recorded in the audit event (no personal data)."""
        return {
            "arrived_from": self.arrived_from.isoformat() if self.arrived_from else None,
            "arrived_to": self.arrived_to.isoformat() if self.arrived_to else None,
            "statuses": list(self.statuses),
        }


def _selection(
    organisation: Organisation, procedure: Procedure, options: ExportOptions
) -> QuerySet[Application]:
    # Operational-test applications (運用テスト) never go to a core system.
    qs = Application.objects.filter(organisation=organisation, procedure=procedure, is_test=False)
    if options.statuses:
        qs = qs.filter(status__in=options.statuses)
    if options.arrived_from:
        qs = qs.filter(arrived_at__gte=datetime.combine(options.arrived_from, time(), TOKYO))
    if options.arrived_to:
        end = datetime.combine(options.arrived_to + timedelta(days=1), time(), TOKYO)
        qs = qs.filter(arrived_at__lt=end)
    return qs


def staff_may_export_specific(*, staff: Staff, procedure: Procedure) -> bool:
    """Whether ``staff`` may include decrypted My Number: the same people who may reveal it
    on screen (団体管理者; 審査担当 who may handle the procedure), never 閲覧のみ."""
    if staff.role not in (StaffRole.ADMIN, StaffRole.REVIEWER):
        return False
    return staff_may_move(staff=staff, procedure=procedure)


def _purpose(text: str, what: str, example: str) -> str:
    purpose = visible_text(text)
    if len(purpose) < MIN_PURPOSE or len(purpose) > MAX_PURPOSE:
        raise ExportRefused(
            f"{what}を含める利用目的を{MIN_PURPOSE}〜{MAX_PURPOSE}文字で具体的に入力して"
            f"ください（例: {example}）。"
        )
    return purpose


def _check(
    *, organisation: Organisation, procedure: Procedure, staff: Staff, options: ExportOptions
) -> ExportOptions:
    if procedure.organisation_id != organisation.pk or staff.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist  # another organisation's procedure does not exist (404)
    if options.format not in ExportFormat.values:
        raise ExportRefused("出力形式を選んでください。")
    unknown = set(options.statuses) - set(ApplicationStatus.values)
    if unknown:
        raise ExportRefused("状態の指定に、知らない値が含まれています。")
    if options.arrived_from and options.arrived_to and options.arrived_from > options.arrived_to:
        raise ExportRefused("到達日の「から」は「まで」より前の日付にしてください。")
    if options.choices not in {value for value, _ in CHOICE_OUTPUTS}:
        raise ExportRefused("選択肢の書き方は「選択肢の名前」か「コード」から選んでください。")
    purpose = bank_purpose = ""
    if options.include_specific:
        if not staff_may_export_specific(staff=staff, procedure=procedure):
            raise ExportRefused(
                "個人番号（特定個人情報）を含めて出力できるのは、団体管理者と、"
                "この手続を担当する審査担当だけです。個人番号は伏せた形で出力できます。"
            )
        purpose = _purpose(options.purpose, "個人番号", "基幹系システムへの登録のため")
    if options.include_bank:
        if not staff_may_export_specific(staff=staff, procedure=procedure):
            raise ExportRefused(
                "口座番号を伏せずに出力できるのは、団体管理者と、この手続を担当する"
                "審査担当だけです。口座は伏せた形で出力できます。"
            )
        bank_purpose = _purpose(options.bank_purpose, "口座番号", "児童手当の支払処理のため")
    return replace(options, purpose=purpose, bank_purpose=bank_purpose)


# --- Rows ------------------------------------------------------------------------------------


def _rows(
    layout: Layout, qs: QuerySet[Application], *, reveal: Reveal
) -> Iterator[tuple[str, list[str]]]:
    """(receipt number, cells) for each application in order of arrival, read in chunks."""
    width = len(layout.columns) - len(FIXED_COLUMNS)
    blank = [""] * width
    plans = dict(layout.plans)
    remaps = dict(layout.remaps)
    versions = dict(layout.versions)
    rows = (
        qs.order_by("arrived_at", "id")
        .values_list(
            "receipt_number",
            "arrived_at",
            "status",
            "revision",
            "form_version_id",
            "channel",
            "answers",
        )
        .iterator(chunk_size=ITERATOR_CHUNK)
    )
    for receipt, arrived, status, revision, version_id, channel, answers in rows:
        plan = plans.get(version_id)
        if plan is None:  # a version of another form (should not happen): fill what matches
            plan, foreign = _foreign_plan(layout, version_id)
            plans[version_id], remaps[version_id] = plan, foreign
            versions[version_id] = FormVersion.objects.get(pk=version_id).version
        if isinstance(answers, dict):
            cells: list[str] = []
            for key, emit in plan.emitters:
                cells.extend(emit(answers.get(key), reveal))
            remap = remaps.get(version_id)
            if remap is not None:
                cells = [cells[i] if i >= 0 else "" for i in remap]
        else:
            cells = list(blank)
        head = [
            receipt,
            to_tokyo(arrived).isoformat(timespec="seconds"),
            status,
            str(revision),
            str(versions.get(version_id, "")),
            channel,
            to_tokyo(arrived).date().isoformat(),
        ]
        yield receipt, head + cells


def _foreign_plan(layout: Layout, version_id: int) -> tuple[_Plan, tuple[int, ...]]:
    plan = _plan(form_spec(FormVersion.objects.get(pk=version_id)))
    position = {c.key: i for i, c in enumerate(plan.columns)}
    remap = tuple(position.get(c.key, -1) for c in layout.columns[len(FIXED_COLUMNS) :])
    return plan, remap


def _header_rows(layout: Layout, labels: bool) -> list[list[str]]:
    rows = [layout.keys]
    if labels:
        rows.append([c.label for c in layout.columns])
    return rows


def _used_columns(layout: Layout, qs: QuerySet[Application], out: Reveal) -> list[bool]:
    """Which columns hold a value in at least one application of ``qs``: a first pass over
    the selection that keeps one flag per column (flat memory, like the export itself)."""
    used = [True] * len(FIXED_COLUMNS) + [False] * (len(layout.columns) - len(FIXED_COLUMNS))
    pending = set(range(len(FIXED_COLUMNS), len(layout.columns)))
    # Masked or not, a cell is empty or not alike: nothing is decrypted for this pass.
    for _receipt, cells in _rows(layout, qs, reveal=Reveal(labels=out.labels)):
        for index in [i for i in pending if cells[i]]:
            used[index] = True
            pending.discard(index)
        if not pending:
            break
    return used


def _trimmed(
    layout: Layout, rows: Iterable[tuple[str, list[str]]], used: Sequence[bool]
) -> tuple[Layout, Iterator[tuple[str, list[str]]]]:
    """The layout and rows without the columns that ``used`` marks as empty throughout."""
    keep = [i for i, flag in enumerate(used) if flag]
    if len(keep) == len(layout.columns):
        return layout, iter(rows)
    columns = tuple(layout.columns[i] for i in keep)
    return replace(layout, columns=columns), (
        (receipt, [cells[i] for i in keep]) for receipt, cells in rows
    )


# --- CSV -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cp932Problem:
    """One character that Shift_JIS (cp932) cannot represent, replaced by 〓 in the file."""

    #: 1-based number of the application in the file; 0 for the header rows.
    record: int
    receipt_number: str
    column: str
    label: str
    character: str

    @property
    def code_point(self) -> str:
        return "+".join(f"U+{ord(ch):04X}" for ch in self.character)


def cp932_prepare(text: str) -> str:
    """``text`` as it will be encoded: kana voiced marks composed, JIS/Microsoft variants
    unified (〜 → ～ …). Names are otherwise kept exactly as typed."""
    if "\u3099" in text or "\u309a" in text:
        text = _VOICED.sub(_compose_voiced, text)
    return text.translate(CP932_EQUIVALENTS)


def _compose_voiced(match: re.Match[str]) -> str:
    composed = unicodedata.normalize("NFC", match.group(0))
    return composed if len(composed) == 1 else match.group(0)


def cp932_unmappable(text: str, encoding: str = "cp932") -> list[str]:
    """The characters (grapheme-naive: code point by code point) of a prepared ``text`` that
    ``encoding`` cannot represent, in order, with repeats."""
    bad: list[str] = []
    for ch in text:
        try:
            ch.encode(encoding)
        except UnicodeEncodeError:
            bad.append(ch)
    return bad


def _replace_unmappable(text: str, encoding: str) -> str:
    out = []
    for ch in text:
        try:
            ch.encode(encoding)
        except UnicodeEncodeError:
            out.append(GETA)
        else:
            out.append(ch)
    return "".join(out)


def neutralise_formula(value: str) -> str:
    """A CSV cell a spreadsheet will show as text, never run: ``=1+1`` → ``'=1+1``."""
    return "'" + value if value and value[0] in FORMULA_TRIGGERS else value


def _csv_safe(cells: list[str], numeric: Sequence[bool]) -> list[str]:
    return [
        "'" + c if c and c[0] in FORMULA_TRIGGERS and not (num and _NUMBER.match(c)) else c
        for c, num in zip(cells, numeric, strict=True)
    ]


ProblemSink = Callable[[Cp932Problem], None]


class _Line:
    """What ``csv.writer`` writes for one row (it writes each row in one call)."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def _csv_chunks(
    layout: Layout,
    header: list[list[str]],
    rows: Iterable[tuple[str, list[str]]],
    *,
    encoding: str,
    on_problem: ProblemSink | None = None,
) -> Iterator[bytes]:
    """CSV bytes in batches of :data:`BATCH_ROWS` rows. Characters that ``encoding`` cannot
    hold are replaced by 〓 and passed to ``on_problem``; the rest is written unchanged."""
    sjis = encoding != "utf-8"
    numeric = [c.numeric for c in layout.columns]
    line = _Line()
    writer = csv.writer(line, lineterminator="\r\n")
    out: list[bytes] = [] if sjis else [UTF8_BOM]

    def encoded(record: int, receipt: str, cells: list[str]) -> bytes:
        writer.writerow(cells)
        try:  # the common case: the row as it is
            return line.text.encode(encoding)
        except UnicodeEncodeError:
            pass
        if sjis:  # JIS/Microsoft variants and separate voiced marks, then again
            try:
                return cp932_prepare(line.text).encode(encoding)
            except UnicodeEncodeError:
                pass
        # Rare: find the cells at fault, report each character, write the row again.
        fixed = []
        for column, cell in zip(layout.columns, cells, strict=True):
            value = cp932_prepare(cell) if sjis else cell
            bad = cp932_unmappable(value, encoding)
            if bad:
                for ch in bad:
                    if on_problem is not None:
                        on_problem(Cp932Problem(record, receipt, column.key, column.label, ch))
                value = _replace_unmappable(value, encoding)
            fixed.append(value)
        writer.writerow(fixed)
        return line.text.encode(encoding)

    for row in header:
        out.append(encoded(0, "", row))
    for record, (receipt, cells) in enumerate(rows, start=1):
        out.append(encoded(record, receipt, _csv_safe(cells, numeric)))
        if len(out) >= BATCH_ROWS:
            yield b"".join(out)
            out.clear()
    if out:
        yield b"".join(out)


# --- xlsx ------------------------------------------------------------------------------------


def _xlsx_number(text: str) -> int | float | None:
    if not _NUMBER.match(text):
        return None
    return float(text) if "." in text else int(text)


def _xlsx_chunks(
    layout: Layout,
    header: list[list[str]],
    rows: Iterable[tuple[str, list[str]]],
    *,
    title: str,
    specific: bool,
) -> Iterator[bytes]:
    """An xlsx file, written row by row to a temporary file (XlsxWriter's constant_memory
    mode keeps one row in memory), then streamed and deleted."""
    with tempfile.TemporaryDirectory(prefix="madoguchi-export-") as tmp:
        path = Path(tmp) / "export.xlsx"
        workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "tmpdir": tmp,
                # Never interpret text: an answer is data, not a formula, URL or number.
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        workbook.set_properties(
            {
                "title": title,
                "subject": "特定個人情報を含む" if specific else "申請データ（個人番号は伏せ字）",
                "keywords": "特定個人情報" if specific else "",
            }
        )
        sheet = workbook.add_worksheet("申請")
        bold = workbook.add_format({"bold": True})
        quoted = workbook.add_format({"quote_prefix": True})
        numeric = [c.numeric for c in layout.columns]
        for r, row in enumerate(header):
            for c, text in enumerate(row):
                sheet.write_string(r, c, text, bold)
        sheet.freeze_panes(len(header), 1)
        r = len(header)
        for _receipt, cells in rows:
            if r >= XLSX_MAX_ROWS:
                raise ExportRefused("Excel の1シートに入る行数を超えました。")
            for c, text in enumerate(cells):
                if not text:
                    continue
                if numeric[c]:
                    number = _xlsx_number(text)
                    if number is not None:
                        sheet.write_number(r, c, number)
                        continue
                if text[0] in FORMULA_TRIGGERS:
                    sheet.write_string(r, c, text, quoted)
                else:
                    sheet.write_string(r, c, text)
            r += 1
        workbook.close()
        with path.open("rb") as handle:
            while chunk := handle.read(FILE_CHUNK):
                yield chunk


# --- The export ------------------------------------------------------------------------------


@dataclass
class PreparedExport:
    """What the console streams: name, type and the bytes (produced lazily)."""

    filename: str
    ascii_filename: str
    content_type: str
    rows: int
    chunks: Iterator[bytes]
    #: Filled while a Shift_JIS CSV is produced: each character replaced by 〓.
    problems: list[Cp932Problem] = field(default_factory=list)

    @property
    def content_disposition(self) -> str:
        """RFC 6266 / RFC 5987: an ASCII name for old clients and the Japanese one."""
        return (
            f'attachment; filename="{self.ascii_filename}"; '
            f"filename*=UTF-8''{quote(self.filename, safe='')}"
        )


_CONTENT_TYPES: Final = {
    ExportFormat.CSV_UTF8: "text/csv; charset=utf-8",
    ExportFormat.CSV_CP932: "text/csv; charset=Shift_JIS",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_SUFFIXES: Final = {
    ExportFormat.CSV_UTF8: ".csv",
    ExportFormat.CSV_CP932: "_sjis.csv",
    ExportFormat.XLSX: ".xlsx",
}
_SAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def _filenames(procedure: Procedure, fmt: str, now: datetime, specific: bool) -> tuple[str, str]:
    stamp = f"{to_tokyo(now):%Y%m%d-%H%M%S}"
    suffix = _SUFFIXES[ExportFormat(fmt)]
    name = _SAFE_NAME.sub("_", procedure.name)[:80]
    ascii_slug = re.sub(r"[^A-Za-z0-9_-]", "_", procedure.slug) or "procedure"
    return (
        f"{name}_{stamp}{'_特定個人情報' if specific else ''}{suffix}",
        f"{ascii_slug}_{stamp}{'_mynumber' if specific else ''}{suffix}",
    )


def applications_export(
    *,
    organisation: Organisation,
    procedure: Procedure,
    staff: Staff,
    options: ExportOptions,
    now: datetime,
) -> PreparedExport:
    """Prepare the hand-over file of ``procedure``'s applications and record that it was made.

    Guarantees: only ``organisation``'s applications of ``procedure``, those that existed
    when this was called (later arrivals wait for the next export), in order of arrival;
    My Number masked unless ``options.include_specific`` and the staff member may reveal it
    for this procedure; one ``application.export`` audit event (procedure, format, rows,
    filters, and the purpose when 特定個人情報 is included — no answer) is stored before
    this returns. The bytes are produced as ``chunks`` is iterated, in flat memory.
    Raises ``Procedure.DoesNotExist`` (another organisation's procedure) and
    :class:`ExportRefused` (Japanese message: role, purpose, filters, too many rows for xlsx).
    """
    options = _check(organisation=organisation, procedure=procedure, staff=staff, options=options)
    layout = export_layout(procedure=procedure)
    out = Reveal(
        specific=options.include_specific and layout.has_specific,
        bank=options.include_bank and layout.has_bank,
        labels=options.choices == "labels",
    )
    reveal = out.specific
    qs = _selection(organisation, procedure, options)
    summary = qs.aggregate(last=Max("id"), rows=Count("id"))
    count = int(summary["rows"] or 0)
    # A fixed upper bound: the file holds exactly the applications counted and recorded here.
    qs = qs.filter(id__lte=summary["last"] or 0)
    used = _used_columns(layout, qs, out) if options.drop_empty else None
    full_width = len(layout.columns)
    rows: Iterator[tuple[str, list[str]]] = _rows(layout, qs, reveal=out)
    if used is not None:
        layout, rows = _trimmed(layout, rows, used)
    header = _header_rows(layout, options.labels)
    if options.format == ExportFormat.XLSX and count + len(header) > XLSX_MAX_ROWS:
        raise ExportRefused(
            f"Excel の1シートに入るのは{XLSX_MAX_ROWS - len(header):,}件までです"
            f"（該当 {count:,}件）。期間を分けるか、CSV で出力してください。"
        )
    purposes = [f"個人番号: {options.purpose}"] if out.specific else []
    purposes += [f"口座: {options.bank_purpose}"] if out.bank else []
    audit_record(
        action="application.export",
        now=now,
        organisation=organisation,
        actor=staff.user,
        actor_label="職員",
        target_type="procedure",
        target_id=procedure.pk,
        reason=" / ".join(purposes),
        detail={
            "procedure": procedure.pk,
            "format": options.format,
            "rows": count,
            "filters": options.filters(),
            "labels": options.labels,
            "specific": out.specific,
            "specific_purpose": options.purpose if out.specific else "",
            "bank": out.bank,
            "bank_purpose": options.bank_purpose if out.bank else "",
            "choices": options.choices,
            "drop_empty": options.drop_empty,
            "columns": len(layout.columns),
            "columns_left_out": full_width - len(layout.columns),
        },
    )
    filename, ascii_filename = _filenames(procedure, options.format, now, reveal)
    problems: list[Cp932Problem] = []
    if options.format == ExportFormat.XLSX:
        chunks = _xlsx_chunks(layout, header, rows, title=procedure.name, specific=reveal)
    else:
        encoding = "cp932" if options.format == ExportFormat.CSV_CP932 else "utf-8"
        chunks = _csv_chunks(layout, header, rows, encoding=encoding, on_problem=problems.append)
    return PreparedExport(
        filename=filename,
        ascii_filename=ascii_filename,
        content_type=_CONTENT_TYPES[ExportFormat(options.format)],
        rows=count,
        chunks=chunks,
        problems=problems,
    )


# --- Shift_JIS check and its report ----------------------------------------------------------


@dataclass
class Cp932Check:
    """What a Shift_JIS export of the same selection would replace by 〓."""

    rows: int
    total: int
    #: The first problems (at most the ``limit`` asked for), in file order.
    problems: list[Cp932Problem]


def export_cp932_check(
    *,
    organisation: Organisation,
    procedure: Procedure,
    staff: Staff,
    options: ExportOptions,
    limit: int = 100,
) -> Cp932Check:
    """Run the Shift_JIS export without keeping the file and list what it would replace.

    My Number is checked masked (digits and ● are always representable). Nothing is
    recorded: no file leaves the server. Raises as :func:`applications_export`.
    """
    options = _check(organisation=organisation, procedure=procedure, staff=staff, options=options)
    layout = export_layout(procedure=procedure)
    out = Reveal(labels=options.choices == "labels")
    qs = _selection(organisation, procedure, options)
    found: list[Cp932Problem] = []
    total = 0
    rows = 0

    def keep(problem: Cp932Problem) -> None:
        nonlocal total
        total += 1
        if len(found) < limit:
            found.append(problem)

    def counted(source: Iterator[tuple[str, list[str]]]) -> Iterator[tuple[str, list[str]]]:
        nonlocal rows
        for row in source:
            rows += 1
            yield row

    source: Iterator[tuple[str, list[str]]] = _rows(layout, qs, reveal=out)
    if options.drop_empty:
        layout, source = _trimmed(layout, source, _used_columns(layout, qs, out))
    header = _header_rows(layout, options.labels)
    for _chunk in _csv_chunks(layout, header, counted(source), encoding="cp932", on_problem=keep):
        pass
    return Cp932Check(rows=rows, total=total, problems=found)


REPORT_COLUMNS: Final = (
    ("record", "件目"),
    ("receipt_number", "受付番号"),
    ("column", "列"),
    ("label", "項目"),
    ("character", "文字"),
    ("code_point", "符号位置"),
    ("replacement", "置き換えた文字"),
)


def export_cp932_report(
    *,
    organisation: Organisation,
    procedure: Procedure,
    staff: Staff,
    options: ExportOptions,
    now: datetime,
) -> PreparedExport:
    """The list of every character a Shift_JIS export of this selection replaces by 〓, as a
    UTF-8 CSV (so the characters themselves can be read), streamed.

    Recorded as an ``application.export`` event with format ``csv-sjis-report``.
    Raises as :func:`applications_export`.
    """
    options = _check(organisation=organisation, procedure=procedure, staff=staff, options=options)
    layout = export_layout(procedure=procedure)
    out = Reveal(labels=options.choices == "labels")
    qs = _selection(organisation, procedure, options)
    last = qs.aggregate(last=Max("id"))["last"] or 0
    qs = qs.filter(id__lte=last)
    audit_record(
        action="application.export",
        now=now,
        organisation=organisation,
        actor=staff.user,
        actor_label="職員",
        target_type="procedure",
        target_id=procedure.pk,
        detail={
            "procedure": procedure.pk,
            "format": "csv-sjis-report",
            "filters": options.filters(),
        },
    )
    source: Iterator[tuple[str, list[str]]] = _rows(layout, qs, reveal=out)
    if options.drop_empty:
        layout, source = _trimmed(layout, source, _used_columns(layout, qs, out))
    header = _header_rows(layout, options.labels)

    def report() -> Iterator[bytes]:
        pending: list[Cp932Problem] = []
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([key for key, _ in REPORT_COLUMNS])
        writer.writerow([label for _, label in REPORT_COLUMNS])
        yield UTF8_BOM + buffer.getvalue().encode("utf-8")
        for _chunk in _csv_chunks(
            layout, header, source, encoding="cp932", on_problem=pending.append
        ):
            if not pending:
                continue
            buffer.seek(0)
            buffer.truncate()
            for p in pending:
                writer.writerow(
                    _csv_safe(
                        [
                            str(p.record),
                            p.receipt_number,
                            p.column,
                            p.label,
                            p.character,
                            p.code_point,
                            GETA,
                        ],
                        [False] * len(REPORT_COLUMNS),
                    )
                )
            pending.clear()
            yield buffer.getvalue().encode("utf-8", errors="replace")

    stamp = f"{to_tokyo(now):%Y%m%d-%H%M%S}"
    name = _SAFE_NAME.sub("_", procedure.name)[:80]
    ascii_slug = re.sub(r"[^A-Za-z0-9_-]", "_", procedure.slug) or "procedure"
    return PreparedExport(
        filename=f"{name}_{stamp}_sjis_置き換え一覧.csv",
        ascii_filename=f"{ascii_slug}_{stamp}_sjis_report.csv",
        content_type="text/csv; charset=utf-8",
        rows=0,
        chunks=report(),
    )
