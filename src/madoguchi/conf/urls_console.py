"""The URL patterns of the ``console`` role, whatever ``MADOGUCHI_ROLE`` says (see ``conf.urls``)."""

from madoguchi.conf.urls import patterns_for

urlpatterns = patterns_for("console")
