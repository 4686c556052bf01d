"""Applications received at the counter (窓口) or by post (郵送), and 書かない窓口.

Staff register a paper or spoken application on record with
:func:`application_register_received`. It becomes an :class:`Application` like an online one
(receipt number, first revision, audit event, the arrival event that counts its channel and
queues webhooks), so it enters the same inbox, workflow, exports and channel counts; only
``channel`` says where it came from, and ``identity`` records the identity check staff did.

The answers are entered either with the procedure's whole form (:attr:`ReceivedForm.FULL`:
the same forms engine validates them as online; attachment fields are left out, the papers
stay on paper) or with its key fields (:attr:`ReceivedForm.SHORT`: the applicant's name,
date of birth and address as :func:`madoguchi.forms.identity.applicant_fields` finds them,
plus a free-text summary kept as a staff note).

The date received (受付日; for mail, the day it arrived) is never in the future nor more than
a year back. ``arrived_at`` is the moment of registration when that is the date received
(registered the same day), otherwise 00:00 Japan time of the date received; the receipt
number still carries the day of registration. ``due_at`` (標準処理期間) counts from
``arrived_at``, as online.

Identity (本人確認): staff record which documents they saw (:class:`IdentityDocument`). The
application's levels are ``ial`` 2 when a photo identity document (:data:`PHOTO_ID_DOCUMENTS`)
was seen at the counter, otherwise 1 (a copy in the post is not a face-to-face check), and
``aal`` 1 (nobody logged in). ``identity`` keeps the snapshot
``VerifiedIdentity(ial, aal=1, methods=("staff_counter"[, "counter_proofing"]))`` with, in
``extra``, the documents, the channel, the date received, the form used, and the staff member
(user id and name). A procedure's own ``ial``/``aal`` are not enforced here: the counter check
is the paper procedure's identity check, and staff see the recorded level beside the
procedure's.

書かない窓口: a resident's draft can be handed to the counter. :func:`counter_handoff_issue`
makes a random token (for a QR code) and an 8-character short code, keeps only their SHA-256,
bound to the draft and the procedure's organisation, valid for
:data:`~madoguchi.applications.constants.COUNTER_HANDOFF_LIFETIME`, one live pair per draft.
:func:`counter_handoff_open` lets staff of that organisation open it (anyone else: not found);
registering with it links the application to the resident's account, then deletes the draft
and the handoff in the same transaction. My Number is never in a draft: staff ask for it.
Every open, refusal and use is audited; refused look-ups count against the staff member
(:data:`COUNTER_HANDOFF_MAX_FAILURES` per :data:`COUNTER_HANDOFF_WINDOW`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from madoguchi.applications.attachments import attachment_store
from madoguchi.applications.constants import (
    COUNTER_HANDOFF_LIFETIME,
    COUNTER_HANDOFF_MAX_FAILURES,
    COUNTER_HANDOFF_WINDOW,
    IDEMPOTENCY_KEY_PATTERN,
    PAPER_FORM_FIELD,
    PHOTO_ID_DOCUMENTS,
    Channel,
    IdentityDocument,
    ReceivedForm,
)
from madoguchi.applications.duplicates import claim_uniqueness, rule_holders
from madoguchi.applications.models import (
    Application,
    ApplicationNote,
    Attachment,
    CounterHandoff,
    Draft,
)
from madoguchi.applications.services import (
    IdempotencyConflict,
    InvalidIdempotencyKey,
    ProcedureClosed,
    SubmissionError,
    SubmitResult,
    ValidationFailed,
    _attachment_slots,
    _insert,
    applicant_search_name,
    canonical_digest,
    protect_answers,
)
from madoguchi.applications.versions import (
    SUMMARY_NOTE_PREFIX,
    received_summary_noted,
    staff_display_name,
)
from madoguchi.audit.constants import AuditAction
from madoguchi.audit.selectors import audit_events_count
from madoguchi.audit.services import audit_record
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import TOKYO, to_tokyo
from madoguchi.forms.area import organisation_area
from madoguchi.forms.base import FieldSpec, FormSpec, SectionSpec, StepSpec
from madoguchi.forms.engine import validate
from madoguchi.forms.identity import applicant_fields
from madoguchi.forms.japanese import ParseError, parse_date
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import IdentityMethod, VerifiedIdentity
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.tenants.models import Organisation

MAX_SUMMARY: Final = 2000
#: How far back a date received may lie (a backlog of mail, not a typo of the year).
OLDEST_RECEIVED: Final = timedelta(days=366)
#: The short code's letters: no 0/O, 1/I/L, 2/Z, 5/S, 8/B to misread at the counter.
CODE_ALPHABET: Final = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH: Final = 8
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{20,100}$")
REGISTERING_ROLES: Final = (StaffRole.ADMIN, StaffRole.REVIEWER)


class RegistrationNotAllowed(SubmissionError):
    """The staff member may not register applications (閲覧のみ, inactive)."""


class HandoffRefused(SubmissionError):
    """A handoff code that cannot be used; the message (Japanese) says what to do.

    ``reason``: ``unknown`` (garbage, used or never issued), ``expired``, ``draft_gone``,
    ``other_procedure``, ``throttled``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class HandoffNotFound(HandoffRefused):
    """The code belongs to another organisation's procedure: answer as if it did not exist."""


