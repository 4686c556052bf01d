"""人口の取込: an operator uploads a CSV of 団体コード and 人口; all of it, or none of it."""

import random
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.core.time import now
from madoguchi.tenants.models import Organisation, PopulationImport
from madoguchi.tenants.services import (
    MAX_POPULATION,
    MAX_POPULATION_FILE_BYTES,
    PopulationImportError,
    PopulationImportReport,
    population_import,
)

AS_OF = date(2026, 1, 1)


def import_csv(
    text: str | bytes,
    *,
    encoding: str = "utf-8",
    as_of: date | None = AS_OF,
    file_name: str = "jinko.csv",
) -> PopulationImportReport:
    data = text.encode(encoding) if isinstance(text, str) else text
    return population_import(data=data, file_name=file_name, as_of=as_of, now=now())


def population(code: str) -> int | None:
    return Organisation.objects.values_list("population", flat=True).get(lg_code=code)


def refused(data: str | bytes, **kwargs: Any) -> list[str]:
    with pytest.raises(PopulationImportError) as caught:
        import_csv(data, **kwargs)
    return caught.value.errors


@pytest.fixture
def populations_set_earlier(db):
    """横浜市 and 鎌倉市 already have their populations from an earlier import."""
    import_csv("141003,3770000\n142042,170000\n", as_of=date(2025, 1, 1))
    return {"141003": 3_770_000, "142042": 170_000}


def assert_nothing_changed(earlier: dict[str, int], imports_before: int) -> None:
    for code, value in earlier.items():
        org = Organisation.objects.get(lg_code=code)
        assert org.population == value
        assert org.population_as_of == date(2025, 1, 1)
    assert PopulationImport.objects.count() == imports_before
    assert not Organisation.objects.filter(
        population__isnull=False, population_as_of=AS_OF
    ).exists()


# --- files that are accepted -------------------------------------------------------------------


def test_utf8_file_with_japanese_header(db):
    report = import_csv("団体コード,人口\n141003,3770000\n142042,170000\n")
    assert report.rows == 2
    assert report.changed == 2
    assert report.encoding == "utf-8"
    assert report.as_of == AS_OF
    assert report.without_population == 1963 - 2
    assert population("141003") == 3_770_000
    assert population("142042") == 170_000
    stored = PopulationImport.objects.get()
    assert stored.file_name == "jinko.csv"
    assert stored.encoding == "utf-8"
    assert stored.rows == 2
    assert stored.as_of == AS_OF
    assert len(stored.digest) == 64


def test_as_of_is_stored_on_each_organisation(db):
    import_csv("141003,3770000\n", as_of=date(2026, 4, 1))
    assert Organisation.objects.get(lg_code="141003").population_as_of == date(2026, 4, 1)


def test_as_of_may_be_left_out(db):
    report = import_csv("141003,3770000\n", as_of=None)
    assert report.as_of is None
    org = Organisation.objects.get(lg_code="141003")
    assert org.population == 3_770_000
    assert org.population_as_of is None


def test_utf8_file_with_bom(db):
    report = import_csv("\ufeff団体コード,人口\r\n141003,3770000\r\n", encoding="utf-8")
    assert report.encoding == "utf-8"
    assert population("141003") == 3_770_000


def test_utf8_file_with_bom_and_no_header(db):
    report = import_csv(b"\xef\xbb\xbf141003,3770000\n142042,170000\n")
    assert report.rows == 2
    assert population("141003") == 3_770_000


def test_shift_jis_file_from_a_spreadsheet(db):
    data = "団体コード,人口（人）\r\n141003,3770000\r\n142042,170000\r\n".encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = import_csv(data)
    assert report.encoding == "shift_jis"
    assert report.rows == 2
    assert population("142042") == 170_000
    assert PopulationImport.objects.get().encoding == "shift_jis"


def test_file_without_header(db):
    report = import_csv("141003,3770000\n142042,170000")
    assert report.rows == 2
    assert population("141003") == 3_770_000


def test_five_digit_jis_codes(db):
    import_csv("14100,3770000\n13101,67000\n14204,170000\n")
    assert population("141003") == 3_770_000
    assert population("131016") == 67_000
    assert population("142042") == 170_000


def test_code_whose_leading_zero_a_spreadsheet_dropped(db):
    import_csv("11002,1960000\n")
    assert population("011002") == 1_960_000


