"""After a correction (補正) staff compare 第1版 and 第2版 side by side with the changed fields
marked; the 経過 names who acted by role and name, never by e-mail address; an application
registered at the counter arrives 「窓口（職員名）」, not 「申請者」."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.constants import Channel
from madoguchi.applications.received import application_register_received, received_form_spec
from madoguchi.applications.review import application_correction_request, application_move
from madoguchi.applications.services import new_idempotency_key
from madoguchi.applications.workflow import correction_answer
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.testing import STAFF_PASSWORD, console_login, valid_answers
from madoguchi.testing import submit_named as apply


@pytest.fixture
def application(procedure, resident):
    return apply(procedure, resident)


def page_of(client: Client, application: Any, query: str = "") -> str:
    response = client.get(reverse("console:application", args=[application.pk]) + query)
    assert response.status_code == 200
    return str(response.content.decode())


def section(page: str, heading_id: str) -> str:
    start = page.index(f'id="{heading_id}"')
    return page[start : page.index("</section>", start)]


def corrected(application: Any, staff: Any, resident: Any, phone: str = "090-1234-5678") -> None:
    application_move(
        organisation=application.organisation,
        application=application,
        staff=staff,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )
    application_correction_request(
        organisation=application.organisation,
        application=application,
        staff=staff,
        body="電話番号を確認してください。",
        fields=["requester_phone"],
        expected_status=S.ACCEPTED,
        now=now(),
    )
    application.refresh_from_db()
    correction_answer(
        applicant=resident,
        application=application,
        changes={"requester_phone": phone},
        note="直しました。",
        now=now(),
    )
    application.refresh_from_db()


def test_staff_compare_the_first_and_second_version_with_the_change_marked(
    staff_client, staff_member, application, resident
):
    assert 'id="versions-heading"' not in page_of(staff_client, application)  # one version

    corrected(application, staff_member, resident)
    versions = section(page_of(staff_client, application), "versions-heading")

    assert "第1版" in versions
    assert "第2版" in versions
    assert "変わった項目は1件です" in versions
    changed = [row for row in versions.split("<tr") if "versions__changed" in row]
    assert len(changed) == 1
    assert "電話番号" in changed[0]
    # (Compared without hyphens: how a telephone number is displayed is not this story.)
    assert "<ins>09012345678</ins>" in changed[0].replace("-", "")
    assert "<del>" in changed[0]
    unchanged = [row for row in versions.split("<tr") if "山田" in row]
    assert unchanged
    assert all("versions__changed" not in row for row in unchanged)


def test_the_history_names_roles_and_staff_never_their_address(
    staff_client, staff_member, application, resident
):
    corrected(application, staff_member, resident)

    history = section(page_of(staff_client, application), "history-heading")

    assert "申請者" in history
    assert "審査 一郎" in history  # the staff member's display name
    assert "@" not in history
    assert "reviewer@yokohama.test" not in history


def test_a_staff_member_without_a_name_is_shown_as_unnamed_staff(
    application, resident, organisation
):
    unnamed = staff_upsert(
        organisation=organisation,
        email="noname@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )
    client = console_login(Client(), unnamed.user)
    corrected(application, unnamed, resident)

    history = section(page_of(client, application), "history-heading")

    assert "職員（氏名未登録）" in history
    assert "noname@" not in history


@pytest.mark.parametrize(
    "query",
    [
        "?older=1&newer=2",
        "?older=2&newer=1",
        "?older=9&newer=x",
        "?older=%00&newer=-1",
        "?older=１&newer=２",
        "?older=" + "9" * 50,
    ],
)
def test_any_version_choice_shows_a_comparison_and_never_fails(
    staff_client, staff_member, application, resident, query
):
    corrected(application, staff_member, resident)
    versions = section(page_of(staff_client, application, query), "versions-heading")
    assert "第1版と第2版の回答" in versions


def test_three_versions_compare_the_last_two_unless_chosen(
    staff_client, staff_member, application, resident
):
    corrected(application, staff_member, resident, phone="090-1111-2222")
    application_correction_request(
        organisation=application.organisation,
        application=application,
        staff=staff_member,
        body="もう一度確認してください。",
        fields=["requester_phone"],
        expected_status=S.RESUBMITTED,
        now=now(),
    )
    application.refresh_from_db()
    correction_answer(
        applicant=resident,
        application=application,
        changes={"requester_phone": "090-3333-4444"},
        now=now(),
    )
    latest = section(page_of(staff_client, application), "versions-heading")
    assert "第2版と第3版の回答" in latest
    assert "<del>09011112222</del>" in latest.replace("-", "")
    first_last = section(page_of(staff_client, application, "?older=1&newer=3"), "versions-heading")
    assert "第1版と第3版の回答" in first_last
    assert "<ins>09033334444</ins>" in first_last.replace("-", "")


def registered(procedure: Any, staff: Any, *, channel: str, summary: str) -> Any:
    keys = {f.key for f in received_form_spec(form_spec(procedure.form_version), "full").fields}
    answers = {k: v for k, v in valid_answers(procedure).items() if k in keys}
    return application_register_received(
        organisation=procedure.organisation,
        staff=staff,
        procedure=procedure,
        channel=channel,
        received_date=to_tokyo(now()).date(),
        form="full",
        answers=answers,
        documents=["drivers_license"] if channel == Channel.COUNTER else ["mail_copy"],
        idempotency_key=new_idempotency_key(),
        now=now(),
        summary=summary,
    ).application


def test_a_counter_application_arrives_by_the_staff_member_not_the_applicant(
    staff_client, staff_member, procedure
):
    application = registered(procedure, staff_member, channel=Channel.COUNTER, summary="")

    page = page_of(staff_client, application)
    history = section(page, "history-heading")
    arrival = history[history.index("到達") :]
    arrival = arrival[: arrival.index("</tr>")]

    assert "窓口（審査 一郎）" in arrival
    assert "申請者" not in arrival
    # No summary was written, so the page does not point to one.
    assert "概要は" not in section(page, "received-heading")


def test_a_mail_application_with_a_summary_points_to_the_note(
    staff_client, staff_member, procedure
):
    application = registered(
        procedure, staff_member, channel=Channel.MAIL, summary="郵送で届いた請求（本人分1通）"
    )

    page = page_of(staff_client, application)

    assert "郵送（審査 一郎）" in section(page, "history-heading")
    received = section(page, "received-heading")
    assert "受付時の概要は" in received
    assert "内部メモ" in received
    assert "郵送で届いた請求（本人分1通）" in section(page, "notes-heading")


def test_the_demo_holds_a_corrected_application_to_compare(db, settings, tmp_path):
    from madoguchi.applications.models import Application
    from madoguchi.identity.models import Staff
    from madoguchi.ops.demo import DEMO_VERSIONS_KEY, demo_setup

    settings.DATA_DIR = tmp_path
    demo_setup(now=now())
    application = Application.objects.get(idempotency_key=DEMO_VERSIONS_KEY)
    assert application.revision == 2
    assert application.status == S.RESUBMITTED
    staff = Staff.objects.get(organisation=application.organisation, role=StaffRole.ADMIN)
    page = page_of(console_login(Client(), staff.user), application)
    versions = section(page, "versions-heading")
    assert "第1版と第2版の回答" in versions
    assert "変わった項目は1件です" in versions
    assert "@" not in section(page, "history-heading")
