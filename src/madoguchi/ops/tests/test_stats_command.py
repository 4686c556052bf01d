"""``madoguchi stats import FILE`` (issue 12): the platform operator's import of counts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.stats.imports import MAX_FILE_BYTES
from madoguchi.stats.models import CountImport, ImportedCount
from madoguchi.testing import counts_csv, counts_xlsx

pytestmark = pytest.mark.django_db


def stored() -> list[tuple[str, str, int, int, int, int]]:
    return sorted(
        ImportedCount.objects.values_list(
            "organisation__lg_code", "category_code", "fiscal_year", "month", "total", "online"
        )
    )


def test_the_command_imports_any_organisation_and_prints_the_report(tmp_path: Path):
    path = tmp_path / "件数.csv"
    path.write_bytes(
        counts_csv(
            ("141003", "令和5年度", "", "eltax-filing", "120,000", "90,000"),
            ("142042", "2023", "", "library-reservation", "50000", "41000"),
            encoding="cp932",
        )
    )
    out = io.StringIO()
    call_command("stats", "import", str(path), stdout=out)
    text = out.getvalue()
    assert "件数.csv（CSV・Shift_JIS）から 2 行を取り込みました（2 団体）" in text
    assert "2行目: 横浜市（141003） 地方税申告手続（eLTAX） 2023年度（令和5年度）" in text
    assert "利用率 75.0%" in text
    assert stored() == [
        ("141003", "eltax-filing", 2023, 0, 120000, 90000),
        ("142042", "library-reservation", 2023, 0, 50000, 41000),
    ]
    assert CountImport.objects.get().imported_by is None
    # The same file again replaces both rows, and says so.
    out = io.StringIO()
    call_command("stats", "import", str(path), stdout=out)
    assert "取り込み済みの 2 行を置き換えました" in out.getvalue()
    assert "（置き換え）" in out.getvalue()


def test_an_xlsx_is_imported_too(tmp_path: Path):
    path = tmp_path / "counts.xlsx"
    path.write_bytes(counts_xlsx((141003, 2024, "2024年6月", "eltax-filing", 10, 4)))
    call_command("stats", "import", str(path), stdout=io.StringIO())
    assert stored() == [("141003", "eltax-filing", 2024, 6, 10, 4)]


BAD = [
    (
        "unknown code",
        ("999997", "2024", "", "eltax-filing", "1", "1"),
        "2行目・団体コード「999997」: 団体コード 999997 の団体は見つかりません",
    ),
    (
        "unknown category",
        ("141003", "2024", "", "ふるさと納税", "1", "1"),
        "2行目・手続「ふるさと納税」: 国の手続分類にない手続です",
    ),
    (
        "month outside",
        ("141003", "2024", "2025年4月", "eltax-filing", "1", "1"),
        "2行目・月「2025年4月」: 2025年4月は2025年度の月です",
    ),
    (
        "negative",
        ("141003", "2024", "", "eltax-filing", "-1", "0"),
        "2行目・総件数「-1」: 件数に負の数は使えません",
    ),
    (
        "non-numeric",
        ("141003", "2024", "", "eltax-filing", "たくさん", "0"),
        "2行目・総件数「たくさん」: 件数は数字で書いてください",
    ),
    (
        "online > total",
        ("141003", "2024", "", "eltax-filing", "1", "2"),
        "2行目・オンライン件数「2」: オンライン件数（2）が総件数（1）より多く",
    ),
    (
        "formula",
        ("141003", "2024", "", "eltax-filing", "=1+1", "0"),
        "2行目・総件数「=1+1」: = + @ で始まる値（数式）は取り込めません",
    ),
]


@pytest.mark.parametrize(("case", "row", "line"), BAD, ids=[case for case, _, _ in BAD])
def test_a_bad_file_exits_non_zero_with_the_reasons_and_stores_nothing(
    tmp_path: Path, case: str, row: tuple[str, ...], line: str
):
    call_command(
        "stats",
        "import",
        str(_file(tmp_path, counts_csv(("142042", "2024", "", "eltax-filing", "5", "5")))),
        stdout=io.StringIO(),
    )
    before = stored()
    path = _file(tmp_path, counts_csv(("141003", "2024", "", "library-reservation", "1", "1"), row))
    err = io.StringIO()
    with pytest.raises(CommandError, match="何も取り込んでいません") as raised:
        call_command("stats", "import", str(path), stderr=err)
    # On the command line, a CommandError prints its message and exits with this status.
    assert raised.value.returncode == 1
    assert line.replace("2行目", "3行目") in err.getvalue(), case
    assert stored() == before
    assert CountImport.objects.count() == 1


def _file(tmp_path: Path, content: bytes, name: str = "counts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: 100 MB without writing them
    assert path.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(CommandError, match="ファイルが大きすぎます（10 MB まで）"):
        call_command("stats", "import", str(path))
    assert stored() == []


def test_mixed_encodings_and_a_missing_file_are_clear_errors(tmp_path: Path):
    mixed = counts_csv(
        ("141003", "令和6年度", "", "図書館の図書貸出予約等", "1", "1")
    ) + "142042,令和6年度,,図書館の図書貸出予約等,1,1\r\n".encode("cp932")
    err = io.StringIO()
    with pytest.raises(CommandError, match="何も取り込んでいません"):
        call_command("stats", "import", str(_file(tmp_path, mixed)), stderr=err)
    assert "文字コードが混在しています" in err.getvalue()
    with pytest.raises(CommandError, match="ファイルを読めません"):
        call_command("stats", "import", str(tmp_path / "none.csv"))
    assert stored() == []


def test_the_demo_counts_are_imported_once_and_cover_kanagawa():
    from madoguchi.core.time import now
    from madoguchi.ops.demo import demo_counts_import

    assert demo_counts_import(now=now()) is True
    counts = stored()
    codes = {row[0] for row in counts}
    assert {"141003", "142042"} <= codes
    assert len(codes) >= 10
    assert all(code.startswith("14") for code in codes)
    assert {row[2] for row in counts} == {2023, 2024, 2025}
    months = {row[3] for row in counts if row[0] == "141003" and row[1] == "eltax-filing"}
    assert months == {0, *range(1, 13)}  # FY2023-24 as totals, FY2025 by month
    assert demo_counts_import(now=now()) is False
    assert stored() == counts
    assert CountImport.objects.count() == 1
