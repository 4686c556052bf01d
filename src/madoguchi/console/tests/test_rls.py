"""PostgreSQL row-level security (core.tenancy): the application's role sees no tenant row
without a scope, only its organisation's rows with one, and cannot write another's.

The role is real (``CREATE ROLE … LOGIN`` by ``madoguchi db_app_role``, a ``mdg_rls_app_``
name) and the test's connection takes it with ``SET ROLE``: PostgreSQL applies the policies
to the current role exactly as to a role that logged in, the rows the test made in its own
transaction are visible to it, and the role, its grants and the rows all vanish with the
test's rollback (no ``transaction=True`` flush). On SQLite these tests are skipped: there the
application's organisation filters are the only guard (README).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from madoguchi.applications.models import Application
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.core.tenancy import (
    ALL,
    GUC,
    NOT_TENANT_OWNED,
    POLICY,
    rls_aliases,
    rls_missing,
    rls_problems,
    rls_problems_everywhere,
    rls_refuse_unsafe,
    scope_clear,
    scope_value,
    tenant_scope,
    tenant_tables_from_models,
)
from madoguchi.core.time import now
from madoguchi.identity.middleware import request_scope
from madoguchi.identity.models import GroupOperator
from madoguchi.identity.services import staff_invitation_token_make, staff_invite
from madoguchi.stats.figures import prefecture_table
from madoguchi.stats.params import parse_list
from madoguchi.tenants.models import GroupMembership, Organisation, SharedGroup
from madoguchi.tenants.services import shared_group_upsert
from madoguchi.testing import (
    console_log_in,
    console_login,
    counts_imported,
    procedure_publish,
    resident_create,
    staff_token,
)
from madoguchi.testing import submit_named as apply

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row-level security is PostgreSQL's; SQLite keeps the application-level checks",
)

#: Tenant tables with personal data or staff work that the stories below fill for both
#: organisations.
TABLES = ("applications_application", "catalog_procedure", "audit_auditevent")


@pytest.fixture
def app_role(db: None) -> str:
    """A fresh non-owner role with the application's grants (rolled back with the test)."""
    name = f"mdg_rls_app_{secrets.token_hex(4)}"
    out = io.StringIO()
    call_command("db_app_role", role=name, stdout=out)
    assert f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS" in out.getvalue()
    # Start from the empty scope, whatever an earlier test left on this thread's connection.
    scope_clear()
    return name


@contextmanager
def acting_as(role: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("SELECT set_config(%s, '', false)", [GUC])


def scalar(query: str, params: list[Any] | None = None) -> object:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        row = cursor.fetchone()
    assert row is not None
    return row[0]


def count(table: str, organisation_id: int | None = None) -> int:
    if organisation_id is None:
        return int(str(scalar(f'SELECT count(*) FROM "{table}"')))
    return int(
        str(scalar(f'SELECT count(*) FROM "{table}" WHERE organisation_id = %s', [organisation_id]))
    )


@pytest.fixture
def two_organisations(organisation, other_organisation, resident, staff_member, other_staff):
    """An application with a name in it at 横浜市 and at 鎌倉市."""
    mine = apply(procedure_publish(organisation), resident)
    theirs = apply(procedure_publish(other_organisation), resident)
    return mine, theirs


def test_every_tenant_table_found_in_the_models_is_known():
    tables = tenant_tables_from_models()
    assert len(tables) > 40
    assert {"applications_application", "audit_auditevent", "reservations_booking"} <= tables
    assert not tables & NOT_TENANT_OWNED
    assert "tenants_organisation" not in tables


@postgres_only
@pytest.mark.django_db
def test_every_table_with_organisation_id_has_the_policy():
    """Fails when a table with ``organisation_id`` (from any migration) lacks the policy."""
    assert rls_missing(connection) == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid"
            " WHERE p.polname = %s AND c.relforcerowsecurity",
            [POLICY],
        )
        row = cursor.fetchone()
    assert row == (0,)  # ENABLE, not FORCE: the owner (migrations, pg_dump) sees everything


