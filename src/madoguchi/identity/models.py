"""Accounts: one user table for residents, staff and operators; roles hang off it."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models

from madoguchi.core.models import TimeStampedModel
from madoguchi.identity.constants import StaffRole
from madoguchi.tenants.models import Organisation, SharedGroup


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("メールアドレスは必須です。")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # Addresses are stored in lower case (create_user); log in however they are typed.
        return self.get(email=(username or "").lower())

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin, TimeStampedModel):
    """A person who logs in. ``is_staff`` only opens the Django admin (platform operators)."""

    email = models.EmailField("メールアドレス", max_length=254, unique=True)
    display_name = models.CharField("表示名", max_length=128, blank=True)
    is_active = models.BooleanField("有効", default=True)
    is_staff = models.BooleanField("運用者（管理サイト）", default=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = "利用者"
        verbose_name_plural = "利用者"

    def __str__(self) -> str:
        return self.display_name or self.email


class Staff(TimeStampedModel):
    """職員: a user working for exactly one organisation, with one role there."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="staff")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="staff_members"
    )
    role = models.CharField("役割", max_length=16, choices=StaffRole.choices)
    department = models.CharField("所属", max_length=128, blank=True)
    active = models.BooleanField("有効", default=True)

    class Meta:
        verbose_name = "職員"
        verbose_name_plural = "職員"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(role__in=StaffRole.values), name="staff_role_known"
            ),
        )

    def __str__(self) -> str:
        return f"{self.user} / {self.organisation.name}"


class GroupOperator(TimeStampedModel):
    """共同利用グループの運用者: sees group-level figures, never applications."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="operated_groups")
    group = models.ForeignKey(SharedGroup, on_delete=models.CASCADE, related_name="operators")

    class Meta:
        verbose_name = "グループ運用者"
        verbose_name_plural = "グループ運用者"
        constraints = (
            models.UniqueConstraint(fields=("user", "group"), name="group_operator_unique"),
        )
