"""The URL patterns of the ``all`` role, whatever ``MADOGUCHI_ROLE`` says (see ``conf.urls``)."""

from madoguchi.conf.urls import patterns_for

urlpatterns = patterns_for("all")
