"""様式の下書き: drafts saved edit by edit with optimistic concurrency and one-step undo,
published through the one write path of own procedures, whole or not at all."""

from __future__ import annotations

from functools import partial

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.drafts import (
    DraftConflict,
    DraftError,
    procedure_draft_change,
    procedure_draft_create,
    procedure_draft_delete,
    procedure_draft_get,
    procedure_draft_import,
    procedure_draft_publish,
    procedure_draft_undo,
    procedure_drafts_of,
)
from madoguchi.catalog.models import Procedure, ProcedureDraft, Template
from madoguchi.catalog.services import CatalogError
from madoguchi.core.time import now
from madoguchi.forms.builder import (
    BuilderError,
    definition_yaml,
    element_add,
    element_remove,
    field_update,
    problems_by_element,
)
from madoguchi.forms.models import FormVersion
from madoguchi.forms.schema import InvalidDefinition

SECTION = "steps[0].sections[0]"


@pytest.fixture
def draft(organisation, admin_staff):
    return procedure_draft_create(
        organisation=organisation,
        slug="event",
        title="夏祭りの申込",
        actor=admin_staff.user,
        now=now(),
    )


def change(draft, admin_staff, edit, *, revision=None):
    return procedure_draft_change(
        organisation=draft.organisation,
        draft_id=draft.pk,
        revision=draft.revision if revision is None else revision,
        change=edit,
        actor=admin_staff.user,
        now=now(),
    )


def add_text(definition, label="参加者の名前"):
    return element_add(definition, parent=SECTION, position=0, kind="field", label=label)[0]


def test_a_blank_draft_is_created_and_audited(draft, organisation):
    assert draft.revision == 1
    assert draft.definition["title"] == "夏祭りの申込"
    assert list(procedure_drafts_of(organisation=organisation)) == [draft]
    assert AuditEvent.objects.filter(action="procedure_draft.created", target_id=draft.pk).exists()


def test_a_slug_is_checked_and_used_once(draft, organisation, admin_staff):
    for slug in ("Event!", "", "a" * 65, "<script>"):
        with pytest.raises(DraftError, match="識別子"):
            procedure_draft_create(
                organisation=organisation, slug=slug, title="t", actor=admin_staff.user, now=now()
            )
    with pytest.raises(DraftError, match="すでにあります"):
        procedure_draft_create(
            organisation=organisation, slug="event", title="t", actor=admin_staff.user, now=now()
        )
    with pytest.raises(BuilderError, match="名称"):
        procedure_draft_create(
            organisation=organisation, slug="other", title=" ", actor=admin_staff.user, now=now()
        )
    assert ProcedureDraft.objects.count() == 1


@pytest.mark.usefixtures("templates_loaded")
def test_a_draft_starts_from_a_procedure_or_a_national_template(
    organisation, admin_staff, procedure, other_organisation
):
    copied = procedure_draft_create(
        organisation=organisation,
        slug="juminhyo-own",
        title="住民票（独自）",
        actor=admin_staff.user,
        now=now(),
        source_procedure=procedure,
    )
    source = procedure.form_version.schema
    assert [s["key"] for s in copied.definition["steps"]] == [s["key"] for s in source["steps"]]
    assert not any("local" in s for st in copied.definition["steps"] for s in st["sections"])
    assert copied.definition["title"] == "住民票（独自）"
    template = Template.objects.get(slug="sodai-gomi").versions.order_by("-version").first()
    national = procedure_draft_create(
        organisation=organisation,
        slug="gomi",
        title="粗大ごみ",
        actor=admin_staff.user,
        now=now(),
        source_template=template,
    )
    assert national.definition["steps"][0]["key"] == "applicant"
    assert problems_by_element(national.definition) == {}  # parameters filled in
    assert problems_by_element(copied.definition) == {}
    with pytest.raises(Procedure.DoesNotExist):
        procedure_draft_create(
            organisation=other_organisation,
            slug="other-copy",
            title="x",
            actor=admin_staff.user,
            now=now(),
            source_procedure=procedure,
        )


