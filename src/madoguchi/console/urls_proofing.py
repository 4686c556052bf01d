"""Console URLs: identity proofing (included from console/urls.py, "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_proofing

urlpatterns: list[URLPattern] = [
    path("counter/identity/", views_proofing.counter, name="proofing_counter"),
    path("counter/identity/record/", views_proofing.counter_record, name="proofing_record"),
    path(
        "counter/identity/<int:proofing_id>/revoke/",
        views_proofing.revoke,
        name="proofing_revoke",
    ),
    path(
        "applications/<int:application_id>/proofing/",
        views_proofing.application_proofing,
        name="application_proofing",
    ),
]
