"""What the applications app does when another app announces a change (``identity.events``)."""

from __future__ import annotations

from typing import Any

from madoguchi.applications.models import Draft


def delete_drafts_of_closing_resident(*, user_id: int, **_: Any) -> None:
    """A closing account's drafts go with it (in the closing transaction): nobody else ever
    saw them. Their uploads are removed by the expiry purge with their rows."""
    Draft.objects.filter(applicant_id=user_id).delete()
