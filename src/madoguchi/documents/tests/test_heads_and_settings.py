"""The register's daily heads are published once a day, and what admins set for their notices
(issuer, prefix, 教示, a procedure's own series, 欠番) is what the next notice prints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.documents.models import (
    DocumentSettings,
    NumberGap,
    NumberSeries,
    ProcedureNoticeSettings,
    RegisterHead,
)
from madoguchi.documents.notice_admin import (
    NoticeSettingsRefused,
    NumberVoidRefused,
    document_number_void,
    document_settings_save,
    procedure_notice_settings_save,
)
from madoguchi.documents.notice_text import appeal_default, notice_settings
from madoguchi.documents.publication import register_heads_publish
from madoguchi.documents.testing import document_issue_make

#: 2026-11-02 10:00 in Tokyo.
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def series_of(document) -> int:
    assert document.series_id is not None
    return int(document.series_id)


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- Heads ------------------------------------------------------------------------------------


def test_heads_are_published_once_a_tokyo_day_for_organisations_with_entries(
    organisation, other_organisation
):
    document_issue_make(organisation=organisation, source_key="test:1", now=T0)

    assert register_heads_publish(now=T0) == 1
    assert register_heads_publish(now=T0 + timedelta(hours=5)) == 0  # idempotent
    document_issue_make(organisation=organisation, source_key="test:2", now=T0)
    # 23:30 UTC is already the next day in Tokyo.
    assert register_heads_publish(now=datetime(2026, 11, 2, 15, 30, tzinfo=UTC)) == 1

    heads = list(RegisterHead.objects.filter(organisation=organisation).order_by("day"))
    assert [(str(h.day), h.length) for h in heads] == [("2026-11-02", 1), ("2026-11-03", 2)]
    assert not RegisterHead.objects.filter(organisation=other_organisation).exists()


def test_the_operator_command_publishes_heads_now(organisation):
    document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    out = StringIO()

    call_command("documents", "heads", stdout=out)
    call_command("documents", "heads", stdout=out)

    assert "台帳の先頭を公開しました: 1 団体" in out.getvalue()
    assert "台帳の先頭を公開しました: 0 団体" in out.getvalue()
    assert RegisterHead.objects.filter(organisation=organisation).count() == 1


def test_the_outbox_worker_publishes_the_heads(organisation):
    document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    out = StringIO()

    call_command("outbox_worker", "--once", stdout=out, stderr=StringIO())

    assert RegisterHead.objects.filter(organisation=organisation).count() == 1
    assert "台帳の先頭を公開: 1 団体" in out.getvalue()


# --- Organisation settings ------------------------------------------------------------------


def test_defaults_apply_when_nothing_is_set(organisation):
    notice = notice_settings(organisation)

    assert notice.number_key == "decision"
    assert notice.number_prefix == "横"
    assert notice.issuer == "横浜市長"
    assert notice.appeal_reject == appeal_default(
        issuer_title="横浜市長", organisation_name="横浜市", refusal=True
    )


def test_the_admins_settings_are_printed_and_audited_in_words(organisation, admin_staff):
    document_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        data={"issuer_title": "横浜市長", "issuer_name": "港 一郎", "number_prefix": "横こ"},
        now=T0,
    )
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)

    assert document.number == "横こ第1号"
    assert document.issuer == "横浜市長　港 一郎"
    (event,) = events(AuditAction.DOCUMENT_SETTINGS_CHANGED)
    assert event.detail["changes"] == [
        "発行者の職名: 「（既定）」→「横浜市長」",
        "発行者の氏名: 「（既定）」→「港 一郎」",
        "文書番号の記号: 「（既定）」→「横こ」",
    ]


def test_a_save_that_changes_nothing_records_nothing(organisation, admin_staff):
    data = {"issuer_title": "横浜市長", "appeal_reject": "審査請求ができます。"}
    document_settings_save(organisation=organisation, actor=admin_staff.user, data=data, now=T0)
    document_settings_save(organisation=organisation, actor=admin_staff.user, data=data, now=T0)

    assert len(events(AuditAction.DOCUMENT_SETTINGS_CHANGED)) == 1
    document_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        data={**data, "appeal_reject": ""},
        now=T0,
    )
    last = events(AuditAction.DOCUMENT_SETTINGS_CHANGED)[-1]
    assert last.detail["changes"] == ["却下の教示: 独自の文（10文字） → 既定の文"]
    assert notice_settings(organisation).appeal_reject.startswith("1　この決定に不服がある場合")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"issuer_title": "長" * 65}, "issuer_title", "64文字以内"),
        ({"issuer_name": "<script>alert(1)</script>"}, "issuer_name", "「<」「>」は使えません"),
        ({"number_prefix": "鎌 こ"}, "number_prefix", "空白や記号を入れずに"),
        ({"number_prefix": "鎌こ!"}, "number_prefix", "空白や記号を入れずに"),
        ({"number_prefix": "鎌_こ"}, "number_prefix", "空白や記号を入れずに"),
        ({"number_prefix": "鎌こ第"}, "number_prefix", "「第」は不要"),
        ({"number_prefix": "あ" * 17}, "number_prefix", "16文字以内"),
        ({"appeal_reject": "あ" * 2001}, "appeal_reject", "2000文字以内"),
        ({"appeal_approve": "教示\x00"}, "appeal_approve", "使えない文字"),
    ],
)
def test_hostile_settings_are_refused_and_nothing_changes(
    organisation, admin_staff, data, field, message
):
    document_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        data={"issuer_title": "横浜市長", "number_prefix": "横"},
        now=T0,
    )

    with pytest.raises(NoticeSettingsRefused) as refused:
        document_settings_save(
            organisation=organisation,
            actor=admin_staff.user,
            data={"issuer_title": "横浜市長", "number_prefix": "横", **data},
            now=T0,
        )

    assert message in refused.value.errors[field]
    row = DocumentSettings.objects.get(organisation=organisation)
    assert (row.issuer_title, row.number_prefix, row.issuer_name) == ("横浜市長", "横", "")
    assert len(events(AuditAction.DOCUMENT_SETTINGS_CHANGED)) == 1


def test_bidi_controls_and_zero_width_characters_are_removed_and_full_width_prefix_folded(
    organisation, admin_staff
):
    document_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        data={
            "issuer_title": "\u202e横浜市長\u202c",
            "issuer_name": "港\u200b 一郎",
            "number_prefix": "ＡＢ１",
        },
        now=T0,
    )
    row = DocumentSettings.objects.get(organisation=organisation)

    assert (row.issuer_title, row.issuer_name, row.number_prefix) == ("横浜市長", "港 一郎", "AB1")


# --- Per procedure ---------------------------------------------------------------------------


def test_a_procedures_own_settings_come_first_and_its_own_series_counts_apart(
    organisation, admin_staff
):
    document_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        data={"issuer_title": "横浜市長", "number_prefix": "横"},
        now=T0,
    )
    procedure_notice_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        procedure_key="procedure:7",
        data={
            "own_series": "on",
            "number_prefix": "横資",
            "issuer_title": "横浜市資源循環局長",
            "appeal_approve": "この手続の教示",
        },
        now=T0,
    )
    notice = notice_settings(organisation, procedure_key="procedure:7")
    assert notice.number_key == "procedure:7"
    assert (notice.number_prefix, notice.issuer_title) == ("横資", "横浜市資源循環局長")
    assert notice.appeal_approve == "この手続の教示"
    # the refusal 教示 falls back to the default, with the procedure's issuer as authority
    assert "横浜市資源循環局長に対して審査請求" in notice.appeal_reject

    own = document_issue_make(
        organisation=organisation, source_key="test:a", now=T0, procedure_key="procedure:7"
    )
    shared = document_issue_make(
        organisation=organisation, source_key="test:b", now=T0, procedure_key="procedure:8"
    )
    assert (own.number, shared.number) == ("横資第1号", "横第1号")
    assert own.issuer == "横浜市資源循環局長"


def test_a_procedure_with_only_an_issuer_keeps_the_organisations_numbers(organisation, admin_staff):
    procedure_notice_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        procedure_key="procedure:7",
        data={"issuer_title": "横浜市教育長"},
        now=T0,
    )
    notice = notice_settings(organisation, procedure_key="procedure:7")

    assert (notice.number_key, notice.number_prefix, notice.issuer) == (
        "decision",
        "横",
        "横浜市教育長",
    )


def test_procedure_settings_are_checked_audited_and_removed_when_emptied(organisation, admin_staff):
    with pytest.raises(NoticeSettingsRefused) as refused:
        procedure_notice_settings_save(
            organisation=organisation,
            actor=admin_staff.user,
            procedure_key="procedure:7",
            data={"own_series": "on"},
            now=T0,
        )
    assert "記号を入力してください" in refused.value.errors["number_prefix"]
    with pytest.raises(NoticeSettingsRefused):
        procedure_notice_settings_save(
            organisation=organisation,
            actor=admin_staff.user,
            procedure_key="procedure:7",
            data={"number_prefix": "横資"},
            now=T0,
        )
    with pytest.raises(NoticeSettingsRefused):
        procedure_notice_settings_save(
            organisation=organisation,
            actor=admin_staff.user,
            procedure_key="catalog:7",
            data={},
            now=T0,
        )
    assert not ProcedureNoticeSettings.objects.exists()
    assert events(AuditAction.DOCUMENT_SETTINGS_CHANGED) == []

    procedure_notice_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        procedure_key="procedure:7",
        data={"own_series": True, "number_prefix": "横資"},
        now=T0,
    )
    procedure_notice_settings_save(
        organisation=organisation,
        actor=admin_staff.user,
        procedure_key="procedure:7",
        data={},
        now=T0,
    )

    assert not ProcedureNoticeSettings.objects.exists()
    first, second = events(AuditAction.DOCUMENT_SETTINGS_CHANGED)
    assert first.detail["scope"] == "procedure:7"
    assert "この手続だけの番号: 使う" in first.detail["changes"]
    assert "この手続だけの番号: 使わない（団体の番号）" in second.detail["changes"]


# --- 欠番 -------------------------------------------------------------------------------------


def test_the_next_number_is_voided_and_never_issued(organisation, admin_staff):
    first = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    series = NumberSeries.objects.get(pk=series_of(first))

    gap = document_number_void(
        organisation=organisation,
        actor=admin_staff.user,
        series_id=series.pk,
        number=2,
        reason="紙の通知書に使ったため",
        now=T0,
    )
    after = document_issue_make(organisation=organisation, source_key="test:2", now=T0)

    assert (gap.number, after.number) == (2, "横第3号")
    (event,) = events(AuditAction.DOCUMENT_NUMBER_VOIDED)
    assert event.reason == "紙の通知書に使ったため"
    assert event.detail["number"] == "横第2号（2026年度）"


@pytest.mark.parametrize(
    ("number", "reason", "message"),
    [
        (1, "誤り", "発行した文書が使っています"),
        (3, "誤り", "まだ使われていない先の番号"),
        (0, "誤り", "1以上"),
        (2, "", "理由を入力"),
        (2, "\u200b\u202e", "理由を入力"),
        (2, "あ" * 401, "400文字以内"),
    ],
)
def test_a_number_that_cannot_be_voided_is_refused_and_nothing_changes(
    organisation, admin_staff, number, reason, message
):
    first = document_issue_make(organisation=organisation, source_key="test:1", now=T0)

    with pytest.raises(NumberVoidRefused, match=message):
        document_number_void(
            organisation=organisation,
            actor=admin_staff.user,
            series_id=series_of(first),
            number=number,
            reason=reason,
            now=T0,
        )

    assert NumberSeries.objects.get(pk=series_of(first)).last_number == 1
    assert not NumberGap.objects.exists()
    assert events(AuditAction.DOCUMENT_NUMBER_VOIDED) == []


def test_a_number_is_voided_once_and_another_organisations_series_is_not_found(
    organisation, other_organisation, admin_staff
):
    first = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    document_number_void(
        organisation=organisation,
        actor=admin_staff.user,
        series_id=series_of(first),
        number=2,
        reason="紙で使用",
        now=T0,
    )

    with pytest.raises(NumberVoidRefused, match="すでに欠番"):
        document_number_void(
            organisation=organisation,
            actor=admin_staff.user,
            series_id=series_of(first),
            number=2,
            reason="紙で使用",
            now=T0,
        )
    with pytest.raises(NumberSeries.DoesNotExist):
        document_number_void(
            organisation=other_organisation,
            actor=admin_staff.user,
            series_id=series_of(first),
            number=3,
            reason="紙で使用",
            now=T0,
        )
    assert NumberGap.objects.count() == 1


def test_the_operator_command_says_what_is_already_published_today(organisation):
    from madoguchi.core.time import now, to_tokyo

    document_issue_make(organisation=organisation, source_key="test:1", now=now())
    call_command("documents", "heads", stdout=StringIO())
    out = StringIO()

    call_command("documents", "heads", stdout=out)

    said = out.getvalue()
    assert "台帳の先頭を公開しました: 0 団体" in said
    assert f"今日（{to_tokyo(now()).date():%Y-%m-%d}）公開済みの先頭:" in said
    assert "横浜市（141003）: 記載 1 件" in said


def test_the_operator_command_says_when_there_is_nothing_to_publish(db):
    out = StringIO()

    call_command("documents", "heads", stdout=out)

    assert "公開した先頭はありません（記載のある台帳がありません）" in out.getvalue()
