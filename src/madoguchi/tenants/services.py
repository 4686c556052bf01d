"""Writes to the organisation master and the shared groups."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from madoguchi.core.lgcode import InvalidLgCode, is_valid, parse_lg_code, with_check_digit
from madoguchi.core.text import search_key
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.master import MasterData, MasterRecord, load_master_data
from madoguchi.tenants.models import (
    GroupMembership,
    MasterLoad,
    Organisation,
    PopulationImport,
    SharedGroup,
)
from madoguchi.tenants.romaji import romaji_keys

_COMPARED_FIELDS = (
    "name",
    "kana",
    "name_en",
    "kind",
    "prefecture_code",
    "prefecture_id",
    "parent_id",
    "latitude",
    "longitude",
    "search_key",
)


@dataclass
class MasterLoadReport:
    """What one load of the master changed, for the operator who ran it."""

    source: str
    digest: str
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    unchanged: int = 0
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated or self.reactivated)


def organisation_search_key(record: MasterRecord | Organisation, parent_name: str = "") -> str:
    """The folded text a search matches: name (with the city for wards), kana, code, the
    English name and the romanised reading (:mod:`madoguchi.tenants.romaji`), so that
    ``kamakura`` finds 鎌倉市 and ``tokyo`` 東京都."""
    words = [f"{parent_name}{record.name}", record.kana, record.lg_code]
    words += [record.name_en, romaji_keys(record.kana)]
    return search_key(" ".join(w for w in words if w))[:256]


def _level(record: MasterRecord) -> int:
    if record.kind == OrganisationKind.PREFECTURE:
        return 0
    return 2 if record.kind == OrganisationKind.WARD else 1


def organisation_touch(*, organisation_id: int) -> None:
    """Move the organisation's ``updated_at`` (its change token), in the caller's transaction.

    What other processes cache per organisation (the published procedures, whether it has
    webhook endpoints) is keyed by it: a service that changes such a thing calls this, and
    every process sees the change at its next look-up. The clock's reading is used, never a
    caller's ``now``, so that the token always moves."""
    Organisation.objects.filter(pk=organisation_id).update(updated_at=timezone.now())


def organisation_master_load(*, now: datetime, data: MasterData | None = None) -> MasterLoadReport:
    """Bring the organisation master in line with ``data`` (default: the ``japancode`` package).

    Idempotent: a second load of the same data changes nothing and says so. Organisations
    missing from the data (mergers) are deactivated, never deleted; ones that reappear are
    reactivated. Runs in one transaction, so a failure leaves the master as it was.
    Raises ``MasterDataError`` when the data cannot be interpreted safely.
    """
    if data is None:
        data = load_master_data()
    report = MasterLoadReport(source=data.source, digest=data.digest)
    by_code = {record.lg_code: record for record in data.records}
    names = {record.lg_code: record.name for record in data.records}

    with transaction.atomic():
        existing = {org.lg_code: org for org in Organisation.objects.select_for_update()}
        for level in (0, 1, 2):
            ids = {code: org.pk for code, org in existing.items()}
            to_create: list[Organisation] = []
            to_update: list[Organisation] = []
            for record in (r for r in data.records if _level(r) == level):
                prefecture_code = record.prefecture_code
                prefecture_id = (
                    None if level == 0 else ids.get(with_check_digit(prefecture_code + "000"))
                )
                parent_id = ids.get(record.parent_lg_code) if record.parent_lg_code else None
                values = {
                    "name": record.name,
                    "kana": record.kana,
                    "name_en": record.name_en,
                    "kind": str(record.kind),
                    "prefecture_code": prefecture_code,
                    "prefecture_id": prefecture_id,
                    "parent_id": parent_id,
                    "latitude": record.latitude,
                    "longitude": record.longitude,
                    "search_key": organisation_search_key(
                        record, names.get(record.parent_lg_code or "", "")
                    ),
                }
                org = existing.get(record.lg_code)
                if org is None:
                    to_create.append(Organisation(lg_code=record.lg_code, active=True, **values))
                    report.created += 1
                    report.changes.append(f"追加 {record.lg_code} {record.name}")
                    continue
                diffs = [
                    f"{name}: {getattr(org, name)!r} → {value!r}"
                    for name, value in values.items()
                    if getattr(org, name) != value
                ]
                if not org.active:
                    org.active = True
                    org.deactivated_at = None
                    report.reactivated += 1
                    report.changes.append(f"再有効化 {org.lg_code} {record.name}")
                    diffs.append("active")
                if diffs:
                    for name, value in values.items():
                        setattr(org, name, value)
                    org.updated_at = now
                    to_update.append(org)
                    if org.active and "active" not in diffs:
                        report.updated += 1
                        report.changes.append(
                            f"更新 {org.lg_code} {record.name}: " + "; ".join(diffs)
                        )
                else:
                    report.unchanged += 1
            Organisation.objects.bulk_create(to_create, batch_size=500)
            Organisation.objects.bulk_update(
                to_update,
                [
                    *(f.removesuffix("_id") for f in _COMPARED_FIELDS),
                    "active",
                    "deactivated_at",
                    "updated_at",
                ],
                batch_size=500,
            )
            existing.update(
                {
                    org.lg_code: org
                    for org in Organisation.objects.filter(
                        lg_code__in=[o.lg_code for o in to_create]
                    )
                }
            )

        gone = [org for code, org in existing.items() if code not in by_code and org.active]
        for org in gone:
            org.active = False
            org.deactivated_at = now
            report.deactivated += 1
            report.changes.append(
                f"無効化 {org.lg_code} {org.name}（マスタから消えたため。削除はしません）"
            )
        Organisation.objects.bulk_update(gone, ["active", "deactivated_at"], batch_size=500)

        MasterLoad.objects.create(
            loaded_at=now,
            source=data.source,
            digest=data.digest,
            created=report.created,
            updated=report.updated,
            deactivated=report.deactivated,
            reactivated=report.reactivated,
            unchanged=report.unchanged,
        )
    return report


