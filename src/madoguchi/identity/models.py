"""Accounts: one user table for residents, staff and operators; roles hang off it."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models

from madoguchi.core.models import TimeStampedModel
from madoguchi.identity.constants import NoticeMode, StaffRole
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
    #: 決裁権者: may sign off decisions that others proposed (never their own).
    may_sign_off = models.BooleanField("決裁権限", default=False)
    #: How the member hears of work waiting for them: a mail at once, a daily digest, or none.
    notice_mode = models.CharField(
        "お知らせメール", max_length=16, choices=NoticeMode.choices, default=NoticeMode.IMMEDIATE
    )

    class Meta:
        verbose_name = "職員"
        verbose_name_plural = "職員"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(role__in=StaffRole.values), name="staff_role_known"
            ),
            models.CheckConstraint(
                condition=models.Q(notice_mode__in=NoticeMode.values),
                name="staff_notice_mode_known",
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
    #: Keyed hash of the device id in the signed device cookie the request presented (blank
    #: without one): the browser whose own failures ``identity.throttle``'s limit 1 counts.
    device = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "ログイン記録"
        verbose_name_plural = "ログイン記録"
        indexes = (
            models.Index(fields=("account_key", "-at"), name="login_by_account"),
            models.Index(fields=("address", "-at"), name="login_by_address"),
        )

    def __str__(self) -> str:
        return f"{self.at} {'ok' if self.success else 'ng'}"


class JpkiRevocationMethod(models.TextChoices):
    """How an organisation checks that a My Number card's signing certificate is not revoked."""

    CRL = "crl", "J-LIS の失効リスト（CRL）を団体で取り込む"
    API = "api", "プラットフォーム運用者の検証サービスに問い合わせる"


class JpkiSettings(models.Model):
    """An organisation's choice of revocation check for JPKI signatures (one row or none).

    Without a row: the verification API when the installation has one
    (``MADOGUCHI_JPKI_VERIFY_URL``), else the organisation's imported CRL.
    """

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="jpki_settings"
    )
    revocation = models.CharField(
        "失効確認の方法", max_length=8, choices=JpkiRevocationMethod.choices
    )
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "公的個人認証の設定"
        verbose_name_plural = "公的個人認証の設定"

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.revocation}"


class JpkiCrl(models.Model):
    """The current CRL of one JPKI signing CA, imported by an organisation (one per issuer).

    Stored only after its signature was checked against a trust anchor and while it was fresh;
    a newer import of the same issuer replaces it.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    #: SHA-256 (hex) of the issuer's DER-encoded Name.
    issuer_hash = models.CharField(max_length=64)
    issuer = models.CharField("発行者", max_length=500)
    crl_number = models.CharField("CRL番号", max_length=64, blank=True)
    this_update = models.DateTimeField("発行日時")
    next_update = models.DateTimeField("次回更新予定")
    revoked_count = models.PositiveIntegerField("失効した証明書の数")
    sha256 = models.CharField(max_length=64)
    der = models.BinaryField()
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "失効リスト（CRL）"
        verbose_name_plural = "失効リスト（CRL）"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organisation", "issuer_hash"], name="jpki_crl_one_per_issuer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.issuer} #{self.crl_number}"


class PasskeyCredential(models.Model):
    """A resident's passkey (WebAuthn public-key credential): the device holds the private key
    and unlocks it with biometrics or a PIN; only the public key is kept here."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    #: The credential ID as base64url (no padding), as browsers send it.
    credential_id = models.CharField(max_length=1400, unique=True)
    #: The WebAuthn user handle this credential was created with (random, per account).
    user_handle = models.BinaryField(max_length=64)
    #: COSE_Key bytes of the public key.
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list)
    aaguid = models.CharField(max_length=36, blank=True)
    backed_up = models.BooleanField("同期されるパスキー", default=False)
    name = models.CharField("名前", max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "パスキー"
        verbose_name_plural = "パスキー"

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class IdentityProofing(models.Model):
    """身元確認: staff of ``organisation`` saw the resident's identity documents (at the counter,
    or an image attached to an application) and checked the name, address and birth date.
    A valid (unrevoked, unexpired) record gives the account 身元確認 level 2."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="proofings")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    method = models.CharField("方法", max_length=32)
    #: :class:`~madoguchi.identity.constants.ProofingDocument` values seen.
    documents = models.JSONField("確認した書類", default=list)
    name = models.CharField("氏名", max_length=128)
    address = models.CharField("住所", max_length=256)
    birth_date = models.DateField("生年月日")
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_by_label = models.CharField("確認した職員", max_length=200, blank=True)
    recorded_at = models.DateTimeField("確認日時")
    valid_until = models.DateTimeField("有効期限", null=True, blank=True)
    revoked_at = models.DateTimeField("取消日時", null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: The application whose attached image was checked (``image_proofing``); an id only:
    #: applications sit above identity.
    application_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "身元確認の記録"
        verbose_name_plural = "身元確認の記録"
        indexes = (models.Index(fields=("organisation", "-recorded_at"), name="proofing_by_org"),)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(method__in=("counter_proofing", "image_proofing")),
                name="proofing_method_known",
            ),
        )

    def __str__(self) -> str:
        return f"proofing {self.pk} of {self.user_id}"


class ProofingCode(models.Model):
    """本人確認コード: a short-lived, single-use code a resident shows counter staff so they
    find the account without searching for it. Only its SHA-256 is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "本人確認コード"
        verbose_name_plural = "本人確認コード"

    def __str__(self) -> str:
        return f"code of {self.user_id}"


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
