"""Assurance levels: who the resident is proven to be, and how strongly they logged in.

The national guideline for online identity verification in administrative procedures
(行政手続におけるオンラインによる本人確認の手法に関するガイドライン) separates two things:

- 身元確認保証レベル (``ial``): how surely the person behind the account is a real, named
  person.
- 当人認証保証レベル (``aal``): how surely the person sending *now* is that account's owner.

Each procedure asks for both (1–3). What reaches which level on this platform:

======  =====================================================  ==================================
level   身元確認 (ial)                                           当人認証 (aal)
======  =====================================================  ==================================
1       a verified e-mail address (self-declared identity)     a password
2       an identity document checked by staff: seen at the     a passkey (WebAuthn, a device
        counter, or its image checked (``IdentityProofing``);  key unlocked by biometrics or a
        gBizID プライム / メンバー                               PIN); gBizID プライム / メンバー
3       the My Number card: a JPKI signing certificate on the  the My Number card: a JPKI
        application, or login with the card through the       signature (card + PIN) or login
        national authentication app (デジタル認証アプリ)         through the national app
======  =====================================================  ==================================

A procedure with ``signature_required`` also needs a verified JPKI signature over the
application's canonical bytes, whatever the session's levels (the signature is what the law
asks for in place of 記名押印).

A resident's *session* carries a :class:`VerifiedIdentity` (stored by the login that reached
it: passkey, national login); the *account* carries recorded identity proofing; a signature
carries its own. :func:`identity_current` combines the first two, the submission service adds
the third, and :func:`assurance_shortfall` is the one place that decides whether a procedure
may be submitted, and says in plain Japanese what is missing and how to get it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

    from madoguchi.identity.models import User


class IdentityMethod(models.TextChoices):
    """How a level was reached (shown to staff beside the level, stored with applications)."""

    EMAIL = "email", "メールアドレスの確認"
    PASSWORD = "password", "パスワード"
    PASSKEY = "passkey", "パスキー"
    COUNTER_PROOFING = "counter_proofing", "窓口で本人確認書類を確認"
    IMAGE_PROOFING = "image_proofing", "本人確認書類の画像を確認"
    JPKI_SIGNATURE = "jpki_signature", "マイナンバーカードによる電子署名"
    NATIONAL_LOGIN = "national_login", "デジタル認証アプリ（マイナンバーカード）"
    GBIZID = "gbizid", "gBizID"
    STAFF_COUNTER = "staff_counter", "職員による受付（窓口・郵送）"


#: Where the levels live in the session, and for which account they were reached.
SESSION_KEY = "_madoguchi_identity"

LEVEL_NAMES = {1: "レベル1", 2: "レベル2", 3: "レベル3"}


@dataclass(frozen=True)
class VerifiedAttributes:
    """基本4情報 (and, for businesses, the corporate number) as a trusted source stated them.

    ``name`` and ``address`` are single strings as the source writes them (the card writes
    "山田　太郎" and "神奈川県鎌倉市御成町１８番１０号"); ``birth_date`` is ISO (YYYY-MM-DD);
    ``sex`` is the JPKI code ("1" 男, "2" 女, "3" その他/未設定) or empty. The substitutes are
    the card's 代替文字 versions of name and address where those hold characters outside its
    character set.
    """

    name: str = ""
    name_kana: str = ""
    address: str = ""
    birth_date: str = ""
    sex: str = ""
    name_substitute: str = ""
    address_substitute: str = ""
    corporate_number: str = ""
    corporate_name: str = ""
    #: The :class:`IdentityMethod` value of the source that stated them.
    source: str = ""

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    @classmethod
    def from_json(cls, data: object) -> VerifiedAttributes | None:
        if not isinstance(data, Mapping):
            return None
        known = cls.__dataclass_fields__
        return cls(**{k: str(v) for k, v in data.items() if k in known and isinstance(v, str)})

    def is_empty(self) -> bool:
        return not any(v for k, v in self.__dict__.items() if k != "source")


@dataclass(frozen=True)
class VerifiedIdentity:
    """What is proven about the person acting now: levels, how, and the verified attributes."""

    ial: int = 1
    aal: int = 1
    #: :class:`IdentityMethod` values, in the order they were reached.
    methods: tuple[str, ...] = ()
    #: A stable identifier from the source: ``oidc:<issuer>#<sub>``, ``jpki:<cert sha256>``,
    #: ``gbizid:<sub>``; empty when none (a password login).
    subject: str = ""
    attributes: VerifiedAttributes | None = None
    #: ISO instant of the strongest verification.
    verified_at: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("ial", "aal"):
            level = getattr(self, name)
            if not isinstance(level, int) or not 1 <= level <= 3:
                raise ValueError(f"{name} must be 1–3, got {level!r}")

    def combine(self, other: VerifiedIdentity | None) -> VerifiedIdentity:
        """The stronger of both levels, the methods of both; attributes and subject from the
        stronger identity proofing (``other`` on a tie)."""
        if other is None:
            return self
        stronger = other if other.ial >= self.ial else self
        methods = tuple(dict.fromkeys((*self.methods, *other.methods)))
        return VerifiedIdentity(
            ial=max(self.ial, other.ial),
            aal=max(self.aal, other.aal),
            methods=methods,
            subject=stronger.subject or self.subject or other.subject,
            attributes=stronger.attributes or self.attributes or other.attributes,
            verified_at=max(self.verified_at, other.verified_at),
            extra={**self.extra, **other.extra},
        )

    def method_labels(self) -> list[str]:
        labels = []
        for method in self.methods:
            try:
                labels.append(str(IdentityMethod(method).label))
            except ValueError:
                labels.append(method)
        return labels

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ial": self.ial, "aal": self.aal, "methods": list(self.methods)}
        if self.subject:
            data["subject"] = self.subject
        if self.attributes is not None and not self.attributes.is_empty():
            data["attributes"] = self.attributes.to_json()
        if self.verified_at:
            data["verified_at"] = self.verified_at
        if self.extra:
            data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_json(cls, data: object) -> VerifiedIdentity | None:
        """Read back what :meth:`to_json` wrote; anything else (tampered, old) gives None."""
        if not isinstance(data, Mapping):
            return None
        try:
            methods = data.get("methods") or []
            extra = data.get("extra") or {}
            return cls(
                ial=int(data["ial"]),
                aal=int(data["aal"]),
                methods=tuple(str(m) for m in methods),
                subject=str(data.get("subject", "")),
                attributes=VerifiedAttributes.from_json(data.get("attributes")),
                verified_at=str(data.get("verified_at", "")),
                extra={str(k): str(v) for k, v in dict(extra).items()},
            )
        except (KeyError, TypeError, ValueError):
            return None


#: What an account that can log in to the portal has at least: a verified address, a password.
BASELINE = VerifiedIdentity(
    ial=1, aal=1, methods=(IdentityMethod.EMAIL.value, IdentityMethod.PASSWORD.value)
)


def identity_session_store(
    session: SessionBase, identity: VerifiedIdentity, *, user_id: int | None
) -> None:
    """Remember in the session what the login just proved, for this account only.

    A later login as another account (or a logout, which flushes the session) drops it:
    :func:`identity_session_load` answers None for any other account.
    """
    session[SESSION_KEY] = {"user": user_id, "identity": identity.to_json()}


def identity_session_load(session: SessionBase, *, user_id: int | None) -> VerifiedIdentity | None:
    stored = session.get(SESSION_KEY)
    if not isinstance(stored, Mapping) or stored.get("user") != user_id:
        return None
    return VerifiedIdentity.from_json(stored.get("identity"))


def identity_session_clear(session: SessionBase) -> None:
    session.pop(SESSION_KEY, None)


def identity_current(*, user: User | None, session: SessionBase | None) -> VerifiedIdentity | None:
    """What is proven about the person acting now, or None for a visitor without an account.

    The account's baseline (a verified address and a password: level 1), raised by identity
    proofing recorded for the account (:func:`madoguchi.identity.proofing.account_proofing`)
    and by what this session's login proved (a passkey, the national login).
    """
    from madoguchi.identity.proofing import account_proofing

    if user is None or not user.is_authenticated or user.email_verified_at is None:
        return None
    identity = BASELINE.combine(account_proofing(user))
    if session is not None:
        identity = identity.combine(identity_session_load(session, user_id=user.pk))
    return identity


@dataclass(frozen=True)
class Shortfall:
    """Why a procedure cannot be submitted with the identity at hand, and what to do."""

    #: One plain sentence: what is missing.
    message: str
    #: What the resident can do, each a sentence (the portal links them where it can).
    remedies: tuple[str, ...]
    needs_signature: bool
    needs_ial: int
    needs_aal: int


def assurance_shortfall(
    *,
    ial: int,
    aal: int,
    signature_required: bool,
    identity: VerifiedIdentity | None,
    signed: bool,
) -> Shortfall | None:
    """None when ``identity`` (with ``signed``: a verified JPKI signature over the
    application) meets a procedure's ``ial``/``aal``/``signature_required``; otherwise what is
    missing, in Japanese. The one rule for portal, API and counter alike."""
    have_ial = identity.ial if identity is not None else 1
    have_aal = identity.aal if identity is not None else 1
    if signed:  # card + signing PIN: level 3 for both (as :func:`with_signature` records it)
        have_ial = have_aal = 3
    needs_signature = signature_required and not signed
    short_ial = have_ial < ial
    short_aal = have_aal < aal
    if not (needs_signature or short_ial or short_aal):
        return None
    remedies: list[str] = []
    if needs_signature or (short_ial and ial >= 3) or (short_aal and aal >= 3):
        remedies.append(
            "マイナンバーカードの署名用電子証明書で申請書に電子署名してください"
            "（カードと6〜16桁の署名用パスワードが必要です）。"
            "スマートフォンのデジタル認証アプリで署名するか、署名ファイルを添付できます。"
        )
        if not needs_signature:
            remedies.append(
                "デジタル認証アプリでマイナンバーカードを使ってログインしても、レベル3になります。"
            )
    else:
        if short_ial:
            remedies.append(
                "お住まいの市区町村の窓口で本人確認書類（マイナンバーカード、運転免許証など）を"
                "提示して本人確認を受けてください。マイページの「本人確認」に手順があります。"
            )
        if short_aal:
            remedies.append(
                "マイページの「パスキー」でこの端末のパスキーを登録し、パスキーでログインしてください。"
            )
        remedies.append("マイナンバーカードでログインまたは署名すると、レベル3になります。")
    parts = []
    if short_ial:
        parts.append(f"身元確認{LEVEL_NAMES[ial]}")
    if short_aal:
        parts.append(f"当人認証{LEVEL_NAMES[aal]}")
    if needs_signature:
        parts.append("マイナンバーカードによる電子署名")
    if identity is None and (short_ial or short_aal):
        message = "この手続は、ログインして本人確認をしてから申請してください（" + "、".join(parts)
        message += "が必要です）。"
    else:
        message = "この手続には" + "と".join(parts) + "が必要です。"
    return Shortfall(
        message=message,
        remedies=tuple(remedies),
        needs_signature=needs_signature,
        needs_ial=ial,
        needs_aal=aal,
    )


def with_signature(identity: VerifiedIdentity | None, signed: VerifiedIdentity) -> VerifiedIdentity:
    """The identity of a submission that carries a verified signature (card + PIN: level 3)."""
    return replace(signed) if identity is None else identity.combine(signed)