_UNKNOWN = (
    "このコードは使えません。すでに使われたか、正しくないコードです。"
    "住民の方に、マイページの下書きからコードをもう一度表示してもらってください。"
)
_EXPIRED = (
    "このコードは有効期限（発行から24時間）が切れています。"
    "住民の方に、マイページの下書きからコードをもう一度表示してもらってください。"
)
_DRAFT_GONE = (
    "このコードの下書きは、すでに削除されたか送信されています。"
    "住民の方に申請の状況を確認し、必要なら窓口で新しく受け付けてください。"
)
_THROTTLED = (
    "コードの誤りが続いたため、しばらく呼び出しを止めています。"
    "15分ほど待ってから、もう一度お試しください。"
)


# --- What is entered ------------------------------------------------------------------------


def _without_attachments(fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    kept = []
    for f in fields:
        if f.type == "attachment":
            continue
        if f.fields:
            f = replace(f, fields=_without_attachments(f.fields))
        kept.append(f)
    return tuple(kept)


def received_form_spec(spec: FormSpec, form: str) -> FormSpec:
    """The form staff fill in: the whole form without its attachment fields (papers stay on
    paper), or (short) one step with the applicant's name, birth date and address fields."""
    if form == ReceivedForm.SHORT:
        keys = applicant_fields(spec)
        wanted = [k for k in (keys.name, keys.birth_date, keys.address) if k]
        by_key = {f.key: f for f in spec.fields}
        chosen = tuple(by_key[k] for k in wanted)
        section = SectionSpec(key="applicant", title="申請者", description="", fields=chosen)
        step = StepSpec(key="applicant", title="申請者", sections=(section,))
        return replace(spec, steps=(step,))
    steps = []
    for step in spec.steps:
        sections = tuple(
            replace(section, fields=_without_attachments(section.fields))
            for section in step.sections
        )
        steps.append(replace(step, sections=sections))
    return replace(spec, steps=tuple(steps))


@dataclass(frozen=True)
class ReceivedCheck:
    """What a registration would store, once every check has passed."""

    spec: FormSpec
    answers: dict[str, Any]
    arrived_at: datetime
    identity: VerifiedIdentity
    documents: tuple[str, ...]
    contact_email: str
    summary: str
    #: Receipt numbers of applications already holding the procedure's duplicate rule for this
    #: person (or household): registering stores this one beside them as a possible duplicate.
    held_by: tuple[str, ...] = ()
    #: The documents seen do not reach the procedure's 身元確認 level (staff may still register).
    short_of_ial: bool = False


def _may_register(staff: Staff, organisation: Organisation) -> None:
    if staff.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if not staff.active or staff.role not in REGISTERING_ROLES:
        raise RegistrationNotAllowed(
            "窓口・郵送の申請を受け付けられるのは、審査担当と団体管理者の職員です。"
        )


def received_check(
    *,
    organisation: Organisation,
    staff: Staff,
    procedure: Procedure,
    channel: str,
    received_date: date | str | None,
    form: str,
    answers: Mapping[str, Any],
    documents: Sequence[str],
    now: datetime,
    contact_email: str = "",
    summary: str = "",
) -> ReceivedCheck:
    """Check a counter or mail registration without storing anything (the confirmation page).

    Raises ``Procedure.DoesNotExist`` (another organisation's procedure or staff),
    :class:`RegistrationNotAllowed`, :class:`ProcedureClosed` (a procedure not yet
    published), :class:`ValidationFailed` with every problem at once, keyed by the answer's
    path or by ``channel``, ``form``, ``received_date``, ``documents``, ``contact_email``,
    ``summary``.
    """
    _may_register(staff, organisation)
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if procedure.status == ProcedureStatus.DRAFT:
        raise ProcedureClosed(
            "準備中の手続は受け付けられません。手続を公開してから受け付けてください。"
        )
    errors: dict[str, str] = {}
    if channel not in (Channel.COUNTER, Channel.MAIL):
        errors["channel"] = "受付の方法（窓口・郵送）を選んでください。"
    if form not in ReceivedForm.values:
        errors["form"] = "入力する項目（すべて・主な項目）を選んでください。"
        form = ReceivedForm.FULL
    today = to_tokyo(now).date()
    arrived_at = now
    if isinstance(received_date, str):
        try:
            received_date = parse_date(received_date) if received_date.strip() else None
        except ParseError as error:
            errors["received_date"] = f"受付日: {error}"
            received_date = None
    if "received_date" in errors:
        pass
    elif received_date is None:
        errors["received_date"] = "受付日（郵送の場合は到達した日）を入力してください。"
    elif received_date > today:
        errors["received_date"] = "受付日に未来の日付は指定できません。"
    elif received_date < today - OLDEST_RECEIVED:
        errors["received_date"] = "受付日は1年以内の日付を入力してください。"
    elif received_date < today:
        arrived_at = datetime.combine(received_date, time(), TOKYO)
    docs = tuple(dict.fromkeys(str(d) for d in documents))
    if any(d not in IdentityDocument.values for d in docs):
        errors["documents"] = "本人確認書類の指定に、知らない値が含まれていました。"
    elif not docs:
        errors["documents"] = (
            "確認した本人確認書類を選んでください（確認していない場合は「確認なし」）。"
        )
    elif IdentityDocument.NONE in docs and len(docs) > 1:
        errors["documents"] = "「本人確認書類の確認なし」と書類は、同時に選べません。"
    elif channel == Channel.COUNTER and IdentityDocument.MAIL_COPY in docs:
        errors["documents"] = "窓口での受付では「郵送のため対面確認なし」は選べません。"
    email = str(contact_email or "").strip()
    if email:
        try:
            if len(email) > 254:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            errors["contact_email"] = (
                "連絡先のメールアドレスを正しく入力してください（例: taro@example.jp）。"
            )
    text = str(summary or "").replace("\x00", "").strip()
    if len(text) > MAX_SUMMARY:
        errors["summary"] = f"概要は{MAX_SUMMARY}文字以内で入力してください。"
    elif form == ReceivedForm.SHORT and not text:
        errors["summary"] = "申請の概要（何の申請か、主な内容）を入力してください。"
    spec = received_form_spec(form_spec(procedure.form_version), form)
    result = validate(spec, answers, today=today, area=organisation_area(procedure.organisation))
    errors.update(result.errors)
    if errors:
        raise ValidationFailed(errors)
    photo = channel == Channel.COUNTER and any(d in PHOTO_ID_DOCUMENTS for d in docs)
    methods = (IdentityMethod.STAFF_COUNTER.value,) + (
        (IdentityMethod.COUNTER_PROOFING.value,) if photo else ()
    )
    identity = VerifiedIdentity(
        ial=2 if photo else 1,
        aal=1,
        methods=methods,
        verified_at=now.isoformat(),
        extra={
            "channel": channel,
            "received_date": received_date.isoformat() if isinstance(received_date, date) else "",
            "documents": ",".join(docs),
            "form": form,
            "staff_id": str(staff.user_id),
            "staff_name": staff_display_name(staff.user),
        },
    )
    holders = rule_holders(
        procedure=procedure, spec=spec, answers=result.answers, identity=identity, at=arrived_at
    )
    return ReceivedCheck(
        spec=spec,
        answers=result.answers,
        arrived_at=arrived_at,
        identity=identity,
        documents=docs,
        contact_email=email,
        summary=text,
        held_by=tuple(a.receipt_number for a in holders),
        short_of_ial=identity.ial < procedure.ial,
    )


# --- Registering ----------------------------------------------------------------------------


def application_register_received(
    *,
    organisation: Organisation,
    staff: Staff,
    procedure: Procedure,
    channel: str,
    received_date: date | str | None,
    form: str,
    answers: Mapping[str, Any],
    documents: Sequence[str],
    idempotency_key: str,
    now: datetime,
    contact_email: str = "",
    summary: str = "",
    handoff: str = "",
    paper_form: str = "",
) -> SubmitResult:
    """Register an application received at the counter or by post, exactly once.

    Guarantees, in one transaction: the application with ``channel`` counter or mail, the
    ``arrived_at`` of the date received (module docstring), ``ial``/``aal``/``identity`` of
    the counter check, the frozen answers (特定個人情報 encrypted) and their SHA-256, the
    receipt number, the first revision, the audit event (the staff member as actor), the
    arrival event (channel count, webhooks), the summary as a staff note, and a receipt mail
    only when ``contact_email`` is given. With ``handoff`` (a QR token or short code of this
    organisation and procedure) the application belongs to the draft's resident, and the
    draft and the handoff are deleted. With ``paper_form`` (the id that
    :func:`received_paper_upload` gave for the same idempotency key) the scanned paper form
    becomes the application's attachment; an id it did not give raises
    :class:`ValidationFailed` (``paper_form``).

    Replaying the same ``idempotency_key`` (per organisation) with the same answers returns
    the stored application (created False); with other answers raises
    :class:`IdempotencyConflict`. Raises what :func:`received_check` raises,
    :class:`InvalidIdempotencyKey`, :class:`HandoffRefused` (recorded in the audit log) or
    :class:`HandoffNotFound` (another organisation's code).
    """
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise InvalidIdempotencyKey("受付の識別子が正しくありません。画面を開き直してください。")
    _may_register(staff, organisation)
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    scope = f"counter:{organisation.pk}"
    check_args: dict[str, Any] = {
        "organisation": organisation,
        "staff": staff,
        "procedure": procedure,
        "channel": channel,
        "received_date": received_date,
        "form": form,
        "answers": answers,
        "documents": documents,
        "now": now,
        "contact_email": contact_email,
        "summary": summary,
    }
    existing = Application.objects.filter(
        idempotency_scope=scope, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        return _replay(existing, procedure, received_check(**check_args))
    check = received_check(**check_args)
    digest = canonical_digest(check.answers)
    stored = protect_answers(check.spec, check.answers)
    search_name = applicant_search_name(check.spec, check.answers)
    if handoff:
        # Refused before anything is written, and recorded; re-checked under a lock below.
        _handoff_usable(organisation, staff, handoff, now, procedure=procedure)
    for _attempt in range(3):
        try:
            with transaction.atomic(durable=True):
                row = None
                if handoff:
                    row = _handoff_locked(organisation, handoff, now, procedure=procedure)
                application = _insert(
                    organisation,
                    procedure,
                    applicant=row.applicant if row is not None else None,
                    email=check.contact_email,
                    scope=scope,
                    key=idempotency_key,
                    stored=stored,
                    digest=digest,
                    now=now,
                    search_name=search_name,
                    channel=channel,
                    arrived_at=check.arrived_at,
                    recorded_by=staff.user,
                    levels=(check.identity.ial, check.identity.aal),
                    identity=check.identity.to_json(),
                )
                # Duplicates (重複の検知): counter and mail applications are stored even when
                # they duplicate another application (they have arrived, legally), and shown
                # to staff as possible duplicates beside it.
                claim_uniqueness(
                    application=application,
                    procedure=procedure,
                    spec=check.spec,
                    answers=check.answers,
                    identity=check.identity,
                    refuse=False,
                )
                if paper_form:
                    _paper_claim(application, procedure, paper_form, idempotency_key)
                if check.summary:
                    ApplicationNote.objects.create(
                        organisation=organisation,
                        application=application,
                        author=staff.user,
                        body=f"{SUMMARY_NOTE_PREFIX}\n{check.summary}",
                        created_at=now,
                    )
                if row is not None:
                    audit_record(
                        action=AuditAction.COUNTER_HANDOFF_USED,
                        now=now,
                        organisation=organisation,
                        actor=staff.user,
                        actor_label="職員",
                        target_type="application",
                        target_id=application.pk,
                        detail={"handoff": row.pk, "procedure": procedure.pk},
                    )
                    # The delete is the claim: of two registrations racing for one code,
                    # only the one that deletes it commits (SQLite has no row locks).
                    if not CounterHandoff.objects.filter(pk=row.pk).delete()[0]:
                        raise HandoffRefused(_UNKNOWN, reason="unknown")
                    if row.draft_id is not None:
                        _draft_files_claim(application, procedure, row)
                        Draft.objects.filter(pk=row.draft_id).delete()
        except HandoffRefused as refused:
            _handoff_refusal_record(organisation, staff, now, refused.reason)
            raise
        except IntegrityError:
            existing = Application.objects.filter(
                idempotency_scope=scope, idempotency_key=idempotency_key
            ).first()
            if existing is None:
                continue
            return _replay(existing, procedure, check)
        return SubmitResult(application, True)
    raise SubmissionError("受付番号を発行できませんでした。もう一度登録してください。")


def _paper_key(idempotency_key: str) -> str:
    """The upload key of a registration's paper form (an attachment guest key)."""
    return f"c-{idempotency_key}"[:64]


def received_paper_upload(
    *,
    organisation: Organisation,
    staff: Staff,
    procedure: Procedure,
    idempotency_key: str,
    name: str,
    data: bytes,
    now: datetime,
) -> Attachment:
    """Store the scan of a paper application (PDF, JPEG or PNG, up to 20 MB) for the
    registration with ``idempotency_key``, until it registers (then it is the application's
    attachment) or the unclaimed-file purge removes it. Checked, scanned and encrypted like
    every upload (:func:`~madoguchi.applications.attachments.attachment_store`).

    Raises ``Procedure.DoesNotExist``, :class:`RegistrationNotAllowed`,
    :class:`InvalidIdempotencyKey`, ``UploadRefused`` (Japanese message).
    """
    _may_register(staff, organisation)
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise InvalidIdempotencyKey("受付の識別子が正しくありません。画面を開き直してください。")
    return attachment_store(
        procedure=procedure,
        field_key=PAPER_FORM_FIELD,
        guest_key=_paper_key(idempotency_key),
        name=name,
        data=data,
        now=now,
    )


def _paper_claim(
    application: Application, procedure: Procedure, paper_form: str, idempotency_key: str
) -> None:
    try:
        attachment_id = uuid.UUID(hex=str(paper_form)[:64])
    except ValueError:
        attachment_id = None
    claimed = (
        Attachment.objects.filter(
            pk=attachment_id,
            organisation_id=application.organisation_id,
            procedure=procedure,
            field_key=PAPER_FORM_FIELD,
            owner__isnull=True,
            guest_key=_paper_key(idempotency_key),
            application__isnull=True,
        ).update(application=application, revision=1)
        if attachment_id is not None
        else 0
    )
    if claimed != 1:
        raise ValidationFailed(
            {"paper_form": "スキャンした申請書のファイルが見つかりません。もう一度選んでください。"}
        )


def _draft_files_claim(application: Application, procedure: Procedure, row: CounterHandoff) -> int:
    """The files the resident had already uploaded to the handed-over draft become the
    application's (staff fill in the form without its attachment fields, so without this the
    resident's uploads would be lost with the draft). Only the resident's own unclaimed files
    of this procedure are taken. Inside the caller's transaction."""
    if row.draft_id is None or row.applicant_id is None:
        return 0
    draft = Draft.objects.filter(pk=row.draft_id).first()
    if draft is None:
        return 0
    ids: list[uuid.UUID] = []
    for _path, _field, items in _attachment_slots(form_spec(procedure.form_version), draft.answers):
        for item in items:
            try:
                ids.append(uuid.UUID(hex=str(item.get("id", ""))))
            except (ValueError, AttributeError):
                continue
    if not ids:
        return 0
    return Attachment.objects.filter(
        pk__in=ids,
        organisation_id=application.organisation_id,
        procedure=procedure,
        owner_id=row.applicant_id,
        application__isnull=True,
    ).update(application=application, revision=1)


def _replay(existing: Application, procedure: Procedure, check: ReceivedCheck) -> SubmitResult:
    if existing.procedure_id != procedure.pk or canonical_digest(check.answers) != (
        existing.answers_digest
    ):
        raise IdempotencyConflict(
            "同じ受付の識別子で、内容の違う申請が送られました。画面を開き直してください。"
        )
    return SubmitResult(existing, False)


# --- 書かない窓口 (handoff) ------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedHandoff:
    """What the resident's page shows once: the QR token and the short code (never stored)."""

    token: str
    code: str
    expires_at: datetime
    draft: Draft


@dataclass(frozen=True)
class OpenedHandoff:
    """A draft opened at the counter: what prefills the counter registration."""

    procedure: Procedure
    answers: dict[str, Any]
    applicant: User
    expires_at: datetime
    #: The secret as typed or scanned (normalised), carried through the registration form.
    secret: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def handoff_code_display(code: str) -> str:
    """``ACDE-FGHJ``: the short code as shown and read aloud."""
    return f"{code[:4]}-{code[4:]}"


def _secret_lookup(secret: object) -> tuple[str, str] | None:
    """(column, hash) for a QR token or a short code (typed with spaces, hyphens, full
    width or lower case); None for anything that can be neither."""
    text = unicodedata.normalize("NFKC", str(secret or "")).strip()
    if not text or len(text) > 200:
        return None
    compact = re.sub(r"[\s\-]", "", text).upper()
    if len(compact) == CODE_LENGTH and all(c in CODE_ALPHABET for c in compact):
        return "code_sha256", _sha(compact)
    if _TOKEN.match(text):
        return "token_sha256", _sha(text)
    return None


def handoff_secret_normalise(secret: object) -> str:
    """The secret in the form the registration carries it (or "" for garbage)."""
    text = unicodedata.normalize("NFKC", str(secret or "")).strip()
    found = _secret_lookup(text)
    if found is None:
        return ""
    return re.sub(r"[\s\-]", "", text).upper() if found[0] == "code_sha256" else text


def counter_handoff_issue(*, applicant: User, draft_id: Any, now: datetime) -> IssuedHandoff:
    """Issue the code a resident shows at the counter for one of their own drafts.

    Replaces any earlier code of the draft (one live code per draft). Raises
    ``Draft.DoesNotExist`` for a draft that is not the resident's, or has expired.
    In one transaction: the handoff (hashes only) and an audit event.
    """
    try:
        draft = Draft.objects.select_related("procedure", "organisation").get(
            pk=draft_id, applicant_id=applicant.pk, expires_at__gt=now
        )
    except (ValueError, ValidationError):
        raise Draft.DoesNotExist from None
    for _attempt in range(3):
        token = secrets.token_urlsafe(24)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires_at = now + COUNTER_HANDOFF_LIFETIME
        try:
            with transaction.atomic(durable=True):
                CounterHandoff.objects.filter(draft=draft).delete()
                row = CounterHandoff.objects.create(
                    organisation=draft.organisation,
                    procedure=draft.procedure,
                    draft=draft,
                    applicant=applicant,
                    token_sha256=_sha(token),
                    code_sha256=_sha(code),
                    created_at=now,
                    expires_at=expires_at,
                )
                audit_record(
                    action=AuditAction.COUNTER_HANDOFF_ISSUED,
                    now=now,
                    organisation=draft.organisation,
                    actor=applicant,
                    actor_label="申請者",
                    target_type="counter_handoff",
                    target_id=row.pk,
                    detail={"procedure": draft.procedure_id},
                )
        except IntegrityError:
            continue
        return IssuedHandoff(token=token, code=code, expires_at=expires_at, draft=draft)
    raise SubmissionError("コードを発行できませんでした。もう一度お試しください。")


def _find(secret: object) -> CounterHandoff | None:
    found = _secret_lookup(secret)
    if found is None:
        return None
    column, digest = found
    return (
        CounterHandoff.objects.select_related("draft", "procedure", "applicant")
        .filter(**{column: digest})
        .first()
    )


def _judge(
    row: CounterHandoff | None,
    organisation: Organisation,
    now: datetime,
    procedure: Procedure | None,
) -> CounterHandoff:
    if row is None:
        raise HandoffRefused(_UNKNOWN, reason="unknown")
    if row.organisation_id != organisation.pk:
        raise HandoffNotFound(_UNKNOWN, reason="other_organisation")
    if row.expires_at <= now:
        raise HandoffRefused(_EXPIRED, reason="expired")
    if row.draft_id is None:
        raise HandoffRefused(_DRAFT_GONE, reason="draft_gone")
    if procedure is not None and row.procedure_id != procedure.pk:
        raise HandoffRefused(
            "このコードは別の手続の下書きです。コードから開き直してください。",
            reason="other_procedure",
        )
    return row


def _handoff_refusal_record(
    organisation: Organisation, staff: Staff, now: datetime, reason: str
) -> None:
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.COUNTER_HANDOFF_REFUSED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="counter_handoff",
            detail={"reason": reason},
        )


def _handoff_usable(
    organisation: Organisation,
    staff: Staff,
    secret: object,
    now: datetime,
    *,
    procedure: Procedure | None = None,
) -> CounterHandoff:
    """The handoff, or a recorded refusal (throttled after too many)."""
    try:
        since = now - COUNTER_HANDOFF_WINDOW
        failures = audit_events_count(
            action=AuditAction.COUNTER_HANDOFF_REFUSED, actor_id=staff.user_id, since=since
        )
        if failures >= COUNTER_HANDOFF_MAX_FAILURES:
            raise HandoffRefused(_THROTTLED, reason="throttled")
        return _judge(_find(secret), organisation, now, procedure)
    except HandoffRefused as refused:
        _handoff_refusal_record(organisation, staff, now, refused.reason)
        raise


def _handoff_locked(
    organisation: Organisation, secret: object, now: datetime, *, procedure: Procedure
) -> CounterHandoff:
    found = _secret_lookup(secret)
    row = None
    if found is not None:
        column, digest = found
        row = (
            CounterHandoff.objects.select_for_update()
            .select_related("applicant")
            .filter(**{column: digest})
            .first()
        )
    return _judge(row, organisation, now, procedure)


def counter_handoff_open(
    *, organisation: Organisation, staff: Staff, secret: object, now: datetime
) -> OpenedHandoff:
    """Open a resident's draft at the counter by its QR token or short code.

    Guarantees: only staff who may register (:func:`received_check`) of the draft's
    organisation see it; the opening is audited. Raises :class:`HandoffNotFound` for another
    organisation's code, :class:`HandoffRefused` (unknown, used, expired, draft deleted,
    throttled; each recorded in the audit log), :class:`RegistrationNotAllowed`.
    """
    _may_register(staff, organisation)
    row = _handoff_usable(organisation, staff, secret, now)
    draft = row.draft
    assert draft is not None  # _judge refuses a handoff without its draft
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.COUNTER_HANDOFF_OPENED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            actor_label="職員",
            target_type="counter_handoff",
            target_id=row.pk,
            detail={"procedure": row.procedure_id},
        )
    return OpenedHandoff(
        procedure=row.procedure,
        answers=dict(draft.answers),
        applicant=row.applicant,
        expires_at=row.expires_at,
        secret=handoff_secret_normalise(secret),
    )


