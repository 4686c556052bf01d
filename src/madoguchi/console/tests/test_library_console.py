"""グループ内ひな形 in the console: 横浜市 publishes its own form to the group's library, 鎌倉市
adopts it, sees when 横浜市 publishes a new version and moves to it with the changes in words.
An organisation outside the group finds nothing; reviewers may look, not change."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure, Template
from madoguchi.catalog.services import procedure_create_own
from madoguchi.core.time import now
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.services import shared_group_upsert
from madoguchi.testing import console_login, own_definition, staff_create

LIBRARY = "/console/library/"
PUBLISH = "/console/library/publish/"
EXTRA = "- {key: event_date, type: date, label: 参加希望日, required: true}"


def text(response: Any) -> str:
    return str(response.content.decode())


def own_form(org: Organisation, *, extra: str = "") -> Procedure:
    return procedure_create_own(
        organisation=org,
        slug="natsumatsuri",
        definition=own_definition("夏祭りボランティア申込", key="natsumatsuri", extra_fields=extra),
        now=now(),
    )


@pytest.fixture
def group(organisation, other_organisation):
    return shared_group_upsert(
        slug="kanagawa-test",
        name="神奈川テスト共同利用",
        prefecture=None,
        members=[organisation, other_organisation],
        now=now(),
    )


@pytest.fixture
def yokohama(admin_staff) -> Client:
    return console_login(Client(), admin_staff.user)


@pytest.fixture
def kamakura(other_admin) -> Client:
    return console_login(Client(), other_admin.user)


def test_one_member_publishes_another_adopts_and_upgrades(
    organisation, other_organisation, group, yokohama, kamakura
):
    source = own_form(organisation)
    page = text(yokohama.get("/console/procedures/"))
    assert 'href="/console/library/"' in page
    response = yokohama.post(PUBLISH, {"procedure": source.pk, "group": group.pk})
    template = Template.objects.get(group=group)
    assert response.status_code == 302
    assert response["Location"] == f"/console/library/{template.pk}/"
    page = text(yokohama.get(response["Location"]))
    assert "第1版" in page
    assert "自団体が公開したひな形です" in page
    # Publishing again with nothing changed: told so, no version added.
    yokohama.post(PUBLISH, {"procedure": source.pk, "group": group.pk})
    assert template.versions.count() == 1
    assert "変わっていないため" in text(yokohama.get(LIBRARY))

    library = text(kamakura.get(LIBRARY))
    assert "夏祭りボランティア申込" in library
    assert "横浜市" in library
    response = kamakura.post(f"/console/library/{template.pk}/adopt/")
    adopted = Procedure.objects.get(
        organisation=other_organisation, template_version__template=template
    )
    assert response["Location"] == f"/console/procedures/{adopted.pk}/"
    page = text(kamakura.get(response["Location"]))
    assert "グループのひな形との違い" in page
    assert "グループのひな形「夏祭りボランティア申込」第1版（横浜市が公開）" in page

    # 横浜市 changes its form and publishes again: version 2.
    own_form(organisation, extra=EXTRA)
    yokohama.post(PUBLISH, {"procedure": source.pk, "group": group.pk})
    assert template.versions.count() == 2
    history = text(yokohama.get(f"/console/library/{template.pk}/"))
    assert "追加された項目: 「参加希望日」（event_date）" in history

    # 鎌倉市 sees it in its procedure list and moves with the changes in words.
    listing = text(kamakura.get("/console/procedures/"))
    assert "新しい版（第2版）があります" in listing
    assert f"/console/procedures/{adopted.pk}/upgrade/" in listing
    upgrade = text(kamakura.get(f"/console/procedures/{adopted.pk}/upgrade/"))
    assert "追加された項目: 「参加希望日」（event_date）" in upgrade
    assert "横浜市が公開" in upgrade
    response = kamakura.post(f"/console/procedures/{adopted.pk}/upgrade/")
    assert response.status_code == 302
    adopted.refresh_from_db()
    assert adopted.template_version is not None
    assert adopted.template_version.version == 2
    assert "event_date" in {f.key for f in form_spec(adopted.form_version).fields}
    assert "新しい版" not in text(kamakura.get("/console/procedures/"))
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"group_template.published", "procedure.adopted", "procedure.upgraded"} <= actions


def test_outside_the_group_nothing_is_there(organisation, group, yokohama):
    source = own_form(organisation)
    yokohama.post(PUBLISH, {"procedure": source.pk, "group": group.pk})
    template = Template.objects.get(group=group)
    kawasaki = Organisation.objects.get(lg_code="141305")
    outsider = console_login(
        Client(), staff_create(kawasaki, email="admin@kawasaki.test", role=StaffRole.ADMIN).user
    )
    assert "夏祭り" not in text(outsider.get(LIBRARY))
    assert outsider.get(f"/console/library/{template.pk}/").status_code == 404
    assert outsider.post(f"/console/library/{template.pk}/adopt/").status_code == 404
    assert not Procedure.objects.filter(organisation=kawasaki).exists()
    # Nor can it publish to a group it is not in, or someone else's procedure.
    own_kawasaki = own_form(kawasaki)
    assert (
        outsider.post(PUBLISH, {"procedure": own_kawasaki.pk, "group": group.pk}).status_code == 404
    )
    assert outsider.post(PUBLISH, {"procedure": source.pk, "group": group.pk}).status_code == 404
    assert Template.objects.filter(group=group).count() == 1


def test_reviewers_look_but_do_not_publish_or_adopt(
    organisation, other_organisation, group, yokohama
):
    source = own_form(organisation)
    yokohama.post(PUBLISH, {"procedure": source.pk, "group": group.pk})
    template = Template.objects.get(group=group)
    reviewer = console_login(
        Client(),
        staff_create(other_organisation, email="r@kamakura.test", role=StaffRole.REVIEWER).user,
    )
    page = text(reviewer.get(LIBRARY))
    assert "夏祭り" in page
    assert f"library/{template.pk}/adopt/" not in page
    assert "グループに公開する</button>" not in page
    assert reviewer.post(f"/console/library/{template.pk}/adopt/").status_code == 403
    assert reviewer.post(PUBLISH, {"procedure": source.pk, "group": group.pk}).status_code in (
        403,
        404,
    )
    assert not Procedure.objects.filter(organisation=other_organisation).exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"procedure": "abc", "group": "1"},
        {"procedure": "-1", "group": "x"},
        {"procedure": "1" * 40, "group": "1" * 40},
        {"procedure": "１", "group": "１"},
    ],
)
def test_hostile_publish_requests_are_refused_without_a_500(organisation, group, yokohama, data):
    response = yokohama.post(PUBLISH, data)
    assert response.status_code in (302, 404)
    assert not Template.objects.filter(group=group).exists()


def test_the_pages_are_labelled_and_work_without_javascript(organisation, group, yokohama):
    own_form(organisation)
    page = text(yokohama.get(LIBRARY))
    assert '<label for="publish-procedure">' in page
    assert 'id="publish-procedure"' in page
    assert '<label for="publish-group">' in page
    assert "<script" not in page.split("<main", 1)[-1].split("</main>", 1)[0]


def test_the_group_operator_sees_the_library_on_the_group_page(organisation, group, yokohama):
    from madoguchi.identity.services import group_operator_upsert
    from madoguchi.testing import STAFF_PASSWORD

    source = own_form(organisation)
    yokohama.post(PUBLISH, {"procedure": source.pk, "group": group.pk})
    operator = group_operator_upsert(
        group=group, email="operator@group.test", password=STAFF_PASSWORD
    ).user
    page = text(console_login(Client(), operator).get(f"/console/groups/{group.slug}/"))
    assert "グループのひな形（ライブラリ）" in page
    assert "夏祭りボランティア申込" in page
    assert "第1版" in page
