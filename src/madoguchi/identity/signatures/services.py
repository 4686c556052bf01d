"""Checking a JPKI signature: the one service every entry point uses; and the CRL import.

:func:`signature_verify` checks, in this order, and stops at the first failure:

1. form: at most :data:`~.cms.MAX_CMS_BYTES`, DER or PEM, a detached SignedData of one
   RSA/SHA-256 signer whose certificate is inside, at most :data:`~.cms.MAX_CERTIFICATES`
   certificates (``MALFORMED``; every parser exception ends here, never a 500);
2. the signature over the content (``messageDigest`` and the RSA signature, or the RSA
   signature over the content when there are no signed attributes): ``SIGNATURE_MISMATCH``;
3. the path from the certificate to a trust anchor (:mod:`.trust`), validated with
   pyhanko-certvalidator at ``now``, every certificate of the path in its validity period:
   ``UNTRUSTED``, ``EXPIRED``, ``NOT_YET_VALID``; the signer's certificate also at the
   ``signingTime`` when there is one;
4. key usage and the signing policy (:mod:`.profile`): ``WRONG_USAGE``, ``WRONG_POLICY``;
5. revocation (:mod:`.revocation`): ``REVOKED``, ``REVOCATION_UNAVAILABLE`` (fail closed);
6. the 基本4情報 (``MALFORMED`` when the certificate does not carry them).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key
from django.db import transaction
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as pkix

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.sync import off_loop
from madoguchi.identity.models import JpkiCrl, JpkiRevocationMethod, JpkiSettings, User
from madoguchi.identity.signatures import cms as cms_format
from madoguchi.identity.signatures import profile
from madoguchi.identity.signatures.base import (
    SignatureProblem,
    SignatureRefused,
    SignatureVerification,
)
from madoguchi.identity.signatures.revocation import (
    MAX_CRL_BYTES,
    RevocationFailed,
    RevocationQuery,
    crl_check_signed,
    crl_facts,
    revocation_checkers,
    revocation_method,
    test_ca_revocation,
)
from madoguchi.identity.signatures.trust import Anchor, trust_anchors
from madoguchi.tenants.models import Organisation

#: A signingTime this far after ``now`` is a clock error or a lie.
SIGNING_TIME_SKEW = timedelta(minutes=5)

M = SignatureProblem
MESSAGES = {
    M.MALFORMED: "署名ファイルの形式が正しくありません。マイナンバーカードで作った署名ファイル"
    "（.p7s、DER または PEM 形式の CMS）をそのまま送ってください。",
    M.SIGNATURE_MISMATCH: "署名が申請内容と一致しません。申請内容を変えた場合は、いまの申請内容に"
    "もう一度署名してください。",
    M.UNTRUSTED: "この証明書はマイナンバーカードの署名用電子証明書として確認できません。"
    "マイナンバーカードの署名用電子証明書で署名してください。",
    M.EXPIRED: "署名用電子証明書の有効期限が切れています。市区町村の窓口で電子証明書を更新してから、"
    "もう一度署名してください。",
    M.NOT_YET_VALID: "署名用電子証明書の有効期間がまだ始まっていません。端末の日時を確かめて、"
    "もう一度署名してください。",
    M.WRONG_USAGE: "署名用電子証明書ではない証明書で署名されています。マイナンバーカードの"
    "署名用電子証明書（6〜16桁の英数字の暗証番号）で署名してください。",
    M.WRONG_POLICY: "署名用電子証明書のポリシーではありません。マイナンバーカードの署名用電子証明書で"
    "署名してください。",
    M.REVOKED: "この署名用電子証明書は失効しています。市区町村の窓口で電子証明書を更新してから、"
    "もう一度署名してください。",
    M.REVOCATION_UNAVAILABLE: "いま失効の確認ができません。時間をおいてもう一度お試しください。",
}


def _refuse(code: SignatureProblem, message: str | None = None) -> SignatureRefused:
    return SignatureRefused(code, message or MESSAGES[code])


def _run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when the caller already runs an event loop."""
    return off_loop(lambda: asyncio.run(coroutine))


