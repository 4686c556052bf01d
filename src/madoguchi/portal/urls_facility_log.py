"""Portal URLs: the public log of a facility (included from portal/urls.py)."""

from django.urls import URLPattern, path

from madoguchi.portal import views_facility_log

urlpatterns: list[URLPattern] = [
    path(
        "o/<str:code>/facilities/<int:facility_id>/log/",
        views_facility_log.facility_log_page,
        name="facility_log",
    ),
]