@postgres_only
@pytest.mark.django_db
def test_a_new_tenant_table_lacks_the_policy_until_migrate_covers_it():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE mdg_rls_future (id bigint, organisation_id bigint)")
    assert rls_missing(connection) == ["mdg_rls_future"]
    call_command("migrate", verbosity=0)  # nothing to migrate; post_migrate still runs
    assert rls_missing(connection) == []


@postgres_only
def test_without_a_scope_the_app_role_sees_no_tenant_row(two_organisations, app_role):
    mine, theirs = two_organisations
    for table in TABLES:
        assert count(table) > 0, table  # the owner sees them
    with acting_as(app_role):
        for table in TABLES:
            # (audit events of no organisation, e.g. of the platform, stay visible)
            assert count(table, mine.organisation_id) == 0, table
            assert count(table, theirs.organisation_id) == 0, table
        assert not Application.objects.exists()
        # Not tenant-owned: the organisation master and the national templates.
        assert count("tenants_organisation") > 1000
        assert count("catalog_template") > 0


@postgres_only
def test_a_scope_sees_its_organisation_and_nothing_of_another(two_organisations, app_role):
    mine, theirs = two_organisations
    with acting_as(app_role):
        with tenant_scope([mine.organisation_id]):
            assert scalar("SELECT current_setting(%s)", [GUC]) == str(mine.organisation_id)
            for table in TABLES:
                assert count(table, mine.organisation_id) > 0, table
                assert count(table, theirs.organisation_id) == 0, table
            assert list(Application.objects.values_list("pk", flat=True)) == [mine.pk]
            # The application's own filter keeps its index under the policy.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(
                    "EXPLAIN SELECT * FROM catalog_procedure WHERE organisation_id = %s",
                    [mine.organisation_id],
                )
                plan = "\n".join(str(row[0]) for row in cursor.fetchall())
                cursor.execute("SET LOCAL enable_seqscan = on")
            assert "Index Cond: (organisation_id =" in plan
            assert "InitPlan" in plan  # the setting is read once per query, not per row
        with tenant_scope(ALL):
            assert Application.objects.count() == 2
        # Leaving a scope goes back to the one before (none here).
        assert scalar("SELECT current_setting(%s)", [GUC]) == ""
        assert not Application.objects.exists()


