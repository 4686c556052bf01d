"""WSGI entry point, served by granian (``granian --interface wsgi madoguchi.conf.wsgi:application``)."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
application = get_wsgi_application()

if settings.PRODUCTION:
    from django.db import connection, connections

    from madoguchi.core.tenancy import rls_refuse_unsafe

    # PostgreSQL: the application's role must be held by row-level security (on the read
    # replica too, when one is configured).
    try:
        rls_refuse_unsafe(connection)
    finally:
        connections.close_all()
