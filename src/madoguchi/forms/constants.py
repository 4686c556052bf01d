from __future__ import annotations

from typing import Final

from django.db import models


class Privacy(models.TextChoices):
    """How a field's value must be handled (表示・記録・出力の扱い)."""

    ORDINARY = "ordinary", "通常"
    PERSONAL = "personal", "個人情報"
    SPECIFIC = "specific", "特定個人情報"


SCHEMA_VERSION: Final = 1
MAX_FIELDS: Final = 600
MAX_KEY_LENGTH: Final = 64
MAX_TEXT_LENGTH: Final = 20_000
MAX_REPEAT: Final = 50
KEY_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"