@postgres_only
def test_a_row_of_another_organisation_cannot_be_written_under_a_scope(two_organisations, app_role):
    mine, theirs = two_organisations
    with acting_as(app_role), tenant_scope([mine.organisation_id]):
        with (
            pytest.raises(DatabaseError, match="row-level security"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE applications_application SET organisation_id = %s WHERE id = %s",
                [theirs.organisation_id, mine.pk],
            )
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            AuditEvent.objects.create(
                organisation_id=theirs.organisation_id,
                occurred_at=now(),
                action=AuditAction.values[0],
            )
        # An UPDATE of another organisation's row finds nothing to change.
        updated = Application.objects.filter(pk=theirs.pk).update(status="withdrawn")
        assert updated == 0
    theirs.refresh_from_db()
    assert theirs.status != "withdrawn"


@postgres_only
def test_a_console_request_as_the_app_role_sees_only_its_organisation(
    two_organisations, app_role, staff_client
):
    mine, theirs = two_organisations
    with acting_as(app_role):
        inbox = staff_client.get(reverse("console:inbox"))
        assert inbox.status_code == 200
        assert mine.receipt_number in inbox.text
        assert theirs.receipt_number not in inbox.text
        assert staff_client.get(reverse("console:application", args=[mine.pk])).status_code == 200
        assert staff_client.get(reverse("console:application", args=[theirs.pk])).status_code == 404
        # The scope ended with the response: the connection sees nothing again.
        assert scalar("SELECT current_setting(%s)", [GUC]) == ""
        # A public page spans organisations.
        assert staff_client.get("/o/142042/").status_code == 200


@postgres_only
def test_the_whole_console_login_works_as_the_app_role(two_organisations, app_role, client):
    """The login reads the user and their staff row before any scope is known."""
    mine, theirs = two_organisations
    with acting_as(app_role):
        done = console_log_in(client, "reviewer@yokohama.test")
        assert done.status_code == 302, done.status_code
        inbox = client.get(reverse("console:inbox"))
        assert mine.receipt_number in inbox.text
        assert theirs.receipt_number not in inbox.text


@postgres_only
def test_a_staff_api_request_as_the_app_role_sees_its_token_organisation(
    two_organisations, app_role, client, admin_staff
):
    mine, theirs = two_organisations
    token = staff_token(admin_staff)
    auth = {"Authorization": f"Bearer {token}"}
    with acting_as(app_role):
        listed = client.get("/api/v1/staff/applications/", headers=auth)
        assert listed.status_code == 200, listed.text
        assert mine.receipt_number in listed.text
        assert theirs.receipt_number not in listed.text
        assert (
            client.get(f"/api/v1/staff/applications/{theirs.pk}/", headers=auth).status_code == 404
        )


@pytest.mark.django_db
def test_each_kind_of_request_gets_its_scope(rf, staff_member, admin_staff, resident):
    console = rf.get("/console/applications/")
    console.user = staff_member.user
    assert request_scope(console) == [staff_member.organisation_id]
    console.user = resident  # logged in, but works for no organisation: nothing
    assert request_scope(console) == []
    anonymous = rf.get("/console/login/")
    from django.contrib.auth.models import AnonymousUser

    anonymous.user = AnonymousUser()
    # Not logged in: no tenant row (a console view without its login check shows nothing);
    # logging in scopes its own records (identity.login).
    assert request_scope(anonymous) is None
    platform = resident_create("root@platform.test")
    platform.is_staff = True
    console.user = platform  # the platform's operators: every organisation, as on the admin
    assert request_scope(console) == ALL
    token = staff_token(admin_staff)
    api = rf.get("/api/v1/staff/applications/", headers={"Authorization": f"Bearer {token}"})
    assert request_scope(api) == [staff_member.organisation_id]
    for hostile in ("Bearer mdg_nonsense", "Bearer " + "x" * 5000, "Basic abc", "Bearer ％"):
        forged = rf.get("/api/v1/staff/applications/", headers={"Authorization": hostile})
        assert request_scope(forged) is None
    portal = rf.get("/o/142042/")
    portal.user = resident
    assert request_scope(portal) == ALL


@pytest.mark.django_db
def test_a_group_operator_works_on_the_groups_members(rf, organisation, other_organisation):
    group = SharedGroup.objects.create(
        slug="kanagawa-rls",
        name="神奈川テスト共同利用",
        prefecture=Organisation.objects.get(lg_code="140007"),
    )
    for member in (organisation, other_organisation):
        GroupMembership.objects.create(group=group, organisation=member, joined_at=now())
    operator = resident_create("operator@kanagawa.test")
    GroupOperator.objects.create(user=operator, group=group)
    request = rf.get("/console/")
    request.user = operator
    assert request_scope(request) == sorted([organisation.pk, other_organisation.pk])
    group.active = False
    group.save()
    assert request_scope(request) == []


def test_the_setting_is_made_of_ids_only():
    assert scope_value(None) == ""
    assert scope_value(ALL) == "*"
    assert scope_value([27, 14, 14]) == "14,27"
    assert scope_value([]) == ""
    with pytest.raises(ValueError, match="scope"):
        scope_value("1,2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid literal"):
        scope_value(["1 OR true"])  # type: ignore[list-item]


@postgres_only
@pytest.mark.django_db
def test_rls_problems_flags_a_superuser_owner_and_not_the_app_role(app_role):
    problems = rls_problems(connection)  # the tests connect as the superuser that owns all
    assert any("スーパーユーザー" in problem for problem in problems)
    assert any("所有者" in problem for problem in problems)
    with pytest.raises(ImproperlyConfigured, match="行レベルセキュリティ"):
        rls_refuse_unsafe(connection)  # what a production server does at its start
    with acting_as(app_role):
        assert rls_problems(connection) == []
        rls_refuse_unsafe(connection)


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", ["", "Robert'); DROP TABLE x;--", "a" * 64, "UPPER", "名前", "1abc", "a b"]
)
def test_db_app_role_refuses_a_bad_role_name_in_japanese(role):
    with pytest.raises(CommandError, match="ロール名"):
        call_command("db_app_role", role=role, stdout=io.StringIO())


