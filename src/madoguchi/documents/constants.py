"""Kinds and statuses of issued documents."""

from __future__ import annotations

from django.db import models


class DocumentKind(models.TextChoices):
    """What an issued document is."""

    DECISION_APPROVE = "decision_approve", "承認通知書"
    DECISION_REJECT = "decision_reject", "却下通知書"
    RECEIPT = "receipt", "到達通知"
    CERTIFICATE = "certificate", "証明書"
    PERMIT = "permit", "施設使用許可書"


class DocumentStatus(models.TextChoices):
    """Whether a document still stands (shown on /verify/)."""

    VALID = "valid", "有効"
    WITHDRAWN = "withdrawn", "取り消されています"
    SUPERSEDED = "superseded", "訂正された文書に差し替えられています"
