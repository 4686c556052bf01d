"""Reads of accounts and roles."""

from __future__ import annotations

from django.db.models import QuerySet

from madoguchi.identity.models import GroupOperator, Staff, User
from madoguchi.tenants.models import SharedGroup


def active_staff_of(*, user: User) -> Staff | None:
    """The active staff role of ``user`` in an active organisation, or ``None``."""
    return (
        Staff.objects.select_related("organisation")
        .filter(user=user, active=True, organisation__active=True)
        .first()
    )


def groups_operated_by(*, user: User) -> QuerySet[SharedGroup]:
    return SharedGroup.objects.filter(operators__user=user, active=True).order_by("slug")


def operator_of(*, user: User, group: SharedGroup) -> bool:
    return GroupOperator.objects.filter(user=user, group=group).exists()