def test_each_edit_is_saved_as_the_next_revision_and_can_be_undone(draft, admin_staff):
    saved = change(draft, admin_staff, add_text)
    assert saved.revision == 2
    assert saved.definition["steps"][0]["sections"][0]["fields"][0]["label"] == "参加者の名前"
    undone = procedure_draft_undo(
        organisation=draft.organisation,
        draft_id=draft.pk,
        revision=2,
        actor=admin_staff.user,
        now=now(),
    )
    assert undone.revision == 3
    assert undone.definition == draft.definition
    redone = procedure_draft_undo(
        organisation=draft.organisation,
        draft_id=draft.pk,
        revision=3,
        actor=admin_staff.user,
        now=now(),
    )
    assert redone.definition == saved.definition
    fresh = procedure_draft_create(
        organisation=draft.organisation,
        slug="fresh",
        title="t",
        actor=admin_staff.user,
        now=now(),
    )
    with pytest.raises(DraftError, match="元に戻せる変更はありません"):
        procedure_draft_undo(
            organisation=draft.organisation,
            draft_id=fresh.pk,
            revision=1,
            actor=admin_staff.user,
            now=now(),
        )


def test_two_editors_saving_at_once_the_second_is_told_and_nothing_is_overwritten(
    draft, admin_staff
):
    first = change(draft, admin_staff, add_text)  # editor A saves, from revision 1
    with pytest.raises(DraftConflict, match=r"管理 太郎さんが.*保存していません"):
        change(draft, admin_staff, partial(add_text, label="別の人の項目"), revision=1)
    stored = procedure_draft_get(organisation=draft.organisation, draft_id=draft.pk)
    assert stored.revision == 2
    assert stored.definition == first.definition
    with pytest.raises(DraftConflict):
        procedure_draft_publish(
            organisation=draft.organisation,
            draft_id=draft.pk,
            revision=1,
            actor=admin_staff.user,
            now=now(),
        )
    assert not Procedure.objects.filter(slug="event").exists()


def test_an_impossible_edit_stores_nothing(draft, admin_staff):
    with pytest.raises(BuilderError):
        change(draft, admin_staff, lambda d: element_remove(d, path="steps[0]"))
    stored = procedure_draft_get(organisation=draft.organisation, draft_id=draft.pk)
    assert stored.revision == 1
    assert stored.previous is None


def test_another_organisations_draft_is_not_found(draft, other_organisation, other_admin):
    with pytest.raises(ProcedureDraft.DoesNotExist):
        procedure_draft_get(organisation=other_organisation, draft_id=draft.pk)
    with pytest.raises(ProcedureDraft.DoesNotExist):
        procedure_draft_change(
            organisation=other_organisation,
            draft_id=draft.pk,
            revision=1,
            change=add_text,
            actor=other_admin.user,
            now=now(),
        )
    with pytest.raises(ProcedureDraft.DoesNotExist):
        procedure_draft_publish(
            organisation=other_organisation,
            draft_id=draft.pk,
            revision=1,
            actor=other_admin.user,
            now=now(),
        )
    with pytest.raises(ProcedureDraft.DoesNotExist):
        procedure_draft_delete(
            organisation=other_organisation, draft_id=draft.pk, actor=other_admin.user, now=now()
        )
    assert ProcedureDraft.objects.filter(pk=draft.pk).exists()


def test_publishing_creates_an_own_procedure_and_then_new_immutable_versions(draft, admin_staff):
    draft = change(draft, admin_staff, add_text)
    procedure = procedure_draft_publish(
        organisation=draft.organisation,
        draft_id=draft.pk,
        revision=draft.revision,
        actor=admin_staff.user,
        now=now(),
    )
    assert procedure.slug == "event"
    assert procedure.status == ProcedureStatus.DRAFT
    assert procedure.template_version_id is None
    first = procedure.form_version
    assert first.schema == draft.definition
    assert first.definition.key == "own_event"
    Procedure.objects.filter(pk=procedure.pk).update(kana="ナツマツリ", retention_years=3)
    draft = change(
        draft,
        admin_staff,
        lambda d: field_update(d, path=f"{SECTION}.fields[0]", changes={"required": "on"}),
    )
    again = procedure_draft_publish(
        organisation=draft.organisation,
        draft_id=draft.pk,
        revision=draft.revision,
        actor=admin_staff.user,
        now=now(),
    )
    assert again.pk == procedure.pk
    assert again.form_version.version == first.version + 1
    assert again.kana == "ナツマツリ"
    assert again.retention_years == 3
    first.refresh_from_db()
    assert first.schema["steps"][0]["sections"][0]["fields"][0].get("required") is None
    stored = procedure_draft_get(organisation=draft.organisation, draft_id=draft.pk)
    assert stored.procedure_id == procedure.pk
    assert stored.published_revision == draft.revision
    assert AuditEvent.objects.filter(action="procedure_draft.published").count() == 2


