"""Mail to staff about work waiting for them: what is told, to whom, and how often.

What makes a notice (a :class:`StaffNotice` row, written in the transaction of the event, so
that nothing is told that did not happen):

- **a new arrival** (到達) of an online application: to the procedure's assigned reviewers
  (``Procedure.reviewers``, 審査担当); when none are assigned, to every active reviewer
  (役割「審査担当」) of the organisation;
- **a resubmitted correction** (補正済み): to the application's 担当者 when one is set, else
  as for a new arrival;
- **a sign-off request** (決裁の依頼): to every active staff member with the sign-off role
  (決裁権限) except the proposer and those who signed an earlier step of the same proposal;
- **a returned proposal** (差戻し): to the proposer.

Members who chose not to receive mail (``NoticeMode.NONE``) get no rows; they see the same
work as counts on the console home.

How often (the rate limit of every staff mail, decided here once): the notices are mailed by
:func:`staff_notices_deliver`, which ``madoguchi outbox_worker`` runs on every loop. A member
who chose mail at once gets **at most one mail per 10 minutes** (:data:`IMMEDIATE_GAP`): the
first notice goes out at the next loop, later ones wait and are listed together in the next
mail. A member who chose the daily digest gets **one mail a day**, after 8:00 Japan time
(:data:`DIGEST_HOUR`), listing everything since the last one; ``madoguchi staff_digest``
sends the digests at once (for a cron job at another hour). A rush of a thousand arrivals is
therefore one mail per member per 10 minutes with the count, not a thousand mails.

Mails name receipt numbers and procedures, never the applicant or the answers, and link to
the console page (``MADOGUCHI_CONSOLE_URL`` + the path of the application or the inbox
list). Delivery of the mail itself is the outbox's (at least once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q

from madoguchi.applications.constants import StaffNoticeKind
from madoguchi.applications.models import Application, StaffNotice
from madoguchi.catalog.models import Procedure
from madoguchi.core.roles import reverse_any
from madoguchi.core.time import TOKYO, to_tokyo
from madoguchi.identity.constants import NoticeMode, StaffRole
from madoguchi.identity.models import Staff
from madoguchi.notifications.services import outbox_enqueue_email

#: A member who chose mail at once gets at most one mail in this time.
IMMEDIATE_GAP: Final = timedelta(minutes=10)
#: The daily digest goes out from this hour (Japan time) on.
DIGEST_HOUR: Final = 8
#: Applications listed by name in one mail; the rest are counted.
MAX_LISTED: Final = 30

#: The inbox list each kind links to (query of the console inbox).
KIND_LIST_QUERY: Final = {
    StaffNoticeKind.ARRIVAL: "status=submitted",
    StaffNoticeKind.RESUBMITTED: "status=resubmitted",
    StaffNoticeKind.SIGNOFF_REQUEST: "signoff=mine",
    StaffNoticeKind.SIGNOFF_RETURNED: "assignee=me&open=1",
}


def _receiving(organisation_id: int, user_ids: Iterable[int]) -> list[int]:
    """The given users who are active staff of the organisation and want mail."""
    return list(
        Staff.objects.filter(
            organisation_id=organisation_id,
            user_id__in=list(user_ids),
            active=True,
            user__is_active=True,
        )
        .exclude(notice_mode=NoticeMode.NONE)
        .values_list("user_id", flat=True)
    )


def procedure_reviewers(*, organisation_id: int, procedure_id: int) -> list[int]:
    """:func:`reviewers_of` by ids, in one query: the procedure's assigned reviewers, else
    every reviewer of the organisation."""
    assigned = Exists(
        Procedure.reviewers.through.objects.filter(
            procedure_id=procedure_id, staff_id=OuterRef("pk")
        )
    )
    rows = list(
        Staff.objects.filter(organisation_id=organisation_id)
        .annotate(assigned=assigned)
        .filter(Q(assigned=True) | Q(role=StaffRole.REVIEWER))
        .values_list("user_id", "assigned")
    )
    listed = [user_id for user_id, is_assigned in rows if is_assigned]
    if listed:
        return listed
    return [user_id for user_id, is_assigned in rows if not is_assigned]


def reviewers_of(application: Application) -> list[int]:
    """User ids of who reviews the application's procedure (assigned reviewers, else every
    reviewer of the organisation)."""
    listed = list(application.procedure.reviewers.values_list("user_id", flat=True))
    if listed:
        return listed
    return list(
        Staff.objects.filter(
            organisation_id=application.organisation_id, role=StaffRole.REVIEWER
        ).values_list("user_id", flat=True)
    )


def signers_of(*, organisation_id: int, exclude: Iterable[int]) -> list[int]:
    """User ids of the organisation's active staff with the sign-off role, less ``exclude``."""
    return list(
        Staff.objects.filter(organisation_id=organisation_id, may_sign_off=True, active=True)
        .exclude(role=StaffRole.VIEWER)
        .exclude(user_id__in=list(exclude))
        .values_list("user_id", flat=True)
    )


def notices_add(
    *, application: Application, kind: str, user_ids: Iterable[int], now: datetime
) -> int:
    """Write notices for the users among ``user_ids`` who want mail (a step: joins the
    caller's transaction). Returns how many."""
    return notices_add_for(
        organisation_id=application.organisation_id,
        application_id=application.pk,
        kind=kind,
        user_ids=user_ids,
        now=now,
    )


def notices_add_for(
    *, organisation_id: int, application_id: int, kind: str, user_ids: Iterable[int], now: datetime
) -> int:
    """:func:`notices_add` by ids (the arrival event carries them)."""
    recipients = _receiving(organisation_id, dict.fromkeys(user_ids))
    StaffNotice.objects.bulk_create(
        StaffNotice(
            organisation_id=organisation_id,
            recipient_id=user_id,
            kind=kind,
            application_id=application_id,
            created_at=now,
        )
        for user_id in recipients
    )
    return len(recipients)


