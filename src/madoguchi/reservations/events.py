"""イベント・講座の書き込み (the write path of events and courses): save, sign up, cancel,
draw, check in at the door, and the reminder the day before.

First come: a signup takes a numbered seat (0 … capacity-1) by *inserting* it under the
unique constraint (event, seat), trying the next seat when the database refuses — never by
counting first — so two residents racing for the last seat cannot both get it. When every
seat is taken, the signup waits (キャンセル待ち) if the event keeps a waitlist, else it is
refused as 満員; a cancelled seat goes to the first waiting signup in the same transaction.

Lottery: entries have no seat until the draw. The draw is :func:`madoguchi.reservations.draw.draw`
with each entry one :class:`~madoguchi.reservations.draw.Entrant` whose single choice is the
event (``((event_pk,),)``). Because one choice can only be won once, the draw's *winners*
would be one entry; instead the first ``capacity`` codes of ``DrawResult.order`` (the ticket
order every verifier recomputes from the published seed and entrant list) win, each getting
the seat of its place. The commitment of the seed is published while entries are open; the
seed and the entrants digest after the draw.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.db import IntegrityError, transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.roles import reverse_any
from madoguchi.core.text import visible_text
from madoguchi.core.time import now as _now
from madoguchi.core.time import to_tokyo
from madoguchi.identity.models import Staff, User
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.reservations.draw import ALGORITHM, Entrant, commitment_of, draw
from madoguchi.reservations.models import Event, EventSignup, Facility
from madoguchi.reservations.models.events import EventMode, SignupStatus
from madoguchi.reservations.services import ReservationError
from madoguchi.tenants.models import Organisation

MAX_CAPACITY: Final = 10_000
MAX_TITLE: Final = 100
MAX_TEXT: Final = 5_000
MAX_VENUE: Final = 200
MAX_FEE: Final = 1_000_000
MAX_CODE: Final = 16
#: Signups in these statuses are live (one per user per event).
LIVE: Final = (SignupStatus.ENTERED, SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)
#: The reminder goes this long before the start (once per event).
REMINDER_BEFORE: Final = timedelta(days=1)


def _event_url(event: Event) -> str:
    return settings.PORTAL_URL.rstrip("/") + reverse_any(
        "portal:event", args=[event.organisation.lg_code, event.pk]
    )


def _when(event: Event) -> str:
    start, end = to_tokyo(event.starts_at), to_tokyo(event.ends_at)
    return f"{start:%Y年%m月%d日 %H:%M}〜{end:%H:%M}"


def _mail(signup: EventSignup, subject: str, body: str, now: datetime) -> None:
    event = signup.event
    outbox_enqueue_email(
        to=signup.email,
        subject=f"【{event.organisation.name}】{subject}（{event.title}）",
        body=(
            f"{event.title}\n日時: {_when(event)}\n会場: {event.venue}\n"
            f"受付番号: {signup.code}\n\n{body}\n\n{_event_url(event)}\n"
        ),
        now=now,
        organisation=event.organisation,
    )


def event_save(
    *,
    organisation: Organisation,
    staff: Staff,
    event_id: int | None,
    title: str,
    description: str = "",
    rules: str = "",
    venue: str = "",
    facility_id: int | None = None,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    signup_opens_at: datetime,
    signup_closes_at: datetime,
    mode: str = EventMode.FIRST_COME,
    waitlist: bool = False,
    fee: int = 0,
    published: bool = False,
    now: datetime | None = None,
) -> Event:
    """イベント・講座の作成・変更 by staff of the organisation.

    Guarantees: times in order (signup closes before the start), a capacity of 1–10,000;
    a lottery gets its secret seed and published commitment when it becomes a lottery;
    the mode cannot change once anyone signed up, nor anything after the draw; the capacity
    cannot go below the seats already given. Raises :class:`ReservationError`;
    ``Event.DoesNotExist`` / ``Facility.DoesNotExist`` for another organisation's."""
    now = now or _now()
    if staff.organisation_id != organisation.pk:
        raise Event.DoesNotExist
    title = visible_text(title).replace("\n", " ")
    if not title:
        raise ReservationError("名称を入力してください。", code="invalid")
    if len(title) > MAX_TITLE:
        raise ReservationError(f"名称は{MAX_TITLE}文字以内で入力してください。", code="invalid")
    description, rules = visible_text(description), visible_text(rules)
    if len(description) > MAX_TEXT or len(rules) > MAX_TEXT:
        raise ReservationError(
            f"内容と参加の決まりは、それぞれ{MAX_TEXT}文字以内で入力してください。", code="invalid"
        )
    venue = visible_text(venue).replace("\n", " ")
    if len(venue) > MAX_VENUE:
        raise ReservationError(f"会場は{MAX_VENUE}文字以内で入力してください。", code="invalid")
    if mode not in EventMode.values:
        raise ReservationError("申込の方法を選んでください。", code="invalid")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ReservationError(
            f"定員は1人から{MAX_CAPACITY}人までで入力してください。", code="invalid"
        )
    if not 0 <= fee <= MAX_FEE:
        raise ReservationError("参加費を確かめてください。", code="invalid")
    if ends_at <= starts_at:
        raise ReservationError("終了日時は、開始日時より後にしてください。", code="invalid")
    if signup_closes_at <= signup_opens_at:
        raise ReservationError("申込の締切は、受付開始より後にしてください。", code="invalid")
    if signup_closes_at > starts_at:
        raise ReservationError("申込の締切は、開始日時より前にしてください。", code="invalid")
    with transaction.atomic(durable=True):
        facility = None
        if facility_id is not None:
            facility = Facility.objects.get(pk=facility_id, organisation=organisation)
        if event_id is None:
            event = Event(organisation=organisation)
        else:
            event = Event.objects.select_for_update().get(pk=event_id, organisation=organisation)
            if event.drawn_at is not None:
                raise ReservationError("抽選の後は変更できません。", code="state")
            signups = EventSignup.objects.filter(event=event)
            if mode != event.mode and signups.exists():
                raise ReservationError(
                    "申込みがあるため、申込の方法は変えられません。", code="state"
                )
            top = (
                signups.filter(seat__isnull=False)
                .order_by("-seat")
                .values_list("seat", flat=True)
                .first()
            )
            if top is not None and capacity <= top:
                raise ReservationError(
                    "すでに席が決まった方がいるため、定員をそこまで減らせません。", code="state"
                )
        event.title, event.description, event.rules, event.venue = title, description, rules, venue
        event.facility = facility
        event.starts_at, event.ends_at = starts_at, ends_at
        event.signup_opens_at, event.signup_closes_at = signup_opens_at, signup_closes_at
        event.capacity, event.mode, event.waitlist, event.fee = capacity, mode, waitlist, fee
        event.published = published
        if mode == EventMode.LOTTERY and not event.draw_seed:
            event.draw_seed = secrets.token_hex(32)
            event.draw_commitment = commitment_of(event.draw_seed)
        event.save()
        audit_record(
            action=AuditAction.EVENT_SAVED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            target_type="event",
            target_id=event.pk,
            detail={"capacity": capacity, "mode": mode, "published": published},
        )
        return event