def test_nothing_is_published_half_made(draft, admin_staff):
    def broken(definition):
        definition, path = element_add(
            definition, parent=SECTION, position=0, kind="field", field_type="text"
        )
        definition = field_update(definition, path=path, changes={"label": "名前"})
        definition["steps"][0]["sections"][0]["fields"][0]["visible_if"] = {
            "field": "removed_field",
            "filled": True,
        }
        return definition

    draft = change(draft, admin_staff, broken)
    versions = FormVersion.objects.count()
    with pytest.raises(InvalidDefinition) as error:
        procedure_draft_publish(
            organisation=draft.organisation,
            draft_id=draft.pk,
            revision=draft.revision,
            actor=admin_staff.user,
            now=now(),
        )
    assert "removed_field" in str(error.value)
    assert FormVersion.objects.count() == versions
    assert not Procedure.objects.filter(slug="event").exists()
    assert (
        procedure_draft_get(organisation=draft.organisation, draft_id=draft.pk).published_at is None
    )


@pytest.mark.usefixtures("templates_loaded")
def test_a_slug_of_an_adopted_procedure_is_not_replaced(organisation, admin_staff, procedure):
    draft = procedure_draft_create(
        organisation=organisation,
        slug=procedure.slug,
        title="t",
        actor=admin_staff.user,
        now=now(),
    )
    versions = FormVersion.objects.count()
    with pytest.raises(CatalogError, match="ひな形から作った手続"):
        procedure_draft_publish(
            organisation=organisation,
            draft_id=draft.pk,
            revision=1,
            actor=admin_staff.user,
            now=now(),
        )
    assert FormVersion.objects.count() == versions
    assert procedure_draft_get(organisation=organisation, draft_id=draft.pk).published_at is None


def test_yaml_export_and_import_round_trip_unchanged(draft, admin_staff):
    draft = change(draft, admin_staff, add_text)
    text = definition_yaml(draft.definition)
    other = procedure_draft_create(
        organisation=draft.organisation,
        slug="copy",
        title="写し",
        actor=admin_staff.user,
        now=now(),
    )
    imported = procedure_draft_import(
        organisation=draft.organisation,
        draft_id=other.pk,
        revision=1,
        text=text,
        actor=admin_staff.user,
        now=now(),
    )
    assert imported.definition == draft.definition
    assert definition_yaml(imported.definition) == text
    with pytest.raises(InvalidDefinition) as error:
        procedure_draft_import(
            organisation=draft.organisation,
            draft_id=other.pk,
            revision=imported.revision,
            text="schema_version: 1\nkey: x\ntitle: t\nsteps: []\n",
            actor=admin_staff.user,
            now=now(),
        )
    assert error.value.problems[0].line == 4
    assert (
        procedure_draft_get(organisation=draft.organisation, draft_id=other.pk).definition
        == draft.definition
    )


def test_a_draft_too_large_to_store_is_refused(draft, admin_staff):
    def huge(definition):
        definition["description"] = "あ" * 400_000
        return definition

    with pytest.raises(DraftError, match="大きすぎます"):
        change(draft, admin_staff, huge)
    assert procedure_draft_get(organisation=draft.organisation, draft_id=draft.pk).revision == 1


def test_a_draft_is_deleted_and_its_procedure_stays(draft, admin_staff):
    procedure = procedure_draft_publish(
        organisation=draft.organisation,
        draft_id=draft.pk,
        revision=1,
        actor=admin_staff.user,
        now=now(),
    )
    procedure_draft_delete(
        organisation=draft.organisation, draft_id=draft.pk, actor=admin_staff.user, now=now()
    )
    assert not ProcedureDraft.objects.filter(pk=draft.pk).exists()
    assert Procedure.objects.filter(pk=procedure.pk).exists()
