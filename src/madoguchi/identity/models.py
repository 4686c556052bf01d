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
    #: Residents sign up with an address they must prove; until then they cannot log in.
    email_verified_at = models.DateTimeField("メール確認日時", null=True, blank=True)

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


class ResidentProfile(TimeStampedModel):
    """住民の登録情報: used to pre-fill forms only after the resident confirms (ワンスオンリー)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="resident_profile")
    family_name = models.CharField("姓", max_length=64, blank=True)
    given_name = models.CharField("名", max_length=64, blank=True)
    family_name_kana = models.CharField("セイ", max_length=64, blank=True)
    given_name_kana = models.CharField("メイ", max_length=64, blank=True)
    postal_code = models.CharField("郵便番号", max_length=8, blank=True)
    address = models.CharField("住所", max_length=256, blank=True)
    birth_date = models.DateField("生年月日", null=True, blank=True)
    phone = models.CharField("電話番号", max_length=20, blank=True)

    class Meta:
        verbose_name = "住民の登録情報"
        verbose_name_plural = "住民の登録情報"

    def __str__(self) -> str:
        return f"{self.family_name} {self.given_name}".strip() or str(self.user)


class AccessToken(models.Model):
    """API token (resident apps, staff integrations). Only a SHA-256 of the secret is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    #: Set for staff tokens: the token acts for this organisation only.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField("名前", max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "APIトークン"
        verbose_name_plural = "APIトークン"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class StaffTOTP(models.Model):
    """The staff member's second factor (RFC 6238); the secret is encrypted."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp")
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    #: The last accepted time step: a code is never accepted twice.
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "二要素認証"
        verbose_name_plural = "二要素認証"

    def __str__(self) -> str:
        return f"TOTP {self.user_id}"


class RecoveryCode(models.Model):
    """One-time recovery codes for a lost authenticator; only a hash is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=128)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "リカバリーコード"
        verbose_name_plural = "リカバリーコード"

    def __str__(self) -> str:
        return f"recovery {self.user_id}"


class LoginAttempt(models.Model):
    """Every login success and failure, for throttling and for the audit of access."""

    at = models.DateTimeField(db_index=True)
    #: SHA-256 of the lower-cased address typed: throttles per account without storing it.
    account_key = models.CharField(max_length=64)
    address = models.GenericIPAddressField(null=True, blank=True)
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    success = models.BooleanField()
    stage = models.CharField(max_length=16, default="password")
    portal = models.CharField(max_length=16, default="console")

    class Meta:
        verbose_name = "ログイン記録"
        verbose_name_plural = "ログイン記録"
        indexes = (
            models.Index(fields=("account_key", "-at"), name="login_by_account"),
            models.Index(fields=("address", "-at"), name="login_by_address"),
        )

    def __str__(self) -> str:
        return f"{self.at} {'ok' if self.success else 'ng'}"


class IdentityLink(models.Model):
    """A resident account linked to a subject of an OpenID provider (the national login's
    card holder, a gBizID account): a later login with that subject logs this account in.

    One subject belongs to one account, and an account has at most one subject per
    provider (database constraints). Staff and operator accounts are never linked
    (:func:`madoguchi.identity.services.is_resident`, checked by the linking service)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="identity_links")
    #: The provider's registry key (``national``, ``gbizid``).
    provider = models.CharField(max_length=32)
    #: ``oidc:<issuer>#<sub>``.
    subject = models.CharField(max_length=600)
    linked_at = models.DateTimeField()
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "外部IDとの連携"
        verbose_name_plural = "外部IDとの連携"
        constraints = (
            models.UniqueConstraint(fields=("provider", "subject"), name="identity_link_subject"),
            models.UniqueConstraint(fields=("user", "provider"), name="identity_link_user"),
        )

    def __str__(self) -> str:
        return f"{self.provider}:{self.user_id}"
