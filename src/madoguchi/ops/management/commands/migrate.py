"""``madoguchi migrate``: Django's migrate, as the owner role when there is one.

With ``MADOGUCHI_DATABASE_OWNER_URL`` set apart from ``MADOGUCHI_DATABASE_URL`` (PostgreSQL
row-level security), the application's role may not create or alter tables: migrations run on
the ``owner`` alias unless ``--database`` says otherwise. Afterwards ``core.tenancy``'s
``post_migrate`` handler puts the policy on every tenant-owned table the migrations added.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandParser
from django.core.management.commands.migrate import Command as DjangoMigrate

from madoguchi.core.tenancy import OWNER_ALIAS


def migration_database() -> str:
    """The alias migrations run on: the owner's when configured, else the default."""
    return OWNER_ALIAS if OWNER_ALIAS in settings.DATABASES else "default"


class Command(DjangoMigrate):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database=migration_database())
