"""``madoguchi db_app_role --role NAME``: make (or check) the application's database role that
PostgreSQL row-level security holds, and grant it what the application needs. Run as the owner
of the tables (``MADOGUCHI_DATABASE_OWNER_URL``); idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from psycopg import sql

from madoguchi.core.tenancy import OWNER_ALIAS, ROLE_NAME

#: Append-only tables: the audit trail and the hash-chained register of issued documents.
APPEND_ONLY: Final = ("audit_auditevent", "documents_registerentry")
#: The one column of an append-only table the database itself may change (``SET_NULL``).
SET_NULL_ONLY: Final = (("audit_auditevent", "actor_id"),)


class Command(BaseCommand):
    help = (
        "アプリケーションが接続するデータベースのロール（所有者でもスーパーユーザーでもない）を"
        "作成し、表の読み書きの権限を与えます。表の所有者の接続で実行してください。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, help="ロール名（英小文字・数字・_）")
        parser.add_argument(
            "--password-file",
            help="作成するロールのパスワードを書いたファイル（省略時はパスワードなし）",
        )
        parser.add_argument("--database", default=None, help="接続の別名（既定: 所有者の接続）")

    def handle(self, *args: Any, **options: Any) -> None:
        role = str(options["role"])
        if not ROLE_NAME.match(role):
            raise CommandError(
                "ロール名は英小文字で始まる英小文字・数字・_ の 63 文字以内にしてください"
                " (role names are lower-case letters, digits and _)。"
            )
        password = None
        if options["password_file"]:
            try:
                password = Path(options["password_file"]).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                raise CommandError(
                    "パスワードのファイルを読めません (cannot read the password file)。"
                ) from None
            if not password:
                raise CommandError("パスワードのファイルが空です (the password file is empty)。")
        owner = OWNER_ALIAS if OWNER_ALIAS in settings.DATABASES else "default"
        connection = connections[options["database"] or owner]
        if connection.vendor != "postgresql":
            raise CommandError(
                "行レベルセキュリティは PostgreSQL だけで使います。SQLite では不要です"
                " (row-level security is for PostgreSQL only)。"
            )
        name = sql.Identifier(role)
        done: list[str] = []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, current_schema(), current_database(),"
                " (SELECT row(rolsuper, rolbypassrls) FROM pg_roles WHERE rolname = %s)::text",
                [role],
            )
            row = cursor.fetchone()
            assert row is not None
            owner_role, schema, database, existing = (str(row[0]), str(row[1]), str(row[2]), row[3])
            if role == owner_role:
                raise CommandError(
                    "表の所有者とは別のロールを指定してください"
                    " (the application's role must not be the owner)。"
                )
            if existing is None:
                create = sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
                ).format(name)
                if password is not None:
                    # The SCRAM verifier, never the password, goes into the statement (and so
                    # into any statement log of the server).
                    verifier = cursor.connection.pgconn.encrypt_password(
                        password.encode(), role.encode(), b"scram-sha-256"
                    )
                    create = sql.SQL("{} PASSWORD {}").format(
                        create, sql.Literal(verifier.decode("ascii"))
                    )
                cursor.execute(create.as_string(cursor.connection))
                done.append(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
            elif existing != "(f,f)":
                raise CommandError(
                    f"ロール {role} はスーパーユーザーか BYPASSRLS を持っています。"
                    " 行レベルセキュリティが効きません"
                    " (the role is a superuser or has BYPASSRLS)。"
                )
            statements = [
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), name
                ),
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), name),
                sql.SQL(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}"
                ).format(sql.Identifier(schema), name),
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), name
                ),
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}"
                    " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
                ).format(sql.Identifier(owner_role), sql.Identifier(schema), name),
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}"
                    " GRANT USAGE, SELECT ON SEQUENCES TO {}"
                ).format(sql.Identifier(owner_role), sql.Identifier(schema), name),
            ]
            for table in APPEND_ONLY:
                # Written once, never changed: the application may add rows, not alter or
                # remove them (the models refuse too; this holds against a raw UPDATE).
                statements.append(
                    sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(
                        sql.Identifier(table), name
                    )
                )
            for table, column in SET_NULL_ONLY:
                # Deleting a user account sets its events' actor to NULL (on_delete=SET_NULL):
                # that one column stays writable, nothing else of the event.
                statements.append(
                    sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                        sql.Identifier(column), sql.Identifier(table), name
                    )
                )
            for statement in statements:
                text = statement.as_string(cursor.connection)
                cursor.execute(text)
                done.append(text)
        for line in done:
            self.stdout.write(f"  {line}")
        self.stdout.write(
            f"ロール {role} に、{database} の表 ({schema}) の読み書きを許可しました。"
            f" これから {owner_role} が作る表にも同じ権限がつきます。"
            " MADOGUCHI_DATABASE_URL をこのロールの接続先にしてください。"
        )
