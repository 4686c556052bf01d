"""What the applications app does when another app announces a change (``identity.events``)."""

from __future__ import annotations

from typing import Any

from madoguchi.applications.constants import ApplicationStatus, StaffNoticeKind
from madoguchi.applications.models import Application, Draft


def delete_drafts_of_closing_resident(*, user_id: int, **_: Any) -> None:
    """A closing account's drafts go with it (in the closing transaction): nobody else ever
    saw them. Their uploads are removed by the expiry purge with their rows."""
    Draft.objects.filter(applicant_id=user_id).delete()


def notify_staff_of_arrival(
    *,
    organisation_id: int,
    procedure_id: int,
    application_id: int,
    channel: str,
    arrived_at: Any,
    **_: Any,
) -> None:
    """A new online application: its reviewers are told (inside the submitting
    transaction; mailed by ``staff_notices``). Counter and mail applications were entered by
    staff themselves and tell no one. The event carries the ids: the application is not
    read back."""
    if channel != "online":
        return
    from madoguchi.applications.staff_notices import notices_add_for, procedure_reviewers

    users = procedure_reviewers(organisation_id=organisation_id, procedure_id=procedure_id)
    if users:
        notices_add_for(
            organisation_id=organisation_id,
            application_id=application_id,
            kind=StaffNoticeKind.ARRIVAL,
            user_ids=users,
            now=arrived_at,
        )


def notify_staff_of_resubmission(
    *, application_id: int, to_status: str, changed_at: Any, **_: Any
) -> None:
    """A correction answered (補正済み): the 担当者 is told, or the reviewers when none."""
    if to_status != ApplicationStatus.RESUBMITTED:
        return
    from madoguchi.applications.staff_notices import notices_add, reviewers_of

    application = Application.objects.select_related("procedure").get(pk=application_id)
    users = [application.assignee_id] if application.assignee_id else reviewers_of(application)
    notices_add(
        application=application,
        kind=StaffNoticeKind.RESUBMITTED,
        user_ids=users,
        now=changed_at,
    )