def console_link(path: str) -> str:
    """An absolute link to a console page, for mails (``MADOGUCHI_CONSOLE_URL``)."""
    return f"{settings.CONSOLE_URL}{path}"


@dataclass(frozen=True)
class NoticeReport:
    mails: int
    notices: int


def _digest_due(last_mailed: datetime | None, now: datetime) -> bool:
    local = to_tokyo(now)
    if local.hour < DIGEST_HOUR:
        return False
    start = datetime.combine(local.date(), time(DIGEST_HOUR), TOKYO)
    return last_mailed is None or last_mailed < start


def _body(staff: Staff, notices: list[StaffNotice], *, digest: bool) -> str:
    lines = [
        f"{staff.user.display_name or staff.user.email} 様",
        "",
        (
            "前回のお知らせ以降に、確認が必要な申請があります（1日1回のまとめ）。"
            if digest
            else "確認が必要な申請があります。"
        ),
        "",
    ]
    for kind in StaffNoticeKind:
        of_kind = [n for n in notices if n.kind == kind]
        if not of_kind:
            continue
        lines.append(f"■ {kind.label}（{len(of_kind)}件）")
        for notice in of_kind[:MAX_LISTED]:
            application = notice.application
            test = "【運用テスト】" if application.is_test else ""
            lines.append(
                f"  {test}受付番号 {application.receipt_number}（{application.procedure.name}）"
            )
            lines.append(
                "  " + console_link(reverse_any("console:application", args=[application.pk]))
            )
        if len(of_kind) > MAX_LISTED:
            lines.append(f"  ほか {len(of_kind) - MAX_LISTED}件")
        lines.append(
            "  一覧: " + console_link(f"{reverse_any('console:inbox')}?{KIND_LIST_QUERY[kind]}")
        )
        lines.append("")
    lines += [
        "このメールには申請者の個人情報を含めていません。内容は職員コンソールで確認してください。",
        "受け取り方（その都度・1日1回・受け取らない）は、職員コンソールの「お知らせメールの設定」で変えられます。",
        "  " + console_link(reverse_any("console:notice_settings")),
    ]
    return "\n".join(lines) + "\n"


def _deliver_to(user_id: int, *, now: datetime, digest_now: bool) -> int:
    """Mail one member's waiting notices if their mode says it is time; returns how many."""
    with transaction.atomic(durable=True):
        waiting = list(
            StaffNotice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(recipient_id=user_id, mailed_at__isnull=True)
            .select_related("application__procedure", "organisation")
            .order_by("created_at", "id")
        )
        if not waiting:
            return 0
        staff = (
            Staff.objects.select_related("user")
            .filter(user_id=user_id, active=True, user__is_active=True)
            .exclude(notice_mode=NoticeMode.NONE)
            .first()
        )
        if staff is None:
            # No longer staff, disabled, or chose no mail: the notices are dropped unsent.
            StaffNotice.objects.filter(pk__in=[n.pk for n in waiting]).delete()
            return 0
        # Notices of the member's own organisation only (a moved account keeps none).
        mine = [n for n in waiting if n.organisation_id == staff.organisation_id]
        last = StaffNotice.objects.filter(recipient_id=user_id).aggregate(Max("mailed_at"))[
            "mailed_at__max"
        ]
        digest = staff.notice_mode == NoticeMode.DIGEST
        if digest and not (digest_now or _digest_due(last, now)):
            return 0
        if not digest and last is not None and now - last < IMMEDIATE_GAP:
            return 0
        if mine:
            count = len(mine)
            outbox_enqueue_email(
                to=staff.user.email,
                subject=(
                    # Only test applications waiting: say so, as every other mail about one does.
                    f"{'【運用テスト】' if all(n.application.is_test for n in mine) else ''}"
                    f"【{staff.organisation.name}】"
                    f"{'本日のまとめ: ' if digest else ''}確認が必要な申請が{count}件あります"
                ),
                body=_body(staff, mine, digest=digest),
                now=now,
                organisation=staff.organisation,
            )
        StaffNotice.objects.filter(pk__in=[n.pk for n in mine]).update(mailed_at=now)
        StaffNotice.objects.filter(pk__in=[n.pk for n in waiting if n not in mine]).delete()
        return len(mine)


def staff_notices_deliver(
    *, now: datetime, digest_now: bool = False, limit: int = 500
) -> NoticeReport:
    """Queue the mails that are due: for members who chose mail at once, one mail with every
    waiting notice when their last one is at least :data:`IMMEDIATE_GAP` old; for members who
    chose the digest, one mail a day after :data:`DIGEST_HOUR` (or now, with ``digest_now``).

    Each member is handled in a transaction of their own, with their notice rows locked
    (SKIP LOCKED), so two workers never mail the same notices twice. At most ``limit``
    members per call. Never raises for one member's data.
    """
    recipients = list(
        StaffNotice.objects.filter(mailed_at__isnull=True)
        .order_by("recipient_id")
        .values_list("recipient_id", flat=True)
        .distinct()[:limit]
    )
    mails = notices = 0
    for user_id in recipients:
        sent = _deliver_to(user_id, now=now, digest_now=digest_now)
        if sent:
            mails += 1
            notices += sent
    return NoticeReport(mails=mails, notices=notices)


def staff_digest_send(*, now: datetime) -> NoticeReport:
    """Send the daily digest to every member who chose it, now, whatever the hour (the
    ``madoguchi staff_digest`` command). Members who chose mail at once are handled as by
    :func:`staff_notices_deliver`."""
    return staff_notices_deliver(now=now, digest_now=True)
