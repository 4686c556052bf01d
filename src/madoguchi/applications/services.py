"""Submitting applications: stored exactly once, never lost, never doubled."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext

from madoguchi.applications.canonical import canonical_bytes
from madoguchi.applications.constants import DRAFT_LIFETIME, IDEMPOTENCY_KEY_PATTERN
from madoguchi.applications.events import application_arrived
from madoguchi.applications.links import applicant_status_sentence, my_page_url
from madoguchi.applications.models import (
    Application,
    ApplicationRevision,
    ApplicationSignature,
    Attachment,
    Draft,
)
from madoguchi.audit.services import audit_record
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.testers import TEST_SUBJECT_MARK, procedure_tester_of
from madoguchi.core.metrics import SUBMISSIONS
from madoguchi.core.text import search_key
from madoguchi.core.time import to_tokyo
from madoguchi.forms.answers import DROP, Answer, answers_map, holds_specific, walk
from madoguchi.forms.area import organisation_area
from madoguchi.forms.base import FieldSpec, FormSpec
from madoguchi.forms.constants import Privacy
from madoguchi.forms.engine import validate
from madoguchi.forms.identity import Mismatch, attribute_mismatches
from madoguchi.forms.sealed import Sealed, must_seal, seal
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import (
    Shortfall,
    VerifiedIdentity,
    assurance_shortfall,
    with_signature,
)
from madoguchi.identity.models import User
from madoguchi.identity.signatures.base import (
    SignatureProblem,
    SignatureRefused,
    SignatureVerification,
)
from madoguchi.identity.signatures.services import signature_verify
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.tenants.models import Organisation

_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


class SubmissionError(ValueError):
    """The submission was refused; nothing was stored. The message is Japanese."""


class ValidationFailed(SubmissionError):
    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("回答に誤りがあります。")


class ProcedureClosed(SubmissionError):
    pass


class InvalidIdempotencyKey(SubmissionError):
    pass


class IdempotencyConflict(SubmissionError):
    """The same key was used for a different submission."""


class StaleFormVersion(SubmissionError):
    """The answers were made for a form version that is no longer the procedure's."""


class AssuranceInsufficient(SubmissionError):
    """The identity at hand does not meet the procedure's levels; ``shortfall`` says what is
    missing and how to get it."""

    def __init__(self, shortfall: Shortfall) -> None:
        self.shortfall = shortfall
        super().__init__(shortfall.message)


class SignatureInvalid(SubmissionError):
    """The signature sent with the application was refused; ``code`` says why."""

    def __init__(self, refused: SignatureRefused) -> None:
        self.code: SignatureProblem = refused.code
        super().__init__(refused.message)


#: A signature larger than this is not a JPKI signature (a few KiB with the certificate).
MAX_SIGNATURE_BYTES = 64 * 1024


@dataclass(frozen=True)
class SubmitResult:
    application: Application
    created: bool


def new_idempotency_key() -> str:
    """A key to render into a form: one submission, however often it is sent."""
    return secrets.token_urlsafe(24)


