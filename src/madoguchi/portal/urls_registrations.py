"""利用者登録 and イベント・講座 on the portal (names without a namespace of their own)."""

from django.urls import path

from madoguchi.portal import views_registrations as views

urlpatterns = [
    path("o/<str:code>/registration/", views.registration, name="reservation_registration"),
    path(
        "o/<str:code>/registration/status/",
        views.registration_status,
        name="reservation_registration_status",
    ),
    path(
        "o/<str:code>/registration/<int:registration_id>/close/",
        views.registration_close_view,
        name="reservation_registration_close",
    ),
    path("o/<str:code>/events/", views.events, name="events"),
    path("o/<str:code>/events/<int:event_id>/", views.event, name="event"),
    path(
        "o/<str:code>/events/signups/<int:signup_id>/cancel/",
        views.event_signup_cancel,
        name="event_signup_cancel",
    ),
    path("mypage/events/", views.my_event_signups, name="my_event_signups"),
]
