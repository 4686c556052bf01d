"""What a signature check answers, for everyone who asks (submission, portal preview, API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models

from madoguchi.identity.assurance import IdentityMethod, VerifiedAttributes, VerifiedIdentity


class SignatureProblem(models.TextChoices):
    """Why a signature was refused. The codes are stable (API, audit log)."""

    MALFORMED = "malformed", "署名データの形式が正しくありません"
    SIGNATURE_MISMATCH = "signature_mismatch", "署名が申請内容と一致しません"
    UNTRUSTED = "untrusted", "信頼できる認証局の証明書ではありません"
    EXPIRED = "expired", "証明書の有効期限が切れています"
    NOT_YET_VALID = "not_yet_valid", "証明書の有効期間がまだ始まっていません"
    REVOKED = "revoked", "証明書が失効しています"
    WRONG_USAGE = "wrong_usage", "署名用の証明書ではありません"
    WRONG_POLICY = "wrong_policy", "署名用電子証明書のポリシーではありません"
    REVOCATION_UNAVAILABLE = "revocation_unavailable", "失効の確認ができません"


class SignatureRefused(ValueError):
    """The signature was not accepted. ``message`` is a Japanese sentence saying what to do."""

    def __init__(self, code: SignatureProblem, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class SignatureVerification:
    """A signature that passed every check: over the content, path to a trust anchor,
    validity at signing time and now, key usage and policy, revocation."""

    #: The signer's certificate (DER) and the chain up to the anchor, anchor excluded.
    certificate_der: bytes
    chain_der: tuple[bytes, ...]
    attributes: VerifiedAttributes
    #: ``jpki:<sha256 of the certificate DER, hex>``.
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    #: The CMS signingTime attribute where there is one.
    signed_at: datetime | None
    #: How revocation was checked, e.g. ``crl:kamakura#12``, ``api:verify.example.jp``.
    revocation: str
    checked_at: datetime

    def identity(self) -> VerifiedIdentity:
        """A signature with the card (card + PIN) proves level 3 for both."""
        return VerifiedIdentity(
            ial=3,
            aal=3,
            methods=(IdentityMethod.JPKI_SIGNATURE.value,),
            subject=self.subject,
            attributes=self.attributes,
            verified_at=self.checked_at.isoformat(),
        )
