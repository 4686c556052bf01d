"""Creating and changing accounts and their roles."""

from __future__ import annotations

from django.db import transaction

from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import GroupOperator, Staff, User
from madoguchi.tenants.models import Organisation, SharedGroup


def staff_upsert(
    *,
    organisation: Organisation,
    email: str,
    password: str,
    role: StaffRole,
    display_name: str = "",
    department: str = "",
) -> Staff:
    """Create (or reset) a staff account of ``organisation`` with ``role``.

    Raises ``ValueError`` when the organisation is a ward (not a tenant) or inactive, or when
    the e-mail already belongs to staff of another organisation: staff belong to exactly one.
    """
    if not organisation.is_tenant or not organisation.active:
        raise ValueError(f"{organisation.display_name} には職員を登録できません。")
    with transaction.atomic():
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            user = User.objects.create_user(email, password, display_name=display_name)
        else:
            # Hashing is deliberately slow (argon2): skip it when the password is unchanged.
            if not user.check_password(password):
                user.set_password(password)
            user.display_name = display_name or user.display_name
            user.is_active = True
            user.save()
        staff = Staff.objects.filter(user=user).first()
        if staff is not None and staff.organisation_id != organisation.pk:
            raise ValueError(f"{email} は他の団体の職員として登録済みです。")
        if staff is None:
            staff = Staff(user=user, organisation=organisation)
        staff.role = role
        staff.department = department
        staff.active = True
        staff.save()
    return staff


def group_operator_upsert(
    *, group: SharedGroup, email: str, password: str, display_name: str = ""
) -> GroupOperator:
    """Create (or reset) an operator account of a shared group."""
    with transaction.atomic():
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            user = User.objects.create_user(email, password, display_name=display_name)
        else:
            if not user.check_password(password):
                user.set_password(password)
            user.is_active = True
            user.save()
        operator, _ = GroupOperator.objects.get_or_create(user=user, group=group)
    return operator
