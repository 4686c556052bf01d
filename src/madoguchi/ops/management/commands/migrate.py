"""``madoguchi migrate``: Django's migrate, as the owner role when there is one.

With ``MADOGUCHI_DATABASE_OWNER_URL`` set apart from ``MADOGUCHI_DATABASE_URL`` (PostgreSQL
row-level security), the application's role may not create or alter tables. ``--database
default`` (the default) then runs the whole migrate with the owner's connection settings under
the ``default`` alias: data migrations (``RunPython``) use the default manager, and on a second
connection as the application's role they would wait for the migration's own locks forever.
Afterwards ``core.tenancy``'s ``post_migrate`` handler puts the policy on every tenant-owned
table the migrations added.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS, connections

from madoguchi.core.tenancy import OWNER_ALIAS


@contextmanager
def default_as_owner() -> Iterator[str]:
    """Within the block, the ``default`` alias connects as the owner when an owner is
    configured (the application's settings come back afterwards); yields the alias to use."""
    if OWNER_ALIAS not in settings.DATABASES:
        yield DEFAULT_DB_ALIAS
        return
    default = connections[DEFAULT_DB_ALIAS]
    saved = default.settings_dict
    default.close()
    default.settings_dict = {**saved, **connections[OWNER_ALIAS].settings_dict}
    try:
        yield DEFAULT_DB_ALIAS
    finally:
        default.close()
        default.settings_dict = saved


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        if options["database"] != DEFAULT_DB_ALIAS:
            super().handle(*args, **options)
            return
        with default_as_owner():
            super().handle(*args, **options)
