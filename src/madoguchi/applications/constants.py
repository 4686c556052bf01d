from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.db import models


class ApplicationStatus(models.TextChoices):
    SUBMITTED = "submitted", "到達"
    ACCEPTED = "accepted", "受付"
    IN_REVIEW = "in_review", "審査中"
    CORRECTION_REQUESTED = "correction_requested", "補正依頼中"
    RESUBMITTED = "resubmitted", "補正済み"
    APPROVED = "approved", "承認"
    REJECTED = "rejected", "却下"
    WITHDRAWN = "withdrawn", "取下げ"


class Channel(models.TextChoices):
    """How an application reached the organisation (the channel counts' key)."""

    ONLINE = "online", "オンライン"
    COUNTER = "counter", "窓口"
    MAIL = "mail", "郵送"


class DuplicateKeyKind(models.TextChoices):
    """What a duplicate key stands for (applications.duplicates)."""

    PERSON = "person", "同じ方"
    HOUSEHOLD = "household", "同じ世帯（住所）"


class DuplicateVerdict(models.TextChoices):
    """Staff's decision on two applications that may be duplicates."""

    NOT_DUPLICATE = "not_duplicate", "重複ではない"
    DUPLICATE = "duplicate", "重複（どちらか一方を取下げ・却下などで整理する）"


class Decision(models.TextChoices):
    """What staff decide (決定). Each has its own notice and status."""

    APPROVE = "approve", "承認"
    REJECT = "reject", "却下"


#: The status a decision moves the application to.
DECISION_STATUS: Final = {
    Decision.APPROVE: ApplicationStatus.APPROVED,
    Decision.REJECT: ApplicationStatus.REJECTED,
}


class IssuedDocumentKind(models.TextChoices):
    """Documents the organisation issues for an application."""

    DECISION_APPROVE = "decision_approve", "承認通知書"
    DECISION_REJECT = "decision_reject", "却下通知書"


class MessageKind(models.TextChoices):
    """Messages between the organisation and the applicant (my page)."""

    MESSAGE = "message", "お知らせ"
    CORRECTION = "correction", "補正のお願い"
    DECISION = "decision", "決定のお知らせ"
    REPLY = "reply", "申請者からの返信"


class DecisionTemplateKind(models.TextChoices):
    """What a 文例 is for."""

    APPROVE = "approve", "承認"
    REJECT = "reject", "却下"
    CORRECTION = "correction", "補正依頼"


#: The notice each decision issues.
DECISION_DOCUMENT: Final = {
    Decision.APPROVE: IssuedDocumentKind.DECISION_APPROVE,
    Decision.REJECT: IssuedDocumentKind.DECISION_REJECT,
}


#: States in which the applicant may still withdraw (取下げ).
WITHDRAWABLE: Final = frozenset(
    {
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.ACCEPTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.RESUBMITTED,
    }
)

DRAFT_LIFETIME: Final = timedelta(days=30)
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9_\-]{16,64}$"

#: Attachments not yet claimed by an application, per owner (account or guest key) and
#: procedure: what one application may carry at most, whatever its fields allow.
ATTACHMENT_MAX_FILES_PER_APPLICATION: Final = 20
ATTACHMENT_MAX_BYTES_PER_APPLICATION: Final = 50 * 1024 * 1024
#: An attachment field's own limit when its definition names none (as AttachmentField does).
ATTACHMENT_DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
#: Files one attachment field holds when its form says nothing (``max_files``).
ATTACHMENT_DEFAULT_MAX_FILES: Final = 5
ATTACHMENT_DEFAULT_ACCEPT: Final = ("pdf", "jpeg", "png")
#: Images larger than this are refused before decoding (a small file can unpack to gigabytes).
#: 40 megapixels is above every phone camera and A3 scan at 300 dpi (about 17 MP).
ATTACHMENT_MAX_PIXELS: Final = 40_000_000
#: How long clamd may take for one file before the upload is refused (fail closed).
CLAMD_TIMEOUT_SECONDS: Final = 60.0