def _new_code() -> str:
    return secrets.token_hex(4).upper()


def _insert_signup(
    event: Event, user: User, seat: int | None, **fields: object
) -> EventSignup | None:
    """Insert a signup with ``seat``; None when the seat was taken meanwhile. Raises
    :class:`ReservationError` when the user already has a live signup."""
    for _ in range(5):
        try:
            with transaction.atomic():
                return EventSignup.objects.create(
                    event=event, user=user, seat=seat, code=_new_code(), **fields
                )
        except IntegrityError:
            if EventSignup.objects.filter(event=event, user=user, status__in=LIVE).exists():
                raise ReservationError(
                    "このイベントには、すでに申し込んでいます。", code="duplicate"
                ) from None
            if seat is not None and EventSignup.objects.filter(event=event, seat=seat).exists():
                return None
            continue  # a code collision: try another code
    raise ReservationError("受付番号を発行できませんでした。もう一度お試しください。")


def event_signup(
    *,
    organisation: Organisation,
    event_id: int,
    user: User,
    name: str,
    now: datetime | None = None,
) -> EventSignup:
    """イベント・講座への申込 by a logged-in resident (one person, one live signup per event).

    Guarantees: the event is published and its window open; first come: a seat is taken by
    insert (the last seat is given once), or the signup waits (waitlist) or is refused (満員);
    lottery: an entry without a seat. A confirmation mail is queued, the act audited. Raises
    :class:`ReservationError` (nothing stored); ``Event.DoesNotExist`` for another
    organisation's or an unpublished event."""
    now = now or _now()
    name = visible_text(name).replace("\n", " ")
    if not name:
        raise ReservationError("氏名を入力してください。", code="invalid")
    if len(name) > 50:
        raise ReservationError("氏名は50文字以内で入力してください。", code="invalid")
    with transaction.atomic(durable=True):
        event = Event.objects.select_related("organisation").get(
            pk=event_id, organisation=organisation, published=True
        )
        if now < event.signup_opens_at:
            opens = to_tokyo(event.signup_opens_at)
            raise ReservationError(
                f"申込みは{opens:%Y年%m月%d日 %H:%M}から受け付けます。", code="not_open"
            )
        if now >= event.signup_closes_at or now >= event.starts_at:
            raise ReservationError("申込みの受付は終わりました。", code="closed")
        if EventSignup.objects.filter(event=event, user=user, status__in=LIVE).exists():
            raise ReservationError("このイベントには、すでに申し込んでいます。", code="duplicate")
        fields: dict[str, object] = {
            "organisation": organisation,
            "name": name,
            "email": user.email,
        }
        signup: EventSignup | None = None
        if event.mode == EventMode.LOTTERY:
            signup = _insert_signup(event, user, None, status=SignupStatus.ENTERED, **fields)
            subject, body = (
                "抽選の申込みを受け付けました",
                (f"定員は{event.capacity}人です。締切の後に抽選し、結果をメールでお知らせします。"),
            )
        else:
            taken = set(
                EventSignup.objects.filter(event=event, seat__isnull=False).values_list(
                    "seat", flat=True
                )
            )
            for seat in range(event.capacity):
                if seat in taken:
                    continue
                signup = _insert_signup(
                    event, user, seat, status=SignupStatus.CONFIRMED, confirmed_at=now, **fields
                )
                if signup is not None:
                    break
            if signup is not None:
                subject, body = (
                    "参加の申込みが確定しました",
                    "当日は、この受付番号を会場でお伝えください。",
                )
            elif event.waitlist:
                signup = _insert_signup(event, user, None, status=SignupStatus.WAITLISTED, **fields)
                subject, body = (
                    "キャンセル待ちで受け付けました",
                    (
                        "満員のため、キャンセル待ちです。席が空いたら順に参加確定とし、メールでお知らせします。"
                    ),
                )
            else:
                raise ReservationError("申し訳ありませんが、満員になりました。", code="full")
        assert signup is not None
        audit_record(
            action=AuditAction.EVENT_SIGNED_UP,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="event_signup",
            target_id=signup.pk,
            detail={"event": event.pk, "status": signup.status},
        )
        _mail(signup, subject, body, now)
        return signup