# --- Reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedFacts:
    """How a counter or mail application was received, for the staff application page."""

    channel_label: str
    received_date: str
    staff_name: str
    documents: tuple[str, ...]
    ial: int
    form_label: str
    linked_account: bool
    #: Whether a summary was written at registration (kept as an internal note).
    summary_noted: bool = False


def received_facts(application: Application) -> ReceivedFacts | None:
    """「窓口で受付」/「郵送で受付」, the date received, who registered it and the identity
    check, from the stored snapshot; None for an online application."""
    if application.channel not in (Channel.COUNTER, Channel.MAIL):
        return None
    identity = VerifiedIdentity.from_json(application.identity)
    extra = dict(identity.extra) if identity is not None else {}
    documents = tuple(
        str(IdentityDocument(d).label) if d in IdentityDocument.values else d
        for d in extra.get("documents", "").split(",")
        if d
    )
    form = extra.get("form", "")
    return ReceivedFacts(
        channel_label="窓口で受付" if application.channel == Channel.COUNTER else "郵送で受付",
        received_date=extra.get("received_date", "")
        or to_tokyo(application.arrived_at).date().isoformat(),
        staff_name=_registered_by(extra),
        documents=documents,
        ial=application.ial,
        form_label=str(ReceivedForm(form).label) if form in ReceivedForm.values else "",
        linked_account=application.applicant_id is not None,
        summary_noted=received_summary_noted(
            organisation=application.organisation, application=application
        ),
    )


def _registered_by(extra: Mapping[str, Any]) -> str:
    """The display name of who registered it; never the e-mail address that older records
    kept as the name."""
    staff_id = str(extra.get("staff_id", ""))
    user = User.objects.filter(pk=int(staff_id)).first() if staff_id.isdigit() else None
    if user is not None:
        return staff_display_name(user)
    stored = str(extra.get("staff_name", ""))
    return stored if stored and "@" not in stored else ""
