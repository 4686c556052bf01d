"""グループ内ひな形 in a real Chromium: 鎌倉市's admin adopts the form 横浜市 published to the
group's library, and moves to 横浜市's second version after reading the change — no
JavaScript needed, no accessibility violations on the library pages."""

from __future__ import annotations

import pytest

from madoguchi.catalog.models import Procedure
from madoguchi.catalog.services import group_template_publish, procedure_create_own
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.services import shared_group_upsert
from madoguchi.testing import (
    STAFF_PASSWORD,
    axe_violations,
    own_definition,
    totp_enrol,
    totp_fresh_code,
)

pytestmark = pytest.mark.browser

EXTRA = "- {key: event_date, type: date, label: 参加希望日, required: true}"


def publish(yokohama, group, extra: str = ""):
    procedure = procedure_create_own(
        organisation=yokohama,
        slug="natsumatsuri",
        definition=own_definition("夏祭りボランティア申込", key="natsumatsuri", extra_fields=extra),
        now=now(),
    )
    return group_template_publish(
        organisation=yokohama, group=group, procedure=procedure, actor=None, now=now()
    )[0]


def test_a_second_municipality_adopts_and_upgrades_a_group_form(page):
    yokohama = Organisation.objects.get(lg_code="141003")
    kamakura = Organisation.objects.get(lg_code="142042")
    group = shared_group_upsert(
        slug="kanagawa-browser",
        name="神奈川ブラウザ試験グループ",
        prefecture=None,
        members=[yokohama, kamakura],
        now=now(),
    )
    publish(yokohama, group)
    admin = staff_upsert(
        organisation=kamakura,
        email="admin@kamakura.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )
    secret = totp_enrol(admin.user)
    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill("admin@kamakura.test")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(admin.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")

    page.goto("/console/procedures/")
    page.get_by_role(
        "link",
        name="グループのひな形（共同利用グループの団体が公開した様式）を見る・自団体の手続を公開する",
    ).click()
    page.wait_for_url("**/console/library/")
    assert axe_violations(page) == []
    page.get_by_role("button", name="「夏祭りボランティア申込」を採用する").click()
    page.wait_for_url("**/console/procedures/*/")
    assert "グループのひな形「夏祭りボランティア申込」第1版（横浜市が公開）" in page.content()
    adopted = Procedure.objects.get(organisation=kamakura)

    publish(yokohama, group, EXTRA)
    page.goto("/console/procedures/")
    assert "新しい版（第2版）があります" in page.content()
    page.get_by_role(
        "link", name="「夏祭りボランティア申込」の新しい版の変更点を確認して移行する"
    ).click()
    page.wait_for_url(f"**/console/procedures/{adopted.pk}/upgrade/")
    assert "追加された項目: 「参加希望日」（event_date）" in page.content()
    assert axe_violations(page) == []
    page.get_by_role("button", name="第2版に移行する").click()
    page.wait_for_url(f"**/console/procedures/{adopted.pk}/")
    adopted.refresh_from_db()
    assert adopted.template_version is not None
    assert adopted.template_version.version == 2
    page.goto(f"/console/library/{adopted.template_version.template_id}/")
    assert axe_violations(page) == []
