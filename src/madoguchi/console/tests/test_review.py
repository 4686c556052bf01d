"""Staff work applications from the inbox to a decision, and nobody else's applications."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image

from madoguchi.applications.attachments import attachment_store
from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    ApplicationNote,
    ApplicationTransition,
    Attachment,
    DecisionProposal,
    DecisionTemplate,
    IssuedDocument,
)
from madoguchi.applications.review import (
    NotAllowed,
    application_decide,
    decision_template_save,
)
from madoguchi.applications.workflow import (
    StaleStatus,
    TransitionRefused,
    application_transition,
    application_withdraw,
    correction_answer,
)
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.documents.testing import document_record_make
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import User
from madoguchi.identity.services import staff_upsert
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import (
    STAFF_PASSWORD,
    axe_violations,
    console_login,
    totp_enrol,
    totp_fresh_code,
)
from madoguchi.testing import procedure_publish as publish
from madoguchi.testing import submit_named as apply


def text(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def application(procedure, resident):
    return apply(procedure, resident)


@pytest.fixture
def admin(admin_staff):
    return admin_staff


@pytest.fixture
def viewer(organisation):
    return staff_upsert(
        organisation=organisation,
        email="viewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.VIEWER,
        display_name="閲覧 次郎",
    )


def client_for(staff, **kwargs) -> Client:
    client = Client(**kwargs)
    console_login(client, staff.user)
    return client


def url(name: str, application: Application, **kwargs: Any) -> str:
    return reverse(f"console:{name}", args=[application.pk, *kwargs.values()])


def post(client: Client, name: str, application: Application, data: dict[str, Any]) -> Any:
    return client.post(url(name, application), data)


def status_of(application: Application) -> str:
    return Application.objects.values_list("status", flat=True).get(pk=application.pk)


# --- the whole story ----------------------------------------------------------------------


def test_from_the_inbox_through_a_correction_to_an_approval_with_a_notice(
    staff_client, application, resident, staff_member
):
    inbox = staff_client.get(reverse("console:inbox"))
    assert inbox.status_code == 200
    assert application.receipt_number in text(inbox)
    assert "山田 花子" in text(inbox)

    detail = staff_client.get(url("application", application))
    assert detail.status_code == 200
    assert "「受付」にする" in text(detail)
    assert AuditEvent.objects.filter(
        action="application.viewed", target_id=str(application.pk), actor=staff_member.user
    ).exists()

    for target, seen in ((S.ACCEPTED, S.SUBMITTED), (S.IN_REVIEW, S.ACCEPTED)):
        response = post(
            staff_client,
            "application_transition",
            application,
            {"to_status": target, "expected_status": seen},
        )
        assert response.status_code == 302
    assert status_of(application) == S.IN_REVIEW

    response = post(
        staff_client,
        "application_correction",
        application,
        {
            "fields": ["requester_phone"],
            "body": "日中に連絡のとれる電話番号を確認してください。",
            "expected_status": S.IN_REVIEW,
        },
    )
    assert response.status_code == 302
    assert status_of(application) == S.CORRECTION_REQUESTED

    application.refresh_from_db()
    correction_answer(
        applicant=resident,
        application=application,
        changes={"requester_phone": "090-1234-5678"},
        note="番号を直しました。",
        now=now(),
    )
    detail = text(staff_client.get(url("application", application)))
    assert "補正済み" in detail
    assert "番号を直しました。" in detail

    OutboxMessage.objects.all().delete()
    response = post(
        staff_client,
        "application_decide",
        application,
        {
            "outcome": "approve",
            "reason": "要件を満たしています。",
            "expected_status": S.RESUBMITTED,
            "confirm": "1",
        },
    )
    assert response.status_code == 302
    assert status_of(application) == S.APPROVED
    document = IssuedDocument.objects.get(application=application)
    assert bytes(document.pdf).startswith(b"%PDF")
    assert b"IPAexGothic" in bytes(document.pdf)
    assert ApplicationMessage.objects.filter(application=application, kind="decision").exists()
    mail = OutboxMessage.objects.get()
    assert "決定" in mail.payload["subject"]
    assert "要件を満たしています" not in mail.payload["body"]

    pdf = staff_client.get(url("document_pdf", application, document=document.pk))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content == bytes(document.pdf)

    page = text(staff_client.get(url("application", application)))
    assert "承認通知書" in page
    assert "「受付」にする" not in page  # decided: no moves offered any more


def test_a_rejection_needs_a_reason_and_says_so_in_japanese(staff_client, application):
    response = post(
        staff_client,
        "application_decide",
        application,
        {"outcome": "reject", "reason": "  ", "expected_status": S.SUBMITTED},
    )
    assert response.status_code == 400
    assert "決定の理由を入力してください。" in text(response)
    assert status_of(application) == S.SUBMITTED
    assert not IssuedDocument.objects.exists()


def test_a_decision_template_is_put_in_front_of_the_reason(
    staff_client, application, admin, organisation
):
    template = decision_template_save(
        organisation=organisation,
        staff=admin,
        kind="reject",
        title="対象外",
        body="申請の要件を満たしていないため。",
        now=now(),
    )
    post(
        staff_client,
        "application_decide",
        application,
        {
            "outcome": "reject",
            "template": template.pk,
            "expected_status": S.SUBMITTED,
            "confirm": "1",
        },
    )
    last = ApplicationTransition.objects.get(application=application)
    assert last.reason == "申請の要件を満たしていないため。"


# --- forged and replayed moves ------------------------------------------------------------


def test_approving_a_withdrawn_application_is_refused(staff_client, application, resident):
    application_withdraw(applicant=resident, application=application, now=now())
    for name, data in (
        ("application_decide", {"outcome": "approve", "expected_status": S.WITHDRAWN}),
        ("application_transition", {"to_status": S.ACCEPTED, "expected_status": S.WITHDRAWN}),
        ("application_transition", {"to_status": S.APPROVED, "expected_status": S.WITHDRAWN}),
    ):
        response = post(staff_client, name, application, data)
        assert response.status_code == 400, name
        assert "できません" in text(response) or "決定の欄" in text(response)
    assert status_of(application) == S.WITHDRAWN
    assert not IssuedDocument.objects.exists()


def test_a_replayed_move_against_a_stale_status_is_refused(staff_client, application):
    data = {"to_status": S.ACCEPTED, "expected_status": S.SUBMITTED}
    assert post(staff_client, "application_transition", application, data).status_code == 302
    replay = post(staff_client, "application_transition", application, data)

    assert replay.status_code == 400
    assert "画面を開いた後に" in text(replay)
    assert ApplicationTransition.objects.filter(application=application).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"to_status": "approved'; --", "expected_status": S.SUBMITTED},
        {"to_status": S.RESUBMITTED, "expected_status": S.SUBMITTED},
        {"to_status": S.WITHDRAWN, "expected_status": S.SUBMITTED},
        {"to_status": S.ACCEPTED, "expected_status": "nonsense"},
        {},
    ],
)
def test_forged_transitions_are_refused_without_a_500(staff_client, application, data):
    response = post(staff_client, "application_transition", application, data)
    assert response.status_code == 400
    assert status_of(application) == S.SUBMITTED


@pytest.mark.django_db(transaction=True)
def test_two_staff_deciding_at_once_make_one_decision(procedure, resident, staff_member, admin):
    application = apply(procedure, resident)
    application_transition(
        organisation=application.organisation,
        application=application,
        to_status=S.ACCEPTED,
        staff_user=admin.user,
        now=now(),
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def decide(staff, outcome):
        try:
            barrier.wait()
            application_decide(
                organisation=application.organisation,
                application=Application.objects.select_related("procedure").get(pk=application.pk),
                staff=staff,
                outcome=outcome,
                reason="理由があります。",
                expected_status=S.ACCEPTED,
                now=now(),
            )
            outcomes.append("ok")
        except TransitionRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(staff_member, "approve")),
        threading.Thread(target=decide, args=(admin, "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert IssuedDocument.objects.filter(application=application).count() == 1
    assert ApplicationMessage.objects.filter(application=application, kind="decision").count() == 1


def test_a_stale_decision_raises_and_issues_nothing(application, staff_member):
    with pytest.raises(StaleStatus):
        application_decide(
            organisation=application.organisation,
            application=application,
            staff=staff_member,
            outcome="reject",
            reason="重複",
            expected_status=S.ACCEPTED,
            now=now(),
        )
    assert not IssuedDocument.objects.exists()


# --- roles --------------------------------------------------------------------------------


def test_a_viewer_sees_but_cannot_move_anything(application, viewer):
    client = client_for(viewer)
    page = client.get(url("application", application))
    assert page.status_code == 200
    assert "閲覧だけできます" in text(page)
    assert "「受付」にする" not in text(page)
    for name, data in (
        ("application_transition", {"to_status": S.ACCEPTED, "expected_status": S.SUBMITTED}),
        (
            "application_decide",
            {"outcome": "reject", "reason": "x", "expected_status": S.SUBMITTED},
        ),
        (
            "application_correction",
            {"fields": ["requester_phone"], "body": "x", "expected_status": S.SUBMITTED},
        ),
        ("application_message", {"body": "こんにちは"}),
        ("application_note", {"body": "メモ"}),
        ("application_assign", {"assignee": str(viewer.user_id)}),
        ("application_reveal", {"purpose": "基幹系システムへの登録のため"}),
    ):
        response = post(client, name, application, data)
        assert response.status_code == 403, name
    bulk = client.post(
        reverse("console:applications_bulk"),
        {"items": [f"{application.pk}:{S.SUBMITTED}"], "action": "accept"},
    )
    assert bulk.status_code == 403
    assert status_of(application) == S.SUBMITTED
    assert not ApplicationNote.objects.exists()
    assert not ApplicationMessage.objects.exists()


def test_a_reviewer_not_assigned_to_the_procedure_can_view_but_not_move(
    application, staff_member, admin, procedure
):
    procedure.reviewers.set([admin])
    client = client_for(staff_member)
    page = client.get(url("application", application))
    assert page.status_code == 200
    assert "審査担当に指定されていません" in text(page)
    response = post(
        client,
        "application_transition",
        application,
        {"to_status": S.ACCEPTED, "expected_status": S.SUBMITTED},
    )
    assert response.status_code == 403
    assert "審査担当に指定されていない" in text(response)
    bulk = client.post(
        reverse("console:applications_bulk"),
        {"items": [f"{application.pk}:{S.SUBMITTED}"], "action": "accept"},
    )
    assert bulk.status_code == 302
    assert status_of(application) == S.SUBMITTED
    # Listed: now the reviewer may.
    procedure.reviewers.add(staff_member)
    response = post(
        client,
        "application_transition",
        application,
        {"to_status": S.ACCEPTED, "expected_status": S.SUBMITTED},
    )
    assert response.status_code == 302


def test_only_admins_edit_decision_templates(staff_client, admin, organisation):
    response = staff_client.post(
        reverse("console:decision_templates"),
        {"kind": "approve", "title": "通常", "body": "要件を満たしています。"},
    )
    assert response.status_code == 403
    assert not DecisionTemplate.objects.exists()

    client = client_for(admin)
    response = client.post(
        reverse("console:decision_templates"),
        {"kind": "approve", "title": "通常", "body": "要件を満たしています。"},
    )
    assert response.status_code == 302
    template = DecisionTemplate.objects.get()
    assert template.organisation == organisation
    response = client.post(
        reverse("console:decision_templates"),
        {"kind": "approve", "title": "", "body": "本文"},
    )
    assert response.status_code == 400
    assert "文例の名前を入力してください。" in text(response)
    response = client.post(
        reverse("console:decision_templates"),
        {"template_id": template.pk, "action": "delete"},
    )
    assert response.status_code == 302
    assert not DecisionTemplate.objects.exists()
    with pytest.raises(NotAllowed):
        decision_template_save(
            organisation=organisation,
            staff=staff_upsert(
                organisation=organisation,
                email="v2@yokohama.test",
                password=STAFF_PASSWORD,
                role=StaffRole.VIEWER,
            ),
            kind="approve",
            title="t",
            body="b",
            now=now(),
        )


# --- isolation: every URL answers 404 to another organisation ------------------------------


def test_every_review_url_is_404_for_another_organisations_staff(
    application, admin, other_staff, organisation
):
    document = IssuedDocument.objects.create(
        organisation=organisation,
        application=application,
        kind="decision_approve",
        title="承認通知書",
        record=document_record_make(organisation=organisation, pdf=b"%PDF-1.4 secret", now=now()),
        created_at=now(),
    )
    template = decision_template_save(
        organisation=organisation,
        staff=admin,
        kind="approve",
        title="横浜の文例",
        body="横浜市だけの文章",
        now=now(),
    )
    client = client_for(other_staff)
    gets = [
        url("application", application),
        url("document_pdf", application, document=document.pk),
        reverse("console:decision_templates") + f"?edit={template.pk}",
    ]
    for address in gets:
        response = client.get(address)
        assert response.status_code == 404, address
        assert application.receipt_number not in text(response)
    posts: dict[str, dict[str, Any]] = {
        "application_transition": {"to_status": S.ACCEPTED, "expected_status": S.SUBMITTED},
        "application_correction": {
            "fields": ["requester_phone"],
            "body": "x",
            "expected_status": S.SUBMITTED,
        },
        "application_message": {"body": "こんにちは"},
        "application_note": {"body": "メモ"},
        "application_assign": {"assignee": str(other_staff.user_id)},
        "application_reveal": {"purpose": "基幹系システムへの登録のため"},
        "application_decide": {"outcome": "approve", "expected_status": S.SUBMITTED},
    }
    for name, data in posts.items():
        response = post(client, name, application, data)
        assert response.status_code == 404, name
    response = client.post(
        reverse("console:decision_templates"), {"template_id": template.pk, "action": "delete"}
    )
    assert response.status_code == 404
    bulk = client.post(
        reverse("console:applications_bulk"),
        {"items": [f"{application.pk}:{S.SUBMITTED}"], "action": "accept"},
        follow=True,
    )
    assert "申請が見つかりません" in text(bulk)
    assert application.receipt_number not in text(bulk)
    inbox = client.get(reverse("console:inbox"), {"q": application.receipt_number})
    assert inbox.context["page"].rows == []
    assert "山田" not in text(inbox)
    # Nothing changed.
    assert status_of(application) == S.SUBMITTED
    assert DecisionTemplate.objects.filter(pk=template.pk).exists()
    assert not ApplicationNote.objects.exists()
    assert not ApplicationMessage.objects.exists()
    assert Application.objects.get(pk=application.pk).assignee is None


@pytest.mark.parametrize(
    "address",
    [
        "/console/applications/999999999/",
        "/console/applications/abc/",
        "/console/applications/-1/",
        "/console/applications/1%20OR%201=1/",
        "/console/applications/99999999999999999999999/",
    ],
)
def test_tampered_ids_are_404(staff_client, application, address):
    assert staff_client.get(address).status_code == 404


def test_a_document_of_another_application_is_404(staff_client, procedure, resident, organisation):
    first = apply(procedure, resident)
    second = apply(procedure, resident)
    document = IssuedDocument.objects.create(
        organisation=organisation,
        application=first,
        kind="decision_approve",
        title="承認通知書",
        record=document_record_make(organisation=organisation, pdf=b"%PDF-1.4", now=now()),
        created_at=now(),
    )
    assert staff_client.get(url("document_pdf", second, document=document.pk)).status_code == 404


# --- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "message"),
    [
        ("application_note", "body", "内部メモは4000文字以内で入力してください"),
        ("application_message", "body", "メッセージは4000文字以内で入力してください"),
    ],
)
def test_oversized_notes_and_messages_get_a_japanese_error(
    staff_client, application, name, field, message
):
    response = post(staff_client, name, application, {field: "あ" * 4001})
    assert response.status_code == 400
    assert message in text(response)
    assert "あ" * 4001 in text(response)  # what was typed is kept
    huge = post(staff_client, name, application, {field: "あ" * 100_000})
    assert huge.status_code == 400
    assert not ApplicationNote.objects.exists()
    assert not ApplicationMessage.objects.exists()


def test_empty_notes_and_null_bytes_are_refused(staff_client, application):
    response = post(staff_client, "application_note", application, {"body": "\x00  "})
    assert response.status_code == 400
    assert "内部メモを入力してください。" in text(response)
    assert not ApplicationNote.objects.exists()


def test_a_correction_for_fields_that_are_not_in_the_form_is_refused(staff_client, application):
    response = post(
        staff_client,
        "application_correction",
        application,
        {"fields": ["../../etc"], "body": "確認してください。", "expected_status": S.SUBMITTED},
    )
    assert response.status_code == 400
    assert "様式にない項目" in text(response)
    assert status_of(application) == S.SUBMITTED


def test_posts_without_a_csrf_token_are_refused(application, staff_member):
    client = client_for(staff_member, enforce_csrf_checks=True)
    for name, data in (
        ("application_transition", {"to_status": S.ACCEPTED, "expected_status": S.SUBMITTED}),
        ("application_note", {"body": "メモ"}),
        (
            "application_decide",
            {"outcome": "reject", "reason": "x", "expected_status": S.SUBMITTED},
        ),
    ):
        assert post(client, name, application, data).status_code == 403, name
    assert status_of(application) == S.SUBMITTED
    assert not ApplicationNote.objects.exists()


def test_a_tampered_inbox_cursor_shows_the_first_page_with_a_message(staff_client, application):
    response = staff_client.get(reverse("console:inbox"), {"after": "forged-cursor"})
    assert response.status_code == 200
    assert "最初のページを表示しています" in text(response)
    assert application.receipt_number in text(response)


def test_unreadable_inbox_filters_are_explained(staff_client, application):
    response = staff_client.get(
        reverse("console:inbox"), {"from": "2025-99-99", "status": "x", "procedure": "y"}
    )
    assert response.status_code == 200
    assert "2025-04-01 の形で入力してください" in text(response)


def test_filters_in_use_are_chips_that_each_remove_only_themselves(staff_client, application):
    response = staff_client.get(
        reverse("console:inbox"),
        {"status": ["submitted", "accepted"], "overdue": "1", "q": application.receipt_number[-4:]},
    )

    html = text(response)
    assert "状態: 到達" in html
    assert "状態: 受付" in html
    assert "処理期限を過ぎたもの" in html
    assert "（2件を指定中）" not in html  # three filters behind the disclosure
    assert "（3件を指定中）" in html
    # Dropping 到達 keeps 受付, the overdue flag and the search.
    assert "?status=accepted&amp;overdue=1&amp;q=" in html


@pytest.mark.parametrize(
    "params",
    [
        {"q": "<script>alert(1)</script>"},
        {"q": "１２３４\x00"},
        {"status": "<b>x</b>", "procedure": "1 OR 1=1"},
        {"assignee": "../../etc", "channel": "fax"},
        {"q": "%_%", "sort": "id"},
    ],
)
def test_hostile_inbox_queries_never_fail_and_are_never_echoed_as_html(
    staff_client, application, params
):
    response = staff_client.get(reverse("console:inbox"), params)

    assert response.status_code == 200
    html = text(response)
    assert "<script>alert(1)</script>" not in html
    assert "<b>x</b>" not in html
    # An unreadable filter is explained, not shown as a chip.
    assert "状態: <" not in html


def test_the_inbox_offers_the_next_page_only_when_there_is_one(staff_client, procedure, resident):
    for _ in range(51):
        apply(procedure, resident)
    first = staff_client.get(reverse("console:inbox"))
    assert "次の50件" in text(first)
    next_url = first.context["next_url"]
    second = staff_client.get(reverse("console:inbox") + next_url)
    assert len(second.context["page"].rows) == 1
    assert "次の50件" not in text(second)


def test_bulk_accept_reports_each_item(staff_client, procedure, resident, staff_member):
    fresh = apply(procedure, resident)
    moved = apply(procedure, resident)
    application_transition(
        organisation=moved.organisation,
        application=moved,
        to_status=S.ACCEPTED,
        staff_user=staff_member.user,
        now=now(),
    )
    response = staff_client.post(
        reverse("console:applications_bulk"),
        {
            "items": [f"{fresh.pk}:{S.SUBMITTED}", f"{moved.pk}:{S.SUBMITTED}", "junk", "1:x"],
            "action": "accept",
            "return": "q=abc&status=submitted",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?q=abc&status=submitted")
    page = text(staff_client.get(response["Location"]))
    assert "1件を受付にしました。" in page
    assert f"受付番号 {moved.receipt_number}" in page
    assert status_of(fresh) == S.ACCEPTED


def test_bulk_assign_to_me_and_filter_on_it(staff_client, procedure, resident, staff_member):
    one = apply(procedure, resident)
    other = apply(procedure, resident)
    response = staff_client.post(
        reverse("console:applications_bulk"),
        {"items": [f"{one.pk}:{S.SUBMITTED}"], "action": "assign_me"},
    )
    assert response.status_code == 302
    mine = text(staff_client.get(reverse("console:inbox"), {"assignee": "me"}))
    assert one.receipt_number in mine
    assert other.receipt_number not in mine
    assert AuditEvent.objects.filter(action="application.assigned").count() == 1


def test_assigning_a_viewer_or_a_stranger_is_refused(
    staff_client, application, viewer, other_staff
):
    for who in (viewer, other_staff):
        response = post(
            staff_client, "application_assign", application, {"assignee": str(who.user_id)}
        )
        assert response.status_code == 400
        assert "担当者に指定できない職員です。" in text(response)
    assert Application.objects.get(pk=application.pk).assignee is None


def test_names_are_searched_kana_insensitively_in_the_inbox(staff_client, procedure, resident):
    yamada = apply(procedure, resident)
    sato = apply(procedure, resident, name=("佐藤", "一郎", "サトウ", "イチロウ"))
    page = text(staff_client.get(reverse("console:inbox"), {"q": "ヤマダ"}))
    assert yamada.receipt_number in page
    assert sato.receipt_number not in page


# --- My Number: revealed for a stated purpose, recorded without the value -------------------


@pytest.fixture
def with_my_number(organisation, resident):
    from madoguchi.core.crypto import decrypt

    procedure = publish(organisation, "kaigo-hihokensha-saikofu")
    application = apply(procedure, resident)
    application.my_number = decrypt(application.answers["insured_my_number"]["$enc"])
    return application


def test_revealing_my_number_needs_a_purpose_and_is_recorded_without_the_value(
    staff_client, with_my_number, staff_member
):
    application = with_my_number
    detail = text(staff_client.get(url("application", application)))
    assert application.my_number not in detail
    for purpose in ("", "   ", "確認"):
        response = post(staff_client, "application_reveal", application, {"purpose": purpose})
        assert response.status_code == 400
        assert application.my_number not in text(response)
        assert "利用目的" in text(response)
    assert not AuditEvent.objects.filter(action="application.reveal").exists()

    response = post(
        staff_client,
        "application_reveal",
        application,
        {"purpose": "介護保険システムへの登録内容の照合のため"},
    )
    assert response.status_code == 200
    assert application.my_number in text(response)
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="application.reveal")
    assert event.actor == staff_member.user
    assert event.reason == "介護保険システムへの登録内容の照合のため"
    assert event.detail == {"fields": ["insured_my_number"]}
    assert application.my_number not in str(event.detail) + event.reason
    # Shown once: the next view is masked again.
    assert application.my_number not in text(staff_client.get(url("application", application)))


def test_an_application_without_my_number_has_nothing_to_reveal(staff_client, application):
    response = post(
        staff_client,
        "application_reveal",
        application,
        {"purpose": "介護保険システムへの登録内容の照合のため"},
    )
    assert response.status_code == 400
    assert "表示できる個人番号はありません" in text(response)


# --- in a real browser ------------------------------------------------------------------------


@pytest.mark.browser
def test_inbox_and_application_pages_have_no_accessibility_violations(page):
    from madoguchi.tenants.models import Organisation

    organisation = Organisation.objects.get(lg_code="141003")
    reviewer = staff_upsert(
        organisation=organisation,
        email="reviewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.REVIEWER,
        display_name="審査 一郎",
    )
    secret = totp_enrol(reviewer.user)
    resident = User.objects.create_user("hanako@example.jp", "correct horse battery 42")
    procedure = publish(organisation)
    application = apply(procedure, resident)
    apply(procedure, resident, name=("佐藤", "一郎", "さとう", "いちろう"))

    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill("reviewer@yokohama.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(reviewer.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")

    page.get_by_role("link", name="受付一覧").first.click()
    page.wait_for_url("**/console/applications/")
    assert axe_violations(page) == []
    # At 1280 px the list starts within the first screen (the filters are folded away), and
    # no receipt number or date is broken over lines.
    page.set_viewport_size({"width": 1280, "height": 800})
    first_row = page.locator("table.inbox-table tbody tr").first
    assert first_row.bounding_box()["y"] < 800
    receipt = page.get_by_role("link", name=application.receipt_number)
    assert receipt.bounding_box()["height"] < 30
    # The trailing digits read out on the phone find it, typed in full-width.
    tail = application.receipt_number[-4:].translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    page.get_by_label("受付番号または氏名").fill(tail)
    page.get_by_role("button", name="検索", exact=True).click()
    page.wait_for_url("**q=*")
    assert page.get_by_role("link", name=application.receipt_number).is_visible()
    # The search is shown as a chip that removes it.
    page.get_by_role("link", name=f"検索: {tail}").click()
    page.wait_for_url(lambda url: "q=" not in url)
    assert page.locator("table.inbox-table tbody tr").count() == 2
    # A phone: the list becomes stacked cards, nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert receipt.bounding_box()["height"] < 40
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_label("受付番号または氏名").fill("ヤマダ")
    page.get_by_role("button", name="検索", exact=True).click()
    page.wait_for_url("**q=*")
    assert axe_violations(page) == []
    page.get_by_role("link", name=application.receipt_number).click()
    page.wait_for_url(f"**/console/applications/{application.pk}/")
    assert axe_violations(page) == []
    page.get_by_role("button", name="「受付」にする").click()
    page.wait_for_url(f"**/console/applications/{application.pk}/")
    assert "状態を「受付」にしました。" in page.content()
    assert axe_violations(page) == []
    # An error re-renders the page with the message next to the field.
    page.get_by_label("内部メモを追加（4000文字以内）").fill("あ" * 4001)
    page.get_by_role("button", name="メモを追加する").click()
    page.locator("#error-summary").wait_for()
    assert axe_violations(page) == []


# --- the demo of ``make run`` ----------------------------------------------------------------


DATA_HELPER_KEYS = ("demo-yokohama-suido-kaishi-0001", "demo-kamakura-sodai-gomi-0001")


def test_the_demo_gives_yokohama_staff_a_non_empty_inbox_once(db, settings, tmp_path, client):
    import json

    from madoguchi.ops.demo import DEMO_RESIDENT, demo_setup
    from madoguchi.tenants.models import Organisation

    settings.DATA_DIR = tmp_path
    demo_setup(now=now())
    yokohama = Organisation.objects.get(lg_code="141003")
    # The two that show the Japanese data helpers (ops.demo._DEMO_DATA_HELPERS) aside:
    helpers = Application.objects.filter(idempotency_key__in=DATA_HELPER_KEYS)
    assert {a.organisation.lg_code for a in helpers} == {"141003", "142042"}
    made = list(
        Application.objects.filter(organisation=yokohama, channel="online")
        .exclude(idempotency_key__in=DATA_HELPER_KEYS)
        .order_by("pk")
    )
    # Among them a 公文書開示請求 waiting for sign-off, a 児童手当 with two files and a corrected 住民票 (test_attachments_console,
    # test_versions_console).
    # One of them is the operational-test application (運用テスト) to the 準備中 防災訓練
    # procedure (ops.demo._demo_operational_test): a real row, marked and never counted.
    # Three are decided, their notices issued (the register and /verify/ show them).
    assert len(made) == 11  # one waits for sign-off (決裁), one for a correction
    assert [a.procedure.slug for a in made if a.is_test] == ["demo-bousai-kunren"]
    assert {a.status for a in made} == {
        S.SUBMITTED,
        S.ACCEPTED,
        S.RESUBMITTED,
        S.CORRECTION_REQUESTED,
        S.APPROVED,
        S.REJECTED,
    }
    assert DecisionProposal.objects.filter(state="pending").count() == 1
    assert DecisionTemplate.objects.filter(organisation=yokohama).exists()
    assert any(a.due_at and a.due_at < now() for a in made)  # one past its 標準処理期間
    assert not (
        Application.objects.exclude(organisation=yokohama)
        .filter(channel="online")
        .exclude(idempotency_key__in=DATA_HELPER_KEYS)
    )
    # Besides: a counter and a mail application for 横浜市, a counter one for 鎌倉市, and a
    # 児童手当 claim at 横浜市's counter with a bank account (for the export's unmasking).
    assert Application.objects.exclude(channel="online").count() == 4
    teate = Application.objects.get(idempotency_key="demo-counter-yokohama-teate-0001")
    assert teate.organisation == yokohama
    assert "account" in teate.answers

    demo_setup(now=now())
    assert Application.objects.count() == 17  # 16 + the operational-test application
    assert DecisionProposal.objects.count() == 1

    passwords = json.loads((tmp_path / "demo_logins.json").read_text(encoding="utf-8"))
    resident = User.objects.get(email=DEMO_RESIDENT)
    assert resident.email_verified_at is not None
    assert client.login(username=DEMO_RESIDENT, password=passwords["resident"])


def test_the_application_page_marks_an_unscanned_attachment(
    staff_client, application, resident, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    settings.CLAMD = ""  # no scanner: the file is stored, marked unscanned
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (10, 200, 10)).save(buffer, "PNG")
    unscanned = attachment_store(
        procedure=application.procedure,
        field_key="residence_document",
        owner=resident,
        name="在勤証明書.png",
        data=buffer.getvalue(),
        now=now(),
    )
    Attachment.objects.filter(pk=unscanned.pk).update(application=application)
    page = text(staff_client.get(url("application", application)))
    row = page[page.index("在勤証明書.png") :]
    row = row[: row.index("</li>")]
    assert "未検査" in row
    assert "ウイルス対策ソフトで確認" in row
    Attachment.objects.filter(pk=unscanned.pk).update(scanned=True)
    page = text(staff_client.get(url("application", application)))
    row = page[page.index("在勤証明書.png") :]
    assert "未検査" not in row[: row.index("</li>")]
    assert "検査済み" in row[: row.index("</li>")]


@pytest.mark.parametrize("pk", ["①", "²", "٣", "9" * 40])
def test_bulk_items_with_ids_that_are_not_ascii_digits_are_ignored(staff_client, application, pk):
    bulk = staff_client.post(
        reverse("console:applications_bulk"),
        {"items": [f"{pk}:{S.SUBMITTED}"], "action": "accept"},
    )

    assert bulk.status_code == 302
    assert status_of(application) == S.SUBMITTED


@pytest.mark.parametrize(
    "invisible", ["\u200b\u200b", "\u3000\ufeff", "\u2060\u00ad", "\x00 \u200b"]
)
def test_reasons_messages_and_notes_of_invisible_characters_only_are_refused(
    staff_client, application, invisible
):
    """Found in the browser: zero-width spaces passed as a rejection reason and printed 〓〓 on
    the notice; as a correction request and as a message they reached the applicant empty."""
    refusals = [
        ("application_decide", {"outcome": "reject", "reason": invisible}, "決定の理由を入力"),
        (
            "application_correction",
            {"fields": ["requester_phone"], "body": invisible},
            "を入力してください",
        ),
        ("application_message", {"body": invisible}, "を入力してください"),
        ("application_note", {"body": invisible}, "内部メモを入力してください。"),
    ]
    for name, data, message in refusals:
        response = post(staff_client, name, application, {**data, "expected_status": S.SUBMITTED})
        assert response.status_code == 400, name
        assert message in text(response), name

    assert status_of(application) == S.SUBMITTED
    assert not IssuedDocument.objects.exists()
    assert not ApplicationNote.objects.exists()
    assert not ApplicationMessage.objects.exists()


# --- f2: the 被害の程度 of a 罹災証明書 is chosen, and the confirmation says what happens --------


def test_a_certificate_decision_asks_for_the_damage_level_and_says_the_certificate_is_issued(
    staff_client, staff_member, organisation, templates_loaded, resident
):
    from madoguchi.applications.review import application_move
    from madoguchi.testing import answers_with_file_rows, submit

    risai = publish(organisation, "risai-shomei")
    application = submit(risai, resident, answers_with_file_rows(risai, owner=resident)).application
    application = application_move(
        organisation=organisation,
        application=application,
        staff=staff_member,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    detail = text(staff_client.get(url("application", application)))
    assert 'name="damage_level"' in detail
    assert "被害の程度" in detail
    reason = "全壊には至らず、半壊と判定しました"

    refused = post(
        staff_client,
        "application_decide",
        application,
        {"outcome": "approve", "reason": reason, "expected_status": S.ACCEPTED},
    )
    assert refused.status_code == 400
    assert "被害の程度を選んでください" in text(refused)

    confirm = post(
        staff_client,
        "application_decide",
        application,
        {
            "outcome": "approve",
            "reason": reason,
            "damage_level": "半壊",
            "expected_status": S.ACCEPTED,
        },
    )
    page = text(confirm)
    assert confirm.status_code == 200
    assert "罹災証明書" in page
    assert "確定した決定は取り消せません" not in page
    assert 'name="damage_level" value="半壊"' in page

    done = post(
        staff_client,
        "application_decide",
        application,
        {
            "outcome": "approve",
            "reason": reason,
            "damage_level": "半壊",
            "expected_status": S.ACCEPTED,
            "confirm": "1",
        },
    )
    assert done.status_code == 302
    certificate = IssuedDocument.objects.get(application=application, kind="certificate")
    assert certificate.record.kind == "certificate"


def test_the_confirmation_of_a_counter_application_without_mail_does_not_promise_mail(
    staff_client, staff_member, application
):
    from madoguchi.applications.review import application_move

    application_move(
        organisation=application.organisation,
        application=application,
        staff=staff_member,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    Application.objects.filter(pk=application.pk).update(applicant=None, contact_email="")
    application.refresh_from_db()
    page = text(
        post(
            staff_client,
            "application_decide",
            application,
            {"outcome": "approve", "reason": "", "expected_status": S.ACCEPTED},
        )
    )
    assert "メールは送りません" in page
    assert "メールで知らせます" not in page
