"""Reads of registrations (利用者登録) and events (イベント・講座) for the portal and console."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from madoguchi.reservations.constants import RegistrationStatus
from madoguchi.reservations.models import Event, EventSignup, Registration, ReservationSettings
from madoguchi.reservations.models.events import SignupStatus
from madoguchi.tenants.models import Organisation


def registrations_of_user(organisation: Organisation, user_id: int) -> QuerySet[Registration]:
    """A resident's registrations with ``organisation``, newest first, with their members."""
    return (
        Registration.objects.filter(organisation=organisation, user_id=user_id)
        .prefetch_related("members")
        .order_by("-created_at", "-id")
    )


def registrations_for_staff(
    organisation: Organisation, *, status: str = ""
) -> QuerySet[Registration]:
    """The organisation's registrations for the console: flagged pending ones first, then
    pending, then the rest, newest first."""
    found = Registration.objects.filter(organisation=organisation)
    if status in RegistrationStatus.values:
        found = found.filter(status=status)
    return (
        found.annotate(
            members_count=Count("members"),
            rank=Case(
                When(Q(status=RegistrationStatus.PENDING) & ~Q(flag_reason=""), then=Value(0)),
                When(status=RegistrationStatus.PENDING, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            ),
        )
        .select_related("user")
        .order_by("rank", "-created_at", "-id")
    )


def registration_for_staff(organisation: Organisation, registration_id: int) -> Registration:
    """One registration of ``organisation`` (``DoesNotExist`` otherwise: 404)."""
    return (
        Registration.objects.select_related("user", "confirmed_by__user")
        .prefetch_related("members")
        .get(organisation=organisation, pk=registration_id)
    )


def reservation_settings(organisation: Organisation) -> ReservationSettings:
    return ReservationSettings.of(organisation)


def events_published(organisation: Organisation, *, now: datetime) -> QuerySet[Event]:
    """Published events that have not ended, soonest first, with their confirmed count."""
    return (
        Event.objects.filter(organisation=organisation, published=True, ends_at__gt=now)
        .annotate(confirmed=Count("signups", filter=Q(signups__status=SignupStatus.CONFIRMED)))
        .order_by("starts_at", "id")
    )


def event_get(organisation: Organisation, event_id: int, *, published_only: bool = True) -> Event:
    """One event of ``organisation`` with its confirmed count (``DoesNotExist``: 404)."""
    found = Event.objects.filter(organisation=organisation, pk=event_id)
    if published_only:
        found = found.filter(published=True)
    return found.annotate(
        confirmed=Count("signups", filter=Q(signups__status=SignupStatus.CONFIRMED))
    ).get()


def events_for_staff(organisation: Organisation) -> QuerySet[Event]:
    return (
        Event.objects.filter(organisation=organisation)
        .annotate(
            confirmed=Count("signups", filter=Q(signups__status=SignupStatus.CONFIRMED)),
            entered=Count("signups", filter=Q(signups__status=SignupStatus.ENTERED)),
        )
        .order_by("-starts_at", "-id")
    )


def signups_of_event(event: Event) -> QuerySet[EventSignup]:
    """An event's live and past signups for staff: confirmed by seat, then the others."""
    return EventSignup.objects.filter(event=event).order_by("status", "seat", "created_at", "id")


def signup_of_user(event: Event, user_id: int) -> EventSignup | None:
    return (
        EventSignup.objects.filter(event=event, user_id=user_id)
        .exclude(status=SignupStatus.CANCELLED)
        .first()
    )


def signups_of_user(user_id: int) -> QuerySet[EventSignup]:
    """A resident's signups (every organisation), newest event first."""
    return (
        EventSignup.objects.filter(user_id=user_id)
        .select_related("event", "organisation")
        .order_by("-event__starts_at", "-id")
    )
