"""``madoguchi`` command: Django's management commands with our settings preselected."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    from django.core.management import execute_from_command_line

    from madoguchi.core.tenancy import command_scope_begin

    command_scope_begin(sys.argv)
    from madoguchi.core.logs import request_id_bind, request_id_new

    # One id for the command's run: its log lines carry it (the outbox worker one per loop).
    request_id_bind(request_id_new("cmd"))
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
