"""Who may book a facility with which registration (利用できる人), decided in one place.

- ``group_only``: only group registrations book.
- ``min_group_members`` (N > 0): only groups of at least N people (代表者 included) book —
  an individual registration is a group of one and is refused, as the field's help says.
- ``eligibility``: ANYONE — no residency rule. LOCAL (市内在住・在勤・在学) and RESIDENTS (市内在住)
  — an individual must be so; a group's 代表者 must be so and at least half of its people
  (代表者 included) too, the usual rule of municipal facilities for groups.
"""

from __future__ import annotations

from madoguchi.reservations.constants import Eligibility, RegistrationKind, Residency
from madoguchi.reservations.models import Facility, Registration, RegistrationMember

_LOCAL = (Residency.RESIDENT, Residency.WORKER, Residency.STUDENT)


def registration_may_book(facility: Facility, registration: Registration) -> str | None:
    """None when ``registration`` may book ``facility``; otherwise why not, in Japanese."""
    group = registration.kind == RegistrationKind.GROUP
    if facility.group_only and not group:
        return "この施設は、団体で利用者登録をした方だけが予約できます。"
    people = list(
        RegistrationMember.objects.filter(registration=registration).values_list(
            "representative", "residency"
        )
    )
    if facility.min_group_members:
        count = len(people) if group else 1
        if count < facility.min_group_members:
            return (
                f"この施設は、{facility.min_group_members}人以上の団体で利用者登録をした方が"
                "予約できます。"
            )
    if facility.eligibility == Eligibility.ANYONE:
        return None
    allowed = (Residency.RESIDENT,) if facility.eligibility == Eligibility.RESIDENTS else _LOCAL
    who = (
        "市内に住んでいる方"
        if facility.eligibility == Eligibility.RESIDENTS
        else ("市内に住んでいる・通勤している・通学している方")
    )
    if registration.residency not in allowed:
        return f"この施設を予約できるのは、{who}です。"
    if group and people:
        local = sum(1 for _, residency in people if residency in allowed)
        if local * 2 < len(people):
            return f"この施設を予約できるのは、構成員の半数以上が{who}の団体です。"
    return None
