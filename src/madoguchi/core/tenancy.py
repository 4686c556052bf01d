"""Which organisations this request or task may see in the database: PostgreSQL row-level
security as a second guard behind the application's own organisation filters.

Every table with an ``organisation_id`` column (except :data:`NOT_TENANT_OWNED`) has row-level
security enabled and one policy, ``madoguchi_tenant``, that lets a row through only when its
organisation is in the connection's scope, the setting ``madoguchi.organisations``:

- ``''`` (or never set): **no tenant rows** at all — the state of a fresh connection and of a
  connection between two requests;
- ``'14,27'``: the organisations with those ids (a staff member's organisation, or the member
  organisations of the groups a group operator runs);
- ``'*'``: every organisation (resident and public pages, which span organisations, and the
  platform's background work; the application's own checks are the guard there).

Rows whose nullable ``organisation_id`` is NULL (national form definitions, platform audit
events, platform mail) belong to no organisation and pass in every scope.

The policy reads the setting in scalar sub-selects, so PostgreSQL evaluates it once per query
(an InitPlan) and ``organisation_id = ANY ($1)`` can use the index on ``organisation_id``.
The table owner is not subject to it (``ENABLE``, not ``FORCE``): migrations and ``pg_dump``
run as the owner (``MADOGUCHI_DATABASE_OWNER_URL``); the application connects as a role that
is not the owner, not a superuser and has no ``BYPASSRLS`` (:func:`rls_problems`).

On SQLite nothing here runs: the application-level checks are the only guard there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final, Literal

from django.apps import apps
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

#: The PostgreSQL setting (a custom GUC) that holds the scope.
GUC: Final = "madoguchi.organisations"
#: The scope that sees every organisation.
ALL: Final = "*"
#: The scope that sees no tenant row.
NONE: Final = ""
#: The name of the policy on every tenant-owned table.
POLICY: Final = "madoguchi_tenant"
#: The database alias of the owner role; it exists only when ``MADOGUCHI_DATABASE_OWNER_URL``
#: differs from ``MADOGUCHI_DATABASE_URL``, and no scope is ever set on it.
OWNER_ALIAS: Final = "owner"

#: Tables with an ``organisation_id`` column that are deliberately outside the policy. They
#: hold no resident data, and the scope itself is decided from them before it is known:
#:
#: - ``identity_staff``: which organisation a user works for (read at login and at the start of
#:   every console request to choose the scope);
#: - ``identity_accesstoken``: API tokens (only a SHA-256 of each secret), read to find the
#:   organisation of a staff API request;
#: - ``tenants_groupmembership``: which organisation belongs to which shared group (the
#:   organisation master; a group operator's scope is its members);
#: - ``tenants_organisationcontact``: the organisation's public contact (organisation master,
#:   shown on the portal).
#:
#: The organisation master itself (``tenants_organisation``), shared groups, the national
#: templates, life events and published figures have no ``organisation_id`` and are readable
#: by everyone, as are Django's own tables (sessions, users, content types, tasks).
NOT_TENANT_OWNED: Final = frozenset(
    {
        "identity_staff",
        "identity_accesstoken",
        "tenants_groupmembership",
        "tenants_organisationcontact",
    }
)

_scope: ContextVar[str] = ContextVar("madoguchi_tenant_scope", default=NONE)

Scope = Iterable[int] | Literal["*"] | None


def scope_value(organisations: Scope) -> str:
    """The setting's text for ``organisations``: ``'*'`` for :data:`ALL`, ``''`` for ``None``
    or no organisation, else the ids joined by commas (each checked to be an integer)."""
    if organisations is None:
        return NONE
    if isinstance(organisations, str):
        if organisations != ALL:
            raise ValueError("scope must be ALL, None or organisation ids")
        return ALL
    ids = sorted({int(organisation) for organisation in organisations})
    return ",".join(str(organisation) for organisation in ids)


def current_scope() -> str:
    """The scope of this thread or task (the setting's text)."""
    return _scope.get()


def _postgres_connections() -> Iterator[BaseDatabaseWrapper]:
    for connection in connections.all(initialized_only=True):
        if connection.vendor == "postgresql" and connection.alias != OWNER_ALIAS:
            yield connection


def _apply(connection: BaseDatabaseWrapper, value: str) -> None:
    """Set the scope on an open connection (session-level: it outlives autocommit statements
    until it is set again)."""
    if connection.connection is None:
        return  # connection_apply sets it when the connection opens
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", [GUC, value])


def scope_activate(organisations: Scope) -> None:
    """Make ``organisations`` the scope of this thread from now on, on every open PostgreSQL
    connection (one ``SELECT set_config(...)`` each) and on any connection opened later."""
    value = scope_value(organisations)
    _scope.set(value)
    for connection in _postgres_connections():
        _apply(connection, value)


def scope_clear() -> None:
    """Back to the scope that sees no tenant row (the end of a request). A connection that
    cannot be reset (a failed transaction, a lost server) is closed rather than kept or handed
    back to a pool with the old scope."""
    _scope.set(NONE)
    for connection in list(_postgres_connections()):
        try:
            _apply(connection, NONE)
        except DatabaseError:
            raw = connection.connection
            if raw is not None:
                raw.close()
            connection.close()


@contextmanager
def tenant_scope(organisations: Scope) -> Iterator[str]:
    """Run the block with ``organisations`` as the scope (``ALL`` for platform-wide work);
    the previous scope is restored afterwards, also on an error.

    The setting is session-level: set inside a transaction that rolls back, it rolls back
    with it, so enter the scope outside the transaction (as services and commands do).
    """
    previous = _scope.get()
    scope_activate(organisations)
    try:
        yield _scope.get()
    finally:
        _scope.set(previous)
        for connection in _postgres_connections():
            _apply(connection, previous)


#: Commands that serve requests: each request sets its own scope (the middleware).
SERVING_COMMANDS: Final = frozenset({"serve", "runserver"})


def command_scope_begin(argv: list[str]) -> None:
    """``madoguchi <command>``: the operator's commands and the background worker work
    platform-wide (they claim work of every organisation), so their connections get ``'*'``;
    the commands that serve requests leave it to each request."""
    if len(argv) > 1 and argv[1] not in SERVING_COMMANDS:
        _scope.set(ALL)


def connection_apply(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: a new (or reopened, or pooled) connection gets this thread's
    scope, also the empty one, so a reconnect in the middle of a request keeps its scope and
    a connection taken from a pool never carries the scope it was left with."""
    if connection.vendor != "postgresql" or connection.alias == OWNER_ALIAS:
        return
    _apply(connection, _scope.get())


# --- The policies -----------------------------------------------------------------------------

_IDS = (
    f"CAST((SELECT string_to_array(nullif(nullif(current_setting('{GUC}', true), ''), '{ALL}'),"
    " ',')) AS bigint[])"
)
_EVERY = f"(SELECT current_setting('{GUC}', true)) = '{ALL}'"


def policy_expression(*, nullable: bool) -> str:
    """The policy's condition (``USING`` and ``WITH CHECK`` alike)."""
    expression = f"organisation_id = ANY ({_IDS}) OR {_EVERY}"
    if nullable:
        expression = f"organisation_id IS NULL OR {expression}"
    return expression


def tenant_tables_from_models() -> set[str]:
    """Every table whose model has a concrete ``organisation_id`` column, minus
    :data:`NOT_TENANT_OWNED`."""
    tables = set()
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = {field.column for field in model._meta.concrete_fields}
        if "organisation_id" in columns:
            tables.add(model._meta.db_table)
    return tables - NOT_TENANT_OWNED


def _tenant_columns(connection: BaseDatabaseWrapper) -> dict[str, bool]:
    """Tables of the current schema with an ``organisation_id`` column, and whether it is
    nullable (from the catalogue: tables that no model declares count as well)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.is_nullable = 'YES' FROM information_schema.columns c"
            " JOIN information_schema.tables t"
            " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE c.table_schema = current_schema() AND c.column_name = 'organisation_id'"
            " AND t.table_type = 'BASE TABLE'"
        )
        found = {str(name): bool(nullable) for name, nullable in cursor.fetchall()}
    return {name: nullable for name, nullable in found.items() if name not in NOT_TENANT_OWNED}


def rls_missing(connection: BaseDatabaseWrapper) -> list[str]:
    """Tenant-owned tables (from the catalogue and the models) without row-level security
    enabled or without the policy; ``[]`` on other databases than PostgreSQL."""
    if connection.vendor != "postgresql":
        return []
    wanted = set(_tenant_columns(connection)) | tenant_tables_from_models()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()"
            " WHERE c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_policy p"
            " WHERE p.polrelid = c.oid AND p.polname = %s)",
            [POLICY],
        )
        covered = {str(row[0]) for row in cursor.fetchall()}
    return sorted(wanted - covered)


def rls_apply(connection: BaseDatabaseWrapper) -> list[str]:
    """Enable row-level security and create the policy on every tenant-owned table that lacks
    them (idempotent; run by the table owner after each ``migrate``). Returns the tables it
    changed; does nothing on other databases than PostgreSQL."""
    if connection.vendor != "postgresql":
        return []
    columns = _tenant_columns(connection)
    missing = [table for table in rls_missing(connection) if table in columns]
    if not missing:
        return []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in missing:
            expression = policy_expression(nullable=columns[table])
            cursor.execute(f"ALTER TABLE {quote(table)} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {quote(table)}")
            cursor.execute(
                f"CREATE POLICY {POLICY} ON {quote(table)}"
                f" USING ({expression}) WITH CHECK ({expression})"
            )
    return missing


def rls_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate``: cover the tables this migration added (PostgreSQL only)."""
    rls_apply(connections[using])


# --- The application's role -------------------------------------------------------------------


def rls_problems(connection: BaseDatabaseWrapper) -> list[str]:
    """Why this connection's role is not held by row-level security (empty when it is):
    a superuser, a role with ``BYPASSRLS``, the owner (or a member of the owner's role) of a
    tenant-owned table, or tables without the policy. ``[]`` on SQLite. For ``/readyz`` and
    the production start-up check; the messages name no data."""
    if connection.vendor != "postgresql":
        return []
    problems = []
    tables = sorted(tenant_tables_from_models())
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        superuser, bypass = (bool(row[0]), bool(row[1])) if row else (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()"
            " WHERE c.relname = ANY (%s) AND pg_has_role(current_user, c.relowner, 'USAGE')",
            [tables],
        )
        owned_row = cursor.fetchone()
        owned = int(owned_row[0]) if owned_row else 0
    if superuser:
        problems.append(
            "アプリケーションの接続ロールがスーパーユーザーです"
            " (the application's database role is a superuser)"
        )
    if bypass:
        problems.append(
            "アプリケーションの接続ロールに BYPASSRLS があります"
            " (the application's database role has BYPASSRLS)"
        )
    if owned:
        problems.append(
            f"アプリケーションの接続ロールが団体の表 {owned} 個の所有者です"
            f" (the application's database role owns {owned} tenant tables)"
        )
    missing = rls_missing(connection)
    if missing:
        problems.append(
            f"行レベルセキュリティのない団体の表が {len(missing)} 個あります"
            f" ({len(missing)} tenant tables lack row-level security: run madoguchi migrate)"
        )
    return problems


def rls_refuse_unsafe(connection: BaseDatabaseWrapper) -> None:
    """At the start of a production server: refuse to serve (``ImproperlyConfigured``) when
    the application's PostgreSQL role is not held by row-level security (:func:`rls_problems`;
    for ``default``, also on the read replica when one is configured).
    A database that cannot be reached yet is left to ``/readyz`` and the first request."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        problems = (
            rls_problems_everywhere() if connection.alias == "default" else rls_problems(connection)
        )
    except DatabaseError:
        return
    if problems:
        raise ImproperlyConfigured(
            "データベースの行レベルセキュリティが効かない接続のため、本番モードでは起動しません"
            " (Madoguchi refuses to serve with a database role that bypasses row-level"
            " security):\n- " + "\n- ".join(problems)
        )


#: The read replica's alias (``MADOGUCHI_DATABASE_REPLICA_URL``; core.replica names it too).
REPLICA_ALIAS: Final = "replica"


def rls_aliases() -> list[str]:
    """The connections the application reads tenant rows through: ``default`` and, when one
    is configured, the read replica (each must be held by row-level security)."""
    return ["default"] + ([REPLICA_ALIAS] if REPLICA_ALIAS in connections.settings else [])


def rls_problems_everywhere() -> list[str]:
    """:func:`rls_problems` of every alias of :func:`rls_aliases`, each message prefixed with
    the alias. A replica that cannot be reached is left out (reads fall back to the primary
    then, and its lag check reports it); the primary's errors propagate."""
    problems: list[str] = []
    for alias in rls_aliases():
        try:
            found = rls_problems(connections[alias])
        except DatabaseError:
            if alias == "default":
                raise
            continue
        problems.extend(f"{alias}: {problem}" for problem in found)
    return problems


#: A PostgreSQL role name ``db_app_role`` accepts.
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