def canonical_digest(answers: Mapping[str, Any]) -> str:
    text = json.dumps(answers, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def protect_answers(spec: FormSpec, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Encrypt 特定個人情報 and bank accounts, keeping a masked form for display without
    decryption."""

    def protect(answer: Answer) -> Any:
        value = answer.value
        if must_seal(answer.field) and value not in (None, "") and not isinstance(value, Sealed):
            return seal(answer.field, value)
        return value

    return answers_map(spec, answers, protect)


def specific_answers(spec: FormSpec, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers that hold 特定個人情報: whole fields, or whole groups with such a child."""
    return {
        a.path: answers[a.path]
        for a in walk(spec, answers, into_groups=False)
        if holds_specific(a.field)
    }


def _without_specific(spec: FormSpec, answers: Mapping[str, Any]) -> dict[str, Any]:
    return answers_map(
        spec, answers, lambda a: DROP if a.field.privacy == Privacy.SPECIFIC else a.value
    )


def _attachment_slots(
    spec: FormSpec, answers: Mapping[str, Any]
) -> Iterator[tuple[str, FieldSpec, list[dict[str, Any]]]]:
    """(answer path, field, items) for every attachment answer, groups included."""
    for a in walk(spec, answers):
        if a.field.type == "attachment" and isinstance(a.value, list):
            yield a.path, a.field, a.value


def claim_attachments(
    spec: FormSpec,
    answers: dict[str, Any],
    *,
    procedure: Procedure,
    owner: User | None = None,
    guest_key: str = "",
    application: Application | None = None,
    revision: int | None = None,
) -> list[Attachment]:
    """Check that every file the answers refer to was uploaded by this applicant for this
    procedure, and make the answers describe the stored file (name, type and size as
    checked on upload, not as the client claims).

    With ``application``, the files are also claimed for it (inside the caller's
    transaction); a file already claimed by another application is refused.
    Raises :class:`ValidationFailed` keyed by the answer's path.
    """
    procedure_id = procedure.pk
    owner_id = owner.pk if owner is not None else None
    errors: dict[str, str] = {}
    rows: list[Attachment] = []
    for path, field, items in _attachment_slots(spec, answers):
        for item in items:
            try:
                attachment_id = uuid.UUID(hex=str(item.get("id", "")))
            except ValueError:
                errors[path] = "ファイルが見つかりません。もう一度アップロードしてください。"
                continue
            scope = Attachment.objects.filter(
                pk=attachment_id,
                organisation_id=procedure.organisation_id,
                procedure_id=procedure_id,
                field_key=field.key,
            )
            scope = (
                scope.filter(owner_id=owner_id)
                if owner_id
                else scope.filter(owner__isnull=True, guest_key=guest_key or "-")
            )
            row = scope.first()
            if row is None or (
                row.application_id is not None
                and (application is None or row.application_id != application.pk)
            ):
                errors[path] = "ファイルが見つかりません。もう一度アップロードしてください。"
                continue
            item.update({"id": row.pk.hex, "name": row.name, "kind": row.kind, "size": row.size})
            rows.append(row)
    if errors:
        raise ValidationFailed(errors)
    if application is not None:
        fresh = [row.pk for row in rows if row.application_id is None]
        if fresh:
            claimed = Attachment.objects.filter(
                pk__in=fresh, organisation_id=application.organisation_id, application__isnull=True
            ).update(application=application, revision=revision)
            if claimed != len(set(fresh)):
                raise ValidationFailed(
                    {"": "添付ファイルが別の申請で使われました。もう一度アップロードしてください。"}
                )
    return rows


def applicant_search_name(spec: FormSpec, answers: Mapping[str, Any]) -> str:
    """The applicant's name folded for staff search (kana-insensitive), from the first
    top-level name field: "山田 太郎 ヤマダ タロウ" → "山田太郎ヤマダタロウ"."""
    for a in walk(spec, answers, into_groups=False):
        if a.field.type == "person_name" and isinstance(a.value, dict):
            parts = [str(a.value.get(p, "")) for p in ("family", "given")]
            kana = [str(a.value.get(p, "")) for p in ("family_kana", "given_kana")]
            return search_key(" ".join(parts) + " " + " ".join(kana))[:200]
    return ""


def _receipt_number(organisation: Organisation, now: datetime) -> str:
    # 団体コード-年月日-8桁: readable on the phone, not guessable, unique by constraint.
    return f"{organisation.lg_code}-{to_tokyo(now):%y%m%d}-{secrets.randbelow(10**8):08d}"


def procedure_is_open(procedure: Procedure, now: datetime, *, applicant: object = None) -> bool:
    """Whether ``procedure`` takes applications now: published, its organisation active and
    inside the reception period; or, during its operational test (運用テスト), from
    ``applicant`` when they are one of its named testers (the reception period, usually set
    for the launch, does not apply to the test)."""
    if procedure.status == ProcedureStatus.DRAFT:
        return procedure.organisation.active and (
            procedure_tester_of(procedure=procedure, user=applicant) is not None
        )
    if procedure.status != ProcedureStatus.PUBLISHED or not procedure.organisation.active:
        return False
    if procedure.reception_starts_at and now < procedure.reception_starts_at:
        return False
    return not (procedure.reception_ends_at and now >= procedure.reception_ends_at)


def _prepared(
    procedure: Procedure,
    spec: FormSpec,
    answers: Mapping[str, Any],
    *,
    owner: User | None,
    guest_key: str,
    now: datetime,
) -> dict[str, Any]:
    """The answers validated and their files checked (not yet claimed), as they will be
    stored and signed. Raises :class:`ValidationFailed`."""
    result = validate(
        spec, answers, today=to_tokyo(now).date(), area=organisation_area(procedure.organisation)
    )
    if result.errors:
        raise ValidationFailed(result.errors)
    normalised = result.answers
    claim_attachments(spec, normalised, procedure=procedure, owner=owner, guest_key=guest_key)
    return normalised


def application_canonical(
    *,
    organisation: Organisation,
    procedure: Procedure,
    applicant: User | None,
    answers: Mapping[str, Any],
    now: datetime,
    guest_key: str = "",
) -> bytes:
    """The canonical bytes of these answers (:mod:`madoguchi.applications.canonical`):
    exactly what a signature sent with :func:`application_submit` must cover. Read-only.

    Raises :class:`ValidationFailed` (answers or files), ``Procedure.DoesNotExist`` (another
    organisation's procedure).
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    spec = form_spec(procedure.form_version)
    owner = applicant if applicant is not None and applicant.pk else None
    normalised = _prepared(procedure, spec, answers, owner=owner, guest_key=guest_key, now=now)
    return canonical_bytes(procedure=procedure, answers=normalised)


@dataclass(frozen=True)
class SignatureCheck:
    """A signature that verified over the answers, and where the certificate's 基本4情報
    differ from them (shown to the resident before sending)."""

    verification: SignatureVerification
    mismatches: list[Mismatch]
    content_sha256: str


def _verify_signature(
    organisation: Organisation,
    procedure: Procedure,
    *,
    signature: bytes,
    content: bytes,
    actor: User | None,
    now: datetime,
) -> SignatureVerification:
    """Verify, and record a refusal in the audit log (its own transaction: the submission
    is refused, the record stays)."""
    try:
        if not isinstance(signature, bytes) or not signature:
            raise SignatureRefused(
                SignatureProblem.MALFORMED, "署名ファイルが空です。署名ファイルを選んでください。"
            )
        if len(signature) > MAX_SIGNATURE_BYTES:
            raise SignatureRefused(
                SignatureProblem.MALFORMED,
                "署名ファイルが大きすぎます。マイナンバーカードで作成した署名ファイルを選んでください。",
            )
        return signature_verify(cms=signature, content=content, organisation=organisation, now=now)
    except SignatureRefused as refused:
        with transaction.atomic(durable=True):
            audit_record(
                action="signature.refused",
                now=now,
                organisation=organisation,
                actor=actor,
                actor_label="申請者" if actor is not None else "申請者（アカウントなし）",
                target_type="procedure",
                target_id=procedure.pk,
                detail={
                    "code": str(refused.code),
                    "content_sha256": hashlib.sha256(content).hexdigest(),
                },
            )
        raise SignatureInvalid(refused) from None


def application_signature_check(
    *,
    organisation: Organisation,
    procedure: Procedure,
    applicant: User | None,
    answers: Mapping[str, Any],
    signature: bytes,
    now: datetime,
    guest_key: str = "",
) -> SignatureCheck:
    """Check a signature over these answers before sending: every check the submission
    makes, and the differences between the certificate's 基本4情報 and the answers. Stores
    nothing but the audit record of a refusal.

    Raises :class:`ValidationFailed`, :class:`SignatureInvalid`.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    spec = form_spec(procedure.form_version)
    owner = applicant if applicant is not None and applicant.pk else None
    normalised = _prepared(procedure, spec, answers, owner=owner, guest_key=guest_key, now=now)
    content = canonical_bytes(procedure=procedure, answers=normalised)
    verification = _verify_signature(
        organisation, procedure, signature=signature, content=content, actor=owner, now=now
    )
    return SignatureCheck(
        verification=verification,
        mismatches=attribute_mismatches(spec, normalised, verification.attributes),
        content_sha256=hashlib.sha256(content).hexdigest(),
    )


def application_submit(
    *,
    organisation: Organisation,
    procedure: Procedure,
    applicant: User | None,
    answers: Mapping[str, Any],
    idempotency_key: str,
    now: datetime,
    form_version_id: int | None = None,
    contact_email: str = "",
    guest_key: str = "",
    identity: VerifiedIdentity | None = None,
    signature: bytes | None = None,
    signature_via: str = "upload",
    language: str = "ja",
) -> SubmitResult:
    """Store a validated application exactly once and record its arrival (到達).

    ``language`` (one of ``settings.LANGUAGES``, else Japanese) is the language the applicant
    read while applying; the receipt mail and later notices about the application use it.

    Replaying the same idempotency key returns the stored application unchanged (created
    False), even when two copies race; the same key with other answers, valid or not,
    raises :class:`IdempotencyConflict`. Raises :class:`ValidationFailed` (answers),
    :class:`ProcedureClosed` (not published or outside the reception period; a 準備中
    procedure under operational test takes applications from its named testers only, and
    stores them with ``is_test`` — never counted, exported or sent by webhook, and purged
    when the procedure is published),
    :class:`StaleFormVersion`, :class:`InvalidIdempotencyKey`, :class:`SignatureInvalid`
    (the signature failed a check; the refusal is audited), :class:`AssuranceInsufficient`
    (``identity`` — what the caller's login proved, :func:`identity_current` — together
    with a verified ``signature`` over the canonical bytes does not meet the procedure's
    ``ial``/``aal``/``signature_required``; the one place this rule is applied), and
    ``DuplicateApplication`` (the procedure's duplicate rule, keyed on the verified identity
    where there is one: see :mod:`madoguchi.applications.duplicates`; recorded in the audit
    log).

    In one transaction: the frozen answers (特定個人情報 encrypted) and their SHA-256, the
    levels met and how (with any difference between verified attributes and the answers),
    the signature with its certificate and verification, the receipt number and arrival
    time, the first revision, an audit event, the online channel count (via
    ``application_arrived``), an e-mail in the outbox, and the draft's deletion.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise InvalidIdempotencyKey(
            "送信の識別子が正しくありません。画面を開き直してから送信してください。"
        )
    applicant_id = applicant.pk if applicant is not None else None
    # An account holder's receipt goes to the account's own (verified) address, never to one
    # named in the request: otherwise any account could mail any address, unlimited.
    email = applicant.email if applicant is not None and applicant_id else contact_email
    if not applicant_id and not email:
        raise SubmissionError("連絡先のメールアドレスが必要です。")
    scope = f"user:{applicant_id}" if applicant_id else f"guest:{email.lower()}"

    spec = form_spec(procedure.form_version)
    # Insert first, look up only on conflict: a replay is rare, so the key is looked up when
    # the insert meets the unique constraint (below), or when a check refuses the request
    # (the procedure may have closed since, the answers may no longer validate: a replay is
    # answered with its receipt all the same). A signed request is the exception: checking a
    # signature costs far more than a look-up, and a failed check is audited, so its replay
    # is found first, as before.
    if signature is not None and (existing := _earlier(scope, idempotency_key)) is not None:
        return _replay(existing, procedure, spec, answers, now)
    try:
        if form_version_id is not None and form_version_id != procedure.form_version_id:
            raise StaleFormVersion(
                "申請様式が更新されました。内容を確認してから、もう一度送信してください。"
            )
        if not procedure_is_open(procedure, now, applicant=applicant):
            raise ProcedureClosed("この手続は現在受け付けていません。")
        # During the operational test only named testers get this far: theirs is a test.
        is_test = procedure.status == ProcedureStatus.DRAFT
        owner = applicant if applicant_id else None
        normalised = _prepared(procedure, spec, answers, owner=owner, guest_key=guest_key, now=now)
        content = canonical_bytes(procedure=procedure, answers=normalised)
        verification = (
            _verify_signature(
                organisation, procedure, signature=signature, content=content, actor=owner, now=now
            )
            if signature is not None
            else None
        )
        met = with_signature(identity, verification.identity()) if verification else identity
        shortfall = assurance_shortfall(
            ial=procedure.ial,
            aal=procedure.aal,
            signature_required=procedure.signature_required,
            identity=met,
            signed=verification is not None,
        )
        if shortfall is not None:
            raise AssuranceInsufficient(shortfall)
        mismatches = (
            attribute_mismatches(spec, normalised, met.attributes)
            if met is not None and met.attributes is not None
            else []
        )
        record: dict[str, Any] = met.to_json() if met is not None else {}
        if mismatches:
            record["mismatches"] = [m.__dict__ for m in mismatches]
        digest = canonical_digest(normalised)
        stored = protect_answers(spec, normalised)
    except Exception:
        if (existing := _earlier(scope, idempotency_key)) is not None:
            return _replay(existing, procedure, spec, answers, now)
        raise
    from madoguchi.applications import duplicates  # imports this module

    # A receipt number is random: in the unlikely event it is taken, the unique constraint
    # refuses the insert and the whole transaction is tried again with a new number.
    for _attempt in range(3):
        try:
            with transaction.atomic(durable=True):
                if is_test and not _test_still_running(procedure):
                    raise ProcedureClosed("この手続は現在受け付けていません。")
                application = _insert(
                    organisation,
                    procedure,
                    applicant=owner,
                    email=email,
                    scope=scope,
                    key=idempotency_key,
                    stored=stored,
                    digest=digest,
                    now=now,
                    search_name=applicant_search_name(spec, normalised),
                    levels=(met.ial, met.aal) if met is not None else (1, 1),
                    identity=record,
                    language=language,
                    is_test=is_test,
                )
                if verification is not None and signature is not None:
                    _keep_signature(
                        application,
                        signature=signature,
                        content=content,
                        verification=verification,
                        via=signature_via,
                        mismatches=mismatches,
                    )
                duplicates.claim_uniqueness(
                    application=application,
                    procedure=procedure,
                    spec=spec,
                    answers=normalised,
                    identity=met,
                    refuse=True,
                )
                claim_attachments(
                    spec,
                    normalised,
                    procedure=procedure,
                    owner=owner,
                    guest_key=guest_key,
                    application=application,
                    revision=1,
                )
                if applicant_id:
                    Draft.objects.filter(applicant_id=applicant_id, procedure=procedure).delete()
        except duplicates.DuplicateApplication as refused:
            duplicates.duplicate_refusal_record(refused, applicant=applicant, now=now)
            raise
        except IntegrityError:
            # The same submission was stored before (a replay), or another copy of it
            # committed first: answer with its receipt. Otherwise the receipt number was taken.
            existing = _earlier(scope, idempotency_key)
            if existing is None:
                continue
            return _replay(existing, procedure, spec, answers, now)
        if verification is None:
            # Known without asking: a new unsigned application has no signature (its
            # response shows none), as if prefetched.
            application._prefetched_objects_cache = {  # type: ignore[attr-defined]
                "signatures": ApplicationSignature.objects.none()
            }
        return SubmitResult(application, True)
    raise SubmissionError("受付番号を発行できませんでした。もう一度送信してください。")


def _earlier(scope: str, key: str) -> Application | None:
    """The application stored before under this idempotency key, if any."""
    return Application.objects.filter(idempotency_scope=scope, idempotency_key=key).first()


def _test_still_running(procedure: Procedure) -> bool:
    """Lock the procedure under test (test submissions only, never a real one): publishing
    takes the same lock to purge, so no test application can arrive after its purge."""
    return (
        Procedure.objects.select_for_update()
        .filter(pk=procedure.pk, status=ProcedureStatus.DRAFT, test_started_at__isnull=False)
        .exists()
    )


def _keep_signature(
    application: Application,
    *,
    signature: bytes,
    content: bytes,
    verification: SignatureVerification,
    via: str,
    mismatches: list[Mismatch],
) -> ApplicationSignature:
    return ApplicationSignature.objects.create(
        organisation_id=application.organisation_id,
        application=application,
        revision=application.revision,
        cms=signature,
        certificate=verification.certificate_der,
        content_sha256=hashlib.sha256(content).hexdigest(),
        subject=verification.subject[:80],
        signer_name=verification.attributes.name[:200],
        issuer=verification.issuer[:400],
        serial=verification.serial[:80],
        not_after=verification.not_after,
        signed_at=verification.signed_at,
        revocation=verification.revocation[:200],
        verified_at=verification.checked_at,
        via=via[:32],
        attributes=verification.attributes.to_json(),
        mismatches=[m.__dict__ for m in mismatches],
    )


def _insert(
    organisation: Organisation,
    procedure: Procedure,
    *,
    applicant: User | None,
    email: str,
    scope: str,
    key: str,
    stored: dict[str, Any],
    digest: str,
    now: datetime,
    search_name: str,
    levels: tuple[int, int] = (1, 1),
    identity: dict[str, Any] | None = None,
    channel: str = "online",
    arrived_at: datetime | None = None,
    recorded_by: User | None = None,
    language: str = "ja",
    is_test: bool = False,
) -> Application:
    """The rows of one arrival, inside the caller's transaction: the application with its
    receipt number, its first revision, the audit event, the arrival event (channel counts,
    webhooks) and the receipt mail in the outbox. ``application_submit`` calls it after
    every check; the benchmark's insert-only baseline calls it with none (applications/bench.py),
    so the baseline can never drift from what a submission writes.

    Counter and mail registrations (``applications/received.py``) pass their ``channel``,
    the ``arrived_at`` of the day received (``due_at`` counts from it) and the staff member
    who ``recorded_by`` (the audit event's actor); online submissions leave the defaults."""
    applicant_id = applicant.pk if applicant is not None else None
    arrived = arrived_at or now
    application = Application.objects.create(
        organisation=organisation,
        procedure=procedure,
        form_version=procedure.form_version,
        applicant_id=applicant_id,
        contact_email=email,
        language=language if language in dict(settings.LANGUAGES) else "ja",
        receipt_number=_receipt_number(organisation, now),
        idempotency_scope=scope,
        idempotency_key=key,
        arrived_at=arrived,
        channel=channel,
        answers=stored,
        answers_digest=digest,
        due_at=arrived + timedelta(days=procedure.processing_days)
        if procedure.processing_days
        else None,
        search_name=search_name,
        ial=levels[0],
        aal=levels[1],
        identity=identity or {},
        is_test=is_test,
    )
    ApplicationRevision.objects.create(
        organisation=organisation,
        application=application,
        revision=1,
        answers=stored,
        answers_digest=digest,
        created_at=now,
    )
    audit_record(
        action="application.submitted",
        now=now,
        organisation=organisation,
        actor=recorded_by or (applicant if applicant_id else None),
        actor_label="職員（窓口・郵送の受付）"
        if recorded_by is not None
        else "申請者"
        if applicant_id
        else "申請者（アカウントなし）",
        target_type="application",
        target_id=application.pk,
        detail={
            "procedure": procedure.pk,
            "form_version": procedure.form_version_id,
            "digest": digest,
            "ial": levels[0],
            "aal": levels[1],
            "methods": list((identity or {}).get("methods", [])),
            **({"channel": channel} if channel != "online" else {}),
            **({"test": True} if is_test else {}),
        },
    )
    application_arrived.send(
        sender=Application,
        organisation_id=organisation.pk,
        procedure_id=procedure.pk,
        application_id=application.pk,
        arrived_at=arrived,
        channel=channel,
        receipt_number=application.receipt_number,
        lg_code=organisation.lg_code,
        is_test=is_test,
        organisation_version=organisation.updated_at,
    )
    if not is_test:  # /metrics: counted once the arrival is committed, by 団体コード and channel
        transaction.on_commit(SUBMISSIONS.labels(organisation.lg_code, channel).inc)
    if email:
        with translation.override(application.language or "ja"):
            subject = gettext("申請を受け付けました（受付番号 %(receipt)s）") % {
                "receipt": application.receipt_number
            }
            body = _receipt_mail(application, organisation, procedure)
        outbox_enqueue_email(
            to=email,
            subject=f"{TEST_SUBJECT_MARK if is_test else ''}【{organisation.name}】{subject}",
            body=body,
            now=now,
            organisation=organisation,
        )
    return application


def _replay(
    existing: Application,
    procedure: Procedure,
    spec: FormSpec,
    answers: Mapping[str, Any],
    now: datetime,
) -> SubmitResult:
    if existing.procedure_id != procedure.pk:
        raise IdempotencyConflict(
            "この送信の識別子は別の申請に使われています。画面を開き直してください。"
        )
    # The stored answers were valid; answers that are not (today) cannot be the same
    # request, so they are refused exactly like different valid answers, never answered
    # with the old receipt as if they had been accepted.
    result = validate(
        spec, answers, today=to_tokyo(now).date(), area=organisation_area(procedure.organisation)
    )
    if result.errors or canonical_digest(result.answers) != existing.answers_digest:
        raise IdempotencyConflict(
            "同じ送信の識別子で、内容の違う申請が送られました。画面を開き直してください。"
        )
    return SubmitResult(existing, False)


def _receipt_mail(
    application: Application, organisation: Organisation, procedure: Procedure
) -> str:
    # In the language the applicant read while applying (the caller overrides it).
    arrived = to_tokyo(application.arrived_at)
    test = (
        gettext(
            "これは運用テスト（公開前の試験）の申請です。正式な申請としては扱われず、"
            "手続の公開時に削除されます。"
        )
        + "\n\n"
        if application.is_test
        else ""
    )
    return test + (
        gettext(
            "%(organisation)sへの申請を受け付けました。\n\n"
            "手続: %(procedure)s\n"
            "受付番号: %(receipt)s\n"
            "到達日時: %(arrived)s\n\n"
        )
        % {
            "organisation": organisation.name,
            "procedure": procedure.name,
            "receipt": application.receipt_number,
            "arrived": f"{arrived:%Y-%m-%d %H:%M:%S} (JST)",
        }
        + f"{applicant_status_sentence(application)}\n"
        + gettext("このメールに個人番号などの内容は含めていません。")
        + "\n"
        + gettext("心当たりのない場合は、このメールを破棄してください。")
        + "\n"
    )


def draft_save(
    *,
    organisation: Organisation,
    procedure: Procedure,
    applicant: User,
    answers: Mapping[str, Any],
    step: str,
    now: datetime,
) -> Draft:
    """Save (or update) the resident's draft for this procedure; it expires after 30 days.

    特定個人情報 (My Number) is never kept in a draft: it is asked again before sending, so
    an unsent draft cannot leak it.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    answers = _without_specific(form_spec(procedure.form_version), answers)
    draft, _ = Draft.objects.update_or_create(
        applicant=applicant,
        procedure=procedure,
        defaults={
            "organisation": organisation,
            "form_version": procedure.form_version,
            "answers": dict(answers),
            "step": step[:64],
            "expires_at": now + DRAFT_LIFETIME,
            "expiry_notified_at": None,
        },
    )
    return draft


def draft_delete(*, applicant: User, procedure: Procedure) -> int:
    """Delete the resident's draft for this procedure. Returns how many (0 or 1).

    Files uploaded for it stay until the expiry purge removes unclaimed files (row and
    bytes together), so no file is left on disk without its row.
    """
    deleted, _ = Draft.objects.filter(applicant=applicant, procedure=procedure).delete()
    return min(deleted, 1)


#: How long before a draft's deletion its owner is told (once).
DRAFT_EXPIRY_NOTICE = timedelta(days=3)


@dataclass(frozen=True)
class DraftExpiryReport:
    notified: int
    deleted: int


def drafts_expire(*, now: datetime, limit: int = 500) -> DraftExpiryReport:
    """Tell residents, once, that a draft will be deleted in three days, and delete expired
    drafts. Safe to run from several workers: each notice is claimed by a conditional update
    before its mail is queued, in one transaction."""
    notified = 0
    due = (
        Draft.objects.filter(
            expires_at__lte=now + DRAFT_EXPIRY_NOTICE,
            expires_at__gt=now,
            expiry_notified_at__isnull=True,
        )
        .select_related("procedure", "organisation", "applicant")
        .order_by("expires_at")[:limit]
    )
    for draft in due:
        with transaction.atomic(durable=True):
            claimed = Draft.objects.filter(pk=draft.pk, expiry_notified_at__isnull=True).update(
                expiry_notified_at=now
            )
            if not claimed:
                continue
            expires = to_tokyo(draft.expires_at)
            outbox_enqueue_email(
                to=draft.applicant.email,
                subject=f"{TEST_SUBJECT_MARK if draft.procedure.status == ProcedureStatus.DRAFT else ''}"
                f"【{draft.organisation.name}】下書きの保存期限が近づいています",
                body=(
                    f"「{draft.procedure.name}」の下書きは、"
                    f"{expires:%Y年%m月%d日 %H時%M分}に削除されます。\n"
                    "申請する場合は、それまでにマイページから続きを入力して送信してください。\n"
                    f"{my_page_url()}\n"
                    "このメールには入力した内容を含めていません。\n"
                ),
                now=now,
                organisation=draft.organisation,
            )
            notified += 1
    deleted, _ = Draft.objects.filter(
        pk__in=list(Draft.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[:limit])
    ).delete()
    return DraftExpiryReport(notified=notified, deleted=deleted)
