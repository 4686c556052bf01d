"""What staff read about an application's history: its versions (版) side by side, and the
経過 with who did what by role and name — never an e-mail address.

A correction (補正) stores a new :class:`ApplicationRevision` and keeps the earlier ones; the
first revision is stored at arrival. Two versions are compared by their displayed rows (what
staff read, sealed values masked, never decrypted), matched by step and label, so a field
that appears only in one version (a condition changed) shows as added or removed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from madoguchi.applications.constants import ApplicationStatus, Channel
from madoguchi.applications.models import Application, ApplicationNote, ApplicationRevision
from madoguchi.applications.selectors import stored_display_rows
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

#: How the staff member who registered a counter or mail application wrote its summary: the
#: first line of the internal note (see ``received.application_register_received``).
SUMMARY_NOTE_PREFIX: Final = "【受付時の概要】"
#: Shown for a staff member whose name was never entered (their address is never shown).
UNNAMED_STAFF: Final = "職員（氏名未登録）"
APPLICANT: Final = "申請者"


def staff_display_name(user: User | None) -> str:
    """A staff member as staff and residents read them: the display name, else 「職員（氏名
    未登録）」; a display name that is an e-mail address is not shown either."""
    name = (user.display_name if user is not None else "").strip()
    return name if name and "@" not in name else UNNAMED_STAFF


@dataclass(frozen=True)
class VersionRow:
    step: str
    label: str
    older: str | None  # None: the field is not in the older version
    newer: str | None
    changed: bool


@dataclass(frozen=True)
class VersionComparison:
    revisions: list[int]
    older: int
    newer: int
    rows: list[VersionRow]

    @property
    def changed_count(self) -> int:
        return sum(1 for r in self.rows if r.changed)


def _keyed(rows: list[tuple[str, str, str]]) -> dict[tuple[str, str, int], str]:
    seen: Counter[tuple[str, str]] = Counter()
    keyed: dict[tuple[str, str, int], str] = {}
    for step, label, text in rows:
        seen[(step, label)] += 1
        keyed[(step, label, seen[(step, label)])] = text
    return keyed


def versions_compare(
    *,
    organisation: Organisation,
    application: Application,
    older: object = None,
    newer: object = None,
) -> VersionComparison | None:
    """Two versions of an application of ``organisation`` side by side (by default the one
    before the latest and the latest), every row marked changed or not; None while the
    application has one version only (or is another organisation's). Numbers that are not
    versions of this application fall back to the defaults: a hostile query string never
    fails."""
    if application.organisation_id != organisation.pk:
        return None
    stored = {
        r.revision: r
        for r in ApplicationRevision.objects.filter(
            application=application, organisation=organisation
        ).order_by("revision")
    }
    if len(stored) < 2:
        return None
    numbers = sorted(stored)
    new = _pick(newer, numbers, numbers[-1])
    old = _pick(older, numbers, numbers[numbers.index(new) - 1] if new != numbers[0] else new)
    if old > new:
        old, new = new, old
    if old == new:
        old, new = numbers[-2], numbers[-1]
    spec = form_spec(application.form_version)
    before = _keyed(stored_display_rows(spec, stored[old].answers))
    after = _keyed(stored_display_rows(spec, stored[new].answers))
    keys = list(after) + [k for k in before if k not in after]
    rows = [
        VersionRow(
            step=k[0],
            label=k[1],
            older=before.get(k),
            newer=after.get(k),
            changed=before.get(k) != after.get(k),
        )
        for k in keys
    ]
    return VersionComparison(revisions=numbers, older=old, newer=new, rows=rows)


def _pick(raw: object, numbers: list[int], default: int) -> int:
    text = str(raw or "").strip()[:6]
    return int(text) if text.isascii() and text.isdigit() and int(text) in numbers else default


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    change: str
    who: str
    reason: str


def _label(status: str) -> str:
    return str(ApplicationStatus(status).label) if status in ApplicationStatus.values else status


def _arrival_by(application: Application) -> str:
    """「申請者」 online; 「窓口（職員名）」/「郵送（職員名）」 for what staff registered."""
    if application.channel not in (Channel.COUNTER, Channel.MAIL):
        return APPLICANT
    extra = (application.identity or {}).get("extra") or {}
    staff_id = str(extra.get("staff_id", ""))
    user = User.objects.filter(pk=int(staff_id)).first() if staff_id.isdigit() else None
    where = "窓口" if application.channel == Channel.COUNTER else "郵送"
    return f"{where}（{staff_display_name(user)}）"


def application_history_rows(
    *, organisation: Organisation, application: Application
) -> list[HistoryRow]:
    """The 経過 of an application of ``organisation``, oldest first: its arrival (by the
    applicant, or by the staff member who registered it at the counter or from the post),
    then every move with the role and name of who made it and why; no e-mail address."""
    if application.organisation_id != organisation.pk:
        return []
    rows = [HistoryRow(application.arrived_at, "到達", _arrival_by(application), "")]
    for t in application.transitions.select_related("actor").order_by("created_at", "id"):
        if t.actor_label.startswith(APPLICANT):
            who = t.actor_label
        elif t.actor_id is not None:
            who = staff_display_name(t.actor)
        else:
            who = t.actor_label or "システム"
        rows.append(
            HistoryRow(
                t.created_at, f"{_label(t.from_status)} → {_label(t.to_status)}", who, t.reason
            )
        )
    return rows


def received_summary_noted(*, organisation: Organisation, application: Application) -> bool:
    """Whether the staff member who registered the application wrote a summary (kept as the
    first internal note)."""
    return ApplicationNote.objects.filter(
        organisation=organisation,
        application=application,
        body__startswith=SUMMARY_NOTE_PREFIX,
    ).exists()
