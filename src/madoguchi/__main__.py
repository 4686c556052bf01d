"""``madoguchi`` command: Django's management commands with our settings preselected."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    # A wrong setting (MADOGUCHI_ROLE=consol, a bad URL…) is the operator's to fix: say just
    # what is wrong, not a traceback through Django's settings loading.
    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings)
    except ImproperlyConfigured as error:
        sys.stderr.write(f"設定の誤り (configuration error): {error}\n")
        raise SystemExit(1) from None

    from madoguchi.core.tenancy import command_scope_begin

    command_scope_begin(sys.argv)
    from madoguchi.core.logs import request_id_bind, request_id_new

    # One id for the command's run: its log lines carry it (the outbox worker one per loop).
    request_id_bind(request_id_new("cmd"))
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
