"""Reads of accounts and roles."""

from __future__ import annotations

from django.db.models import QuerySet

from madoguchi.identity.models import GroupOperator, IdentityLink, Staff, User
from madoguchi.tenants.models import GroupMembership, Organisation, SharedGroup


def active_staff_of(*, user: User) -> Staff | None:
    """The active staff role of ``user`` in an active organisation, or ``None``."""
    return (
        Staff.objects.select_related("organisation")
        .filter(user=user, active=True, organisation__active=True)
        .first()
    )


def organisations_worked_for(*, user_id: int) -> list[int]:
    """The ids of the organisations whose data ``user_id`` works on in the console: their
    active staff organisation and the member organisations of the groups they operate (one
    query; both tables are outside row-level security, see ``core.tenancy``)."""
    staff = Staff.objects.filter(user_id=user_id, active=True).values_list("organisation_id")
    members = GroupMembership.objects.filter(
        group__operators__user_id=user_id, group__active=True
    ).values_list("organisation_id")
    return sorted({int(row[0]) for row in staff.union(members)})


def groups_operated_by(*, user: User) -> QuerySet[SharedGroup]:
    return SharedGroup.objects.filter(operators__user=user, active=True).order_by("slug")


def operator_of(*, user: User, group: SharedGroup) -> bool:
    return GroupOperator.objects.filter(user=user, group=group).exists()


def staff_of_organisation(*, organisation: Organisation) -> QuerySet[Staff]:
    """Every staff member of ``organisation`` (active or not), admins first, then by address."""
    return (
        Staff.objects.select_related("user")
        .filter(organisation=organisation)
        .order_by("role", "user__email")
    )


def staff_get(*, organisation: Organisation, staff_id: int) -> Staff:
    """One staff member of ``organisation``; another organisation's id raises DoesNotExist."""
    return staff_of_organisation(organisation=organisation).get(pk=staff_id)


def identity_links_of(*, user: User) -> list[IdentityLink]:
    """The OpenID subjects (national login, gBizID) linked to ``user``'s account."""
    return list(IdentityLink.objects.filter(user=user).order_by("provider"))
