from __future__ import annotations

from django.db import models


class StaffRole(models.TextChoices):
    ADMIN = "admin", "団体管理者"
    REVIEWER = "reviewer", "審査担当"
    VIEWER = "viewer", "閲覧のみ"


class NoticeMode(models.TextChoices):
    """How a staff member is told of work waiting for them (新着・補正済み・決裁の依頼)."""

    IMMEDIATE = "immediate", "その都度メールで受け取る（10分ごとにまとめて）"
    DIGEST = "digest", "1日1回、朝にまとめて受け取る"
    NONE = "none", "メールを受け取らない（コンソールのホームで確認する）"


class ProofingDocument(models.TextChoices):
    """本人確認書類 staff may record as seen. The first group carries a photo (one is enough);
    the second does not (two of them are needed), as at most municipal counters."""

    MY_NUMBER_CARD = "my_number_card", "マイナンバーカード（個人番号カード）"
    DRIVERS_LICENCE = "drivers_licence", "運転免許証"
    PASSPORT = "passport", "パスポート（旅券）"
    RESIDENCE_CARD = "residence_card", "在留カード・特別永住者証明書"
    DISABILITY_CERTIFICATE = "disability_certificate", "身体障害者手帳など（写真付き）"
    DRIVING_RECORD = "driving_record_certificate", "運転経歴証明書"
    HEALTH_INSURANCE = "health_insurance", "健康保険の資格確認書・被保険者証"
    PENSION_BOOK = "pension_book", "年金手帳・基礎年金番号通知書"
    PENSION_CERTIFICATE = "pension_certificate", "年金証書"
    OTHER_WITHOUT_PHOTO = "other_without_photo", "その他の公的な書類（写真なし）"


#: Documents with the holder's photo: one of them proves identity on its own.
PHOTO_DOCUMENTS = frozenset(
    {
        ProofingDocument.MY_NUMBER_CARD,
        ProofingDocument.DRIVERS_LICENCE,
        ProofingDocument.PASSPORT,
        ProofingDocument.RESIDENCE_CARD,
        ProofingDocument.DISABILITY_CERTIFICATE,
        ProofingDocument.DRIVING_RECORD,
    }
)
