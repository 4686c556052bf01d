"""What the operations side keeps in the database: the background worker's heartbeat."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last completed loop of one outbox worker (``madoguchi outbox_worker``), one row
    per worker name. ``/readyz`` answers "not ready" when the newest beat is too old."""

    name = models.CharField("ワーカー", max_length=64, unique=True)
    host = models.CharField("ホスト", max_length=255, blank=True)
    pid = models.PositiveIntegerField("プロセス番号", default=0)
    beat_at = models.DateTimeField("最後の確認")

    class Meta:
        verbose_name = "ワーカーの稼働記録"
        verbose_name_plural = "ワーカーの稼働記録"

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.pid})"
