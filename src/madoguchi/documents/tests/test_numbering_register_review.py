"""Review of numbering and the register (issue 14): no printed number twice in a fiscal year
(clashing prefixes refused on both settings pages and by the database), what /verify/ shows
(number, kind) covered by the entry hash, a document's status checked against the audit
trail, the documents carried over from before the register entered by migration, and the
fiscal year turning at midnight in Japan."""

from __future__ import annotations

import hashlib
import importlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, connection, transaction

from madoguchi.documents.audit import register_audit
from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.documents.models import (
    Document,
    NumberSeries,
    ProcedureNoticeSettings,
    Register,
    RegisterEntry,
)
from madoguchi.documents.notice_admin import (
    NoticeSettingsRefused,
    document_settings_save,
    procedure_notice_settings_save,
)
from madoguchi.documents.register import HASH_VERSION, entry_hash
from madoguchi.documents.status import document_status_set
from madoguchi.documents.testing import document_issue_make, document_record_make

#: 2026-11-02 10:00 in Tokyo (fiscal 2026).
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
NAMES = {"procedure:7": "粗大ごみ収集の申込み", "procedure:8": "犬の登録"}


def org_prefix(organisation, admin_staff, prefix, *, now=T0):
    return document_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        data={"number_prefix": prefix},
        now=now,
        procedure_names=NAMES,
    )


def own_prefix(organisation, admin_staff, key, prefix, *, now=T0):
    return procedure_notice_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        procedure_key=key,
        data={"own_series": "on", "number_prefix": prefix},
        now=now,
        procedure_names=NAMES,
    )


def problems_of(organisation):
    return [str(p) for p in register_audit(organisation=organisation).problems]


# --- 1. One prefix per series ---------------------------------------------------------------


def test_a_procedures_own_prefix_equal_to_the_organisations_is_refused(organisation, admin_staff):
    org_prefix(organisation, admin_staff, "鎌")

    with pytest.raises(NoticeSettingsRefused) as refused:
        own_prefix(organisation, admin_staff, "procedure:7", "鎌")

    assert "「鎌」は団体の文書番号の記号です" in refused.value.errors["number_prefix"]
    assert not ProcedureNoticeSettings.objects.filter(organisation=organisation).exists()


def test_the_organisations_default_prefix_counts_too(organisation, admin_staff):
    """No prefix set: the organisation numbers with its name's first letter (横)."""
    with pytest.raises(NoticeSettingsRefused, match="「横」は団体の文書番号の記号です"):
        own_prefix(organisation, admin_staff, "procedure:7", "横")


def test_two_procedures_with_one_prefix_are_refused_by_name(organisation, admin_staff):
    own_prefix(organisation, admin_staff, "procedure:7", "横資")

    with pytest.raises(NoticeSettingsRefused) as refused:
        own_prefix(organisation, admin_staff, "procedure:8", "横資")

    message = refused.value.errors["number_prefix"]
    assert "「横資」は手続「粗大ごみ収集の申込み」だけの番号の記号です" in message
    assert "別の記号を入力してください" in message


def test_the_organisations_prefix_equal_to_a_procedures_own_is_refused(organisation, admin_staff):
    own_prefix(organisation, admin_staff, "procedure:7", "横資")

    with pytest.raises(NoticeSettingsRefused) as refused:
        org_prefix(organisation, admin_staff, "横資")

    assert "手続「粗大ごみ収集の申込み」だけの番号の記号" in refused.value.errors["number_prefix"]
    assert notice_prefix(organisation) == "横"


def notice_prefix(organisation, key=None):
    from madoguchi.documents.notice_text import notice_settings

    return notice_settings(organisation, procedure_key=key).number_prefix


