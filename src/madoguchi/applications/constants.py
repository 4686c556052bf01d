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
