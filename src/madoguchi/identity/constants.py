from __future__ import annotations

from django.db import models


class StaffRole(models.TextChoices):
    ADMIN = "admin", "団体管理者"
    REVIEWER = "reviewer", "審査担当"
    VIEWER = "viewer", "閲覧のみ"