def event_cancel_signup(
    *,
    organisation: Organisation,
    signup_id: int,
    user: User,
    now: datetime | None = None,
) -> EventSignup:
    """申込みの取消し by the resident: the seat is freed and, if someone waits, given to the
    first waiting signup (mailed) in the same transaction. Raises :class:`ReservationError`
    after the start or when already ended; ``EventSignup.DoesNotExist`` for someone else's."""
    now = now or _now()
    with transaction.atomic(durable=True):
        signup = (
            EventSignup.objects.select_for_update(of=("self",))
            .select_related("event", "event__organisation")
            .get(pk=signup_id, organisation=organisation, user=user)
        )
        event = signup.event
        if signup.status not in LIVE:
            raise ReservationError("この申込みは、すでに終わっています。", code="state")
        if event.starts_at <= now:
            raise ReservationError("開始後は取り消せません。", code="past")
        freed = signup.seat
        signup.status = SignupStatus.CANCELLED
        signup.seat = None
        signup.cancelled_at = now
        signup.save(update_fields=["status", "seat", "cancelled_at", "updated_at"])
        audit_record(
            action=AuditAction.EVENT_SIGNUP_CANCELLED,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="event_signup",
            target_id=signup.pk,
            detail={"event": event.pk},
        )
        if freed is not None and event.mode == EventMode.FIRST_COME:
            waiting = (
                EventSignup.objects.select_for_update()
                .filter(event=event, status=SignupStatus.WAITLISTED)
                .order_by("created_at", "id")
                .first()
            )
            if waiting is not None:
                waiting.status = SignupStatus.CONFIRMED
                waiting.seat = freed
                waiting.confirmed_at = now
                waiting.save(update_fields=["status", "seat", "confirmed_at", "updated_at"])
                _mail(
                    waiting,
                    "キャンセル待ちから参加確定になりました",
                    "席が空いたので、参加確定になりました。参加できない場合は、マイページから取り消してください。",
                    now,
                )
        return signup


