"""WSGI entry point, served by granian (``granian --interface wsgi madoguchi.conf.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
application = get_wsgi_application()
