"""運用テスト (operational test): before publishing, named testers apply to a 準備中 procedure
through the real portal flow.

An organisation admin starts the test (:func:`procedure_test_start`), names staff of the
organisation (:func:`procedure_tester_add`) and invites residents by e-mail
(:func:`procedure_tester_invite`); an invited resident uses their own account, matched by its
verified address or by accepting the invitation while logged in
(:func:`procedure_tester_invitation_accept`). Testers can be removed while the test runs
(:func:`procedure_tester_remove`). Applications made by testers are stored with ``is_test``
by the one submission service; publishing (``applications.publishing.procedure_set_status``)
purges them and ends the test.

Each service owns its transaction and records its audit event (ids and counts, never the
invited address). Another organisation's procedure or tester raises ``DoesNotExist`` (404).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, ProcedureTester, TesterKind
from madoguchi.core.roles import reverse_any
from madoguchi.core.time import to_tokyo
from madoguchi.identity.models import Staff, User
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.tenants.models import Organisation

#: An invitation link works this long (the test usually takes days, not months).
INVITATION_VALID: Final = timedelta(days=30)
#: A token longer than this is refused before it is looked up.
MAX_TOKEN_LENGTH: Final = 100
#: The mark put before the subject of every mail about an operational test.
TEST_SUBJECT_MARK: Final = "【運用テスト】"


class ProcedureTesterError(ValueError):
    """A tester change was refused; ``str()`` says why, in Japanese. Nothing was stored."""


def _email_normalised(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return unicodedata.normalize("NFKC", value).strip().lower()[:254]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _locked(organisation: Organisation, procedure: Procedure) -> Procedure:
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    return Procedure.objects.select_for_update().get(pk=procedure.pk, organisation=organisation)


def _running(procedure: Procedure) -> None:
    if procedure.status != ProcedureStatus.DRAFT:
        raise ProcedureTesterError(
            "運用テストは準備中の手続でだけ行えます。公開中・受付終了の手続は、"
            "準備中に戻してから運用テストを始めてください。"
        )
    if procedure.test_started_at is None:
        raise ProcedureTesterError("先に運用テストを開始してください。")


# --- Reads ------------------------------------------------------------------------------------


def procedure_in_test(procedure: Procedure) -> bool:
    """Whether the operational test of ``procedure`` is running (準備中 and started)."""
    return procedure.status == ProcedureStatus.DRAFT and procedure.test_started_at is not None


def procedure_tester_of(*, procedure: Procedure, user: object) -> ProcedureTester | None:
    """The tester row that lets ``user`` apply to ``procedure`` now, else None.

    Only while the test runs. A staff tester is an active staff member of the procedure's
    organisation; a resident tester is the account that accepted the invitation, or (before
    acceptance) the account whose verified address is the invited one.
    """
    if not isinstance(user, User) or not user.pk or not procedure_in_test(procedure):
        return None
    testers = ProcedureTester.objects.filter(
        organisation_id=procedure.organisation_id, procedure_id=procedure.pk
    )
    staff = Staff.objects.filter(user_id=user.pk).first()
    if staff is not None:
        if not staff.active or staff.organisation_id != procedure.organisation_id:
            return None
        return testers.filter(kind=TesterKind.STAFF, staff=staff).first()
    match = Q(user_id=user.pk)
    if user.email_verified_at is not None:
        match |= Q(user__isnull=True, email=_email_normalised(user.email))
    return testers.filter(match, kind=TesterKind.RESIDENT).first()


def procedure_for_tester(
    *, organisation: Organisation, procedure_id: int, user: object
) -> Procedure:
    """A 準備中 procedure of ``organisation`` under test that ``user`` is a tester of; raises
    ``Procedure.DoesNotExist`` otherwise (the portal answers 404, as for any draft)."""
    procedure = (
        Procedure.objects.select_related("organisation", "form_version", "template_version")
        .filter(organisation=organisation, status=ProcedureStatus.DRAFT, organisation__active=True)
        .get(pk=procedure_id)
    )
    if procedure_tester_of(procedure=procedure, user=user) is None:
        raise Procedure.DoesNotExist
    return procedure


def procedure_for_applicant(
    *, organisation: Organisation, procedure_id: int, user: object
) -> Procedure:
    """The procedure as the portal shows it to ``user``: a published procedure of
    ``organisation`` to anyone; a 準備中 one under operational test to its testers only.
    Raises ``Procedure.DoesNotExist`` otherwise (404: a draft is not shown, not even its name).
    """
    from madoguchi.catalog.selectors import procedure_get

    try:
        return procedure_get(
            organisation=organisation, procedure_id=procedure_id, published_only=True
        )
    except Procedure.DoesNotExist:
        return procedure_for_tester(organisation=organisation, procedure_id=procedure_id, user=user)


def procedure_testers(*, organisation: Organisation, procedure: Procedure) -> list[ProcedureTester]:
    """The testers of ``procedure`` (staff first, then residents by invitation time)."""
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    return list(
        ProcedureTester.objects.filter(organisation=organisation, procedure=procedure)
        .select_related("staff__user", "user")
        .order_by("kind", "invited_at", "pk")
    )


def procedure_tester_invitation_get(*, token: object, now: datetime) -> ProcedureTester:
    """The pending or accepted invitation of ``token``; ``DoesNotExist`` for an unknown,
    overlong or expired token, or when the test is over."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise ProcedureTester.DoesNotExist
    tester = (
        ProcedureTester.objects.select_related("procedure__organisation")
        .filter(kind=TesterKind.RESIDENT, token_hash=_token_hash(token))
        .first()
    )
    if (
        tester is None
        or not procedure_in_test(tester.procedure)
        or (tester.accepted_at is None and now - tester.invited_at > INVITATION_VALID)
    ):
        raise ProcedureTester.DoesNotExist
    return tester


