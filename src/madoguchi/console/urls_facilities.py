"""Console URLs: 施設予約 (to be included from console/urls.py, "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_facilities as v

urlpatterns: list[URLPattern] = [
    path("facilities/", v.facilities, name="facilities"),
    path("facilities/new/", v.facility_new, name="facility_new"),
    path("facilities/<int:facility_id>/", v.facility, name="facility"),
    path("facilities/<int:facility_id>/edit/", v.facility_edit, name="facility_edit"),
    path("facilities/<int:facility_id>/resources/", v.resource_add, name="facility_resource_add"),
    path(
        "facilities/<int:facility_id>/resources/<int:resource_id>/",
        v.resource_edit,
        name="facility_resource",
    ),
    path("facilities/<int:facility_id>/bands/", v.band_add, name="facility_band_add"),
    path(
        "facilities/<int:facility_id>/bands/<int:band_id>/delete/",
        v.band_delete,
        name="facility_band_delete",
    ),
    path(
        "facilities/<int:facility_id>/closed-days/",
        v.closed_day_add,
        name="facility_closed_day_add",
    ),
    path(
        "facilities/<int:facility_id>/closed-days/<int:closed_day_id>/delete/",
        v.closed_day_delete,
        name="facility_closed_day_delete",
    ),
    path("facilities/<int:facility_id>/fees/", v.fee_set, name="facility_fee_set"),
    path(
        "facilities/<int:facility_id>/reductions/",
        v.reduction_add,
        name="facility_reduction_add",
    ),
    path(
        "facilities/<int:facility_id>/reductions/<int:reduction_id>/",
        v.reduction_edit,
        name="facility_reduction",
    ),
    path("facilities/<int:facility_id>/slots/", v.slots_generate, name="facility_slots_generate"),
    path("facilities/<int:facility_id>/calendar/", v.facility_calendar, name="facility_calendar"),
    path("facilities/<int:facility_id>/statistics/", v.facility_stats, name="facility_stats"),
    path("facilities/slots/<int:slot_id>/", v.slot_detail, name="facility_slot"),
    path("facilities/slots/<int:slot_id>/book/", v.slot_book, name="facility_slot_book"),
    path("facilities/slots/<int:slot_id>/close/", v.slot_close, name="facility_slot_close"),
    path("facilities/slots/<int:slot_id>/open/", v.slot_open, name="facility_slot_open"),
    path("facilities/bookings/<int:booking_id>/", v.booking_detail, name="facility_booking"),
    path(
        "facilities/bookings/<int:booking_id>/override/",
        v.booking_override,
        name="facility_booking_override",
    ),
    path(
        "facilities/bookings/<int:booking_id>/no-show/",
        v.booking_no_show,
        name="facility_booking_no_show",
    ),
    path(
        "facilities/bookings/<int:booking_id>/payment/",
        v.booking_payment,
        name="facility_booking_payment",
    ),
]
