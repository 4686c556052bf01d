"""An organisation publishes its form: each version is kept as it was, forever."""

from datetime import UTC, datetime
from typing import Any

import pytest

from madoguchi.forms.models import FormDefinition, FormVersion, ImmutableVersionError
from madoguchi.forms.schema import InvalidDefinition
from madoguchi.forms.selectors import form_spec
from madoguchi.forms.services import canonical_digest, form_version_publish

from .factories import definition, field

NOW = datetime(2025, 4, 1, 0, 30, tzinfo=UTC)
LATER = datetime(2025, 5, 1, 0, 30, tzinfo=UTC)


def moving_in(*extra_fields: dict[str, Any], title: str = "転入届") -> dict[str, Any]:
    return {
        **definition(
            field("name", "person_name", "𠮷野 髙子さんの氏名", required=True), *extra_fields
        ),
        "title": title,
        "key": "tennyu",
    }


def test_the_first_publication_is_version_1(organisation):
    version = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    version.refresh_from_db()
    assert version.version == 1
    assert version.definition.organisation == organisation
    assert version.definition.key == "tennyu"
    assert version.definition.title == "転入届"
    assert version.schema == moving_in()
    assert version.digest == canonical_digest(moving_in())
    assert version.published_at == NOW
    assert str(version) == "転入届 第1版"


def test_publishing_the_same_content_again_returns_the_same_version(organisation):
    first = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    reordered = dict(reversed(list(moving_in().items())))
    again = form_version_publish(organisation=organisation, schema=reordered, now=LATER)
    assert again.pk == first.pk
    assert again.published_at == NOW
    assert FormVersion.objects.filter(definition__organisation=organisation).count() == 1


def test_changed_content_becomes_version_2_and_version_1_stays_as_it_was(organisation):
    first = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    second = form_version_publish(
        organisation=organisation,
        schema=moving_in(field("phone", "phone", "電話番号"), title="転入届（令和7年度）"),
        now=LATER,
    )
    assert second.version == 2
    assert second.definition_id == first.definition_id
    first.refresh_from_db()
    assert first.schema == moving_in()
    assert first.definition.title == "転入届（令和7年度）"
    assert [f.key for f in form_spec(second).fields] == ["name", "phone"]
    assert [f.key for f in form_spec(first).fields] == ["name"]


def test_a_published_version_cannot_be_saved_again(organisation):
    version = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    version.schema = moving_in(field("secret", "text"))
    with pytest.raises(ImmutableVersionError, match="変更できません"):
        version.save()
    version.refresh_from_db()
    assert version.schema == moving_in()


def test_a_published_version_cannot_be_deleted(organisation):
    version = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    with pytest.raises(ImmutableVersionError, match="削除できません"):
        version.delete()
    assert FormVersion.objects.filter(pk=version.pk).exists()


def test_an_invalid_definition_is_refused_and_nothing_is_stored(organisation):
    definitions, versions = FormDefinition.objects.count(), FormVersion.objects.count()
    broken = moving_in(field("x", "no_such_type"))
    with pytest.raises(InvalidDefinition) as caught:
        form_version_publish(organisation=organisation, schema=broken, now=NOW)
    assert caught.value.problems[0].path == "steps[0].sections[0].fields[1].type"
    assert FormDefinition.objects.count() == definitions
    assert FormVersion.objects.count() == versions


def test_an_invalid_new_version_leaves_the_published_one_alone(organisation):
    first = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    with pytest.raises(InvalidDefinition):
        form_version_publish(
            organisation=organisation,
            schema=moving_in(field("a", "text", visible_if={"field": "nobody", "filled": True})),
            now=LATER,
        )
    assert list(FormVersion.objects.filter(definition=first.definition)) == [first]


@pytest.mark.parametrize("hostile", ["転入\x00届", "転入\ud800届"])
def test_text_no_database_can_store_is_refused_before_it_reaches_the_database(
    organisation, hostile
):
    with pytest.raises(InvalidDefinition) as caught:
        form_version_publish(organisation=organisation, schema=moving_in(title=hostile), now=NOW)
    assert caught.value.problems[0].path == "title"
    assert not FormDefinition.objects.filter(organisation=organisation).exists()


def test_a_national_template_and_each_organisations_form_are_separate(
    organisation, other_organisation
):
    national = form_version_publish(organisation=None, schema=moving_in(), now=NOW)
    yokohama = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    kamakura = form_version_publish(organisation=other_organisation, schema=moving_in(), now=NOW)
    assert len({national.definition_id, yokohama.definition_id, kamakura.definition_id}) == 3
    assert national.definition.organisation is None
    assert {national.version, yokohama.version, kamakura.version} == {1}
    assert form_version_publish(organisation=None, schema=moving_in(), now=LATER).pk == national.pk


def test_the_spec_of_a_stored_version_is_built_once_per_content(organisation):
    version = form_version_publish(organisation=organisation, schema=moving_in(), now=NOW)
    stored = FormVersion.objects.get(pk=version.pk)
    assert form_spec(stored) is form_spec(version)
    assert form_spec(stored).fields[0].label == "𠮷野 髙子さんの氏名"


def test_a_number_json_cannot_hold_is_refused_before_it_reaches_the_database(organisation):
    schema = moving_in(field("n", "number", "数", options={"max": float("nan")}))
    with pytest.raises(InvalidDefinition) as caught:
        form_version_publish(organisation=organisation, schema=schema, now=NOW)
    assert caught.value.problems[0].path == "steps[0].sections[0].fields[1].options.max"
    assert not FormDefinition.objects.filter(organisation=organisation).exists()
