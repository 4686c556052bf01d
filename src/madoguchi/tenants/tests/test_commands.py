"""The operator's commands: ``load_organisations`` and ``import_population FILE``."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.tenants.models import MasterLoad, Organisation, PopulationImport
from madoguchi.tenants.services import MAX_POPULATION_FILE_BYTES


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_load_organisations_prints_the_summary_line(db):
    loads = MasterLoad.objects.count()
    out, err = run("load_organisations")
    assert out.strip().splitlines() == [
        "団体マスタ（japancode 0.1.0）: 追加 0、更新 0、無効化 0、再有効化 0、変更なし 1963"
    ]
    assert err == ""
    assert MasterLoad.objects.count() == loads + 1


def test_load_organisations_can_stay_quiet_when_nothing_changed(db):
    out, _ = run("load_organisations", "--quiet-unchanged")
    assert out == ""


@pytest.fixture
def csv_file(tmp_path):
    def write(content, name="jinko.csv", encoding="utf-8"):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return write


def test_import_population_reports_what_it_did(db, csv_file):
    path = csv_file("団体コード,人口\r\n141003,3770000\r\n142042,170000\r\n", encoding="cp932")
    out, err = run("import_population", str(path), "--as-of", "2026-01-01")
    assert out.strip() == (
        "2団体の人口を取り込みました（変更 2件、文字コード shift_jis）。"
        "人口が未登録の有効な団体: 1961"
    )
    assert err == ""
    yokohama = Organisation.objects.get(lg_code="141003")
    assert yokohama.population == 3_770_000
    assert yokohama.population_as_of == date(2026, 1, 1)
    stored = PopulationImport.objects.get()
    assert stored.file_name == "jinko.csv"
    assert stored.as_of == date(2026, 1, 1)


def test_import_population_writes_every_bad_line_to_stderr(db, csv_file):
    run("import_population", str(csv_file("141003,3770000\n", name="first.csv")))
    path = csv_file("141003,3800000\n142042,たくさん\n131017,1\n")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2件の誤りがあるため、何も取り込みませんでした"):
        call_command("import_population", str(path), stdout=out, stderr=err)
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2行目: ")
    assert lines[1].startswith("3行目: ")
    assert "検査数字" in lines[1]
    assert out.getvalue() == ""
    assert Organisation.objects.get(lg_code="141003").population == 3_770_000
    assert PopulationImport.objects.count() == 1


def test_import_population_of_a_missing_file_is_a_command_error(db, tmp_path):
    missing = tmp_path / "nai.csv"
    with pytest.raises(CommandError, match="ファイルを読めません") as caught:
        run("import_population", str(missing))
    assert "nai.csv" in str(caught.value)


def test_import_population_of_a_directory_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="ファイルを読めません"):
        run("import_population", str(tmp_path))


def test_import_population_refuses_an_oversized_file(db, tmp_path):
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.truncate(MAX_POPULATION_FILE_BYTES + 1)
    with pytest.raises(CommandError, match="大きすぎます"):
        run("import_population", str(path))
    assert PopulationImport.objects.count() == 0


@pytest.mark.parametrize("as_of", ["2026-13-01", "昨日", "2026/01/01", "令和8年1月1日"])
def test_import_population_with_a_bad_as_of_date(db, csv_file, as_of):
    path = csv_file("141003,3770000\n")
    with pytest.raises(CommandError, match="--as-of は 2026-01-01 の形で指定してください"):
        run("import_population", str(path), "--as-of", as_of)
    assert Organisation.objects.get(lg_code="141003").population is None