# --- Population ------------------------------------------------------------------------------

MAX_POPULATION_FILE_BYTES = 5 * 1024 * 1024
MAX_POPULATION_ROWS = 10_000
MAX_POPULATION = 100_000_000


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}行目: {self.message}"


class PopulationImportError(ValueError):
    """The file was refused; nothing was imported. ``errors`` says where and why."""

    def __init__(self, errors: Sequence[RowError | str]) -> None:
        self.errors = [str(error) for error in errors]
        super().__init__("人口ファイルを取り込めませんでした:\n" + "\n".join(self.errors))


@dataclass(frozen=True)
class PopulationImportReport:
    rows: int
    changed: int
    encoding: str
    as_of: date | None
    without_population: int


def _decode(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding), "utf-8" if encoding == "utf-8-sig" else "shift_jis"
        except UnicodeDecodeError:
            continue
    raise PopulationImportError(
        ["文字コードを判別できません。UTF-8 か Shift_JIS で保存してください。"]
    )


def _resolve_code(raw: str, known: dict[str, Organisation]) -> Organisation:
    text = unicodedata.normalize("NFKC", raw).strip().strip('"').strip()
    if not (text.isascii() and text.isdigit()):
        raise InvalidLgCode(f"団体コード {raw[:20]!r} は数字ではありません。")
    candidates: list[str] = []
    if len(text) == 6:
        candidates.append(parse_lg_code(text))
    elif len(text) == 5:
        # Either a 5-digit JIS code, or a 6-digit code whose leading zero a spreadsheet dropped.
        candidates.append(with_check_digit(text))
        if is_valid(text.zfill(6)):
            candidates.append(text.zfill(6))
    elif len(text) == 4:
        candidates.append(with_check_digit(text.zfill(5)))
    else:
        raise InvalidLgCode(f"団体コード {text[:20]} は6桁（または5桁）ではありません。")
    found = [known[code] for code in dict.fromkeys(candidates) if code in known]
    if not found:
        raise InvalidLgCode(f"団体コード {text} の団体は団体マスタにありません。")
    if len(found) > 1:
        raise InvalidLgCode(
            f"団体コード {text} は {found[0].lg_code}（{found[0].name}）とも "
            f"{found[1].lg_code}（{found[1].name}）とも読めます。6桁で書いてください。"
        )
    return found[0]


def _parse_population(raw: str) -> int:
    text = unicodedata.normalize("NFKC", raw).strip().replace(",", "").replace("_", "")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"人口 {raw[:20]!r} は0以上の整数ではありません。")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_POPULATION)):  # int() refuses, in English, over 4,300 digits
        raise ValueError(f"人口（{len(digits)}桁）は大きすぎます。")
    value = int(digits)
    if value > MAX_POPULATION:
        raise ValueError(f"人口 {value} は大きすぎます。")
    return value


