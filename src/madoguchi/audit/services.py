"""Recording audit events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.tenants.models import Organisation

if TYPE_CHECKING:
    # Audit lies below identity in the layers, so it cannot import
    # madoguchi.identity.models.User; django-stubs' plugin resolves this alias to the
    # AUTH_USER_MODEL, which is that User.
    from django.contrib.auth.models import _User as User


def audit_record(
    *,
    action: AuditAction | str,
    now: datetime,
    organisation: Organisation | None = None,
    actor: User | None = None,
    actor_label: str = "",
    target_type: str = "",
    target_id: str | int = "",
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event in the caller's transaction.

    ``detail`` must hold ids, codes and counts only, never answers or names: audit records
    outlive the applications they describe (retention purges keep them). ``action`` is one of
    :class:`AuditAction` (else ``ValueError``, before anything is written; the database holds
    the same rule as a check constraint).
    """
    action = AuditAction(action)
    return AuditEvent.objects.create(
        occurred_at=now,
        organisation=organisation,
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label[:200],
        action=action.value,
        target_type=target_type[:64],
        target_id=str(target_id)[:64],
        reason=reason[:500],
        detail=dict(detail or {}),
    )
