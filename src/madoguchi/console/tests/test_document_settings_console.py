"""An organisation admin sets what the organisation's notices print (issuer, prefix, 教示),
gives a procedure numbers of its own, voids a number and looks through what was issued."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.documents.models import (
    DocumentSettings,
    NumberGap,
    NumberSeries,
    ProcedureNoticeSettings,
)
from madoguchi.documents.notice_text import notice_settings
from madoguchi.documents.testing import document_issue_make

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
SETTINGS = "/console/documents/settings/"


def series_of(document) -> int:
    assert document.series_id is not None
    return int(document.series_id)


def text(response):
    return response.content.decode()


def test_the_admin_sees_the_defaults_and_saves_the_issuer_and_prefix(admin_client, organisation):
    page = admin_client.get(SETTINGS)

    assert page.status_code == 200
    assert "横浜市長" in text(page)  # the default issuer
    assert "横第1号から" in text(page)
    assert "3か月以内に、横浜市長に対して審査請求" in text(page)  # the default 教示, shown

    response = admin_client.post(
        SETTINGS,
        {"issuer_title": "横浜市長", "issuer_name": "港 一郎", "number_prefix": "横こ"},
        follow=True,
    )

    assert "文書の設定を保存しました。" in text(response)
    assert "横浜市長　港 一郎" in text(response)
    assert "横こ第1号から" in text(response)
    assert notice_settings(organisation).number_prefix == "横こ"


def test_a_prefix_changed_mid_year_is_said_to_apply_from_next_year(admin_client, organisation):
    from madoguchi.core.time import now

    document_issue_make(organisation=organisation, source_key="test:1", now=now())

    response = admin_client.post(SETTINGS, {"number_prefix": "横こ"}, follow=True)

    assert "今年度は横第2号から（記号「横こ」は来年度の番号から使います）" in text(response)


def test_a_custom_teaching_is_restored_to_the_default_with_one_button(admin_client, organisation):
    admin_client.post(SETTINGS, {"issuer_title": "", "appeal_reject": "独自の教示です。"})
    assert "既定の文に戻して保存する" in text(admin_client.get(SETTINGS))

    admin_client.post(SETTINGS, {"issuer_name": "港 一郎", "appeal_reject": "独自の教示です。"})
    page = text(admin_client.get(SETTINGS))
    # The button belongs to a form of its own: Enter in a field still saves the main form.
    assert 'form="restore-form" name="restore" value="appeal_reject"' in page
    assert '<form method="post" id="restore-form">' in page

    response = admin_client.post(SETTINGS, {"restore": "appeal_reject"}, follow=True)

    assert "却下の教示を既定の文に戻しました。" in text(response)
    row = DocumentSettings.objects.get(organisation=organisation)
    assert (row.appeal_reject, row.issuer_name) == ("", "港 一郎")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"issuer_title": "長" * 80}, "64文字以内"),
        ({"issuer_name": "<b>港</b>"}, "「&lt;」「&gt;」は使えません"),
        ({"number_prefix": "横 こ"}, "空白や記号を入れずに"),
        ({"appeal_approve": "あ" * 2100}, "2000文字以内"),
        ({"appeal_approve": "a\x00b"}, "使えない文字"),
    ],
)
def test_hostile_input_is_a_clear_error_and_changes_nothing(
    admin_client, organisation, data, message
):
    admin_client.post(SETTINGS, {"issuer_title": "横浜市長", "number_prefix": "横"})

    response = admin_client.post(SETTINGS, {"issuer_title": "横浜市長", **data})

    assert response.status_code == 400
    assert message in text(response)
    row = DocumentSettings.objects.get(organisation=organisation)
    assert (row.issuer_title, row.number_prefix) == ("横浜市長", "横")


def test_a_procedure_gets_its_own_numbers_and_another_organisations_procedure_is_404(
    admin_client, organisation, procedure, other_admin
):
    url = f"/console/documents/settings/procedures/{procedure.pk}/"
    assert "団体の番号" in text(admin_client.get(url))

    refused = admin_client.post(url, {"own_series": "on"})
    assert refused.status_code == 400
    assert "記号を入力してください" in text(refused)

    saved = admin_client.post(
        url, {"own_series": "on", "number_prefix": "横住", "issuer_title": "横浜市市民局長"}
    )
    assert saved.status_code == 302
    row = ProcedureNoticeSettings.objects.get(organisation=organisation)
    assert (row.procedure_key, row.own_series, row.number_prefix) == (
        f"procedure:{procedure.pk}",
        True,
        "横住",
    )
    assert "この手続の番号（横住第…号）" in text(admin_client.get(SETTINGS))
    admin_client.post(
        url,
        {"own_series": "on", "number_prefix": "横住", "appeal_approve": "この手続の教示"},
    )
    admin_client.post(url, {"restore": "appeal_approve"})
    row.refresh_from_db()
    assert (row.appeal_approve, row.own_series, row.number_prefix) == ("", True, "横住")

    from madoguchi.testing import console_login

    other = console_login(admin_client.__class__(), other_admin.user)
    assert other.get(url).status_code == 404
    assert other.post(url, {"own_series": "on", "number_prefix": "鎌"}).status_code == 404
    assert ProcedureNoticeSettings.objects.get().number_prefix == "横住"


def test_reviewers_cannot_change_document_settings(staff_client):
    for url in (SETTINGS, "/console/documents/numbers/", "/console/documents/"):
        assert staff_client.get(url).status_code == 403
    assert staff_client.post(SETTINGS, {"issuer_title": "x"}).status_code == 403
    assert not DocumentSettings.objects.exists()


def test_the_admin_lists_series_and_voids_the_next_number(admin_client, organisation):
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)
    page = admin_client.get("/console/documents/numbers/")
    assert "横第1号" in text(page)
    assert "令和8年度（2026年度）" in text(page)

    response = admin_client.post(
        "/console/documents/numbers/void/",
        {"series": series_of(document), "number": "2", "reason": "紙の通知書に使ったため"},
        follow=True,
    )

    assert "横第2号を欠番にしました。" in text(response)
    assert "第2号（紙の通知書に使ったため" in text(response)
    assert NumberSeries.objects.get(pk=series_of(document)).last_number == 2
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_NUMBER_VOIDED).count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": "1", "reason": "誤り"}, "発行した文書が使っています"),
        ({"number": "abc", "reason": "誤り"}, "半角の数字"),
        ({"number": "99999999999999999999", "reason": "誤り"}, "番号"),
        ({"number": "2", "reason": ""}, "理由を入力"),
        ({"number": "2", "reason": "あ" * 500}, "400文字以内"),
        ({"number": "2", "reason": "a\x00b"}, "使えない文字"),
        ({"series": "0", "number": "2", "reason": "誤り"}, "文書番号の系列"),
        ({"series": "x", "number": "2", "reason": "誤り"}, "文書番号の系列"),
    ],
)
def test_a_number_that_cannot_be_voided_is_a_clear_error(admin_client, organisation, data, message):
    document = document_issue_make(organisation=organisation, source_key="test:1", now=T0)

    response = admin_client.post(
        "/console/documents/numbers/void/", {"series": series_of(document), **data}
    )

    assert response.status_code == 400
    assert message in text(response)
    assert not NumberGap.objects.exists()


def test_another_organisations_series_cannot_be_voided(
    admin_client, organisation, other_organisation, other_admin
):
    theirs = document_issue_make(organisation=other_organisation, source_key="test:k", now=T0)
    document_issue_make(organisation=organisation, source_key="test:1", now=T0)

    response = admin_client.post(
        "/console/documents/numbers/void/",
        {"series": theirs.series_id, "number": "2", "reason": "誤り"},
    )

    assert response.status_code == 400
    assert "鎌" not in text(response).split("<main", 1)[-1].split("文書番号の系列")[0]
    assert not NumberGap.objects.exists()


def test_the_list_of_issued_documents_links_to_the_application(
    admin_client, organisation, procedure, admin_staff
):
    from madoguchi.applications.constants import ApplicationStatus as S
    from madoguchi.applications.review import application_decide, application_move
    from madoguchi.applications.services import application_submit, new_idempotency_key
    from madoguchi.core.time import now
    from madoguchi.testing import resident_create, valid_answers

    application = application_submit(
        organisation=organisation,
        procedure=procedure,
        applicant=resident_create("list@example.jp"),
        answers=valid_answers(procedure),
        idempotency_key=new_idempotency_key(),
        now=now(),
    ).application
    application_move(
        organisation=organisation,
        application=application,
        staff=admin_staff,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    application.refresh_from_db()
    issued = application_decide(
        organisation=organisation,
        application=application,
        staff=admin_staff,
        outcome="reject",
        reason="対象外です。",
        expected_status=S.ACCEPTED,
        now=now(),
    )
    document_issue_make(organisation=organisation, source_key="test:permit", now=T0)

    page = text(admin_client.get("/console/documents/"))

    assert issued.record.number in page
    assert "却下通知書" in page
    assert f"/console/applications/{application.pk}/" in page
    assert "全2件" in page


def test_a_clashing_prefix_is_refused_on_both_pages_naming_the_procedure(
    admin_client, organisation, procedure
):
    """The same printed number twice in a year (横住第1号 from two series) is refused where
    the prefixes are set, with the procedure's name (never its key)."""
    url = f"/console/documents/settings/procedures/{procedure.pk}/"
    assert admin_client.post(url, {"own_series": "on", "number_prefix": "横住"}).status_code == 302

    refused = admin_client.post(SETTINGS, {"number_prefix": "横住"})

    assert refused.status_code == 400
    assert f"「横住」は手続「{procedure.name}」だけの番号の記号です" in text(refused)
    assert "procedure:" not in text(refused)
    assert notice_settings(organisation).number_prefix == "横"

    admin_client.post(SETTINGS, {"number_prefix": "横こ"})
    clash = admin_client.post(url, {"own_series": "on", "number_prefix": "横こ"})
    assert clash.status_code == 400
    assert "「横こ」は団体の文書番号の記号です" in text(clash)
    assert ProcedureNoticeSettings.objects.get().number_prefix == "横住"


def test_the_series_dropdown_names_the_procedure(admin_client, organisation, procedure):
    key = f"procedure:{procedure.pk}"
    admin_client.post(
        f"/console/documents/settings/procedures/{procedure.pk}/",
        {"own_series": "on", "number_prefix": "横住"},
    )
    document_issue_make(organisation=organisation, source_key="test:1", now=T0, procedure_key=key)

    page = text(admin_client.get("/console/documents/numbers/"))

    assert f"2026年度 横住第…号（{procedure.name}）" in page
    assert f"（{key}）" not in page