def population_import(
    *, data: bytes, file_name: str, as_of: date | None, now: datetime
) -> PopulationImportReport:
    """Set the population of the organisations listed in a CSV (団体コード, 人口).

    The file may be UTF-8 (with or without BOM) or Shift_JIS, with or without a header row;
    codes may have 6 digits, or 5 (JIS form, or a leading zero dropped by a spreadsheet).
    All or nothing: any bad row raises :class:`PopulationImportError` listing every bad row
    with its line number, and no population is changed.
    """
    if len(data) > MAX_POPULATION_FILE_BYTES:
        raise PopulationImportError(["ファイルが大きすぎます（上限 5MB）。"])
    if not data.strip():
        raise PopulationImportError(["ファイルが空です。"])
    text, encoding = _decode(data)
    if "\x00" in text:
        raise PopulationImportError(
            ["ファイルにNUL文字が含まれています。CSVファイルを指定してください。"]
        )
    known = {org.lg_code: org for org in Organisation.objects.all()}
    errors: list[RowError] = []
    values: dict[str, tuple[int, int]] = {}
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:  # e.g. a field longer than the csv module's limit (128 KiB)
        raise PopulationImportError(
            ["CSVとして読めません。1列目に団体コード、2列目に人口を書いたCSVを指定してください。"]
        ) from None
    if len(rows) > MAX_POPULATION_ROWS + 1:
        raise PopulationImportError([f"行数が多すぎます（上限 {MAX_POPULATION_ROWS} 行）。"])
    for line, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if line == 1 and not any(ch.isdigit() for ch in unicodedata.normalize("NFKC", cells[0])):
            continue  # header row such as 団体コード,人口 (a mistyped code has digits: an error)
        if len(cells) < 2 or not cells[1]:
            errors.append(RowError(line, "団体コードと人口の2列が必要です。"))
            continue
        if len(cells) > 2 and all(re.fullmatch(r"[0-9０-９]{3}", cell) for cell in cells[2:]):
            # 141003,3,770,000: an unquoted thousands separator would silently import "3".
            errors.append(
                RowError(
                    line,
                    '人口の桁区切りのカンマで列が分かれています。人口は 3770000 か "3,770,000" と書いてください。',
                )
            )
            continue
        try:
            org = _resolve_code(cells[0], known)
        except InvalidLgCode as error:
            errors.append(RowError(line, str(error)))
            continue
        try:
            population = _parse_population(cells[1])
        except ValueError as error:
            errors.append(RowError(line, str(error)))
            continue
        if org.lg_code in values:
            errors.append(
                RowError(
                    line, f"団体コード {org.lg_code} は {values[org.lg_code][1]}行目にもあります。"
                )
            )
            continue
        values[org.lg_code] = (population, line)
    if errors:
        raise PopulationImportError(errors)
    if not values:
        raise PopulationImportError(["取り込める行がありません。"])

    changed: list[Organisation] = []
    for code, (population, _line) in values.items():
        org = known[code]
        if org.population != population or org.population_as_of != as_of:
            org.population = population
            org.population_as_of = as_of
            org.updated_at = now
            changed.append(org)
    with transaction.atomic():
        Organisation.objects.bulk_update(
            changed, ["population", "population_as_of", "updated_at"], batch_size=500
        )
        PopulationImport.objects.create(
            imported_at=now,
            file_name=file_name[:255],
            encoding=encoding,
            as_of=as_of,
            rows=len(values),
            digest=hashlib.sha256(data).hexdigest(),
        )
    without = Organisation.objects.filter(active=True, population__isnull=True).count()
    return PopulationImportReport(
        rows=len(values),
        changed=len(changed),
        encoding=encoding,
        as_of=as_of,
        without_population=without,
    )


# --- Shared groups ---------------------------------------------------------------------------


def shared_group_upsert(
    *,
    slug: str,
    name: str,
    prefecture: Organisation | None,
    members: Iterable[Organisation],
    now: datetime,
    portal_title: str = "",
    portal_welcome: str = "",
    contact: str = "",
) -> SharedGroup:
    """Create or update a shared group and make its members exactly ``members``.

    Guarantees one active portal per prefecture (a database constraint). Raises
    ``ValueError`` when a member is a ward (wards are not tenants) or inactive.
    """
    member_list = list(members)
    for org in member_list:
        if not org.is_tenant:
            raise ValueError(f"{org.display_name} は行政区のため、グループの参加団体にできません。")
        if not org.active:
            raise ValueError(f"{org.display_name} は無効な団体です。")
    if prefecture is not None and prefecture.kind != OrganisationKind.PREFECTURE:
        raise ValueError(f"{prefecture.name} は都道府県ではありません。")
    with transaction.atomic():
        group, _ = SharedGroup.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "prefecture": prefecture,
                "portal_title": portal_title,
                "portal_welcome": portal_welcome,
                "contact": contact,
                "active": True,
            },
        )
        wanted = {org.pk for org in member_list}
        GroupMembership.objects.filter(group=group).exclude(organisation_id__in=wanted).delete()
        present = set(
            GroupMembership.objects.filter(group=group).values_list("organisation_id", flat=True)
        )
        GroupMembership.objects.bulk_create(
            [
                GroupMembership(group=group, organisation_id=pk, joined_at=now)
                for pk in wanted - present
            ]
        )
    return group
