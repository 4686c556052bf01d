"""On an application's page staff see the status of each issued document, and those with
decision rights withdraw one (取消し) or replace a notice with a corrected one (訂正して差し替える),
each through a confirmation page with a reason; another organisation's document is 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import IssuedDocument
from madoguchi.applications.review import application_decide, application_move
from madoguchi.core.time import now
from madoguchi.documents.models import Document
from madoguchi.testing import console_login
from madoguchi.testing import submit_named as apply


@pytest.fixture
def notice(procedure, resident, staff_member) -> IssuedDocument:
    application = apply(procedure, resident)
    for to_status in (S.ACCEPTED, S.IN_REVIEW):
        application = application_move(
            organisation=procedure.organisation,
            application=application,
            staff=staff_member,
            to_status=to_status,
            expected_status=application.status,
            now=now(),
        )
    return application_decide(
        organisation=procedure.organisation,
        application=application,
        staff=staff_member,
        outcome="approve",
        reason="要件を満たしています。",
        expected_status=application.status,
        now=now(),
    )


def url(name: str, issued: IssuedDocument) -> str:
    return reverse(f"console:{name}", args=[issued.application_id, issued.pk])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_application_page_shows_each_documents_status_and_the_actions(notice, admin_client):
    page = text(admin_client.get(reverse("console:application", args=[notice.application_id])))
    assert "有効" in page
    assert url("document_withdraw", notice) in page
    assert url("document_correct", notice) in page
    assert f"/verify/{notice.record.code}" in page


def test_a_reviewer_without_decision_rights_sees_no_actions_and_is_refused(notice, staff_client):
    page = text(staff_client.get(reverse("console:application", args=[notice.application_id])))
    assert url("document_withdraw", notice) not in page
    assert staff_client.get(url("document_withdraw", notice)).status_code == 403
    response = staff_client.post(url("document_withdraw", notice), {"reason": "誤り"})
    assert response.status_code == 403
    assert Document.objects.get(pk=notice.record_id).status == "valid"


def test_withdrawing_asks_for_a_reason_then_the_verify_page_says_withdrawn(notice, admin_client):
    confirm = text(admin_client.get(url("document_withdraw", notice)))
    assert "この文書を取り消しますか" in confirm
    assert "取り消されています" in confirm  # says what the verify page will show
    assert 'name="reason"' in confirm

    refused = admin_client.post(url("document_withdraw", notice), {"reason": "  "})
    assert refused.status_code == 400
    assert "理由を入力してください" in text(refused)
    assert Document.objects.get(pk=notice.record_id).status == "valid"

    done = admin_client.post(
        url("document_withdraw", notice), {"reason": "申請の要件の確認に誤りがあったため。"}
    )
    assert done.status_code == 302
    page = text(admin_client.get(done["Location"]))
    assert "取り消しました" in page
    assert "取り消されています" in page

    public = text(Client().get(f"/verify/{notice.record.code}"))
    assert "この文書は取り消されています。" in public
    assert "申請の要件の確認に誤りがあったため。" in public

    again = admin_client.post(url("document_withdraw", notice), {"reason": "もう一度"})
    assert again.status_code == 400
    assert "すでに取り消されています" in text(again)


def test_correcting_issues_a_new_notice_and_the_old_one_points_to_it(notice, admin_client):
    confirm = text(admin_client.get(url("document_correct", notice)))
    assert "通知書を訂正して差し替えますか" in confirm
    assert 'name="correction_note"' in confirm

    refused = admin_client.post(
        url("document_correct", notice), {"reason_text": "", "correction_note": ""}
    )
    assert refused.status_code == 400
    assert "訂正の内容を入力してください" in text(refused)

    done = admin_client.post(
        url("document_correct", notice),
        {
            "reason_text": "条件: 午後5時までに返却すること。",
            "correction_note": "返却時刻を訂正しました。",
        },
    )
    assert done.status_code == 302
    old = Document.objects.get(pk=notice.record_id)
    assert old.status == "superseded"
    assert old.superseded_by is not None
    public = text(Client().get(f"/verify/{old.code}"))
    assert "訂正された文書に差し替えられています" in public
    assert f"/verify/{old.superseded_by.code}" in public


def test_another_organisations_staff_get_404(notice, other_admin):
    other = console_login(Client(), other_admin.user)
    for name in ("document_withdraw", "document_correct"):
        assert other.get(url(name, notice)).status_code == 404
        assert (
            other.post(url(name, notice), {"reason": "x", "correction_note": "x"}).status_code
            == 404
        )
    assert Document.objects.get(pk=notice.record_id).status == "valid"


@pytest.mark.parametrize("suffix", ["999999/withdraw/", "0/correct/"])
def test_made_up_document_ids_are_404(notice, admin_client, suffix):
    base = reverse("console:application", args=[notice.application_id])
    assert admin_client.get(f"{base}documents/{suffix}").status_code == 404


def test_an_oversized_reason_gets_a_japanese_error(notice, admin_client):
    response = admin_client.post(url("document_withdraw", notice), {"reason": "あ" * 5000})
    assert response.status_code == 400
    assert "400文字以内" in text(response)


def test_the_correction_form_starts_from_the_current_reason(notice, admin_client):
    form = text(admin_client.get(url("document_correct", notice)))
    assert "要件を満たしています。</textarea>" in form


def test_the_residents_pages_show_each_documents_state_and_downloads_have_japanese_names(
    notice, admin_client, resident
):
    from urllib.parse import quote

    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    mine = Client()
    mine.force_login(resident)
    receipt = notice.application.receipt_number
    page_url = reverse("portal:apply:mypage_detail", args=[receipt])
    admin_client.post(
        url("document_correct", notice),
        {"reason_text": "要件を満たしています。", "correction_note": "備考を訂正しました。"},
    )
    corrected = IssuedDocument.objects.filter(application_id=notice.application_id).latest("pk")

    page = text(mine.get(page_url))
    assert "【差替え済み・訂正前】" in page
    assert f"訂正された文書（{corrected.record.number}）に差し替えられています" in page
    assert "【訂正後】" in page

    admin_client.post(
        url("document_withdraw", corrected), {"reason": "決定の前提に誤りがあったため。"}
    )
    page = text(mine.get(page_url))
    assert "【取消し済み】" in page
    assert "取り消されています" in page
    assert "決定の前提に誤りがあったため。" in page

    old = mine.get(reverse("portal:apply:mypage_document", args=[receipt, notice.pk]))
    assert old.status_code == 200  # still downloadable, labelled on the page
    assert f"filename*=UTF-8''{quote(f'承認通知書-{receipt}.pdf')}" in old["Content-Disposition"]
    assert f'filename="decision_approve-{receipt}.pdf"' in old["Content-Disposition"]
    fixed = mine.get(reverse("portal:apply:mypage_document", args=[receipt, corrected.pk]))
    assert quote("承認通知書（訂正）") in fixed["Content-Disposition"]
    staff_copy = admin_client.get(
        reverse("console:document_pdf", args=[notice.application_id, notice.pk])
    )
    assert staff_copy["Content-Disposition"].startswith("inline; ")
    assert quote("承認通知書") in staff_copy["Content-Disposition"]


def test_a_certificate_is_corrected_from_the_console_with_its_level(
    admin_client, staff_member, organisation, templates_loaded, resident
):
    from madoguchi.testing import answers_with_file_rows, procedure_publish, submit

    risai = procedure_publish(organisation, "risai-shomei")
    application = submit(risai, resident, answers_with_file_rows(risai, owner=resident)).application
    application = application_move(
        organisation=organisation,
        application=application,
        staff=staff_member,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    application_decide(
        organisation=organisation,
        application=application,
        staff=staff_member,
        outcome="approve",
        reason="現地調査の結果",
        expected_status=S.ACCEPTED,
        now=now(),
        damage_level="全壊",
    )
    certificate = IssuedDocument.objects.get(application=application, kind="certificate")
    assert url("document_correct", certificate) in text(
        admin_client.get(reverse("console:application", args=[application.pk]))
    )
    form = text(admin_client.get(url("document_correct", certificate)))
    assert 'name="damage_level"' in form

    done = admin_client.post(
        url("document_correct", certificate),
        {
            "damage_level": "半壊",
            "reason_text": "全壊には至らず、半壊と判定しました",
            "correction_note": "被害の程度を訂正しました。",
        },
    )

    assert done.status_code == 302
    old = Document.objects.get(pk=certificate.record_id)
    assert old.status == "superseded"
    assert old.superseded_by is not None
    assert old.superseded_by.title.startswith("罹災証明書（訂正）")