def test_a_prefix_still_printed_this_year_is_refused_until_the_next_fiscal_year(
    organisation, admin_staff
):
    """A running series keeps its prefix for the year: after the organisation moves from 横
    to 横市, 横 is still being printed (横第2号 …), so no procedure may start 横 this year;
    from April it may."""
    org_prefix(organisation, admin_staff, "横")
    document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    org_prefix(organisation, admin_staff, "横市")  # applies from fiscal 2027

    with pytest.raises(NoticeSettingsRefused) as refused:
        own_prefix(organisation, admin_staff, "procedure:7", "横")
    assert "今年度（2026年度）の団体の番号（横第…号）で使っています" in str(refused.value)

    april = datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
    own_prefix(organisation, admin_staff, "procedure:7", "横", now=april)
    first = document_issue_make(organisation=organisation, source_key="test:2", now=april)
    own = document_issue_make(
        organisation=organisation, source_key="test:3", now=april, procedure_key="procedure:7"
    )
    assert (first.number, own.number) == ("横市第1号", "横第1号")


def test_a_procedure_whose_series_already_runs_this_year_may_change_for_next_year(
    organisation, admin_staff
):
    own_prefix(organisation, admin_staff, "procedure:7", "横資")
    document_issue_make(
        organisation=organisation, source_key="test:1", now=T0, procedure_key="procedure:7"
    )
    org_prefix(organisation, admin_staff, "横市")
    # 横 is this year's organisation series, but procedure:7's series runs (as 横資) all year
    own_prefix(organisation, admin_staff, "procedure:7", "横")

    again = document_issue_make(
        organisation=organisation, source_key="test:2", now=T0, procedure_key="procedure:7"
    )
    assert again.number == "横資第2号"


def test_the_database_refuses_a_second_series_with_the_same_prefix_in_a_year(organisation):
    NumberSeries.objects.create(
        organisation=organisation, key="decision", fiscal_year=2026, prefix="鎌"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        NumberSeries.objects.create(
            organisation=organisation, key="procedure:7", fiscal_year=2026, prefix="鎌"
        )
    NumberSeries.objects.create(
        organisation=organisation, key="procedure:7", fiscal_year=2027, prefix="鎌"
    )


# --- 2. The hash covers number and kind; status against the audit trail --------------------


def test_the_entry_hash_covers_the_number_and_the_kind(organisation):
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    entry = RegisterEntry.objects.get(document=document)
    fields: dict[str, Any] = {
        "lg_code": "141003",
        "seq": 1,
        "kind": entry.kind,
        "number": entry.number,
        "code": entry.code,
        "sha256": entry.sha256,
        "issued_at": entry.issued_at,
        "prev_hash": entry.prev_hash,
    }

    assert HASH_VERSION == "madoguchi-register-2"
    assert (entry.kind, entry.number) == ("decision_approve", "横第1号")
    assert entry_hash(**fields) == entry.entry_hash
    assert entry_hash(**{**fields, "number": "横第2号"}) != entry.entry_hash
    assert entry_hash(**{**fields, "kind": "certificate"}) != entry.entry_hash


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"number": "横第99号"}, "文書番号（文書 横第99号、記載 横第1号）"),
        ({"kind": DocumentKind.CERTIFICATE}, "種類（文書 certificate、記載 decision_approve）"),
    ],
)
def test_a_document_row_edited_after_issue_is_found(organisation, change, said):
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    Document.objects.filter(pk=document.pk).update(**change)

    found = problems_of(organisation)

    assert len(found) == 1, found
    assert said in found[0]


def test_an_entry_rewritten_to_a_new_number_breaks_its_hash(organisation):
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    Document.objects.filter(pk=document.pk).update(number="横第99号")
    RegisterEntry.objects.filter(document=document).update(number="横第99号")

    assert any("記載のハッシュが内容と一致しません" in p for p in problems_of(organisation))


def test_a_status_changed_without_its_audit_event_is_found(organisation):
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.WITHDRAWN, status_reason="x"
    )

    found = problems_of(organisation)

    assert len(found) == 1, found
    assert "監査記録に取消し・差替えの記録がありません" in found[0]


def test_a_withdrawal_reverted_in_the_database_is_found(organisation):
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    with transaction.atomic():
        document_status_set(
            organisation=organisation,
            document=document,
            status=DocumentStatus.WITHDRAWN,
            reason="誤って発行したため",
            now=T0 + timedelta(hours=1),
        )
    assert problems_of(organisation) == []

    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.VALID)

    found = problems_of(organisation)
    assert len(found) == 1, found
    assert "状態は「有効」ですが、監査記録では「取り消されています」です" in found[0]


# --- 3. Documents from before the register are entered by migration ------------------------


