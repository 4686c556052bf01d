"""A procedure's applications leave as files a core system and Excel both read correctly:
stable columns, every character accounted for in Shift_JIS, no formula ever run, My Number
masked unless a permitted, stated purpose — and every export recorded."""

from __future__ import annotations

import copy
import csv
import io
import json
import types
from datetime import timedelta

import openpyxl
import pytest

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.models import Application
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.services import form_version_publish
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.integrations.exports import (
    GETA,
    ExportFormat,
    ExportOptions,
    ExportRefused,
    applications_export,
    cp932_prepare,
    export_cp932_check,
    export_cp932_report,
    export_layout,
    neutralise_formula,
)
from madoguchi.integrations.tests.export_helpers import (
    CHILD_MY_NUMBER,
    MY_NUMBER,
    adopt,
    base_answers,
    bulk,
    submit,
)


@pytest.fixture
def hoiku(organisation):
    """保育所の利用申込 of 横浜市: My Number at the top and in a group of up to 5 children."""
    return adopt(organisation)


def admin_of(organisation, role=StaffRole.ADMIN, email="admin@yokohama.test"):
    return staff_upsert(
        organisation=organisation,
        email=email,
        password="correct horse battery staple 42",
        role=role,
        display_name="管理 太郎",
    )


def run(procedure, staff, **options):
    prepared = applications_export(
        organisation=procedure.organisation,
        procedure=procedure,
        staff=staff,
        options=ExportOptions(**options),
        now=now(),
    )
    return prepared, b"".join(prepared.chunks)


