"""Drafts and applications. An application's answers are frozen at submission (到達)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from madoguchi.applications.constants import (
    ApplicationStatus,
    Channel,
    Decision,
    DecisionTemplateKind,
    DuplicateKeyKind,
    DuplicateVerdict,
    IssuedDocumentKind,
    MessageKind,
    ProposalState,
    StaffNoticeKind,
)
from madoguchi.catalog.models import Procedure
from madoguchi.core.models import TimeStampedModel
from madoguchi.forms.models import FormVersion
from madoguchi.tenants.models import Organisation


class Draft(TimeStampedModel):
    """下書き: unsubmitted answers owned by one resident, pinned to one form version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="drafts")
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    answers = models.JSONField(default=dict)
    step = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    expiry_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "下書き"
        verbose_name_plural = "下書き"
        constraints = (
            models.UniqueConstraint(
                fields=("applicant", "procedure"), name="one_draft_per_procedure"
            ),
        )

    def __str__(self) -> str:
        return f"下書き {self.pk}"


class Application(models.Model):
    """申請: one submitted case. ``arrived_at`` is the legal moment of arrival (到達)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="applications"
    )
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="applications")
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
    )
    contact_email = models.EmailField(blank=True)
    #: The language the applicant read while applying (``ja``/``en``): mail about this
    #: application, even mail a staff member's action sends, is written in it.
    language = models.CharField(max_length=8, default="ja", blank=True)
    receipt_number = models.CharField("受付番号", max_length=32, unique=True)
    idempotency_scope = models.CharField(max_length=300)
    idempotency_key = models.CharField(max_length=64)
    arrived_at = models.DateTimeField("到達日時")
    #: Normalised answers; 特定個人情報 values are sealed (madoguchi.forms.sealed.Sealed).
    answers = models.JSONField()
    answers_digest = models.CharField("回答のSHA-256", max_length=64)
    status = models.CharField(
        max_length=32, choices=ApplicationStatus.choices, default=ApplicationStatus.SUBMITTED
    )
    revision = models.PositiveIntegerField(default=1)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.ONLINE)
    #: 運用テスト: made by a named tester while the procedure was being tried before
    #: publishing. Marked everywhere, never counted in the statistics, never exported to
    #: core systems, and purged when the procedure is published.
    #: A database default as well, so that rows written by plain SQL (bulk loads, benchmarks)
    #: are real applications unless they say otherwise.
    is_test = models.BooleanField("運用テスト", default=False, db_default=False)
    #: The assurance levels the submission met (身元確認 / 当人認証), and how: a snapshot of
    #: the :class:`~madoguchi.identity.assurance.VerifiedIdentity` at arrival, with any
    #: differences between the verified attributes and the answers (``mismatches``).
    ial = models.PositiveSmallIntegerField("身元確認レベル", default=1)
    aal = models.PositiveSmallIntegerField("当人認証レベル", default=1)
    identity = models.JSONField("本人確認の記録", default=dict, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_applications",
        verbose_name="担当者",
    )
    #: 標準処理期間の期限 (arrival + the procedure's processing days), for overdue filters.
    due_at = models.DateTimeField("処理期限", null=True, blank=True)
    #: Name (kana-folded, for staff search) of the applicant; never shown, only matched.
    search_name = models.CharField(max_length=200, blank=True)
    #: The receipt number's digits (no hyphens) and the same digits reversed, kept by
    #: :meth:`save` for the inbox search: a beginning is a range on the first, the trailing
    #: digits read out on the phone a range on the second — an index seek on both databases
    #: (see ``applications/inbox.py``). Never shown.
    receipt_digits = models.CharField(max_length=32, blank=True, default="")
    receipt_reversed = models.CharField(max_length=32, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "申請"
        verbose_name_plural = "申請"
        constraints = (
            # A retry, a double click or a resubmission after a timeout finds this row.
            models.UniqueConstraint(
                fields=("idempotency_scope", "idempotency_key"), name="application_idempotency"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ApplicationStatus.values),
                name="application_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="application_channel_known"
            ),
            models.CheckConstraint(
                condition=models.Q(ial__gte=1, ial__lte=3, aal__gte=1, aal__lte=3),
                name="application_levels_range",
            ),
        )
        indexes = (
            models.Index(fields=("organisation", "-arrived_at", "-id"), name="app_inbox"),
            models.Index(
                fields=("organisation", "status", "-arrived_at", "-id"), name="app_inbox_status"
            ),
            models.Index(fields=("applicant", "-arrived_at"), name="app_mine"),
            models.Index(
                fields=("organisation", "procedure", "-arrived_at", "-id"), name="app_inbox_proc"
            ),
            models.Index(
                fields=("organisation", "assignee", "-arrived_at", "-id"), name="app_inbox_assignee"
            ),
            models.Index(fields=("organisation", "due_at"), name="app_due"),
            models.Index(fields=("organisation", "receipt_digits"), name="app_receipt_digits"),
            models.Index(fields=("organisation", "receipt_reversed"), name="app_receipt_reversed"),
            # Statistics (stats.counts): counts by organisation × procedure × channel × month
            # are derived from this index alone — no counter row that every submission updates.
            models.Index(
                fields=("arrived_at", "organisation", "procedure", "channel"),
                name="app_stats",
                condition=models.Q(is_test=False),
            ),
        )

    def __str__(self) -> str:
        return self.receipt_number

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.receipt_digits, self.receipt_reversed = receipt_search_keys(self.receipt_number)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "receipt_number" in update_fields:
            kwargs["update_fields"] = {*update_fields, "receipt_digits", "receipt_reversed"}
        super().save(*args, **kwargs)


def receipt_search_keys(receipt_number: str) -> tuple[str, str]:
    """The digits of a receipt number, and the same reversed: "142042-260401-00001234" →
    ("14204226040100001234", "43210000104062240241")."""
    digits = "".join(ch for ch in receipt_number if ch in "0123456789")
    return digits, digits[::-1]


class CounterHandoff(models.Model):
    """書かない窓口: a single-use code that lets counter staff of the procedure's organisation
    open a resident's draft in the counter registration. Only SHA-256 hashes of the QR token
    and of the short code are kept; the row is deleted when the application is registered."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="+")
    #: SET_NULL: a draft deleted meanwhile (sent online, discarded) is told apart from a
    #: code that never existed.
    draft = models.ForeignKey(
        Draft, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoffs"
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    token_sha256 = models.CharField(max_length=64, unique=True)
    code_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "窓口への引き継ぎ"
        verbose_name_plural = "窓口への引き継ぎ"

    def __str__(self) -> str:
        return f"handoff {self.pk}"


class ApplicationRevision(models.Model):
    """The answers of each revision (補正) of an application, history kept."""

    #: The application's organisation, kept on the row (every tenant-owned table carries it).
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="revisions")
    revision = models.PositiveIntegerField()
    answers = models.JSONField()
    answers_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("application", "revision"), name="revision_unique"),
        )

    def __str__(self) -> str:
        return f"{self.application_id} r{self.revision}"


