from __future__ import annotations

from django.db import models


class ProcedureStatus(models.TextChoices):
    DRAFT = "draft", "準備中"
    PUBLISHED = "published", "公開中"
    CLOSED = "closed", "受付終了"


class AssuranceLevel(models.IntegerChoices):
    """身元確認保証レベル (IAL) / 当人認証保証レベル (AAL), after the national guideline."""

    LOW = 1, "レベル1（メールアドレス等）"
    SUBSTANTIAL = 2, "レベル2（本人確認書類の画像等）"
    HIGH = 3, "レベル3（マイナンバーカード）"


LOCAL_SECTION_KEY = "local_questions"
LOCAL_STEP_KEY = "local"
LOCAL_KEY_PREFIX = "local_"


class Uniqueness(models.TextChoices):
    """重複申請の扱い: how many applications one person (or household) may have at once.

    The fiscal year is the 年度 of the arrival (April–March, Asia/Tokyo). A claim is released
    when its application is withdrawn (取下げ) or rejected (却下).
    """

    NONE = "none", "制限しない（何件でも申請できる）"
    PERSON = "person", "1人1件"
    PERSON_FISCAL_YEAR = "person_fiscal_year", "1人1年度1件"
    HOUSEHOLD = "household", "1世帯1件"
