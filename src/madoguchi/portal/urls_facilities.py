"""Facility booking for residents: facilities, the week calendar, holding and confirming a
slot, the waitlist, and the resident's own bookings with their permits."""

from django.urls import path

from madoguchi.portal import views_facilities as views

app_name = "facilities"

_F = "o/<str:code>/facilities/"

urlpatterns = [
    path(_F, views.facility_list, name="list"),
    path(_F + "<int:facility_id>/", views.facility_detail, name="detail"),
    path(_F + "<int:facility_id>/slots/<int:slot_id>/", views.slot_page, name="slot"),
    path(_F + "<int:facility_id>/slots/<int:slot_id>/hold/", views.slot_hold, name="hold"),
    path(
        _F + "<int:facility_id>/slots/<int:slot_id>/waitlist/",
        views.slot_waitlist,
        name="waitlist_join",
    ),
    path(_F + "reservations/<int:booking_id>/confirm/", views.booking_confirm_page, name="confirm"),
    path(_F + "reservations/<int:booking_id>/done/", views.booking_done, name="done"),
    path("account/reservations/", views.my_bookings, name="mine"),
    path("account/reservations/<int:booking_id>/permit.pdf", views.permit, name="permit"),
    path("account/reservations/<int:booking_id>/cancel/", views.booking_cancel_page, name="cancel"),
    path(
        "account/reservations/waitlist/<int:entry_id>/leave/",
        views.waitlist_leave_page,
        name="waitlist_leave",
    ),
]