class ApplicationSignature(models.Model):
    """電子署名: a verified JPKI signature over one revision's canonical bytes, kept with the
    certificate and the outcome of every check, so that staff (and a later audit) see who
    signed what and how it was verified."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="signatures"
    )
    revision = models.PositiveIntegerField()
    #: The detached CMS SignedData (DER) as received, and the signer's certificate (DER).
    cms = models.BinaryField()
    certificate = models.BinaryField()
    #: SHA-256 of the canonical bytes signed (:mod:`madoguchi.applications.canonical`).
    content_sha256 = models.CharField(max_length=64)
    subject = models.CharField(max_length=80)
    signer_name = models.CharField("署名者", max_length=200)
    issuer = models.CharField(max_length=400)
    serial = models.CharField(max_length=80)
    not_after = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    revocation = models.CharField("失効確認", max_length=200)
    verified_at = models.DateTimeField("検証日時")
    #: How the signature was made: "upload" (a file), "api", "national_app" (digest signing).
    via = models.CharField(max_length=32)
    #: 基本4情報 as the certificate states them, and where the answers differ.
    attributes = models.JSONField(default=dict)
    mismatches = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "電子署名"
        verbose_name_plural = "電子署名"
        constraints = (
            models.UniqueConstraint(
                fields=("application", "revision"), name="signature_per_revision"
            ),
        )

    def __str__(self) -> str:
        return f"{self.application_id} r{self.revision} {self.signer_name}"


class Attachment(models.Model):
    """添付ファイル: checked, re-encoded where it is an image, and stored encrypted on disk.

    Uploaded while filling in a form (owned by the resident, or by a guest upload key), then
    claimed by exactly one application at submission. Unclaimed files expire with drafts.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    #: The procedure's organisation: the one the file is sent to.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    field_key = models.CharField(max_length=64)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
    )
    #: For applications without an account: a random key kept in the guest's session.
    guest_key = models.CharField(max_length=64, blank=True, db_index=True)
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    revision = models.PositiveIntegerField(null=True, blank=True)
    name = models.CharField("ファイル名", max_length=200)
    kind = models.CharField(max_length=16)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    scanned = models.BooleanField("ウイルス検査済み", default=False)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "添付ファイル"
        verbose_name_plural = "添付ファイル"
        indexes = (models.Index(fields=("owner", "procedure"), name="attachment_owner"),)

    def __str__(self) -> str:
        return self.name