def event_draw(
    *,
    organisation: Organisation,
    staff: Staff,
    event_id: int,
    now: datetime | None = None,
) -> Event:
    """抽選 of a lottery event, once, after its window closed (see the module text for the
    rule). Guarantees: winners get seats 0 … in ticket order and CONFIRMED, others LOST, each
    mailed; the seed and entrants digest are stored for publication; audited. Raises
    :class:`ReservationError` before the close, for a first-come event or when already drawn;
    ``Event.DoesNotExist`` for another organisation's."""
    now = now or _now()
    if staff.organisation_id != organisation.pk:
        raise Event.DoesNotExist
    with transaction.atomic(durable=True):
        event = (
            Event.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .get(pk=event_id, organisation=organisation)
        )
        if event.mode != EventMode.LOTTERY:
            raise ReservationError("先着順のイベントは抽選しません。", code="state")
        if event.drawn_at is not None:
            raise ReservationError("このイベントは、すでに抽選しました。", code="state")
        if now < event.signup_closes_at:
            raise ReservationError("申込みの締切の後に抽選してください。", code="not_closed")
        entries = list(
            EventSignup.objects.select_for_update().filter(event=event, status=SignupStatus.ENTERED)
        )
        result = draw(
            seed=event.draw_seed,
            entrants=[Entrant(code=e.code, choices=((event.pk,),)) for e in entries],
            algorithm=ALGORITHM,
        )
        seat_of = {code: seat for seat, code in enumerate(result.order[: event.capacity])}
        for entry in entries:
            seat = seat_of.get(entry.code)
            if seat is None:
                entry.status = SignupStatus.LOST
                entry.save(update_fields=["status", "updated_at"])
                _mail(
                    entry,
                    "抽選の結果（落選）",
                    "申し訳ありませんが、抽選の結果、落選となりました。",
                    now,
                )
            else:
                entry.status = SignupStatus.CONFIRMED
                entry.seat = seat
                entry.confirmed_at = now
                entry.save(update_fields=["status", "seat", "confirmed_at", "updated_at"])
                _mail(
                    entry,
                    "抽選の結果（当選）",
                    "抽選の結果、当選しました。参加できない場合は、マイページから取り消してください。",
                    now,
                )
        event.drawn_at = now
        event.draw_digest = result.entrants_digest
        event.save(update_fields=["drawn_at", "draw_digest", "updated_at"])
        audit_record(
            action=AuditAction.EVENT_DRAWN,
            now=now,
            organisation=organisation,
            actor=staff.user,
            target_type="event",
            target_id=event.pk,
            detail={
                "entries": len(entries),
                "winners": len(seat_of),
                "digest": result.entrants_digest,
            },
        )
        return event


def event_check_in(
    *,
    organisation: Organisation,
    staff: Staff,
    event_id: int,
    code: str,
    now: datetime | None = None,
) -> EventSignup:
    """当日受付 at the door, by the signup's code. Guarantees: only a confirmed signup of this
    event is checked in, once. Raises :class:`ReservationError` for an unknown code, a signup
    not confirmed or already checked in; ``Event.DoesNotExist`` for another organisation's."""
    now = now or _now()
    if staff.organisation_id != organisation.pk:
        raise Event.DoesNotExist
    wanted = visible_text(code).upper().replace(" ", "")
    if not wanted or len(wanted) > MAX_CODE:
        raise ReservationError("受付番号を入力してください。", code="invalid")
    with transaction.atomic(durable=True):
        event = Event.objects.get(pk=event_id, organisation=organisation)
        signup = EventSignup.objects.select_for_update().filter(event=event, code=wanted).first()
        if signup is None:
            raise ReservationError("この受付番号の申込みはありません。", code="unknown")
        if signup.status != SignupStatus.CONFIRMED:
            raise ReservationError(
                f"この申込みは参加確定ではありません（{signup.get_status_display()}）。",
                code="state",
            )
        if signup.checked_in_at is not None:
            at = to_tokyo(signup.checked_in_at)
            raise ReservationError(f"すでに{at:%H:%M}に受付済みです。", code="duplicate")
        signup.checked_in_at = now
        signup.save(update_fields=["checked_in_at", "updated_at"])
        audit_record(
            action=AuditAction.EVENT_CHECKED_IN,
            now=now,
            organisation=organisation,
            actor=staff.user,
            target_type="event_signup",
            target_id=signup.pk,
            detail={"event": event.pk},
        )
        return signup


def event_reminders_send(*, now: datetime | None = None, limit: int = 100) -> int:
    """前日のお知らせ (a scheduled task): mail every confirmed attendee of each published event
    starting within :data:`REMINDER_BEFORE`, once per event (``reminder_sent_at``), each event
    in its own transaction. Returns how many events were done."""
    now = now or _now()
    due = list(
        Event.objects.filter(
            published=True,
            reminder_sent_at__isnull=True,
            starts_at__gt=now,
            starts_at__lte=now + REMINDER_BEFORE,
        ).values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in due:
        with transaction.atomic(durable=True):
            event = (
                Event.objects.select_for_update()
                .select_related("organisation")
                .filter(pk=pk, reminder_sent_at__isnull=True)
                .first()
            )
            if event is None:
                continue
            for signup in EventSignup.objects.filter(event=event, status=SignupStatus.CONFIRMED):
                signup.event = event
                _mail(
                    signup,
                    "明日の開催のお知らせ",
                    "明日の開催です。会場で受付番号をお伝えください。",
                    now,
                )
            event.reminder_sent_at = now
            event.save(update_fields=["reminder_sent_at", "updated_at"])
            done += 1
    return done


__all__ = [
    "event_cancel_signup",
    "event_check_in",
    "event_draw",
    "event_reminders_send",
    "event_save",
    "event_signup",
]
