"""グループ内ひな形: an organisation publishes a procedure to its shared group's library; the
other members adopt it, set it and move to its new versions with the very services they use
for national templates; nobody outside the group sees it."""

from __future__ import annotations

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure, Template, TemplateVersion
from madoguchi.catalog.selectors import (
    group_library,
    group_template_get,
    newer_template_versions,
    procedure_diff,
    template_version_get,
    templates_list,
)
from madoguchi.catalog.services import (
    CatalogError,
    group_template_publish,
    procedure_adopt,
    procedure_create_own,
    procedure_update_settings,
    procedure_upgrade,
    procedure_upgrade_preview,
)
from madoguchi.core.time import now
from madoguchi.forms.selectors import form_spec
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.services import shared_group_upsert
from madoguchi.testing import own_definition

EXTRA = "- {key: event_date, type: date, label: 参加希望日, required: true}"


@pytest.fixture
def kawasaki(db) -> Organisation:
    return Organisation.objects.get(lg_code="141305")


@pytest.fixture
def group(organisation, other_organisation) -> SharedGroup:
    """横浜市 and 鎌倉市 share an installation."""
    return shared_group_upsert(
        slug="kanagawa-test",
        name="神奈川テスト共同利用",
        prefecture=None,
        members=[organisation, other_organisation],
        now=now(),
    )


@pytest.fixture
def other_group(kawasaki) -> SharedGroup:
    return shared_group_upsert(
        slug="other-test", name="別のグループ", prefecture=None, members=[kawasaki], now=now()
    )


def own(org: Organisation, *, extra: str = "", title: str = "夏祭りボランティア申込") -> Procedure:
    return procedure_create_own(
        organisation=org,
        slug="natsumatsuri",
        definition=own_definition(title, key="natsumatsuri", extra_fields=extra),
        kana="ナツマツリボランティア",
        now=now(),
    )


def publish(
    org: Organisation, group: SharedGroup, procedure: Procedure
) -> tuple[TemplateVersion, bool]:
    return group_template_publish(
        organisation=org, group=group, procedure=procedure, actor=None, now=now()
    )


def test_publishing_creates_versions_only_when_something_changed(organisation, group):
    procedure = own(organisation)
    first, added = publish(organisation, group, procedure)
    assert added
    assert first.version == 1
    assert first.template.group == group
    assert first.template.source_organisation == organisation
    again, added = publish(organisation, group, procedure)
    assert not added
    assert again.pk == first.pk
    procedure = own(organisation, extra=EXTRA)
    second, added = publish(organisation, group, procedure)
    assert added
    assert second.version == 2
    assert second.template_id == first.template_id
    assert TemplateVersion.objects.filter(template=first.template).count() == 2
    actions = list(
        AuditEvent.objects.filter(action="group_template.published")
        .order_by("pk")
        .values_list("organisation_id", "detail")
    )
    assert [(org, detail["version"]) for org, detail in actions] == [
        (organisation.pk, 1),
        (organisation.pk, 2),
    ]


def test_a_member_adopts_and_upgrades_with_the_diff_in_words(
    organisation, other_organisation, group
):
    v1, _ = publish(organisation, group, own(organisation))
    adopted = procedure_adopt(organisation=other_organisation, template_version=v1, now=now())
    assert adopted.organisation == other_organisation
    assert adopted.template_version == v1
    assert (
        "グループのひな形「夏祭りボランティア申込」第1版（横浜市が公開）"
        in procedure_diff(procedure=adopted)[0].text
    )
    assert newer_template_versions([adopted]) == {}
    # Local settings at the extension points, exactly as for a national template.
    adopted = procedure_update_settings(
        organisation=other_organisation,
        procedure=adopted,
        settings={
            "contact": "鎌倉市 市民活動課",
            "local_questions": [
                {"key": "local_tshirt", "type": "text", "label": "Tシャツのサイズ"}
            ],
        },
        now=now(),
    )
    v2, _ = publish(organisation, group, own(organisation, extra=EXTRA))
    assert newer_template_versions([adopted]) == {adopted.pk: 2}
    assert any("新しい版（第2版）" in line.text for line in procedure_diff(procedure=adopted))
    preview = procedure_upgrade_preview(procedure=adopted, to=v2)
    assert preview.conflicts == []
    assert preview.template_changes == ["追加された項目: 「参加希望日」（event_date）"]
    upgraded = procedure_upgrade(
        organisation=other_organisation, procedure=adopted, to=v2, now=now()
    )
    keys = {f.key for f in form_spec(upgraded.form_version).fields}
    assert {"event_date", "local_tshirt"} <= keys
    assert upgraded.settings["contact"] == "鎌倉市 市民活動課"
    events = AuditEvent.objects.filter(organisation=other_organisation).values_list(
        "action", flat=True
    )
    assert {"procedure.adopted", "procedure.upgraded"} <= set(events)