def _check_rsa_signature(
    certificate: asn1_x509.Certificate, signature: bytes, digest: bytes
) -> None:
    try:
        key = load_der_public_key(certificate.public_key.dump())
    except Exception:
        raise _refuse(M.MALFORMED) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise _refuse(M.UNTRUSTED)
    if key.key_size < profile.MIN_RSA_BITS:
        raise _refuse(M.UNTRUSTED)
    try:
        key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    except InvalidSignature:
        raise _refuse(M.SIGNATURE_MISMATCH) from None


def _validate_path(
    parsed: cms_format.ParsedSignature, anchors: tuple[Anchor, ...], now: datetime
) -> tuple[list[asn1_x509.Certificate], Anchor]:
    """The path from the anchor to the signer's certificate (anchor first), and the anchor."""
    if not anchors:
        raise _refuse(
            M.UNTRUSTED,
            "署名を確認するための認証局の証明書が設定されていません。団体の担当者に連絡してください。",
        )
    context = ValidationContext(
        trust_roots=[a.certificate for a in anchors],
        other_certs=list(parsed.others),
        moment=now,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    validator = CertificateValidator(
        parsed.signer, intermediate_certs=list(parsed.others), validation_context=context
    )
    try:
        path = _run(validator.async_validate_path())
    except pkix.ExpiredError:
        raise _refuse(M.EXPIRED) from None
    except pkix.NotYetValidError:
        raise _refuse(M.NOT_YET_VALID) from None
    except pkix.RevokedError:
        raise _refuse(M.REVOKED) from None
    except Exception:
        raise _refuse(M.UNTRUSTED) from None
    certificates = list(path.iter_certs(include_root=True))
    root = certificates[0].dump()
    anchor = next((a for a in anchors if a.certificate.dump() == root), None)
    if anchor is None or len(certificates) < 2:
        raise _refuse(M.UNTRUSTED)
    return certificates, anchor


def signature_verify(
    *, cms: bytes, content: bytes, organisation: Organisation, now: datetime
) -> SignatureVerification:
    """Verify a detached CMS SignedData over ``content`` for ``organisation``.

    Read-only (the test CA's CRL file may be read; nothing is written). Raises
    :class:`~madoguchi.identity.signatures.base.SignatureRefused` with a
    :class:`~madoguchi.identity.signatures.base.SignatureProblem` code and a Japanese message
    saying what to do; never any other exception for any ``cms``.
    """
    if not isinstance(cms, bytes | bytearray) or not cms:
        raise _refuse(
            M.MALFORMED,
            "署名ファイルが空です。マイナンバーカードで作った署名ファイルを送ってください。",
        )
    if len(cms) > cms_format.MAX_CMS_BYTES:
        raise _refuse(
            M.MALFORMED,
            f"署名ファイルが大きすぎます（{cms_format.MAX_CMS_BYTES // 1024} KB まで）。"
            "マイナンバーカードで作った署名ファイルをそのまま送ってください。",
        )
    content_digest = hashlib.sha256(content).digest()
    try:
        parsed = cms_format.parse(bytes(cms), content_digest=content_digest)
        signer = parsed.signer
        # Parse the certificates fully now: a broken extension is MALFORMED, not a crash later.
        for certificate in (signer, *parsed.others):
            certificate.native  # noqa: B018
        issuer_text = x509.load_der_x509_certificate(signer.dump()).issuer.rfc4514_string()
    except Exception:
        raise _refuse(M.MALFORMED) from None

    # 2. The signature over the content.
    if parsed.content_digest != content_digest:
        raise _refuse(M.SIGNATURE_MISMATCH)
    _check_rsa_signature(signer, parsed.signature, parsed.signed_bytes_digest)

    # 3. The path, at now and at the signing time.
    certificates, anchor = _validate_path(parsed, trust_anchors(), now)
    not_before = signer.not_valid_before
    not_after = signer.not_valid_after
    signed_at = parsed.signed_at
    if signed_at is not None:
        signed_at = signed_at.astimezone(UTC)
        if signed_at > now + SIGNING_TIME_SKEW:
            raise _refuse(
                M.NOT_YET_VALID,
                "署名の日時が未来になっています。端末の日時を確かめて、もう一度署名してください。",
            )
        if signed_at < not_before:
            raise _refuse(M.NOT_YET_VALID)
        if signed_at > not_after:
            raise _refuse(M.EXPIRED)

    # 4. Key usage and policy.
    try:
        usage_ok = profile.has_signing_key_usage(signer)
        policy_ok = profile.has_signing_policy(signer)
    except Exception:
        raise _refuse(M.MALFORMED) from None
    if not usage_ok:
        raise _refuse(M.WRONG_USAGE)
    if not policy_ok:
        raise _refuse(M.WRONG_POLICY)

    # 5. Revocation.
    query = RevocationQuery(
        certificate=signer,
        issuer=certificates[-2],
        signature=parsed.signature,
        signed_digest=parsed.signed_bytes_digest,
        organisation=organisation,
        now=now,
    )
    try:
        if anchor.test:
            revocation = test_ca_revocation(query)
        else:
            revocation = revocation_checkers[revocation_method(organisation)](query)
    except RevocationFailed as failure:
        raise _refuse(failure.code, failure.message) from None

    # 6. 基本4情報.
    try:
        attributes = profile.basic_four(signer)
    except Exception:
        raise _refuse(
            M.MALFORMED,
            "署名用電子証明書から氏名・住所・生年月日・性別を読み取れませんでした。"
            "マイナンバーカードの署名用電子証明書で署名してください。",
        ) from None
    certificate_der = signer.dump()
    return SignatureVerification(
        certificate_der=certificate_der,
        chain_der=tuple(c.dump() for c in reversed(certificates[1:-1])),
        attributes=attributes,
        subject=f"jpki:{hashlib.sha256(certificate_der).hexdigest()}",
        issuer=issuer_text[:500],
        serial=format(signer.serial_number, "x"),
        not_before=not_before,
        not_after=not_after,
        signed_at=signed_at,
        revocation=revocation,
        checked_at=now,
    )


def signature_wrap_raw(*, signature: bytes, certificate: bytes) -> bytes:
    """A detached CMS SignedData (DER) without signed attributes, from a raw RSA PKCS#1 v1.5
    signature over SHA-256 of the content and the signer's certificate (DER or PEM), as the
    national authentication app's signing flow returns them. Checks nothing: pass the result
    to :func:`signature_verify`. Raises SignatureRefused (MALFORMED) for a certificate that
    cannot be read or a signature of an impossible size."""
    try:
        der = certificate
        if certificate.lstrip()[:11] == b"-----BEGIN ":
            from asn1crypto import pem

            _kind, _headers, der = pem.unarmor(certificate.strip())
        asn1_x509.Certificate.load(bytes(der), strict=True).native  # noqa: B018
        if not 64 <= len(signature) <= 1024:
            raise ValueError("signature size")
        return cms_format.build(certificate_der=bytes(der), signature=bytes(signature))
    except Exception:
        raise _refuse(M.MALFORMED) from None


# --- CRL import -----------------------------------------------------------------------------


class CrlRefused(ValueError):
    """The CRL file was not stored; ``message`` says why and what to do, in Japanese."""

    def __init__(self, message: str, reason: str) -> None:
        self.message = message
        self.reason = reason
        super().__init__(message)


def _crl_refuse(
    *, organisation: Organisation, actor: User | None, now: datetime, message: str, reason: str
) -> CrlRefused:
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.JPKI_CRL_REFUSED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label="" if actor else "madoguchi jpki crl-import",
            target_type="jpki_crl",
            reason=reason,
        )
    return CrlRefused(message, reason)


