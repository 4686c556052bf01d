"""Work at a glance (console home): how many applications wait in each list a staff member
works from, each count with the inbox query that lists exactly those applications.

A count is made by parsing the same query string the link carries and counting the inbox's
own query (:func:`~madoguchi.applications.inbox.inbox_count`), so the number on the home page
and the length of the list it links to cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.http import QueryDict

from madoguchi.applications.inbox import inbox_count, inbox_filters_parse
from madoguchi.identity.models import Staff

#: (key, label, inbox query, who sees it: "all" or "signers").
WORK_LISTS: Final = (
    ("new", "新しく届いた申請（未受付）", "status=submitted", "all"),
    ("mine", "自分が担当の処理中の申請", "assignee=me&open=1", "all"),
    ("resubmitted", "補正済み（申請者が回答した）", "status=resubmitted", "all"),
    ("overdue", "標準処理期間を過ぎた申請", "overdue=1&sort=due", "all"),
    ("signoff", "自分の決裁待ち", "signoff=mine", "signers"),
    ("waiting", "決裁待ちの起案（団体全体）", "signoff=waiting", "all"),
)


@dataclass(frozen=True)
class WorkCount:
    key: str
    label: str
    count: int
    query: str


def work_counts(*, staff: Staff, now: datetime) -> list[WorkCount]:
    """The counts of the staff member's work lists in their own organisation."""
    counts = []
    for key, label, query, who in WORK_LISTS:
        if who == "signers" and not staff.may_sign_off:
            continue
        filters, _ = inbox_filters_parse(QueryDict(query), viewer_id=staff.user_id)
        counts.append(
            WorkCount(
                key=key,
                label=label,
                count=inbox_count(organisation=staff.organisation, filters=filters, now=now),
                query=query,
            )
        )
    return counts