@postgres_only
@pytest.mark.django_db
def test_db_app_role_refuses_the_owner_and_a_superuser():
    owner = str(scalar("SELECT current_user"))
    with pytest.raises(CommandError, match="所有者とは別"):
        call_command("db_app_role", role=owner, stdout=io.StringIO())
    name = f"mdg_rls_app_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" BYPASSRLS')
    with pytest.raises(CommandError, match="BYPASSRLS"):
        call_command("db_app_role", role=name, stdout=io.StringIO())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="what SQLite does instead")
@pytest.mark.django_db
def test_on_sqlite_scopes_cost_nothing_and_policies_are_not_needed(two_organisations):
    with tenant_scope([two_organisations[0].organisation_id]):
        assert Application.objects.count() == 2  # the application's filters are the guard
    assert rls_missing(connection) == []
    assert rls_problems(connection) == []
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("db_app_role", role="mdg_rls_app_x", stdout=io.StringIO())


# --- Platform operators, public figures, logging in (review of issue 15) -------------------


@pytest.fixture
def shonan(organisation, other_organisation) -> SharedGroup:
    return shared_group_upsert(
        slug="shonan",
        name="湘南共同利用グループ",
        prefecture=None,
        members=Organisation.objects.filter(pk__in=(organisation.pk, other_organisation.pk)),
        now=now(),
    )


@postgres_only
def test_a_platform_operator_sees_every_member_and_the_public_figures_stay_whole(
    client, organisation, resident, shonan, app_role
):
    """The operator's console page counts every member; the public figures it computes (and
    caches) are the same as an anonymous visitor's, whoever asks first."""
    procedure = procedure_publish(organisation, "event-moushikomi")
    apply(procedure, resident)
    apply(procedure, resident)
    platform = resident_create("root@platform.test")
    platform.is_staff = True
    platform.save()
    console_login(client, platform)
    with acting_as(app_role):
        page = client.get("/console/groups/shonan/operations/")
        assert page.status_code == 200
        yokohama = page.text.split("<td>141003</td>", 1)[1].split("</tr>", 1)[0]
        assert '<td class="num">1件</td>' in yokohama  # one procedure published
        assert '<td class="num">2件</td>' in yokohama  # two applications this month
        assert '<td class="num">100.0%</td>' in yokohama  # the fiscal year's rate
        # The public page after the operator's visit (the figure is cached by then).
        public = Client().get("/statistics/organisations/141003/")
        assert public.status_code == 200
        assert "100.0%" in public.text


@postgres_only
def test_a_narrow_scope_never_caches_a_public_figure(
    organisation, other_organisation, shonan, app_role
):
    """A console request of 横浜市 that computes the prefecture's public table first (or a
    group operator's console statistics page) still caches 鎌倉市's counts for the public."""
    counts_imported(other_organisation, ("eltax-filing", 2025, 4, 300, 30))
    operator = resident_create("operator@shonan.test")
    GroupOperator.objects.create(user=operator, group=shonan)
    operator_client = console_login(Client(), operator)
    fy2025 = "?list=guideline-21&fy=2025"
    with acting_as(app_role):
        detail = operator_client.get(f"/console/statistics/142042/{fy2025}")
        assert detail.status_code == 200
        assert "10.0%" in detail.text
        with tenant_scope([organisation.pk]):
            table = prefecture_table(
                prefecture_code="14",
                category_list=parse_list("guideline-21", fiscal_year=2025),
                fiscal_year=2025,
            )
        assert table is not None
        public = Client().get(f"/statistics/prefectures/14/{fy2025}")
        assert public.status_code == 200
        kamakura = public.text.split("鎌倉市", 1)[1].split("</tr>", 1)[0]
        assert "300" in kamakura