class ApplicationMessage(models.Model):
    """Messages between the organisation and the applicant, shown on my page."""

    Kind = MessageKind

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_staff = models.BooleanField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField(max_length=4000)
    #: For correction requests: the answer keys the applicant is asked to change.
    fields = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "申請のメッセージ"
        verbose_name_plural = "申請のメッセージ"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(kind__in=MessageKind.values), name="message_kind_known"
            ),
        )
        indexes = (models.Index(fields=("application", "created_at"), name="message_thread"),)

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind}"


class ApplicationTransition(models.Model):
    """One move of the workflow: who, when, from, to and why. Never changed afterwards."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="transitions"
    )
    from_status = models.CharField(max_length=32, choices=ApplicationStatus.choices)
    to_status = models.CharField(max_length=32, choices=ApplicationStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=64)
    reason = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "申請の状態遷移"
        verbose_name_plural = "申請の状態遷移"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(from_status__in=ApplicationStatus.values)
                & models.Q(to_status__in=ApplicationStatus.values),
                name="transition_status_known",
            ),
        )
        indexes = (models.Index(fields=("application", "created_at"), name="transition_history"),)

    def __str__(self) -> str:
        return f"{self.application_id} {self.from_status}→{self.to_status}"


class ApplicationNote(models.Model):
    """内部メモ: staff-only notes on an application, never shown to the applicant."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "内部メモ"
        verbose_name_plural = "内部メモ"

    def __str__(self) -> str:
        return f"note {self.application_id}"


class DecisionTemplate(models.Model):
    """Editable text for decisions (承認・却下の理由) per organisation."""

    Kind = DecisionTemplateKind

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="decision_templates"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField("名前", max_length=100)
    body = models.TextField("本文", max_length=4000)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "文例"
        verbose_name_plural = "文例"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(kind__in=DecisionTemplateKind.values),
                name="decision_template_kind_known",
            ),
        )

    def __str__(self) -> str:
        return self.title