# --- Use cases --------------------------------------------------------------------------------


def procedure_test_start(
    *, organisation: Organisation, procedure: Procedure, actor: User, now: datetime
) -> Procedure:
    """Start the operational test of a 準備中 procedure: from now on its named testers can
    open it in the portal and apply (their applications are test applications).

    Raises ``Procedure.DoesNotExist`` (another organisation's) and :class:`ProcedureTesterError` (not
    準備中, or already started). Records ``procedure.test_started``.
    """
    with transaction.atomic(durable=True):
        locked = _locked(organisation, procedure)
        if locked.status != ProcedureStatus.DRAFT:
            raise ProcedureTesterError(
                "運用テストは準備中の手続でだけ行えます。"
                "公開中・受付終了の手続は、準備中に戻してから始めてください。"
            )
        if locked.test_started_at is not None:
            raise ProcedureTesterError("この手続の運用テストは既に始まっています。")
        locked.test_started_at = now
        locked.save(update_fields=["test_started_at", "updated_at"])
        audit_record(
            action=AuditAction.PROCEDURE_TEST_STARTED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email,
            target_type="procedure",
            target_id=procedure.pk,
        )
    procedure.test_started_at = now
    return procedure


def procedure_tester_add(
    *,
    organisation: Organisation,
    procedure: Procedure,
    staff_id: object,
    actor: User,
    now: datetime,
) -> ProcedureTester:
    """Name an active staff member of the organisation as a tester of the running test.

    Raises ``Procedure.DoesNotExist`` (another organisation's procedure) and
    :class:`ProcedureTesterError` (the test is not running, the staff member is unknown, inactive or of
    another organisation, or already a tester). Records ``procedure.tester_added``.
    """
    if not isinstance(staff_id, int) or isinstance(staff_id, bool) or staff_id < 1:
        raise ProcedureTesterError("試験者にする職員を一覧から選んでください。")
    with transaction.atomic(durable=True):
        locked = _locked(organisation, procedure)
        _running(locked)
        staff = Staff.objects.filter(pk=staff_id, organisation=organisation, active=True).first()
        if staff is None:
            raise ProcedureTesterError(
                "その職員は見つかりません。試験者にする職員を一覧から選んでください。"
            )
        if ProcedureTester.objects.filter(procedure=locked, staff=staff).exists():
            raise ProcedureTesterError("その職員は既に試験者です。")
        tester = ProcedureTester.objects.create(
            organisation=organisation,
            procedure=locked,
            kind=TesterKind.STAFF,
            staff=staff,
            user=staff.user,
            invited_at=now,
            accepted_at=now,
            added_by=actor,
        )
        audit_record(
            action=AuditAction.PROCEDURE_TESTER_ADDED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email,
            target_type="procedure",
            target_id=procedure.pk,
            detail={"tester": tester.pk, "staff": staff.pk},
        )
    return tester