@postgres_only
def test_an_anonymous_console_request_sees_no_tenant_row(two_organisations, app_role, client):
    with acting_as(app_role):
        login = client.get(reverse("console:login"))
        assert login.status_code == 200
        assert scalar("SELECT current_setting(%s)", [GUC]) == ""


@postgres_only
def test_a_failed_console_login_is_recorded_for_its_organisation_as_the_app_role(
    two_organisations, app_role, client, staff_member
):
    """Logging in runs with no tenant row in scope; the attempt's audit event belongs to the
    account's organisation, so the record gives itself exactly that scope."""
    with acting_as(app_role):
        failed = client.post(
            reverse("console:login"),
            {"username": "reviewer@yokohama.test", "password": "not the password"},
        )
        assert failed.status_code in (200, 400)
        unknown = client.post(
            reverse("console:login"), {"username": "nobody@nowhere.test", "password": "x"}
        )
        assert unknown.status_code in (200, 400)
    events = AuditEvent.objects.filter(action="staff.login_failed")
    assert events.filter(organisation=staff_member.organisation).count() == 1
    assert events.filter(organisation=None).count() == 1


@postgres_only
def test_an_invitation_is_accepted_as_the_app_role(organisation, admin_staff, app_role):
    member, _link = staff_invite(
        organisation=organisation,
        email="new.member@yokohama.test",
        role="viewer",
        actor=admin_staff,
        base_url="http://testserver",
        now=now(),
    )
    token = staff_invitation_token_make(user=member.user)
    invitee = Client()
    with acting_as(app_role):
        done = invitee.post(
            f"/console/invitation/{token}/",
            {"new_password1": "Madoguchi-2026-invited", "new_password2": "Madoguchi-2026-invited"},
        )
        assert done.status_code == 302, done.status_code
    assert AuditEvent.objects.filter(
        action="staff.invitation_accepted", organisation=organisation
    ).exists()


@postgres_only
def test_the_app_role_cannot_change_or_remove_an_audit_event(two_organisations, app_role):
    event = AuditEvent.objects.filter(organisation__isnull=False).first()
    assert event is not None
    with acting_as(app_role), tenant_scope(ALL):
        for statement in (
            "UPDATE audit_auditevent SET action = 'application.viewed' WHERE id = %s",
            "DELETE FROM audit_auditevent WHERE id = %s",
            "DELETE FROM documents_registerentry WHERE id = %s",
        ):
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as c:
                c.execute(statement, [event.pk])
        # Deleting a user account sets its events' actor to NULL: that column only.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET actor_id = NULL WHERE id = %s", [event.pk])
    event.refresh_from_db()
    assert event.actor_id is None


@postgres_only
@pytest.mark.django_db
def test_db_app_role_sends_the_password_as_a_scram_verifier(tmp_path):
    role = f"mdg_rls_app_{secrets.token_hex(4)}"
    secret = tmp_path / "password"
    secret.write_text("correct horse battery staple\n", encoding="utf-8")
    out = io.StringIO()
    call_command("db_app_role", role=role, password_file=str(secret), stdout=out)
    assert "correct horse" not in out.getvalue()
    stored = str(scalar("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role]))
    assert stored.startswith("SCRAM-SHA-256$")


@postgres_only
@pytest.mark.django_db
def test_every_database_the_application_reads_through_is_checked():
    """``/readyz`` and the start-up check name the alias of each problem (``default``, and the
    read replica when ``MADOGUCHI_DATABASE_REPLICA_URL`` configures one); the test's own
    superuser stands in for a wrongly configured role."""
    problems = rls_problems_everywhere()
    assert problems
    assert all(problem.split(": ", 1)[0] in rls_aliases() for problem in problems)
    with pytest.raises(ImproperlyConfigured, match="default: "):
        rls_refuse_unsafe(connection)
