"""運用テスト in the portal: testers reach a 準備中 procedure through the real pages, with a
banner on every page; everybody else gets 404."""

from __future__ import annotations

import pytest
from django.test import Client

from madoguchi.applications.models import Application
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import ProcedureTester
from madoguchi.catalog.testers import procedure_tester_add
from madoguchi.core.time import now
from madoguchi.testing import (
    console_login,
    invited_tester,
    portal_apply,
    procedure_under_test,
    resident_create,
    valid_answers,
)

pytestmark = pytest.mark.usefixtures("templates_loaded")

BANNER = "運用テスト"


@pytest.fixture
def trial(organisation, admin_staff):
    return procedure_under_test(organisation, admin_staff.user)


def page_of(procedure) -> str:
    return f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_draft_under_test_is_404_for_everyone_but_its_testers(trial, admin_staff, staff_member):
    invited_tester(trial, "tester@example.jp", admin_staff.user)
    stranger = resident_create("stranger@example.jp", verified=True)
    for client in (Client(), logged_in(stranger), console_login(Client(), staff_member.user)):
        for path in ("", "apply/start/", "apply/", "apply/confirm/", "apply/guest/"):
            response = client.get(page_of(trial) + path)
            assert response.status_code == 404, (path, response.status_code)
    assert not Application.objects.exists()


def test_a_resident_tester_applies_through_the_real_pages(trial, admin_staff):
    invited_tester(trial, "tester@example.jp", admin_staff.user)
    tester = resident_create("tester@example.jp", verified=True)
    client = logged_in(tester)

    page = client.get(page_of(trial))
    assert page.status_code == 200
    assert BANNER in page.content.decode()
    assert "アカウントがなくても" not in page.content.decode()
    # Even a tester cannot apply as a guest: testers are named accounts.
    assert client.get(page_of(trial) + "apply/guest/").status_code == 404
    start = client.get(page_of(trial) + "apply/start/", follow=True)
    assert BANNER in start.content.decode()

    sent = portal_apply(client, trial, valid_answers(trial))
    assert sent.status_code == 302
    application = Application.objects.get(procedure=trial)
    assert application.is_test
    complete = client.get(sent["Location"])
    assert "この申請は、手続の公開前に行う運用テスト" in complete.content.decode()

    mypage = client.get("/mypage/").content.decode()
    assert application.receipt_number in mypage
    assert 'class="test-mark"' in mypage
    detail = client.get(f"/mypage/{application.receipt_number}/").content.decode()
    assert "運用テスト（試験）の申請" in detail
    pdf = client.get(f"/applications/{application.receipt_number}/receipt.pdf")
    assert pdf.status_code == 200


def test_a_staff_tester_applies_with_the_staff_login(
    trial, organisation, admin_staff, staff_member
):
    procedure_tester_add(
        organisation=organisation,
        procedure=trial,
        staff_id=staff_member.pk,
        actor=admin_staff.user,
        now=now(),
    )
    client = console_login(Client(), staff_member.user)
    assert client.get(page_of(trial)).status_code == 200
    sent = portal_apply(client, trial, valid_answers(trial))
    assert sent.status_code == 302
    application = Application.objects.get(procedure=trial)
    assert application.is_test
    assert application.applicant == staff_member.user
    assert client.get(sent["Location"]).status_code == 200


def test_a_tester_removed_or_a_procedure_published_ends_the_banner(
    trial, organisation, admin_staff
):
    invited_tester(trial, "tester@example.jp", admin_staff.user)
    tester = resident_create("tester@example.jp", verified=True)
    client = logged_in(tester)
    assert client.get(page_of(trial)).status_code == 200
    procedure_set_status(
        organisation=organisation, procedure=trial, status=ProcedureStatus.PUBLISHED
    )
    page = client.get(page_of(trial)).content.decode()
    assert "この手続は公開前の運用テスト中" not in page


def test_accepting_an_invitation_needs_a_resident_login(trial, admin_staff, staff_member):
    _, token = invited_tester(trial, "someone@example.jp", admin_staff.user)
    url = f"/testers/{token}/"
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert "/account/login/" in anonymous["Location"]
    staff = console_login(Client(), staff_member.user)
    assert staff.post(url).status_code == 403
    assert not ProcedureTester.objects.filter(user__isnull=False).exists()


def test_a_resident_accepts_with_another_address_and_may_apply(trial, admin_staff):
    _, token = invited_tester(trial, "old-address@example.jp", admin_staff.user)
    resident = resident_create("new-address@example.jp", verified=True)
    client = logged_in(resident)
    assert client.get(page_of(trial)).status_code == 404
    shown = client.get(f"/testers/{token}/")
    assert shown.status_code == 200
    assert trial.name in shown.content.decode()
    accepted = client.post(f"/testers/{token}/")
    assert accepted.status_code == 302
    assert accepted["Location"] == page_of(trial)
    assert client.get(page_of(trial)).status_code == 200


@pytest.mark.parametrize("token", ["nope", "a" * 100, "%00", "..", "x" * 500])
def test_a_garbage_invitation_link_is_a_clear_404(trial, admin_staff, token):
    invited_tester(trial, "someone@example.jp", admin_staff.user)
    client = logged_in(resident_create("someone@example.jp", verified=True))
    for response in (client.get(f"/testers/{token}/"), client.post(f"/testers/{token}/")):
        assert response.status_code == 404
        assert "招待を使えません" in response.content.decode()
    assert not ProcedureTester.objects.filter(user__isnull=False).exists()


def test_an_invitation_accepted_by_another_account_is_refused(trial, admin_staff):
    _, token = invited_tester(trial, "someone@example.jp", admin_staff.user)
    first = logged_in(resident_create("first@example.jp", verified=True))
    assert first.post(f"/testers/{token}/").status_code == 302
    second = logged_in(resident_create("second@example.jp", verified=True))
    refused = second.post(f"/testers/{token}/")
    assert refused.status_code == 409
    assert "別のアカウント" in refused.content.decode()
    assert second.get(page_of(trial)).status_code == 404