def procedure_tester_invite(
    *,
    organisation: Organisation,
    procedure: Procedure,
    email: object,
    actor: User,
    now: datetime,
    client_address: str,
) -> ProcedureTester:
    """Invite a resident by e-mail to test the running procedure: a tester row and an
    invitation mail with a link (valid for 30 days) to accept while logged in.

    The mail counts towards the mail limits of ``notifications.ratelimit`` (per recipient and
    per ``client_address``): beyond them ``MailRateLimited`` is raised and nothing is stored.
    Raises ``Procedure.DoesNotExist`` and :class:`ProcedureTesterError` (the test is not running, the
    address is not one, belongs to a staff account, or is invited already). Records
    ``procedure.tester_invited`` (the tester's id, never the address).
    """
    address = _email_normalised(email)
    try:
        validate_email(address)
    except ValidationError:
        raise ProcedureTesterError(
            "招待するメールアドレスを正しく入力してください（例: taro@example.jp）。"
        ) from None
    if Staff.objects.filter(user__email__iexact=address).exists():
        raise ProcedureTesterError(
            "このアドレスは職員のアカウントです。職員は「職員を試験者にする」から追加してください。"
        )
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic(durable=True):
            locked = _locked(organisation, procedure)
            _running(locked)
            if ProcedureTester.objects.filter(procedure=locked, email=address).exists():
                raise ProcedureTesterError("このメールアドレスは既に招待しています。")
            tester = ProcedureTester.objects.create(
                organisation=organisation,
                procedure=locked,
                kind=TesterKind.RESIDENT,
                email=address,
                token_hash=_token_hash(token),
                invited_at=now,
                added_by=actor,
            )
            audit_record(
                action=AuditAction.PROCEDURE_TESTER_INVITED,
                now=now,
                organisation=organisation,
                actor=actor,
                actor_label=actor.email,
                target_type="procedure",
                target_id=procedure.pk,
                detail={"tester": tester.pk},
            )
            outbox_enqueue_email(
                to=address,
                subject=f"{TEST_SUBJECT_MARK}【{organisation.name}】"
                f"「{locked.name}」の運用テストへのご協力のお願い",
                body=_invitation_body(organisation, locked, token, now),
                now=now,
                organisation=organisation,
                client_address=client_address,
            )
    except IntegrityError:
        raise ProcedureTesterError("このメールアドレスは既に招待しています。") from None
    return tester


def _invitation_body(
    organisation: Organisation, procedure: Procedure, token: str, now: datetime
) -> str:
    link = settings.PORTAL_URL.rstrip("/") + reverse_any("portal:tester_accept", args=[token])
    until = to_tokyo(now + INVITATION_VALID)
    return (
        f"{organisation.name}から、公開前の手続「{procedure.name}」の運用テスト（試験的な申請）"
        "へのご協力をお願いします。\n\n"
        "次のリンクを開き、ご自身の住民アカウントでログインして招待を承諾してください。"
        "承諾すると、公開前のこの手続に申請できるようになります。\n"
        f"{link}\n"
        f"（リンクの有効期限: {until:%Y年%m月%d日 %H時%M分}）\n\n"
        "運用テストの申請は正式な申請としては扱われず、統計にも数えられません。"
        "手続の公開時にすべて削除されます。実在の個人番号などは入力しないでください。\n"
        "心当たりのない場合は、このメールを破棄してください。\n"
    )


def procedure_tester_remove(
    *,
    organisation: Organisation,
    procedure: Procedure,
    tester_id: object,
    actor: User,
    now: datetime,
) -> None:
    """Remove a tester of ``procedure`` (the invitation link stops working; applications
    already sent stay test applications until publishing purges them).

    Raises ``ProcedureTester.DoesNotExist`` (unknown id, or a tester of another procedure or
    organisation: 404) and ``Procedure.DoesNotExist``. Records ``procedure.tester_removed``.
    """
    if not isinstance(tester_id, int) or isinstance(tester_id, bool):
        raise ProcedureTester.DoesNotExist
    with transaction.atomic(durable=True):
        locked = _locked(organisation, procedure)
        tester = ProcedureTester.objects.filter(
            pk=tester_id, organisation=organisation, procedure=locked
        ).first()
        if tester is None:
            raise ProcedureTester.DoesNotExist
        kind = tester.kind
        tester.delete()
        audit_record(
            action=AuditAction.PROCEDURE_TESTER_REMOVED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email,
            target_type="procedure",
            target_id=procedure.pk,
            detail={"tester": tester_id, "kind": kind},
        )


def procedure_tester_invitation_accept(
    *, token: object, user: User, now: datetime
) -> ProcedureTester:
    """Accept an invitation with the logged-in resident account ``user``: the account becomes
    the tester (whatever its address). Accepting again with the same account is harmless.

    Raises ``ProcedureTester.DoesNotExist`` (unknown, expired, test over) and
    :class:`ProcedureTesterError` (a staff account, or accepted already by another account). Records
    ``procedure.tester_accepted``.
    """
    if Staff.objects.filter(user_id=user.pk).exists():
        raise ProcedureTesterError(
            "職員のアカウントでは招待を承諾できません。住民のアカウントでログインしてください。"
        )
    with transaction.atomic(durable=True):
        found = procedure_tester_invitation_get(token=token, now=now)
        tester = ProcedureTester.objects.select_for_update().get(pk=found.pk)
        if tester.user_id == user.pk:
            return found
        if tester.user_id is not None:
            raise ProcedureTesterError("この招待は別のアカウントで承諾されています。")
        tester.user = user
        tester.accepted_at = now
        tester.save(update_fields=["user", "accepted_at"])
        audit_record(
            action=AuditAction.PROCEDURE_TESTER_ACCEPTED,
            now=now,
            organisation=found.procedure.organisation,
            actor=user,
            actor_label="住民",
            target_type="procedure",
            target_id=found.procedure_id,
            detail={"tester": tester.pk},
        )
    found.user = user
    found.accepted_at = now
    return found
