"""Every tenant-owned table carries ``organisation`` (DESIGN.md, "Tenancy and security").

Built from Django's model registry, so a model added later is checked without anyone
remembering to list it: a new table of ours either has a foreign key ``organisation`` to
``tenants.Organisation`` or is named below, with the reason it belongs to no organisation.
"""

from __future__ import annotations

from django.apps import apps

from madoguchi.tenants.models import Organisation

#: Tables that belong to no single organisation, and why.
GLOBAL_TABLES = {
    # The tenants themselves and what spans them.
    "tenants.Organisation": "the tenant itself",
    "tenants.SharedGroup": "a group of organisations (共同利用グループ), above any one of them",
    "tenants.MasterLoad": "the record of a load of the national organisation master",
    "tenants.PopulationImport": "the record of an import of national population figures",
    # People with a national account: a resident applies to every organisation with one login.
    "identity.User": "one national account (residents and staff alike)",
    "identity.ResidentProfile": "a resident's own saved details, sent to no organisation",
    "identity.GroupOperator": "an operator of a shared group, above its organisations",
    "identity.StaffTOTP": "a login factor of a user (the staff row holds the organisation)",
    "identity.RecoveryCode": "a login factor of a user (the staff row holds the organisation)",
    "identity.LoginAttempt": "login throttling, by account and address, before anyone is known",
    "identity.PasskeyCredential": "a login factor of a resident's national account",
    "identity.ProofingCode": "a resident's one-time code, shown at whichever counter they visit",
    "identity.IdentityLink": "a national account's link to the national login or gBizID",
    "demo_idp.DemoGrant": "the demo identity provider's codes (outside production only)",
    # National reference data, shared by every organisation.
    "catalog.LifeEvent": "national life events (ライフイベント)",
    "catalog.Template": "national templates (ひな形)",
    "catalog.TemplateVersion": "versions of national templates",
    "forms.FormVersion": "an immutable form version; its FormDefinition holds the organisation",
    "core.Installation": "the identity of the whole installation (one row), for backups",
    "ops.WorkerHeartbeat": "the background worker's last sign of life, for the whole installation",
    # Statistics above any one organisation.
    "stats.PublishedFigure": "a figure published for the nation or a prefecture (公表値)",
}

#: Tenant tables where a row may belong to no organisation, and when.
NULLABLE_ORGANISATION = {
    "identity.AccessToken": "a resident's token for their own account is not an organisation's",
    "audit.AuditEvent": "platform events (an operator's change, a master load) have no tenant",
    "forms.FormDefinition": "national forms of templates belong to no organisation",
    "notifications.OutboxMessage": "mail to a resident about their account has no tenant",
    "stats.CountImport": "an operator's import by command may span organisations",
}


def our_models() -> list[type]:
    return [m for m in apps.get_models() if m.__module__.startswith("madoguchi.")]


def label(model: type) -> str:
    return str(model._meta.label)  # type: ignore[attr-defined]


def test_every_model_of_ours_is_tenant_owned_or_listed_as_global():
    missing = []
    for model in our_models():
        if label(model) in GLOBAL_TABLES:
            continue
        fields = {f.name: f for f in model._meta.get_fields()}  # type: ignore[attr-defined]
        field = fields.get("organisation")
        # A one-to-one (an organisation's settings row) is owned by its organisation too.
        owned = field is not None and (field.many_to_one or field.one_to_one)
        if not owned or getattr(field, "related_model", None) is not Organisation:
            missing.append(label(model))
    assert missing == [], (
        "tenant-owned tables without a foreign key `organisation` to tenants.Organisation "
        f"(add one, or list the table in GLOBAL_TABLES with the reason): {missing}"
    )


def test_the_organisation_is_required_unless_a_reason_is_listed():
    optional = sorted(
        label(model)
        for model in our_models()
        if label(model) not in GLOBAL_TABLES
        and model._meta.get_field("organisation").null  # type: ignore[attr-defined]
        and label(model) not in NULLABLE_ORGANISATION
    )
    assert optional == []


def test_the_lists_name_only_tables_that_exist():
    # A table renamed or removed must not leave an exemption behind for a future one.
    labels = {label(model) for model in our_models()}
    assert set(GLOBAL_TABLES) <= labels
    assert set(NULLABLE_ORGANISATION) <= labels
    assert not set(GLOBAL_TABLES) & set(NULLABLE_ORGANISATION)
