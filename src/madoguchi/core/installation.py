"""This installation's identity (:class:`~madoguchi.core.models.Installation`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import IntegrityError, transaction

from madoguchi.core.models import Installation


def installation_get(*, now: datetime) -> Installation:
    """The installation's identity, made with a random id at first use.

    Safe when two processes ask at once: one row wins (its primary key is fixed), and both
    return it. Raises nothing of its own (database errors pass through).
    """
    found = Installation.objects.filter(singleton=1).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Installation.objects.create(
                singleton=1, installation_id=uuid.uuid4(), created_at=now
            )
    except IntegrityError:
        return Installation.objects.get(singleton=1)


def installation_id_or_none() -> str | None:
    """The installation id as hex, or ``None`` while it has not been used yet."""
    found = Installation.objects.filter(singleton=1).values_list("installation_id", flat=True)
    first = found.first()
    return first.hex if first is not None else None
