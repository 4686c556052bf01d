"""Reading audit events: an organisation admin searches their own organisation's events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from madoguchi.audit.models import AuditEvent
from madoguchi.tenants.models import Organisation


@dataclass(frozen=True)
class AuditFilters:
    """What an admin searches by; empty values do not filter."""

    action: str = ""
    actor: str = ""
    target_type: str = ""
    target_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditCursor:
    """Where the next page starts: after the event (occurred_at, id), newest first."""

    occurred_at: datetime
    event_id: int


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: AuditCursor | None


def audit_events_search(
    *,
    organisation: Organisation,
    filters: AuditFilters,
    after: AuditCursor | None = None,
    limit: int = 50,
) -> AuditPage:
    """One page of ``organisation``'s audit events, newest first, matching ``filters``.

    Only events recorded for ``organisation`` are ever returned (platform events without an
    organisation and other organisations' events are not). Keyset pagination on
    (occurred_at, id) uses the (organisation, -occurred_at) index and never counts the whole
    table. ``action`` matches a prefix ("staff." finds every staff event); ``actor`` a part of
    the actor's label or address; ``target_*`` exactly; ``since`` inclusive, ``until`` exclusive.
    """
    limit = max(1, min(limit, 200))
    qs = AuditEvent.objects.filter(organisation=organisation).select_related("actor")
    if filters.action:
        qs = qs.filter(action__startswith=filters.action)
    if filters.actor:
        qs = qs.filter(
            Q(actor_label__icontains=filters.actor) | Q(actor__email__icontains=filters.actor)
        )
    if filters.target_type:
        qs = qs.filter(target_type=filters.target_type)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    if filters.since is not None:
        qs = qs.filter(occurred_at__gte=filters.since)
    if filters.until is not None:
        qs = qs.filter(occurred_at__lt=filters.until)
    if after is not None:
        qs = qs.filter(
            Q(occurred_at__lt=after.occurred_at)
            | Q(occurred_at=after.occurred_at, id__lt=after.event_id)
        )
    events = list(qs.order_by("-occurred_at", "-id")[: limit + 1])
    next_cursor = None
    if len(events) > limit:
        events = events[:limit]
        last = events[-1]
        next_cursor = AuditCursor(occurred_at=last.occurred_at, event_id=last.pk)
    return AuditPage(events=events, next_cursor=next_cursor)


def audit_actions_of(*, organisation: Organisation) -> list[str]:
    """The distinct actions recorded for ``organisation`` (for the search form's choices)."""
    return list(
        AuditEvent.objects.filter(organisation=organisation)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()[:500]
    )


def audit_count_recent(*, action: str, actor_id: int, since: datetime) -> int:
    """How many ``action`` events ``actor_id`` caused since ``since`` (for rate limits that
    must hold across processes: the events are the record and the counter at once)."""
    return AuditEvent.objects.filter(
        action=action, actor_id=actor_id, occurred_at__gte=since
    ).count()
