"""How the tables would be distributed by organisation (Citus, ``organisation_id``): every table
is classified here, and the README's 団体ごとの分散 names the ones that are not simply
distributed — so neither the classification nor the documentation can drift from the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.db import models

import madoguchi

README = Path(madoguchi.__file__).resolve().parents[2] / "README.md"

#: Keyed by organisation, but some rows have none (platform rows): to split before distributing.
NULLABLE_ORGANISATION = {
    "forms_formdefinition",
    "notifications_outboxmessage",
    "audit_auditevent",
    "identity_accesstoken",
    "stats_countimport",
}
#: Belong to an organisation through a parent row: they need an organisation_id column.
THROUGH_PARENT = {
    "forms_formversion",
    "catalog_procedure_life_events",
    "catalog_procedure_reviewers",
    "reservations_lottery_facilities",
}
#: Copied to every node (Citus reference tables).
REFERENCE = {
    "tenants_organisation",
    "tenants_sharedgroup",
    "catalog_template",
    "catalog_templateversion",
    "catalog_template_life_events",
    "catalog_lifeevent",
    "stats_publishedfigure",
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
}
#: Not keyed by organisation: people, sessions and the platform's own records.
GLOBAL = {
    "identity_user",
    "identity_user_groups",
    "identity_user_user_permissions",
    "identity_residentprofile",
    "identity_stafftotp",
    "identity_recoverycode",
    "identity_loginattempt",
    "identity_passkeycredential",
    "identity_proofingcode",
    "identity_identitylink",
    "identity_groupoperator",
    "django_session",
    "django_admin_log",
    "django_tasks_database_dbtaskresult",
    "tenants_masterload",
    "tenants_populationimport",
    "demo_idp_demogrant",
    "core_installation",
    "ops_workerheartbeat",
}


def tables() -> dict[str, type[models.Model]]:
    return {
        model._meta.db_table: model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed
    }


def organisation_field(model: type[models.Model]) -> models.Field | None:  # type: ignore[type-arg]
    try:
        field = model._meta.get_field("organisation")
    except Exception:
        return None
    return field if isinstance(field, models.ForeignKey) else None


def distributed() -> set[str]:
    """Tables with a non-null organisation_id: distributed by it as they are."""
    return {
        name
        for name, model in tables().items()
        if (field := organisation_field(model)) is not None and not field.null
    }


def test_every_table_is_classified_once():
    classified = [NULLABLE_ORGANISATION, THROUGH_PARENT, REFERENCE, GLOBAL, distributed()]
    names = [name for group in classified for name in group]

    assert len(names) == len(set(names)), "a table is in two classes"
    unclassified = set(tables()) - set(names)
    assert not unclassified, f"classify in {__file__} and the README: {sorted(unclassified)}"
    assert not set(names) - set(tables()), "a classified table no longer exists"


def test_the_classes_match_the_models():
    models_by_table = tables()
    for name in NULLABLE_ORGANISATION:
        field = organisation_field(models_by_table[name])
        assert field is not None, name
        assert field.null, name
    for name in THROUGH_PARENT | REFERENCE | GLOBAL:
        assert organisation_field(models_by_table[name]) is None, name


@pytest.mark.parametrize(
    "name", sorted(NULLABLE_ORGANISATION | THROUGH_PARENT | REFERENCE | GLOBAL)
)
def test_the_readme_names_every_table_that_is_not_simply_distributed(name):
    readme = README.read_text(encoding="utf-8")
    section = readme[
        readme.index("**団体ごとの分散**") : readme.index("### 処理能力と混雑時の受付制限")
    ]

    assert f"`{name}`" in section
