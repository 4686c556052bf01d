"""Console URLs: 利用者登録 and イベント・講座 (included from console/urls.py, "console")."""

from django.urls import URLPattern, path

from madoguchi.console import views_members

urlpatterns: list[URLPattern] = [
    path("registrations/", views_members.registrations, name="registrations"),
    path(
        "registrations/<int:registration_id>/",
        views_members.registration_detail,
        name="registration",
    ),
    path("events/", views_members.events, name="events"),
    path("events/new/", views_members.event_edit, name="event_new"),
    path("events/<int:event_id>/", views_members.event_detail, name="event"),
    path("events/<int:event_id>/edit/", views_members.event_edit, name="event_edit"),
    path("events/<int:event_id>/act/", views_members.event_action, name="event_action"),
]