def jpki_crl_import(
    *, organisation: Organisation, data: bytes, actor: User | None, now: datetime
) -> JpkiCrl:
    """Store a JPKI CRL (DER or PEM) for ``organisation``, replacing the one of its issuer.

    Guarantees: the CRL parses, was signed by the key of a configured trust anchor (the
    J-LIS signing CA, or outside production the test CA), and ``now`` is before its
    ``nextUpdate``; it is not older (``thisUpdate``) than the stored one. Only then is it stored,
    with an audit event, in one transaction. Raises :class:`CrlRefused` (the refusal is
    audited and nothing stored changes).
    """

    def refuse(message: str, reason: str) -> CrlRefused:
        return _crl_refuse(
            organisation=organisation, actor=actor, now=now, message=message, reason=reason
        )

    if not data:
        raise refuse(
            "ファイルが空です。J-LIS から受け取った失効リスト（CRL）のファイルを選んでください。",
            "empty",
        )
    if len(data) > MAX_CRL_BYTES:
        raise refuse(
            f"ファイルが大きすぎます（{MAX_CRL_BYTES // (1024 * 1024)} MB まで）。", "too_large"
        )
    try:
        der = bytes(data)
        if der.lstrip()[:11] == b"-----BEGIN ":
            from asn1crypto import pem

            kind, _headers, der = pem.unarmor(der.strip())
            if kind != "X509 CRL":
                raise ValueError(kind)
        crl = x509.load_der_x509_crl(der)
        facts = crl_facts(crl)
        list(crl)  # every entry parses
    except Exception:
        raise refuse(
            "失効リスト（CRL）として読み取れません。ファイルが途中で切れていないか、"
            "J-LIS から受け取ったファイルそのものか確かめてください。",
            "malformed",
        ) from None
    issuer = next((a for a in trust_anchors() if crl_check_signed(crl, a.certificate.dump())), None)
    if issuer is None:
        raise refuse(
            "この失効リスト（CRL）は、設定されている認証局の署名が確認できません。"
            "J-LIS の署名用認証局が発行した CRL か確かめてください。",
            "untrusted",
        )
    if facts.next_update <= now:
        raise refuse(
            "この失効リスト（CRL）は次回更新予定日時を過ぎていて古すぎます。最新の CRL を取り込んでください。",
            "stale",
        )
    if facts.this_update > now + timedelta(minutes=5):
        raise refuse("この失効リスト（CRL）の発行日時が未来になっています。", "future")
    with transaction.atomic(durable=True):
        current = (
            JpkiCrl.objects.select_for_update()
            .filter(organisation=organisation, issuer_hash=facts.issuer_hash)
            .first()
        )
        if current is not None and current.this_update > facts.this_update:
            raise CrlRefused(
                "取り込み済みの失効リスト（CRL）より古いファイルです。最新の CRL を取り込んでください。",
                "older",
            )
        stored, _ = JpkiCrl.objects.update_or_create(
            organisation=organisation,
            issuer_hash=facts.issuer_hash,
            defaults={
                "issuer": facts.issuer,
                "crl_number": facts.crl_number,
                "this_update": facts.this_update,
                "next_update": facts.next_update,
                "revoked_count": facts.revoked_count,
                "sha256": hashlib.sha256(der).hexdigest(),
                "der": der,
                "imported_at": now,
                "imported_by": actor,
            },
        )
        audit_record(
            action=AuditAction.JPKI_CRL_IMPORTED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label="" if actor else "madoguchi jpki crl-import",
            target_type="jpki_crl",
            target_id=stored.pk,
            detail={"crl_number": facts.crl_number, "revoked": facts.revoked_count},
        )
    return stored


def jpki_revocation_set(
    *, organisation: Organisation, method: str, actor: User | None, now: datetime
) -> JpkiSettings:
    """Choose how ``organisation`` checks revocation (:class:`JpkiRevocationMethod`); audited.
    Raises ValueError for an unknown method."""
    chosen = JpkiRevocationMethod(method)
    with transaction.atomic(durable=True):
        row, _ = JpkiSettings.objects.update_or_create(
            organisation=organisation, defaults={"revocation": chosen.value, "updated_at": now}
        )
        audit_record(
            action=AuditAction.JPKI_REVOCATION_SET,
            now=now,
            organisation=organisation,
            actor=actor,
            target_type="jpki_settings",
            target_id=row.pk,
            detail={"revocation": chosen.value},
        )
    return row