def test_outside_the_group_a_group_template_does_not_exist(
    organisation, other_organisation, kawasaki, group, other_group
):
    v1, _ = publish(organisation, group, own(organisation))
    with pytest.raises(TemplateVersion.DoesNotExist):
        procedure_adopt(organisation=kawasaki, template_version=v1, now=now())
    with pytest.raises(Template.DoesNotExist):
        group_template_get(organisation=kawasaki, template_id=v1.template_id)
    assert list(group_library(organisation=kawasaki)) == []
    assert [t.pk for t in group_library(organisation=other_organisation)] == [v1.template_id]
    # Not among the national templates, nor reachable by the national slug look-up.
    assert v1.template_id not in {t.pk for t in templates_list()}
    with pytest.raises(TemplateVersion.DoesNotExist):
        template_version_get(slug=v1.template.slug)
    assert not Procedure.objects.filter(organisation=kawasaki).exists()


def test_publishing_is_refused_where_it_makes_no_sense(
    organisation, other_organisation, kawasaki, group, other_group
):
    procedure = own(organisation)
    with pytest.raises(Procedure.DoesNotExist):  # another organisation's procedure
        publish(other_organisation, group, procedure)
    with pytest.raises(SharedGroup.DoesNotExist):  # a group it is not a member of
        publish(organisation, other_group, procedure)
    v1, _ = publish(organisation, group, procedure)
    with pytest.raises(CatalogError, match="横浜市がグループに公開した"):
        procedure_adopt(organisation=organisation, template_version=v1, now=now())
    adopted = procedure_adopt(organisation=other_organisation, template_version=v1, now=now())
    with pytest.raises(CatalogError, match="グループのひな形から採用した手続"):
        publish(other_organisation, group, adopted)
    with pytest.raises(CatalogError, match="すでに採用"):
        procedure_adopt(organisation=other_organisation, template_version=v1, now=now())
    assert Template.objects.filter(group=group).count() == 1


def test_two_members_publishing_the_same_identifier_get_two_templates(
    organisation, other_organisation, group
):
    a, _ = publish(organisation, group, own(organisation))
    b, _ = publish(other_organisation, group, own(other_organisation, title="鎌倉の申込"))
    assert a.template.slug == "natsumatsuri"
    assert b.template.slug == f"natsumatsuri-{other_organisation.lg_code}"
    # Each adopts the other's (its own procedure of the same slug is another procedure).
    with pytest.raises(CatalogError, match="同じ識別子"):
        procedure_adopt(organisation=other_organisation, template_version=a, now=now())
    taken = procedure_adopt(organisation=organisation, template_version=b, now=now())
    assert taken.name == "鎌倉の申込"


def test_an_adopted_national_procedure_passes_its_fee_as_the_groups_default(
    organisation, other_organisation, group, fee_template
):
    mine = procedure_adopt(
        organisation=organisation,
        template_version=fee_template,
        settings={"parameters": {"unit_fee": 500}, "contact": "横浜市 資源循環局"},
        now=now(),
    )
    v1, _ = publish(organisation, group, mine)
    assert v1.metadata["parameters"]["unit_fee"]["default"] == 500
    assert "国のひな形「住民票の写しの交付請求」" in v1.metadata["source"]
    theirs = procedure_adopt(organisation=other_organisation, template_version=v1, now=now())
    assert theirs.slug != mine.slug or theirs.organisation != mine.organisation
    # The member can still set its own fee within the national range.
    theirs = procedure_update_settings(
        organisation=other_organisation,
        procedure=theirs,
        settings={"parameters": {"unit_fee": 400}},
        now=now(),
    )
    assert theirs.settings["parameters"] == {"unit_fee": 400}
    with pytest.raises(CatalogError):
        procedure_update_settings(
            organisation=other_organisation,
            procedure=theirs,
            settings={"parameters": {"unit_fee": 999999}},
            now=now(),
        )


def test_a_member_that_left_the_group_cannot_move_to_a_new_version(
    organisation, other_organisation, group
):
    v1, _ = publish(organisation, group, own(organisation))
    adopted = procedure_adopt(organisation=other_organisation, template_version=v1, now=now())
    v2, _ = publish(organisation, group, own(organisation, extra=EXTRA))
    shared_group_upsert(
        slug=group.slug, name=group.name, prefecture=None, members=[organisation], now=now()
    )
    with pytest.raises(CatalogError, match="グループに参加していない"):
        procedure_upgrade(organisation=other_organisation, procedure=adopted, to=v2, now=now())
    adopted.refresh_from_db()
    assert adopted.template_version == v1


def test_hostile_labels_are_stored_as_text_and_published_unchanged(organisation, group):
    label = "<script>alert(1)</script>\u202e危険"
    procedure = own(organisation, extra=f'- {{key: evil, type: text, label: "{label}"}}')
    v1, _ = publish(organisation, group, procedure)
    labels = [f.label for f in form_spec(v1.form_version).fields]
    assert any("<script>" in text for text in labels)


def test_a_group_template_is_not_listed_as_a_national_one_on_the_portal(
    client, organisation, group, fee_template
):
    mine = procedure_adopt(organisation=organisation, template_version=fee_template, now=now())
    mine.name = "横浜独自の住民票請求"
    mine.save()
    v1, _ = publish(organisation, group, mine)
    event = v1.template.life_events.first()
    assert event is not None  # the group template carries the procedure's life events
    page = client.get(f"/life-events/{event.slug}/").content.decode()
    assert "住民票の写しの交付請求" in page
    assert "横浜独自の住民票請求" not in page