class IssuedDocument(models.Model):
    """A decision notice (決定通知書) or other document issued to the applicant."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=32, choices=IssuedDocumentKind.choices)
    title = models.CharField(max_length=200)
    #: The issued document itself (number, code, sealed PDF) in the documents register.
    record = models.OneToOneField(
        "documents.Document", on_delete=models.PROTECT, related_name="issued_for"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "交付文書"
        verbose_name_plural = "交付文書"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(kind__in=IssuedDocumentKind.values),
                name="issued_document_kind_known",
            ),
        )

    def __str__(self) -> str:
        return self.title

    @property
    def pdf(self) -> bytes:
        """The PDF as it stands now (sealed; grown by archival timestamps)."""
        return bytes(self.record.pdf)

    @property
    def sha256(self) -> str:
        """The SHA-256 of the PDF as issued."""
        return self.record.sha256


class DuplicateKey(models.Model):
    """One key of an application for the duplicate rule (重複申請の扱い) of its procedure.

    ``digest`` is an HMAC-SHA256 (keyed from the secret key) of the normalised person or
    household (name + date of birth, or the address): the plain values are never stored here.
    A row that ``holds`` the rule is unique per (procedure, kind, digest, period) by a partial
    unique index, so two concurrent submissions cannot both hold it; other rows (rule none,
    a counter/mail application registered despite a holder, a released claim) are kept for
    staff to see possible duplicates.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="duplicate_keys"
    )
    kind = models.CharField(max_length=16, choices=DuplicateKeyKind.choices)
    digest = models.CharField(max_length=64)
    #: "" (no period) or the fiscal year (年度) of arrival, e.g. "FY2025".
    period = models.CharField(max_length=16, blank=True, default="")
    holds = models.BooleanField("受付を1件に限る権利", default=False)
    #: Whether the key came from verified attributes (card, national login) or the answers.
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "重複判定キー"
        verbose_name_plural = "重複判定キー"
        constraints = (
            models.UniqueConstraint(
                fields=("procedure", "kind", "digest", "period"),
                condition=models.Q(holds=True),
                name="duplicate_key_one_holder",
            ),
            models.UniqueConstraint(
                fields=("application", "kind"), name="duplicate_key_per_application"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=DuplicateKeyKind.values),
                name="duplicate_key_kind_known",
            ),
            models.CheckConstraint(
                condition=models.Q(holds=False) | models.Q(released_at__isnull=True),
                name="duplicate_key_released_does_not_hold",
            ),
        )
        indexes = (
            models.Index(
                fields=("organisation", "procedure", "kind", "digest", "period"),
                name="duplicate_key_lookup",
            ),
        )

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind}"


