"""What the demo identity provider remembers between requests: codes, tokens, transactions."""

from __future__ import annotations

from django.db import models


class DemoGrant(models.Model):
    """One authorization code, access token, signing transaction or client assertion ``jti``
    of the demo identity provider. Only a hash of the secret is stored; ``used_at`` makes
    codes and ``jti`` single use (set by a conditional update, so two requests cannot both
    use one)."""

    class Kind(models.TextChoices):
        CODE = "code", "認可コード"
        TOKEN = "token", "アクセストークン"
        SIGN_TX = "sign_tx", "署名トランザクション"
        JTI = "jti", "クライアント認証のjti"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    key_hash = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "デモ認証サービスの記録"
        verbose_name_plural = "デモ認証サービスの記録"
        constraints = (models.UniqueConstraint(fields=("kind", "key_hash"), name="demo_grant_key"),)

    def __str__(self) -> str:
        return f"{self.kind} {self.key_hash[:8]}"
