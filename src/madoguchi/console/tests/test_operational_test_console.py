"""運用テスト in the console: an admin starts the test, names and invites testers, sees the
test applications (marked wherever they are listed) and publishes, which purges them."""

from __future__ import annotations

import pytest

from madoguchi.applications.models import Application
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, ProcedureTester
from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import (
    LEVEL_ONE,
    invited_tester,
    procedure_under_test,
    resident_create,
    submit,
    valid_answers,
)

pytestmark = pytest.mark.usefixtures("templates_loaded")


@pytest.fixture
def draft(organisation):
    item = procedure_adopt(
        organisation=organisation, template_version=template_version_get(slug="juminhyo"), now=now()
    )
    Procedure.objects.filter(pk=item.pk).update(**LEVEL_ONE)
    item.refresh_from_db()
    return item


@pytest.fixture
def trial(organisation, admin_staff):
    return procedure_under_test(organisation, admin_staff.user)


def url(procedure) -> str:
    return f"/console/procedures/{procedure.pk}/test/"


def test_an_admin_runs_a_test_from_start_to_publishing(
    admin_client, draft, staff_member, organisation
):
    page = admin_client.get(url(draft))
    assert page.status_code == 200
    assert "運用テストを開始する" in page.content.decode()
    assert admin_client.post(url(draft), {"action": "start"}).status_code == 302
    draft.refresh_from_db()
    assert draft.test_started_at is not None

    added = admin_client.post(url(draft), {"action": "add_staff", "staff": staff_member.pk})
    assert added.status_code == 302
    invited = admin_client.post(url(draft), {"action": "invite", "email": "tester@example.jp"})
    assert invited.status_code == 302
    assert ProcedureTester.objects.filter(procedure=draft).count() == 2
    assert OutboxMessage.objects.filter(payload__to="tester@example.jp").exists()

    tester = resident_create("tester@example.jp", verified=True)
    application = submit(draft, tester, valid_answers(draft)).application
    page = admin_client.get(url(draft)).content.decode()
    assert application.receipt_number in page
    assert staff_member.user.email in page
    assert "tester@example.jp" in page

    published = admin_client.post(url(draft), {"action": "publish", "expected": "draft"})
    assert published.status_code == 302
    assert published["Location"] == f"/console/procedures/{draft.pk}/"
    draft.refresh_from_db()
    assert draft.status == ProcedureStatus.PUBLISHED
    assert not Application.objects.filter(pk=application.pk).exists()
    assert AuditEvent.objects.filter(action="procedure.test_purged").count() == 1


def test_publishing_twice_says_so_and_changes_nothing(admin_client, trial):
    assert (
        admin_client.post(url(trial), {"action": "publish", "expected": "draft"}).status_code == 302
    )
    again = admin_client.post(url(trial), {"action": "publish", "expected": "draft"})
    assert again.status_code == 409
    assert "既に「公開中」" in again.content.decode()
    assert AuditEvent.objects.filter(action="procedure.status_set").count() == 1


def test_the_procedure_page_publish_uses_the_same_path(admin_client, trial, admin_staff):
    tester = resident_create("tester@example.jp", verified=True)
    invited_tester(trial, tester.email, admin_staff.user)
    submit(trial, tester, valid_answers(trial))
    response = admin_client.post(
        f"/console/procedures/{trial.pk}/", {"action": "publish", "expected": "draft"}
    )
    assert response.status_code == 302
    assert not Application.objects.filter(procedure=trial).exists()
    stale = admin_client.post(
        f"/console/procedures/{trial.pk}/", {"action": "publish", "expected": "draft"}, follow=True
    )
    assert "既に「公開中」" in stale.content.decode()


@pytest.mark.parametrize("staff_id", ["", "abc", "-1", "0", "99999999", "1e3", "<script>"])
def test_an_unknown_staff_tester_is_refused(admin_client, trial, staff_id):
    response = admin_client.post(url(trial), {"action": "add_staff", "staff": staff_id})
    assert response.status_code == 409
    assert "一覧から選んで" in response.content.decode()
    assert not ProcedureTester.objects.exists()