def test_four_digit_jis_code_whose_leading_zero_was_dropped(db):
    import_csv("1100,1960000\n")
    assert population("011002") == 1_960_000


def test_ambiguous_five_digit_code_asks_for_six_digits(db):
    # "12203" is 市川市 (122033) in JIS form, and 士別市 (012203) with its leading zero dropped.
    errors = refused("12203,490000\n")
    assert len(errors) == 1
    assert errors[0].startswith("1行目: ")
    assert "122033" in errors[0]
    assert "012203" in errors[0]
    assert "6桁で書いてください" in errors[0]
    assert population("122033") is None
    assert population("012203") is None


def test_full_width_digits(db):
    import_csv("１４１００３,３７７００００\n")
    assert population("141003") == 3_770_000


def test_population_with_thousands_separators(db):
    import_csv('団体コード,人口\n141003,"3,770,000"\n142042,"１７０，０００"\n')
    assert population("141003") == 3_770_000
    assert population("142042") == 170_000


def test_surrounding_spaces_blank_lines_and_extra_columns(db):
    import_csv(" 141003 , 3770000 ,横浜市\n\n,,\n142042,170000,鎌倉市\n")
    assert population("141003") == 3_770_000
    assert population("142042") == 170_000


def test_zero_leading_zeros_and_the_largest_population_are_accepted(db):
    import_csv(f"141003,0\n142042,{MAX_POPULATION}\n131016,000000000067000\n")
    assert population("141003") == 0
    assert population("142042") == MAX_POPULATION
    assert population("131016") == 67_000


def test_importing_the_same_file_again_changes_nothing(populations_set_earlier):
    report = import_csv("141003,3770000\n142042,170000\n", as_of=date(2025, 1, 1))
    assert report.rows == 2
    assert report.changed == 0
    assert PopulationImport.objects.count() == 2


def test_a_later_import_replaces_the_population(populations_set_earlier):
    report = import_csv("141003,3780000\n")
    assert report.changed == 1
    assert population("141003") == 3_780_000
    assert population("142042") == 170_000  # not in the file: left alone


# --- files that are refused, with nothing changed ---------------------------------------------


def test_one_bad_row_among_good_ones_changes_nothing(populations_set_earlier):
    before = PopulationImport.objects.count()
    errors = refused(
        "団体コード,人口\n"
        "141003,3800000\n"  # 2: good
        "142042,たくさん\n"  # 3: not a number
        "131016,-5\n"  # 4: negative
        "131017,67000\n"  # 5: wrong check digit
        "011002,1960000\n"  # 6: good
    )
    assert len(errors) == 3
    assert errors[0].startswith("3行目: ")
    assert "たくさん" in errors[0]
    assert errors[1].startswith("4行目: ")
    assert "0以上の整数" in errors[1]
    assert errors[2].startswith("5行目: ")
    assert "検査数字は 6 です" in errors[2]
    assert_nothing_changed(populations_set_earlier, before)
    assert population("011002") is None


def test_error_message_lists_every_bad_row(db):
    with pytest.raises(PopulationImportError) as caught:
        import_csv("x,1\n141003,abc\n142042,\n")
    message = str(caught.value)
    assert message.startswith("人口ファイルを取り込めませんでした:")
    assert "2行目: " in message
    assert "3行目: " in message


def test_duplicate_code_names_the_first_line(populations_set_earlier):
    before = PopulationImport.objects.count()
    errors = refused("団体コード,人口\n141003,3800000\n142042,171000\n14100,3900000\n")
    assert errors == ["4行目: 団体コード 141003 は 2行目にもあります。"]
    assert_nothing_changed(populations_set_earlier, before)


def test_unknown_code(db):
    # 131008 has a valid check digit, but there is no such organisation.
    errors = refused("131008,100\n")
    assert errors == ["1行目: 団体コード 131008 の団体は団体マスタにありません。"]


def test_wrong_check_digit(db):
    [error] = refused("141004,3770000\n")
    assert error.startswith("1行目: ")
    assert "検査数字は 3 です" in error


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("-5", "0以上の整数"),
        ("-3,770,000", "0以上の整数"),
        ("3.5", "0以上の整数"),
        ("1e6", "0以上の整数"),
        ("たくさん", "0以上の整数"),
        ("約300万", "0以上の整数"),
        (str(MAX_POPULATION + 1), "大きすぎます"),
        ("9" * 20, "大きすぎます"),
        ("9" * 5000, "人口（5000桁）は大きすぎます"),
    ],
)
def test_population_that_is_not_a_count_of_people(populations_set_earlier, cell, words):
    before = PopulationImport.objects.count()
    [error] = refused(f'141003,"{cell}"\n')
    assert error.startswith("1行目: ")
    assert words in error
    assert_nothing_changed(populations_set_earlier, before)