def table(data: bytes, encoding: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(data.decode(encoding), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# --- Columns ----------------------------------------------------------------------------------


def test_columns_are_stable_keys_with_composites_split_and_groups_flattened(hoiku):
    keys = export_layout(procedure=hoiku).keys

    assert keys[:7] == [
        "receipt_number",
        "arrived_at",
        "status",
        "revision",
        "form_version",
        "channel",
        "received_date",
    ]
    assert keys[7:11] == [
        "guardian_name.family",
        "guardian_name.given",
        "guardian_name.family_kana",
        "guardian_name.given_kana",
    ]
    assert "guardian_address.postal_code" in keys
    assert "children.1.name.family" in keys
    assert "children.5.my_number" in keys  # max_items of the group
    assert "children.6.name.family" not in keys
    assert "g1_work_certificate" in keys  # attachments: file names
    assert "notice" not in " ".join(keys)  # notices hold no answer
    assert len(keys) == len(set(keys))


# --- UTF-8 CSV --------------------------------------------------------------------------------


def test_utf8_csv_has_a_bom_and_reads_back_with_the_csv_module(hoiku, resident, staff_member):
    name = {"family": "髙橋", "given": "𠮷子", "family_kana": "タカハシ", "given_kana": "ヨシコ"}
    application = submit(
        hoiku, resident, base_answers(hoiku, guardian_name=name, notes='一行目\n二行目, "引用"')
    )

    prepared, data = run(
        hoiku, staff_member, format=ExportFormat.CSV_UTF8, labels=True, choices="codes"
    )

    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == export_layout(procedure=hoiku).keys
    assert rows[1][:2] == ["受付番号", "到達日時"]
    assert "お子さん1 氏名（姓）" in rows[1]
    record = dict(zip(rows[0], rows[2], strict=True))
    assert record["receipt_number"] == application.receipt_number
    assert record["arrived_at"] == to_tokyo(application.arrived_at).isoformat(timespec="seconds")
    assert record["arrived_at"].endswith("+09:00")
    assert record["status"] == "submitted"
    assert record["guardian_name.family"] == "髙橋"
    assert record["guardian_name.given"] == "𠮷子"
    assert record["notes"] == '一行目\n二行目, "引用"'
    assert record["children.1.name.family"] == "髙橋"
    assert record["children.2.name.family"] == ""
    assert record["guardian_relationship"] == "mother"  # the code, not the label
    assert record["childcare_leave"] in ("0", "1")
    assert record["truth"] == "1"
    # My Number is masked by default, at the top and in the group.
    assert record["guardian_my_number"] == "●●●●●●●●9018"
    assert record["children.1.my_number"] == "●●●●●●●●1093"
    assert MY_NUMBER.encode() not in data
    assert CHILD_MY_NUMBER.encode() not in data
    assert prepared.rows == 1
    assert "filename*=UTF-8''" in prepared.content_disposition


# --- Shift_JIS CSV ----------------------------------------------------------------------------


def test_cp932_csv_replaces_what_shift_jis_cannot_hold_and_reports_each_character(
    hoiku, resident, staff_member
):
    keeps = {"family": "髙﨑", "given": "①②", "family_kana": "タカサキ", "given_kana": "マル"}
    loses = {"family": "𠮷田", "given": "花子", "family_kana": "ヨシダ", "given_kana": "ハナコ"}
    first = submit(hoiku, resident, base_answers(hoiku, guardian_name=keeps, notes="〜と～と—"))
    second = submit(hoiku, resident, base_answers(hoiku, guardian_name=loses, notes="よろしく😀"))

    prepared, data = run(hoiku, staff_member, format=ExportFormat.CSV_CP932)

    assert not data.startswith(b"\xef\xbb\xbf")
    records = table(data, "cp932")
    assert [r["receipt_number"] for r in records] == [first.receipt_number, second.receipt_number]
    # In cp932 (NEC / IBM extensions): kept as typed.
    assert records[0]["guardian_name.family"] == "髙﨑"
    assert records[0]["guardian_name.given"] == "①②"
    # WAVE DASH and FULLWIDTH TILDE are one JIS character (0x8160); EM DASH is JIS 0x815C.
    assert "〜と～と—".encode("cp932", errors="ignore") != cp932_prepare("〜と～と—").encode(
        "cp932"
    )
    assert cp932_prepare("〜と～と—").encode("cp932") == b"\x81\x60\x82\xc6\x81\x60\x82\xc6\x81\x5c"
    assert records[0]["notes"] == "～と～と―"
    # Not in cp932: replaced by 〓, never by "?".
    assert records[1]["guardian_name.family"] == f"{GETA}田"
    assert records[1]["notes"] == f"よろしく{GETA}"
    assert b"?" not in data
    reported = [
        (p.record, p.receipt_number, p.column, p.character, p.code_point) for p in prepared.problems
    ]
    assert reported == [
        (2, second.receipt_number, "guardian_name.family", "𠮷", "U+20BB7"),
        (2, second.receipt_number, "notes", "😀", "U+1F600"),
    ]
    assert prepared.problems[0].label == "申込者の氏名（姓）"


def test_kana_with_a_separate_voiced_mark_is_composed_rather_than_reported():
    assert cp932_prepare("か\u3099") == "が"
    assert cp932_prepare("ハ\u309a") == "パ"
    assert cp932_prepare("𠮷") == "𠮷"  # names otherwise as typed


def test_cp932_check_lists_the_problems_without_recording_an_export(hoiku, resident, staff_member):
    loses = {"family": "𠮷田", "given": "🌸", "family_kana": "ヨシダ", "given_kana": "サクラ"}
    application = submit(hoiku, resident, base_answers(hoiku, guardian_name=loses))
    submit(hoiku, resident, base_answers(hoiku))

    check = export_cp932_check(
        organisation=hoiku.organisation,
        procedure=hoiku,
        staff=staff_member,
        options=ExportOptions(format=ExportFormat.CSV_CP932),
        limit=1,
    )

    assert check.rows == 2
    assert check.total == 2
    assert len(check.problems) == 1
    assert check.problems[0].receipt_number == application.receipt_number
    assert not AuditEvent.objects.filter(action="application.export").exists()


def test_cp932_report_is_a_utf8_csv_of_every_replaced_character(hoiku, resident, staff_member):
    loses = {"family": "𠮷田", "given": "🌸", "family_kana": "ヨシダ", "given_kana": "サクラ"}
    application = submit(hoiku, resident, base_answers(hoiku, guardian_name=loses))

    report = export_cp932_report(
        organisation=hoiku.organisation,
        procedure=hoiku,
        staff=staff_member,
        options=ExportOptions(format=ExportFormat.CSV_CP932),
        now=now(),
    )
    rows = table(b"".join(report.chunks)[3:], "utf-8")

    assert [
        (r["receipt_number"], r["column"], r["character"], r["code_point"]) for r in rows[1:]
    ] == [
        (application.receipt_number, "guardian_name.family", "𠮷", "U+20BB7"),
        (application.receipt_number, "guardian_name.given", "🌸", "U+1F338"),
    ]
    assert rows[0]["character"] == "文字"  # the label row
    event = AuditEvent.objects.get(action="application.export")
    assert event.detail["format"] == "csv-sjis-report"


# --- Formula injection ------------------------------------------------------------------------

HOSTILE = {
    "facility_1": '=HYPERLINK("http://x","a")',
    "facility_2": "+1",
    "facility_3": "-1",
    "health_notes": "@SUM(A1:A9)",
}


def _hostile_answers(hoiku):
    answers = base_answers(hoiku, notes="＝1+1")
    answers["children"][0].update(HOSTILE)
    answers["guardian_name"] = {
        "family": "＠山田",
        "given": "＋花子",
        "family_kana": "ヤマダ",
        "given_kana": "ハナコ",
    }
    return answers


@pytest.mark.parametrize("fmt", [ExportFormat.CSV_UTF8, ExportFormat.CSV_CP932])
def test_csv_cells_that_a_spreadsheet_would_run_start_with_a_quote(
    hoiku, resident, staff_member, fmt
):
    submit(hoiku, resident, _hostile_answers(hoiku))

    _, data = run(hoiku, staff_member, format=fmt)

    record = table(data, "utf-8-sig" if fmt == ExportFormat.CSV_UTF8 else "cp932")[0]
    assert record["children.1.facility_1"] == "'" + HOSTILE["facility_1"]
    assert record["children.1.facility_2"] == "'+1"
    assert record["children.1.facility_3"] == "'-1"
    assert record["children.1.health_notes"] == "'@SUM(A1:A9)"
    assert record["notes"] == "'＝1+1"
    assert record["guardian_name.family"] == "'＠山田"
    assert record["guardian_name.given"] == "'＋花子"
    for value in record.values():
        assert not value or value[0] not in "=+-@\t\r＝＋－＠"


def test_formula_triggers_include_tab_carriage_return_and_full_width_forms():
    for text in ("=1", "+1", "-1", "@A", "\t=1", "\r=1", "＝1", "＋1", "－1", "＠A", "−1"):
        assert neutralise_formula(text) == "'" + text
    for text in ("", "山田", "1-2", "a=b", "'quoted"):
        assert neutralise_formula(text) == text


def test_numbers_of_number_fields_stay_numbers(hoiku, staff_member):
    bulk(hoiku, 1, {"g1_reason": "employed", "g1_hours": -5, "g1_workplace": "-横浜"})

    _, data = run(hoiku, staff_member, format=ExportFormat.CSV_UTF8)
    record = table(data, "utf-8-sig")[0]

    assert record["g1_hours"] == "-5"  # a number, not a formula: left as it is
    assert record["g1_workplace"] == "'-横浜"


# --- xlsx -------------------------------------------------------------------------------------


def test_xlsx_opens_and_holds_hostile_values_as_text_never_formulas(hoiku, resident, staff_member):
    application = submit(hoiku, resident, _hostile_answers(hoiku))
    bulk(hoiku, 1, {"g1_reason": "employed", "g1_hours": 160})

    prepared, data = run(hoiku, staff_member, format=ExportFormat.XLSX, labels=True)

    assert prepared.content_type.endswith("spreadsheetml.sheet")
    assert data[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    rows = list(sheet.iter_rows())
    keys = [c.value for c in rows[0]]
    assert keys == export_layout(procedure=hoiku).keys
    assert rows[1][0].value == "受付番号"
    cells = dict(zip(keys, rows[2], strict=False))
    assert cells["receipt_number"].value == application.receipt_number
    for key, value in HOSTILE.items():
        cell = cells[f"children.1.{key}"]
        assert cell.value == value  # as typed, no quote added
        assert cell.data_type == "s"
    assert cells["notes"].data_type == "s"
    assert cells["guardian_my_number"].value == "●●●●●●●●9018"
    for row in rows:
        for cell in row:
            assert cell.data_type != "f"
    numbers = dict(zip(keys, rows[3], strict=False))
    assert numbers["g1_hours"].value == 160
    assert numbers["g1_hours"].data_type == "n"


# --- My Number --------------------------------------------------------------------------------


def test_my_number_is_included_only_with_a_permitted_role_and_a_purpose(
    hoiku, resident, organisation
):
    submit(hoiku, resident, base_answers(hoiku))
    admin = admin_of(organisation)
    purpose = "基幹系システム（保育）への登録のため"

    prepared, data = run(
        hoiku, admin, format=ExportFormat.CSV_UTF8, include_specific=True, purpose=purpose
    )

    record = table(data, "utf-8-sig")[0]
    assert record["guardian_my_number"] == MY_NUMBER
    assert record["children.1.my_number"] == CHILD_MY_NUMBER
    assert "特定個人情報" in prepared.filename
    assert "mynumber" in prepared.ascii_filename
    event = AuditEvent.objects.get(action="application.export")
    assert event.reason == f"個人番号: {purpose}"
    assert event.detail["specific"] is True
    assert MY_NUMBER not in json.dumps(event.detail)


@pytest.mark.parametrize("role", [StaffRole.VIEWER])
def test_a_viewer_may_export_masked_but_never_my_number(hoiku, resident, organisation, role):
    submit(hoiku, resident, base_answers(hoiku))
    viewer = admin_of(organisation, role=role, email="viewer@yokohama.test")

    with pytest.raises(ExportRefused, match="団体管理者"):
        run(hoiku, viewer, include_specific=True, purpose="基幹系システムへの登録のため")
    assert not AuditEvent.objects.filter(action="application.export").exists()

    _, data = run(hoiku, viewer)
    assert "●●●●●●●●9018" in data.decode("utf-8-sig")


def test_a_reviewer_not_assigned_to_the_procedure_may_not_include_my_number(
    hoiku, resident, organisation, staff_member
):
    submit(hoiku, resident, base_answers(hoiku))
    other = admin_of(organisation, role=StaffRole.REVIEWER, email="assigned@yokohama.test")
    hoiku.reviewers.set([other])

    with pytest.raises(ExportRefused):
        run(hoiku, staff_member, include_specific=True, purpose="基幹系システムへの登録のため")
    _, data = run(hoiku, other, include_specific=True, purpose="基幹系システムへの登録のため")
    assert MY_NUMBER in data.decode("utf-8-sig")


@pytest.mark.parametrize("purpose", ["", "短い", "　" * 20, "x" * 501])
def test_my_number_needs_a_real_purpose(hoiku, organisation, purpose):
    with pytest.raises(ExportRefused, match="利用目的"):
        run(hoiku, admin_of(organisation), include_specific=True, purpose=purpose)
    assert not AuditEvent.objects.filter(action="application.export").exists()


# --- Audit, scope, filters, streaming ---------------------------------------------------------


def test_each_export_is_recorded_without_personal_data(hoiku, resident, staff_member):
    name = {"family": "記録", "given": "残子", "family_kana": "キロク", "given_kana": "ノココ"}
    submit(hoiku, resident, base_answers(hoiku, guardian_name=name))
    day = to_tokyo(now()).date()

    run(
        hoiku,
        staff_member,
        format=ExportFormat.XLSX,
        arrived_from=day,
        statuses=(ApplicationStatus.SUBMITTED,),
    )

    event = AuditEvent.objects.get(action="application.export")
    assert event.organisation == hoiku.organisation
    assert event.actor == staff_member.user
    assert event.target_type == "procedure"
    assert event.target_id == str(hoiku.pk)
    assert event.detail["format"] == "xlsx"
    assert event.detail["rows"] == 1
    assert event.detail["filters"] == {
        "arrived_from": day.isoformat(),
        "arrived_to": None,
        "statuses": ["submitted"],
    }
    assert event.detail["specific"] is False
    assert "記録" not in json.dumps(event.detail, ensure_ascii=False)
    assert event.reason == ""


def test_another_organisations_procedure_cannot_be_exported(
    hoiku, resident, other_organisation, other_staff
):
    submit(hoiku, resident, base_answers(hoiku))
    with pytest.raises(Procedure.DoesNotExist):
        applications_export(
            organisation=other_organisation,
            procedure=hoiku,
            staff=other_staff,
            options=ExportOptions(),
            now=now(),
        )
    with pytest.raises(Procedure.DoesNotExist):  # own organisation passed, foreign staff
        applications_export(
            organisation=hoiku.organisation,
            procedure=hoiku,
            staff=other_staff,
            options=ExportOptions(),
            now=now(),
        )
    assert not AuditEvent.objects.filter(action="application.export").exists()


def test_filters_choose_the_period_and_the_statuses(hoiku, staff_member):
    today = to_tokyo(now())
    old = bulk(hoiku, 2, {}, at=now() - timedelta(days=40))
    new = bulk(hoiku, 3, {}, at=now())
    Application.objects.filter(pk=new[0].pk).update(status=ApplicationStatus.APPROVED)

    def receipts(**options):
        _, data = run(hoiku, staff_member, **options)
        return {r["receipt_number"] for r in table(data, "utf-8-sig")}

    assert receipts() == {a.receipt_number for a in old + new}
    assert receipts(arrived_from=(today - timedelta(days=1)).date()) == {
        a.receipt_number for a in new
    }
    assert receipts(arrived_to=(today - timedelta(days=30)).date()) == {
        a.receipt_number for a in old
    }
    assert receipts(statuses=(ApplicationStatus.APPROVED,)) == {new[0].receipt_number}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "pdf"}, "出力形式"),
        ({"statuses": ("deleted",)}, "状態"),
        ({"arrived_from": now().date(), "arrived_to": now().date() - timedelta(days=1)}, "到達日"),
    ],
)
def test_impossible_options_are_refused_in_japanese(hoiku, staff_member, options, message):
    with pytest.raises(ExportRefused, match=message):
        run(hoiku, staff_member, **options)
    assert not AuditEvent.objects.filter(action="application.export").exists()


