"""Sign-off in a real Chromium, without JavaScript shortcuts: a reviewer proposes after the
confirmation page, a second staff member finds it from the home count and signs it off after
its own confirmation; axe on every page on the way."""

from __future__ import annotations

import pytest

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import Application, IssuedDocument
from madoguchi.applications.review import application_move
from madoguchi.catalog.services import procedure_set_signoff_steps
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_set_signoff
from madoguchi.testing import (
    axe_violations,
    staff_create,
)
from madoguchi.testing import (
    console_browser_login as log_in,
)
from madoguchi.testing import submit_named as apply

pytestmark = pytest.mark.browser


def test_a_reviewer_proposes_and_another_staff_member_signs_it_off(
    page, procedure, resident, organisation, admin_staff, staff_member
):
    procedure_set_signoff_steps(
        organisation=organisation, procedure=procedure, steps=1, actor=admin_staff.user, now=now()
    )
    chief = staff_create(
        organisation, email="chief@yokohama.test", role=StaffRole.REVIEWER, display_name="係長"
    )
    staff_set_signoff(
        organisation=organisation,
        staff_id=chief.pk,
        may_sign_off=True,
        actor=admin_staff,
        now=now(),
    )
    application = apply(procedure, resident)
    application_move(
        organisation=organisation,
        application=application,
        staff=admin_staff,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )

    log_in(page, staff_member)
    page.goto(f"/console/applications/{application.pk}/")
    page.get_by_label("理由（却下のときは必須、2000文字以内）").fill("要件を満たしています。")
    page.get_by_role("button", name="承認で起案する（確認へ）").click()
    page.get_by_role("heading", name="この内容で起案しますか").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("button", name="承認で起案して決裁を依頼する").click()
    page.get_by_text("承認で起案しました").wait_for()
    assert axe_violations(page) == []
    assert Application.objects.get(pk=application.pk).status == S.ACCEPTED

    log_in(page, chief)
    assert axe_violations(page) == []
    page.get_by_role("link", name="自分の決裁待ち").click()
    page.get_by_role("link", name=application.receipt_number).click()
    page.get_by_label("決裁のコメント（任意、2000文字以内）").fill("確認しました。")
    page.get_by_role("button", name="第1段階を決裁する（確認へ）").click()
    page.get_by_role("heading", name="決裁して決定を確定しますか").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("button", name="決裁して承認を確定する").click()
    page.get_by_text("決裁しました。").wait_for()
    assert axe_violations(page) == []
    assert Application.objects.get(pk=application.pk).status == S.APPROVED
    assert IssuedDocument.objects.filter(application=application).count() == 1

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/console/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