class DuplicateResolution(models.Model):
    """Staff's recorded decision on two applications that may be duplicates (kept in id order:
    ``first`` is the lower id). One per pair; a later decision replaces it, and every
    decision is in the audit log."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    first = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField("判断", max_length=16, choices=DuplicateVerdict.choices)
    reason = models.TextField("理由", max_length=2000)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField("判断日時")

    class Meta:
        verbose_name = "重複の判断"
        verbose_name_plural = "重複の判断"
        constraints = (
            models.UniqueConstraint(fields=("first", "second"), name="duplicate_resolution_pair"),
            models.CheckConstraint(
                condition=models.Q(first__lt=models.F("second")),
                name="duplicate_resolution_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(verdict__in=DuplicateVerdict.values),
                name="duplicate_resolution_verdict_known",
            ),
        )

    def __str__(self) -> str:
        return f"{self.first_id}/{self.second_id} {self.verdict}"


class DecisionProposal(models.Model):
    """起案: a decision proposed by one staff member that takes effect only when signed off
    (決裁) at every step its procedure asks for, each by someone else.

    At most one proposal of an application is pending (a database constraint). A pending
    proposal whose application has left ``from_status`` (the applicant withdrew) is stale:
    signing it is refused and a new proposal cancels it.
    """

    State = ProposalState

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="proposals")
    outcome = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField(max_length=2000, blank=True)
    #: 被害の程度 an approval of a 罹災証明書 procedure certifies (one of
    #: ``documents.certificate.DAMAGE_LEVELS``), kept until the last sign-off; else empty.
    damage_level = models.CharField(max_length=32, blank=True, default="")
    #: The status the proposer saw; the decision is made against it at the last sign-off.
    from_status = models.CharField(max_length=32, choices=ApplicationStatus.choices)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField()
    #: Sign-off steps required (copied from the procedure when proposed) and done so far.
    steps_required = models.PositiveSmallIntegerField()
    steps_done = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=ProposalState.choices, default="pending")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: Why it was returned (差戻しの理由), shown to the proposer.
    return_reason = models.TextField(max_length=2000, blank=True)

    class Meta:
        verbose_name = "決定の起案"
        verbose_name_plural = "決定の起案"
        constraints = (
            models.UniqueConstraint(
                fields=("application",),
                condition=models.Q(state="pending"),
                name="proposal_one_pending",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=ProposalState.values), name="proposal_state_known"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=Decision.values), name="proposal_outcome_known"
            ),
            models.CheckConstraint(
                condition=models.Q(steps_required__gte=1, steps_done__gte=0)
                & models.Q(steps_done__lte=models.F("steps_required")),
                name="proposal_steps_range",
            ),
        )
        indexes = (models.Index(fields=("organisation", "state"), name="proposal_pending"),)

    def __str__(self) -> str:
        return f"proposal {self.pk} ({self.application_id})"


class DecisionSignoff(models.Model):
    """決裁: one step of a proposal signed off. A step is signed once (a second sign-off of
    the same step fails on the constraint), and one person signs at most one step."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    proposal = models.ForeignKey(
        DecisionProposal, on_delete=models.CASCADE, related_name="signoffs"
    )
    step = models.PositiveSmallIntegerField()
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    comment = models.TextField(max_length=2000, blank=True)

    class Meta:
        verbose_name = "決裁"
        verbose_name_plural = "決裁"
        constraints = (
            models.UniqueConstraint(fields=("proposal", "step"), name="signoff_step_once"),
            models.UniqueConstraint(fields=("proposal", "signer"), name="signoff_signer_once"),
        )

    def __str__(self) -> str:
        return f"signoff {self.proposal_id}#{self.step}"


class StaffNotice(models.Model):
    """Something a staff member should look at (a new arrival, an answered correction, a
    sign-off request). Written in the transaction of the event; mailed later, grouped, by
    :func:`madoguchi.applications.staff_notices.staff_notices_deliver` (at once, or in the
    daily digest, as the member chose)."""

    Kind = StaffNoticeKind

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_notices"
    )
    kind = models.CharField(max_length=32, choices=StaffNoticeKind.choices)
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="staff_notices"
    )
    created_at = models.DateTimeField()
    #: When it went out in a mail (None: waiting for the next mail or digest).
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "職員へのお知らせ"
        verbose_name_plural = "職員へのお知らせ"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(kind__in=StaffNoticeKind.values), name="staff_notice_kind_known"
            ),
        )
        indexes = (
            models.Index(
                fields=("recipient", "created_at"),
                condition=models.Q(mailed_at__isnull=True),
                name="staff_notice_waiting",
            ),
        )

    def __str__(self) -> str:
        return f"notice {self.kind} {self.application_id}"


class PurgedArrivalCount(models.Model):
    """Applications purged at the end of their retention period, counted by organisation ×
    procedure × month of arrival (Japan time) × channel.

    The statistics count applications from the applications themselves
    (:func:`madoguchi.applications.selectors.arrival_counts`); the retention purge moves
    each application it deletes into this tally in the same transaction, so that a past
    year's figures never change when its cases are purged. Written only by the purge (one
    background worker), never by a submission.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    month = models.DateField("月（1日）")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "削除済み申請の件数"
        verbose_name_plural = "削除済み申請の件数"
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "procedure", "month", "channel"),
                name="purged_arrival_count_unique",
            ),
        )

    def __str__(self) -> str:
        return f"{self.organisation_id}/{self.procedure_id}/{self.month:%Y-%m}/{self.channel}: {self.count}"