def test_staff_of_another_organisation_cannot_be_named(admin_client, trial, other_staff):
    response = admin_client.post(url(trial), {"action": "add_staff", "staff": other_staff.pk})
    assert response.status_code == 409
    assert not ProcedureTester.objects.exists()


@pytest.mark.parametrize(
    "email", ["", "garbage", "a@b@c", "x" * 400, "taro@example.jp\r\nBcc: x@example.jp"]
)
def test_a_garbage_address_is_refused_and_kept_on_the_page(admin_client, trial, email):
    response = admin_client.post(url(trial), {"action": "invite", "email": email})
    assert response.status_code == 422
    assert "正しく入力" in response.content.decode()
    assert not ProcedureTester.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_inviting_the_same_person_twice_is_refused(admin_client, trial):
    assert (
        admin_client.post(url(trial), {"action": "invite", "email": "a@example.jp"}).status_code
        == 302
    )
    again = admin_client.post(url(trial), {"action": "invite", "email": "A@Example.jp"})
    assert again.status_code == 422
    assert "既に招待" in again.content.decode()
    assert ProcedureTester.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


@pytest.mark.parametrize("tester", ["", "abc", "99999999"])
def test_removing_an_unknown_tester_is_404(admin_client, trial, tester):
    response = admin_client.post(url(trial), {"action": "remove", "tester": tester})
    assert response.status_code == 404


def test_a_tester_of_another_procedure_cannot_be_removed_here(
    admin_client, trial, organisation, admin_staff
):
    other = procedure_under_test(organisation, admin_staff.user, slug="sodai-gomi")
    elsewhere, _ = invited_tester(other, "elsewhere@example.jp", admin_staff.user)
    response = admin_client.post(url(trial), {"action": "remove", "tester": elsewhere.pk})
    assert response.status_code == 404
    assert ProcedureTester.objects.filter(pk=elsewhere.pk).exists()


def test_another_organisations_procedure_is_404(admin_client, other_organisation, other_admin):
    theirs = procedure_under_test(other_organisation, other_admin.user)
    assert admin_client.get(url(theirs)).status_code == 404
    for action in ("start", "publish", "invite", "add_staff", "remove"):
        assert (
            admin_client.post(url(theirs), {"action": action, "email": "x@example.jp"}).status_code
            == 404
        )
    theirs.refresh_from_db()
    assert theirs.status == ProcedureStatus.DRAFT
    assert not ProcedureTester.objects.exists()


def test_a_reviewer_sees_the_test_but_cannot_change_it(staff_client, trial):
    page = staff_client.get(url(trial))
    assert page.status_code == 200
    assert "招待のメールを送る" not in page.content.decode()
    for action in ("start", "publish", "invite"):
        assert staff_client.post(url(trial), {"action": action}).status_code == 403
    trial.refresh_from_db()
    assert trial.status == ProcedureStatus.DRAFT


def test_an_unknown_action_is_refused(admin_client, trial):
    assert admin_client.post(url(trial), {"action": "explode"}).status_code == 400


def test_test_applications_are_marked_in_the_inbox_and_on_their_page(
    staff_client, organisation, admin_staff, procedure, resident
):
    trial = procedure_under_test(organisation, admin_staff.user, slug="sodai-gomi")
    tester = resident_create("tester@example.jp", verified=True)
    invited_tester(trial, tester.email, admin_staff.user)
    test = submit(trial, tester, valid_answers(trial)).application
    resident.email_verified_at = now()
    resident.save()
    real = submit(procedure, resident, valid_answers(procedure)).application
    inbox = staff_client.get("/console/applications/").content.decode()
    assert test.receipt_number in inbox
    assert real.receipt_number in inbox
    assert inbox.count('class="test-mark"') == 1
    page = staff_client.get(f"/console/applications/{test.pk}/").content.decode()
    assert "運用テストの申請です" in page
    real_page = staff_client.get(f"/console/applications/{real.pk}/").content.decode()
    assert "運用テストの申請です" not in real_page
