"""Exports people can use: choice labels (codes on request), empty columns left out on
request, bank accounts masked unless asked for with their own purpose — apart from My Number."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from madoguchi.applications.services import protect_answers
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.base import Context, field_types
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.integrations.exports import (
    ExportFormat,
    ExportOptions,
    ExportRefused,
    applications_export,
    export_layout,
)
from madoguchi.integrations.tests.export_helpers import (
    MY_NUMBER,
    adopt,
    base_answers,
    bulk,
    submit,
)

ACCOUNT = {
    "bank_code": "0009",
    "branch_code": "123",
    "account_type": "ordinary",
    "account_number": "7654321",
    "holder": "タカハシ ハナコ",
}


@pytest.fixture
def hoiku(organisation):
    return adopt(organisation)


@pytest.fixture
def teate(organisation):
    """児童手当 (認定請求) with one application: My Number and a bank account, sealed."""
    procedure = adopt(organisation, "jidou-teate-nintei")
    spec = form_spec(procedure.form_version)
    ctx = Context(today=to_tokyo(now()).date())
    name = next(f for f in spec.fields if f.key == "claimant_name")
    answers = {
        "claimant_name": field_types[name.type].example(name, ctx),
        "claimant_my_number": MY_NUMBER,
        "account": dict(ACCOUNT),
    }
    bulk(procedure, 1, protect_answers(spec, answers))
    return procedure


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


def table(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_choices_are_written_as_their_labels_and_as_codes_on_request(hoiku, resident, staff_member):
    submit(hoiku, resident, base_answers(hoiku))

    _, labelled = table(run(hoiku, staff_member)[1])
    _, coded = table(run(hoiku, staff_member, choices="codes")[1])

    assert labelled[0]["guardian_relationship"] == "母"
    assert coded[0]["guardian_relationship"] == "mother"
    assert AuditEvent.objects.filter(detail__choices="codes").count() == 1


def test_empty_columns_are_left_out_on_request_with_the_same_stable_keys(
    hoiku, resident, staff_member
):
    submit(hoiku, resident, base_answers(hoiku))
    every = export_layout(procedure=hoiku).keys

    keys, rows = table(run(hoiku, staff_member, drop_empty=True)[1])

    assert keys[:7] == every[:7]  # the fixed columns always stay
    assert set(keys) < set(every)
    assert keys == [k for k in every if k in keys]  # same names, same order
    # One child in the selection: the group is laid out up to that count only.
    assert "children.1.name.family" in keys
    assert not [k for k in keys if k.startswith("children.2.")]
    assert all(any(row[k] for row in rows) for k in keys[7:])
    event = AuditEvent.objects.get(action="application.export")
    assert event.detail["drop_empty"] is True
    assert event.detail["columns_left_out"] == len(every) - len(keys)


def test_empty_columns_left_out_in_excel_too(hoiku, resident, staff_member):
    submit(hoiku, resident, base_answers(hoiku))

    _, data = run(hoiku, staff_member, format=ExportFormat.XLSX, drop_empty=True)

    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert "children.1.name.family" in header
    assert "children.2.name.family" not in header


def test_a_bank_account_is_masked_unless_asked_for_with_its_own_purpose(teate, organisation):
    admin = admin_of(organisation)

    _, masked = table(run(teate, admin)[1])
    assert masked[0]["account.account_number"] != ACCOUNT["account_number"]
    assert masked[0]["account.account_number"].endswith("21")  # the masked form, e.g. ●●●●●21

    prepared, data = run(teate, admin, include_bank=True, bank_purpose="児童手当の支払処理のため")
    _, full = table(data)
    assert full[0]["account.account_number"] == ACCOUNT["account_number"]
    assert full[0]["account.holder"] == ACCOUNT["holder"]
    # My Number stays masked: unmasking the account does not unmask it.
    assert full[0]["claimant_my_number"] != MY_NUMBER
    assert "特定個人情報" not in prepared.filename
    event = AuditEvent.objects.filter(action="application.export").latest("id")
    assert event.detail["bank"] is True
    assert event.detail["specific"] is False
    assert event.detail["bank_purpose"] == "児童手当の支払処理のため"
    assert "口座: 児童手当の支払処理のため" in event.reason
    assert ACCOUNT["account_number"] not in json.dumps(event.detail) + event.reason


def test_my_number_and_bank_account_each_with_their_purpose(teate, organisation):
    admin = admin_of(organisation)

    _, data = run(
        teate,
        admin,
        include_specific=True,
        purpose="基幹系システムへの登録のため",
        include_bank=True,
        bank_purpose="児童手当の支払処理のため",
    )

    _, rows = table(data)
    assert rows[0]["claimant_my_number"] == MY_NUMBER
    assert rows[0]["account.account_number"] == ACCOUNT["account_number"]
    event = AuditEvent.objects.get(action="application.export")
    assert (event.detail["specific"], event.detail["bank"]) == (True, True)
    assert event.reason == "個人番号: 基幹系システムへの登録のため / 口座: 児童手当の支払処理のため"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"include_bank": True, "bank_purpose": ""}, "利用目的"),
        ({"include_bank": True, "bank_purpose": "支払"}, "利用目的"),
        (
            {"include_bank": True, "bank_purpose": "\u200b\u200b\u200b\u200b\u200b\u200b"},
            "利用目的",
        ),
        ({"include_bank": True, "bank_purpose": "あ" * 5000}, "利用目的"),
        ({"choices": "<script>"}, "選択肢"),
        ({"choices": ""}, "選択肢"),
        ({"choices": "codes\x00"}, "選択肢"),
    ],
)
def test_hostile_export_options_are_refused_in_japanese_and_nothing_is_recorded(
    teate, organisation, options, words
):
    admin = admin_of(organisation)

    with pytest.raises(ExportRefused, match=words):
        run(teate, admin, **options)
    assert not AuditEvent.objects.filter(action="application.export").exists()


@pytest.mark.parametrize("role", [StaffRole.VIEWER])
def test_a_viewer_cannot_unmask_bank_accounts(teate, organisation, role):
    viewer = admin_of(organisation, role=role, email="viewer@yokohama.test")

    with pytest.raises(ExportRefused, match="口座"):
        run(teate, viewer, include_bank=True, bank_purpose="児童手当の支払処理のため")
    assert not AuditEvent.objects.filter(action="application.export").exists()
    # Masked, the same person may export.
    _, data = run(teate, viewer)
    assert table(data)[1][0]["account.account_number"] != ACCOUNT["account_number"]
