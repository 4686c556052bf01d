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


class IdentityDocument(models.TextChoices):
    """本人確認書類: what staff saw at the counter, or found copied in a mailed application.

    The first six carry a photograph (顔写真付き): one of them seen at the counter is an
    identity proofing of level 2 (see :data:`PHOTO_ID_DOCUMENTS`).
    """

    MY_NUMBER_CARD = "my_number_card", "マイナンバーカード"
    DRIVERS_LICENSE = "drivers_license", "運転免許証"
    PASSPORT = "passport", "パスポート"
    RESIDENCE_CARD = "residence_card", "在留カード"
    SPECIAL_PERMANENT_RESIDENT = "special_permanent_resident", "特別永住者証明書"
    DISABILITY_CERTIFICATE = "disability_certificate", "身体障害者手帳"
    HEALTH_INSURANCE = "health_insurance", "健康保険の資格確認書"
    PENSION_BOOK = "pension_book", "年金手帳・基礎年金番号通知書"
    OTHER = "other", "その他の書類"
    MAIL_COPY = "mail_copy", "郵送のため対面確認なし（本人確認書類の写しの同封あり）"
    NONE = "none", "本人確認書類の確認なし"


#: Documents with a photograph: seen at the counter, they prove identity at level 2.
PHOTO_ID_DOCUMENTS: Final = frozenset(
    {
        IdentityDocument.MY_NUMBER_CARD,
        IdentityDocument.DRIVERS_LICENSE,
        IdentityDocument.PASSPORT,
        IdentityDocument.RESIDENCE_CARD,
        IdentityDocument.SPECIAL_PERMANENT_RESIDENT,
        IdentityDocument.DISABILITY_CERTIFICATE,
    }
)


class ReceivedForm(models.TextChoices):
    """How staff enter a counter or mail application: the whole form, or its key fields."""

    FULL = "full", "申請様式のすべての項目"
    SHORT = "short", "主な項目（氏名・生年月日・住所と概要）"


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
    #: A certificate issued with an approval (罹災証明書).
    CERTIFICATE = "certificate", "証明書"


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

#: 書かない窓口: how long the code a resident shows at the counter stays usable.
COUNTER_HANDOFF_LIFETIME: Final = timedelta(hours=24)
#: Refused handoff look-ups (wrong, expired or used codes) one staff member may make in
#: :data:`COUNTER_HANDOFF_WINDOW` before further look-ups are refused for a while.
COUNTER_HANDOFF_MAX_FAILURES: Final = 10
COUNTER_HANDOFF_WINDOW: Final = timedelta(minutes=15)
#: The field key of the scanned paper form staff may attach to a counter or mail
#: application: not a field of any form (keys of forms never start with "_").
PAPER_FORM_FIELD: Final = "_paper_form"
PAPER_FORM_MAX_BYTES: Final = 20 * 1024 * 1024


class ProposalState(models.TextChoices):
    """Where a proposed decision (起案) stands in its sign-off (決裁)."""

    PENDING = "pending", "決裁待ち"
    APPROVED = "approved", "決裁済み（決定しました）"
    RETURNED = "returned", "差戻し"
    #: The application moved on without it (withdrawn by the applicant, a new proposal).
    CANCELLED = "cancelled", "取消し"


#: The most sign-off steps (決裁の段階) a procedure can ask for (係長・課長・部長).
SIGNOFF_MAX_STEPS: Final = 3


class StaffNoticeKind(models.TextChoices):
    """What a staff member is told about (mail now, or in the daily digest)."""

    ARRIVAL = "arrival", "新しい申請の到達"
    RESUBMITTED = "resubmitted", "補正済みの申請"
    SIGNOFF_REQUEST = "signoff_request", "決裁の依頼"
    SIGNOFF_RETURNED = "signoff_returned", "決裁の差戻し"