@pytest.mark.parametrize("code", ["abc", "13-101", "131", "1310166", "0131016", "🏯"])
def test_code_that_is_not_a_code(db, code):
    [error] = refused(f"141003,1\n{code},100\n")
    assert error.startswith("2行目: 団体コード")


def test_missing_second_column(populations_set_earlier):
    before = PopulationImport.objects.count()
    errors = refused("141003,3800000\n142042\n131016,\n")
    assert errors == [
        "2行目: 団体コードと人口の2列が必要です。",
        "3行目: 団体コードと人口の2列が必要です。",
    ]
    assert_nothing_changed(populations_set_earlier, before)


def test_empty_file(db):
    assert refused(b"") == ["ファイルが空です。"]
    assert refused(b"\r\n \n\t") == ["ファイルが空です。"]


def test_only_a_header(db):
    assert refused("団体コード,人口\n") == ["取り込める行がありません。"]
    assert refused("団体コード,人口\n".encode("cp932")) == ["取り込める行がありません。"]
    assert refused(b"\xef\xbb\xbf") == ["取り込める行がありません。"]


def test_binary_junk_is_refused_as_undecodable(populations_set_earlier):
    before = PopulationImport.objects.count()
    junk = random.Random(20260101).randbytes(4096)
    for encoding in ("utf-8", "cp932"):
        with pytest.raises(UnicodeDecodeError):
            junk.decode(encoding)
    errors = refused(junk)
    assert errors == ["文字コードを判別できません。UTF-8 か Shift_JIS で保存してください。"]
    assert_nothing_changed(populations_set_earlier, before)


def test_nul_bytes_are_refused(populations_set_earlier):
    before = PopulationImport.objects.count()
    for data in (b"141003,3800000\x00\n", b"\x00" * 100, "141003,1\n\x00".encode("cp932")):
        [error] = refused(data)
        assert "NUL" in error
    assert_nothing_changed(populations_set_earlier, before)


def test_oversized_file_is_refused_before_it_is_read(populations_set_earlier):
    before = PopulationImport.objects.count()
    line = b"141003,3800000\n"
    data = line * (MAX_POPULATION_FILE_BYTES // len(line) + 1)
    assert len(data) > MAX_POPULATION_FILE_BYTES
    assert refused(data) == ["ファイルが大きすぎます（上限 5MB）。"]
    assert_nothing_changed(populations_set_earlier, before)


def test_too_many_rows(db):
    [error] = refused("141003,1\n" * 10_002)
    assert "行数が多すぎます" in error


def test_one_enormous_field_is_a_clear_error_not_a_crash(populations_set_earlier):
    before = PopulationImport.objects.count()
    [error] = refused(b"1" * 200_000)
    assert "CSV" in error
    [error] = refused(b'141003,"' + b"9" * 200_000 + b'"\n')
    assert "CSV" in error
    assert_nothing_changed(populations_set_earlier, before)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.one_of(st.binary(max_size=512), st.text(max_size=200).map(str.encode)))
def test_any_bytes_are_imported_or_refused_with_a_reason(db, data):
    try:
        report = population_import(data=data, file_name="x.csv", as_of=None, now=now())
    except PopulationImportError as error:
        errors = error.errors
    else:
        assert report.rows >= 1
        return
    assert errors
    assert all(isinstance(line, str) and line for line in errors)


def test_unquoted_thousands_separator_is_refused_not_read_as_three(populations_set_earlier):
    before = PopulationImport.objects.count()
    errors = refused("141003,3,770,000\n")
    assert errors[0].startswith("1行目: 人口の桁区切りのカンマ")
    assert_nothing_changed(populations_set_earlier, before)


def test_a_third_column_with_the_name_is_allowed(db):
    import_csv("団体コード,人口,団体名\n142042,170000,鎌倉市\n")
    assert population("142042") == 170_000


def test_mistyped_code_in_the_first_row_is_an_error_not_a_header(populations_set_earlier):
    before = PopulationImport.objects.count()
    errors = refused("l41003,3770000\n142042,170000\n")
    assert errors[0].startswith("1行目:")
    assert_nothing_changed(populations_set_earlier, before)