def test_rows_stream_in_batches_from_a_generator(hoiku, staff_member):
    bulk(hoiku, 1201, {})

    prepared = applications_export(
        organisation=hoiku.organisation,
        procedure=hoiku,
        staff=staff_member,
        options=ExportOptions(format=ExportFormat.CSV_CP932),
        now=now(),
    )

    assert isinstance(prepared.chunks, types.GeneratorType)
    chunks = list(prepared.chunks)
    assert len(chunks) >= 3  # 500 rows a batch
    assert prepared.rows == 1201
    assert len(table(b"".join(chunks), "cp932")) == 1201


def test_applications_arriving_during_the_export_wait_for_the_next_one(hoiku, staff_member):
    bulk(hoiku, 2, {})
    prepared = applications_export(
        organisation=hoiku.organisation,
        procedure=hoiku,
        staff=staff_member,
        options=ExportOptions(),
        now=now(),
    )
    bulk(hoiku, 1, {}, start=100)  # arrives after the export was counted and recorded

    assert len(table(b"".join(prepared.chunks), "utf-8-sig")) == prepared.rows == 2


def test_columns_stay_when_the_form_changes_and_old_answers_keep_their_place(hoiku, staff_member):
    old_version = hoiku.form_version
    bulk(hoiku, 1, {"notes": "旧様式の備考", "siblings_separate": True})
    schema = copy.deepcopy(old_version.schema)
    for step in schema["steps"]:
        for section in step["sections"]:
            section["fields"] = [f for f in section["fields"] if f["key"] != "notes"]
    schema["steps"][0]["sections"][0]["fields"].append(
        {"key": "nickname", "type": "text", "label": "呼び名"}
    )
    hoiku.form_version = form_version_publish(
        organisation=hoiku.organisation,
        schema=schema,
        now=now(),
        key=old_version.definition.key,
    )
    hoiku.save()
    bulk(hoiku, 1, {"nickname": "はな", "siblings_separate": False}, start=10)

    keys = export_layout(procedure=hoiku).keys
    assert keys[-1] == "notes"  # only the old version had it: after the current ones
    assert "nickname" in keys
    _, data = run(hoiku, staff_member)
    old, new = table(data, "utf-8-sig")
    assert (old["form_version"], old["notes"], old["nickname"]) == ("1", "旧様式の備考", "")
    assert (new["form_version"], new["notes"], new["nickname"]) == ("2", "", "はな")
    assert (old["siblings_separate"], new["siblings_separate"]) == ("1", "0")
