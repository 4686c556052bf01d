"""In the console: decide after a confirmation page, propose for sign-off, sign off or return
with a reason; the home page counts the work and links to the matching inbox lists; staff get
grouped mails with links (or a daily digest) and choose which."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import (
    Application,
    DecisionProposal,
    IssuedDocument,
    StaffNotice,
)
from madoguchi.applications.review import application_move
from madoguchi.applications.staff_notices import staff_notices_deliver
from madoguchi.applications.workflow import correction_answer, correction_request
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.services import procedure_set_signoff_steps
from madoguchi.core.time import TOKYO, now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_notice_mode_set, staff_set_signoff
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.services import outbox_deliver_email
from madoguchi.testing import console_login, staff_create
from madoguchi.testing import submit_named as apply


def text(response: Any) -> str:
    return str(response.content.decode())


def status_of(application: Application) -> str:
    return Application.objects.values_list("status", flat=True).get(pk=application.pk)


@pytest.fixture
def chief(organisation, admin_staff):
    member = staff_create(
        organisation, email="chief@yokohama.test", role=StaffRole.REVIEWER, display_name="係長"
    )
    return staff_set_signoff(
        organisation=organisation,
        staff_id=member.pk,
        may_sign_off=True,
        actor=admin_staff,
        now=now(),
    )


def accepted(procedure, resident, admin):
    application = apply(procedure, resident)
    application_move(
        organisation=application.organisation,
        application=application,
        staff=admin,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    return application


def decide_url(application):
    return reverse("console:application_decide", args=[application.pk])


def signoff_url(application):
    return reverse("console:application_signoff", args=[application.pk])


# --- confirmation and sign-off ----------------------------------------------------------------


def test_a_decision_is_final_only_after_its_confirmation_page(
    staff_client, procedure, resident, admin_staff
):
    application = accepted(procedure, resident, admin_staff)
    form = {"outcome": "approve", "reason": "要件を満たしています。", "expected_status": S.ACCEPTED}

    confirm = staff_client.post(decide_url(application), form)
    assert confirm.status_code == 200
    page = text(confirm)
    assert "この内容で決定しますか" in page
    assert "承認を確定して通知書を交付する" in page
    assert "要件を満たしています。" in page
    assert status_of(application) == S.ACCEPTED
    assert not IssuedDocument.objects.exists()

    back = staff_client.post(decide_url(application), {**form, "back": "1"})
    assert back.status_code == 200
    assert "要件を満たしています。" in text(back)  # the typed reason comes back to edit
    assert status_of(application) == S.ACCEPTED

    done = staff_client.post(decide_url(application), {**form, "confirm": "1"})
    assert done.status_code == 302
    assert status_of(application) == S.APPROVED


def test_the_confirmation_page_refuses_what_the_decision_would_refuse(
    staff_client, procedure, resident
):
    application = apply(procedure, resident)  # 到達: may be rejected, not approved
    response = staff_client.post(
        decide_url(application), {"outcome": "approve", "expected_status": S.SUBMITTED}
    )
    assert response.status_code == 400
    assert "承認できません" in text(response)
    stale = staff_client.post(
        decide_url(application),
        {"outcome": "reject", "reason": "対象外", "expected_status": S.IN_REVIEW},
    )
    assert stale.status_code == 400
    assert "状態が変わりました" in text(stale)


def test_a_proposal_is_signed_off_by_another_staff_member_in_the_console(
    staff_client, procedure, resident, admin_staff, chief, staff_member
):
    procedure_set_signoff_steps(
        organisation=procedure.organisation,
        procedure=procedure,
        steps=1,
        actor=admin_staff.user,
        now=now(),
    )
    application = accepted(procedure, resident, admin_staff)
    detail = text(staff_client.get(reverse("console:application", args=[application.pk])))
    assert "決定を起案する" in detail
    assert "承認で起案する" in detail

    form = {"outcome": "approve", "reason": "要件を満たしています。", "expected_status": S.ACCEPTED}
    confirm = text(staff_client.post(decide_url(application), form))
    assert "この内容で起案しますか" in confirm
    assert "決裁が<strong>1段階</strong>必要" in confirm
    response = staff_client.post(decide_url(application), {**form, "confirm": "1"})
    assert response.status_code == 302
    assert status_of(application) == S.ACCEPTED
    proposal = DecisionProposal.objects.get(application=application)

    # The proposer sees it waiting and cannot sign it off, even by a forged post.
    mine = text(staff_client.get(reverse("console:application", args=[application.pk])))
    assert "決裁待ち" in mine
    assert "自分の起案は決裁できません" in mine
    forged = staff_client.post(
        signoff_url(application),
        {"proposal": proposal.pk, "step": "1", "action": "signoff", "confirm": "1"},
    )
    assert forged.status_code == 403
    assert status_of(application) == S.ACCEPTED

    signer = console_login(Client(), chief.user)
    home = text(signer.get(reverse("console:home")))
    assert "自分の決裁待ち" in home
    waiting = text(signer.get(reverse("console:inbox") + "?signoff=mine"))
    assert application.receipt_number in waiting
    assert "自分の決裁待ちの申請だけを表示しています" in waiting

    last = signer.post(
        signoff_url(application),
        {"proposal": proposal.pk, "step": "1", "action": "signoff", "comment": "確認しました。"},
    )
    assert last.status_code == 200
    assert "決裁して決定を確定しますか" in text(last)
    assert status_of(application) == S.ACCEPTED
    done = signer.post(
        signoff_url(application),
        {
            "proposal": proposal.pk,
            "step": "1",
            "action": "signoff",
            "comment": "確認しました。",
            "confirm": "1",
        },
    )
    assert done.status_code == 302
    assert status_of(application) == S.APPROVED
    assert IssuedDocument.objects.filter(application=application).count() == 1
    again = signer.post(
        signoff_url(application),
        {"proposal": proposal.pk, "step": "1", "action": "signoff", "confirm": "1"},
    )
    assert again.status_code == 400  # already decided: refused, nothing issued twice
    assert IssuedDocument.objects.filter(application=application).count() == 1
    history = text(signer.get(reverse("console:application", args=[application.pk])))
    assert "決裁済み（決定しました）" in history


def test_a_return_needs_a_reason_and_reaches_the_proposer(
    procedure, resident, admin_staff, chief, staff_member
):
    procedure_set_signoff_steps(
        organisation=procedure.organisation,
        procedure=procedure,
        steps=1,
        actor=admin_staff.user,
        now=now(),
    )
    application = accepted(procedure, resident, admin_staff)
    proposer = console_login(Client(), staff_member.user)
    proposer.post(
        decide_url(application),
        {"outcome": "reject", "reason": "所得超過", "expected_status": S.ACCEPTED, "confirm": "1"},
    )
    proposal = DecisionProposal.objects.get(application=application)
    signer = console_login(Client(), chief.user)
    for hostile in ("", "   ", "\u200b\u200b", "x" * 2001):
        refused = signer.post(
            signoff_url(application),
            {"proposal": proposal.pk, "step": "1", "action": "return", "return_reason": hostile},
        )
        assert refused.status_code == 400
        assert "差戻しの理由" in text(refused)
    proposal.refresh_from_db()
    assert proposal.state == "pending"
    returned = signer.post(
        signoff_url(application),
        {
            "proposal": proposal.pk,
            "step": "1",
            "action": "return",
            "return_reason": "所得の計算をもう一度確認してください。",
        },
    )
    assert returned.status_code == 302
    page = text(proposer.get(reverse("console:application", args=[application.pk])))
    assert "所得の計算をもう一度確認してください。" in page
    assert "却下で起案する" in page  # may propose again


def test_hostile_sign_off_posts_are_refused_without_a_500(
    staff_client, procedure, resident, admin_staff, chief
):
    procedure_set_signoff_steps(
        organisation=procedure.organisation,
        procedure=procedure,
        steps=1,
        actor=admin_staff.user,
        now=now(),
    )
    application = accepted(procedure, resident, admin_staff)
    staff_client.post(
        decide_url(application),
        {"outcome": "approve", "expected_status": S.ACCEPTED, "confirm": "1"},
    )
    proposal = DecisionProposal.objects.get(application=application)
    signer = console_login(Client(), chief.user)
    for data in (
        {"proposal": "abc", "step": "1", "action": "signoff"},
        {"proposal": str(proposal.pk + 999), "step": "1", "action": "signoff"},
        {"proposal": str(proposal.pk), "step": "x", "action": "signoff", "confirm": "1"},
        {"proposal": str(proposal.pk), "step": "2", "action": "signoff", "confirm": "1"},
        {"proposal": str(proposal.pk), "step": "1", "action": "explode"},
        {
            "proposal": str(proposal.pk),
            "step": "1",
            "action": "signoff",
            "comment": "x" * 3000,
            "confirm": "1",
        },
    ):
        response = signer.post(signoff_url(application), data)
        assert response.status_code in (400, 404), data
    assert status_of(application) == S.ACCEPTED
    assert not IssuedDocument.objects.exists()


def test_the_admin_sets_sign_off_steps_and_the_role_in_the_console(
    admin_client, procedure, staff_member
):
    page = reverse("console:procedure", args=[procedure.pk])
    assert "決裁の段階を保存する" in text(admin_client.get(page))
    for hostile in ("7", "-1", "ab", ""):
        admin_client.post(page, {"action": "signoff", "signoff_steps": hostile})
    procedure.refresh_from_db()
    assert procedure.signoff_steps == 0
    admin_client.post(page, {"action": "signoff", "signoff_steps": "2"})
    procedure.refresh_from_db()
    assert procedure.signoff_steps == 2
    assert AuditEvent.objects.filter(action="procedure.signoff_set").exists()

    url = reverse("console:admin_staff_signoff", args=[staff_member.pk])
    assert admin_client.post(url, {"may_sign_off": "yes"}).status_code == 400
    assert admin_client.post(url, {"may_sign_off": "1"}).status_code == 302
    staff_member.refresh_from_db()
    assert staff_member.may_sign_off
    assert AuditEvent.objects.filter(action="staff.signoff_set").exists()


def test_a_reviewer_cannot_change_sign_off_settings(staff_client, procedure, staff_member):
    response = staff_client.post(
        reverse("console:admin_staff_signoff", args=[staff_member.pk]), {"may_sign_off": "1"}
    )
    assert response.status_code == 403
    staff_member.refresh_from_db()
    assert not staff_member.may_sign_off


# --- work at a glance ---------------------------------------------------------------------------


def test_the_home_counts_link_to_lists_of_exactly_those_applications(
    staff_client, staff_member, procedure, resident, admin_staff
):
    new = apply(procedure, resident)
    mine = accepted(procedure, resident, admin_staff)
    Application.objects.filter(pk=mine.pk).update(assignee=staff_member.user)
    late = accepted(procedure, resident, admin_staff)
    Application.objects.filter(pk=late.pk).update(due_at=now() - timedelta(days=1))

    home = text(staff_client.get(reverse("console:home")))
    assert "いまの仕事" in home
    for key, expected in (("new", {new}), ("mine", {mine}), ("overdue", {late})):
        link = home.split(f'data-work="{key}"')[0].rsplit('href="', 1)[1].split('"')[0]
        listed = text(staff_client.get(link.replace("&amp;", "&")))
        for application in (new, mine, late):
            assert (application.receipt_number in listed) == (application in expected), key
    assert "自分の決裁待ち" not in home  # not a sign-off holder


def test_inbox_filters_of_the_home_refuse_nonsense_calmly(staff_client):
    response = staff_client.get(reverse("console:inbox"), {"signoff": "everything", "open": "🙂"})
    assert response.status_code == 200
    assert "決裁の指定が正しくありません" in text(response)


# --- staff mail ---------------------------------------------------------------------------------


def test_a_new_arrival_mails_the_procedure_reviewers_with_a_console_link(
    procedure, resident, staff_member, admin_staff, smtp_server, settings
):
    settings.CONSOLE_URL = "https://console.city.example.lg.jp"
    application = apply(procedure, resident)
    assert StaffNotice.objects.filter(recipient=staff_member.user, kind="arrival").exists()
    assert not StaffNotice.objects.filter(recipient=admin_staff.user).exists()

    staff_notices_deliver(now=now())
    outbox_deliver_email(now=now())
    mails = [message_from_bytes(m, policy=policy.default) for m in smtp_server.messages]
    to_staff = [m for m in mails if m["To"] == staff_member.user.email]
    assert len(to_staff) == 1
    mail = to_staff[0]
    body = mail.get_content()
    assert application.receipt_number in body
    link = f"https://console.city.example.lg.jp/console/applications/{application.pk}/"
    assert link in body
    assert "山田" not in body
    assert "花子" not in body

    # A rush: more arrivals within ten minutes wait and go out together in one mail.
    for _ in range(5):
        apply(procedure, resident)
    assert staff_notices_deliver(now=now()).mails == 0
    later = staff_notices_deliver(now=now() + timedelta(minutes=11))
    assert later.mails == 1
    assert later.notices == 5


def test_a_staff_mail_about_test_applications_says_so(
    procedure, resident, staff_member, smtp_server
):
    application = apply(procedure, resident)
    Application.objects.filter(pk=application.pk).update(is_test=True)

    staff_notices_deliver(now=now())
    outbox_deliver_email(now=now())
    mails = [message_from_bytes(m, policy=policy.default) for m in smtp_server.messages]
    (mail,) = [m for m in mails if m["To"] == staff_member.user.email]
    assert mail["Subject"].startswith("【運用テスト】")
    assert f"【運用テスト】受付番号 {application.receipt_number}" in mail.get_content()


def test_a_resubmitted_correction_is_told_to_the_assignee(
    procedure, resident, staff_member, admin_staff
):
    application = accepted(procedure, resident, admin_staff)
    Application.objects.filter(pk=application.pk).update(assignee=admin_staff.user)
    application.refresh_from_db()
    correction_request(
        organisation=application.organisation,
        application=application,
        staff_user=admin_staff.user,
        body="電話番号を確認してください。",
        fields=["requester_phone"],
        now=now(),
    )
    application.refresh_from_db()
    correction_answer(
        applicant=resident,
        application=application,
        changes={"requester_phone": "045-000-1111"},
        now=now(),
    )
    told = StaffNotice.objects.filter(kind="resubmitted")
    assert [n.recipient_id for n in told] == [admin_staff.user_id]


def test_a_digest_goes_once_a_day_after_eight(procedure, resident, staff_member, organisation):
    staff_notice_mode_set(organisation=organisation, staff=staff_member, mode="digest", now=now())
    apply(procedure, resident)
    apply(procedure, resident)
    seven = datetime(2026, 12, 7, 7, 0, tzinfo=TOKYO)
    assert staff_notices_deliver(now=seven).mails == 0
    nine = datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO)
    report = staff_notices_deliver(now=nine)
    assert report.mails == 1
    assert report.notices == 2
    mail = OutboxMessage.objects.filter(payload__to=staff_member.user.email).get()
    assert "本日のまとめ" in mail.payload["subject"]
    apply(procedure, resident)
    assert staff_notices_deliver(now=nine + timedelta(hours=3)).mails == 0  # once a day
    call_command("staff_digest")  # the command sends it now, whatever the hour
    assert OutboxMessage.objects.filter(payload__to=staff_member.user.email).count() == 2


def test_staff_choose_how_they_are_told_and_no_mail_means_no_notices(
    staff_client, staff_member, procedure, resident
):
    page = reverse("console:notice_settings")
    assert "受け取り方" in text(staff_client.get(page))
    for hostile in ("", "weekly", "<script>", "x" * 100):
        response = staff_client.post(page, {"notice_mode": hostile})
        assert response.status_code == 400
        assert "一覧から選んでください" in text(response)
    staff_member.refresh_from_db()
    assert staff_member.notice_mode == "immediate"
    assert staff_client.post(page, {"notice_mode": "none"}).status_code == 302
    staff_member.refresh_from_db()
    assert staff_member.notice_mode == "none"
    apply(procedure, resident)
    assert not StaffNotice.objects.filter(recipient=staff_member.user).exists()
    assert urlsplit(page).path.startswith("/console/")


# --- the staff API goes through the same proposal --------------------------------------------


def test_the_staff_api_proposes_instead_of_deciding_for_a_procedure_with_sign_off(
    client, procedure, resident, admin_staff, chief
):
    from madoguchi.testing import staff_token

    procedure_set_signoff_steps(
        organisation=procedure.organisation,
        procedure=procedure,
        steps=2,
        actor=admin_staff.user,
        now=now(),
    )
    application = accepted(procedure, resident, admin_staff)
    response = client.post(
        f"/api/v1/staff/applications/{application.pk}/transitions",
        {"to": "approved", "expected_status": "accepted", "reason": "要件を満たしています。"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {staff_token(admin_staff)}",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "accepted"
    assert data["signoff"] == {
        "state": "pending",
        "outcome": "approve",
        "steps_required": 2,
        "steps_done": 0,
    }
    assert not IssuedDocument.objects.exists()
    assert StaffNotice.objects.filter(kind="signoff_request", recipient=chief.user).exists()
    again = client.post(
        f"/api/v1/staff/applications/{application.pk}/transitions",
        {"to": "rejected", "expected_status": "accepted", "reason": "別の理由"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {staff_token(admin_staff)}",
    )
    assert again.status_code == 422
    assert "決裁待ちの起案" in again.json()["detail"]
    assert DecisionProposal.objects.count() == 1