def test_the_migration_enters_documents_without_an_entry_in_issue_order(organisation):
    migration = importlib.import_module(
        "madoguchi.documents.migrations.0004_f3_register_v2_and_prefix_once"
    )
    issued = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    # carried over by applications 0014: no number, no entry; recorded out of issue order
    later = document_record_make(
        organisation=organisation, source_key="application:5:decision:9", now=T0 - timedelta(days=1)
    )
    earlier = document_record_make(
        organisation=organisation, source_key="application:4:decision:8", now=T0 - timedelta(days=2)
    )
    assert len(problems_of(organisation)) == 2

    migration.forwards(django_apps, None)

    entries = list(RegisterEntry.objects.filter(organisation=organisation).order_by("seq"))
    assert [e.document_id for e in entries] == [issued.pk, earlier.pk, later.pk]
    assert Register.objects.get(organisation=organisation).length == 3
    assert problems_of(organisation) == []
    # idempotent: a second run changes nothing
    head = Register.objects.get(organisation=organisation).head
    migration.forwards(django_apps, None)
    assert Register.objects.get(organisation=organisation).head == head
    assert RegisterEntry.objects.filter(organisation=organisation).count() == 3


def test_the_migrations_frozen_formula_is_the_registers(organisation):
    migration = importlib.import_module(
        "madoguchi.documents.migrations.0004_f3_register_v2_and_prefix_once"
    )
    fields: dict[str, Any] = {
        "lg_code": "141003",
        "seq": 3,
        "kind": "decision_reject",
        "number": "横こ第12号",
        "code": "7K3Q-M2XD-90PA-RT4N",
        "sha256": "a" * 64,
        "issued_at": T0,
        "prev_hash": "b" * 64,
    }
    assert migration._entry_hash(**fields) == entry_hash(**fields)
    text = "\n".join(
        (
            "madoguchi-register-2",
            "141003",
            "3",
            "decision_reject",
            hashlib.sha256("横こ第12号".encode()).hexdigest(),
            hashlib.sha256(b"7K3Q-M2XD-90PA-RT4N").hexdigest(),
            "a" * 64,
            "2026-11-02T01:00:00.000000Z",
            "b" * 64,
        )
    )
    assert entry_hash(**fields) == hashlib.sha256(text.encode()).hexdigest()


# --- 4. The fiscal year in Japan time, and two issues at once ------------------------------


def test_the_fiscal_year_turns_at_midnight_in_japan(organisation):
    before = [
        document_issue_make(
            organisation=organisation,
            source_key=f"test:{i}",
            now=datetime(2027, 3, 31, 14, 59, 59, tzinfo=UTC),
        )
        for i in range(2)
    ]
    after = document_issue_make(
        organisation=organisation,
        source_key="test:april",
        now=datetime(2027, 3, 31, 15, 0, 0, tzinfo=UTC),
    )

    assert [d.series.fiscal_year for d in before if d.series] == [2026, 2026]
    assert [d.number for d in before] == ["横第1号", "横第2号"]
    assert after.series is not None
    assert (after.series.fiscal_year, after.serial, after.number) == (2027, 1, "横第1号")
    assert after.series_id != before[0].series_id


@pytest.mark.django_db(transaction=True)
def test_two_applications_issued_at_once_get_consecutive_numbers_and_one_chain(organisation):
    if connection.vendor != "postgresql":
        pytest.skip("row locks under real concurrency: PostgreSQL")
    document_issue_make(organisation=organisation, source_key="test:first", now=T0)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def issue(key: str) -> None:
        try:
            barrier.wait(timeout=30)
            document = document_issue_make(
                organisation=organisation, source_key=key, now=T0 + timedelta(minutes=1)
            )
            text = document.number
        except Exception as error:
            text = type(error).__name__ + ": " + str(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(text)

    threads = [
        threading.Thread(target=issue, args=(f"application:{n}:decision",)) for n in (11, 12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcomes) == ["横第2号", "横第3号"], outcomes
    entries = list(RegisterEntry.objects.filter(organisation=organisation).order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3]
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    assert Register.objects.get(organisation=organisation).head == entries[-1].entry_hash
    assert problems_of(organisation) == []
