"""抽選 (lotteries): create, enter, withdraw, draw, release — the write path.

Each public service owns its transaction, checks who may act, records its audit event and
raises :class:`~madoguchi.reservations.services.ReservationError` (Japanese) when it refuses,
storing nothing. The draw itself is :func:`madoguchi.reservations.draw.draw`, a pure function
anyone can re-run from the published data (``madoguchi lottery verify``).

**The scheme.** At creation a secret ``seed`` is drawn with :mod:`secrets` and its
``commitment`` (SHA-256 of algorithm and seed) is published at once, before anyone enters.
At the draw, the entrant list (public entry codes and their choices as slot ids, no names),
its digest and the seed are published with the winners. A second draw (release rule
``SECOND_DRAW``) has its own seed ``seed2``, drawn with :mod:`secrets` at the first draw and
independent of the first seed (which is public from then on: a seed derived from it would let
anyone compute the second draw's order in advance and forfeit or keep a win to game it). Only
``commitment_of(seed2)`` is published with the first draw's results; ``seed2`` is revealed
with the second draw's results and checked the same way.

**Choices and the parts of a hall.** In the published list a choice is given as the slots it
*occupies*: choosing a whole hall lists the hall's slot and the slots of its halves at the
same time, so that the draw never gives the hall to one entry and a half to another.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import jpholiday
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.time import now as _now
from madoguchi.core.time import to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.notifications.services import outbox_enqueue_emails
from madoguchi.reservations import draw as draw_module
from madoguchi.reservations.constants import (
    BookingSource,
    BookingStatus,
    Channel,
    DayType,
    LogKind,
    SlotState,
)
from madoguchi.reservations.models import (
    Booking,
    Claim,
    EntryStatus,
    Facility,
    FacilityLogEntry,
    Lottery,
    LotteryChoice,
    LotteryEntry,
    LotteryStatus,
    Registration,
    ReleaseRule,
    Resource,
    Slot,
)
from madoguchi.reservations.services import (
    MAX_IDEMPOTENCY_KEY,
    ReservationError,
    _expire,
    _log,
    _new_number,
    _registration_usable,
)
from madoguchi.tenants.models import Organisation

#: Crockford's base 32 (no I, L, O, U): entry codes are read aloud and typed.
CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH: Final = 8
#: A choice groups at most this many slots (e.g. two consecutive コマ, two days).
MAX_GROUP: Final = 4
MAX_CHOICES: Final = 5
NAME_MAX: Final = 100


# --- Helpers ------------------------------------------------------------------------------


def new_seed() -> str:
    """A fresh secret seed (256 bits from :mod:`secrets`, hex)."""
    return secrets.token_hex(32)


def new_code() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


def lottery_slots(lottery: Lottery) -> QuerySet[Slot]:
    """Every slot of the lottery's facilities in its month (any state)."""
    first, following = month_bounds(lottery.month)
    return Slot.objects.filter(
        organisation_id=lottery.organisation_id,
        facility__in=lottery.facilities.all(),
        date__gte=first,
        date__lt=following,
    )


def is_weekend(slot: Slot) -> bool:
    """土日祝: the slot's コマ is a holiday band, or its date is Saturday, Sunday or a holiday."""
    if slot.band is not None and slot.band.day_type == DayType.HOLIDAY:
        return True
    return slot.date.weekday() >= 5 or bool(jpholiday.is_holiday(slot.date))


def _occupied(slots: Iterable[Slot]) -> dict[int, tuple[int, ...]]:
    """Slot id → the ids of the slots a booking of it occupies (itself, and for a resource
    with parts, the leaf parts' slots at the same time), from the given slots only."""
    slots = list(slots)
    by_key = {(s.resource_id, s.starts_at): s.pk for s in slots}
    facility_ids = {s.facility_id for s in slots}
    children: dict[int, list[int]] = defaultdict(list)
    for pk, parent in Resource.objects.filter(
        facility_id__in=facility_ids, parent__isnull=False
    ).values_list("pk", "parent_id"):
        children[parent].append(pk)

    def leaves(resource: int) -> list[int]:
        if resource not in children:
            return [resource]
        return [leaf for child in children[resource] for leaf in leaves(child)]

    out: dict[int, tuple[int, ...]] = {}
    for slot in slots:
        parts = [
            by_key[(leaf, slot.starts_at)]
            for leaf in leaves(slot.resource_id)
            if leaf != slot.resource_id and (leaf, slot.starts_at) in by_key
        ]
        out[slot.pk] = (slot.pk, *parts)
    return out


def _expanded(group: Iterable[int], occupied: dict[int, tuple[int, ...]]) -> tuple[int, ...]:
    ids: set[int] = set()
    for slot in group:
        ids.update(occupied.get(slot, (slot,)))
    return tuple(sorted(ids))


def _require_admin(staff: Staff, organisation: Organisation) -> None:
    if staff.organisation_id != organisation.pk or not staff.active:
        raise Organisation.DoesNotExist
    if staff.role != StaffRole.ADMIN:
        raise ReservationError("抽選の作成・実施は団体管理者だけができます。", code="forbidden")


def _when(moment: datetime) -> str:
    return f"{to_tokyo(moment):%Y年%m月%d日 %H:%M}"


def published(lottery: Lottery) -> dict[str, Any]:
    """What is public about a lottery: the rules and the commitment always; the seed, the
    entrant list, the winners and the second draw's commitment only once it is drawn (the
    seed is never returned before); the second draw's seed only inside ``second``, once the
    second draw has run (``seed2`` is never returned before)."""
    data: dict[str, Any] = {
        "id": lottery.pk,
        "name": lottery.name,
        "organisation": lottery.organisation.lg_code,
        "month": lottery.month.isoformat(),
        "entry_opens_at": to_tokyo(lottery.entry_opens_at).isoformat(),
        "entry_closes_at": to_tokyo(lottery.entry_closes_at).isoformat(),
        "draw_at": to_tokyo(lottery.draw_at).isoformat(),
        "confirm_deadline": to_tokyo(lottery.confirm_deadline).isoformat(),
        "release_rule": lottery.release_rule,
        "release_at": to_tokyo(lottery.release_at).isoformat(),
        "status": lottery.status,
        "algorithm": lottery.algorithm,
        "commitment": lottery.commitment,
        "drawn_at": None,
        "seed": None,
        "entrants_digest": None,
        "entrants": None,
        "winners": None,
        "second_commitment": None,
        "second": None,
    }
    if lottery.drawn_at is not None:
        data.update(
            drawn_at=to_tokyo(lottery.drawn_at).isoformat(),
            seed=lottery.seed,
            entrants_digest=lottery.entrants_digest,
            entrants=lottery.entrants,
            winners=lottery.winners,
            second_commitment=lottery.commitment2 or None,
            second=lottery.second or None,
        )
    return data


# --- Create -----------------------------------------------------------------------------------


def lottery_create(
    *,
    organisation: Organisation,
    staff: Staff,
    name: str,
    month: date,
    entry_opens_at: datetime,
    entry_closes_at: datetime,
    draw_at: datetime,
    confirm_deadline: datetime,
    release_at: datetime,
    release_rule: str = ReleaseRule.FIRST_COME,
    category: str = "",
    facility_ids: Sequence[int] = (),
    cap_per_month: int = 4,
    cap_weekend: int = 2,
    max_choices: int = 2,
    now: datetime | None = None,
) -> Lottery:
    """抽選の作成 by an organisation admin.

    Guarantees: the seed is made with :mod:`secrets` and only its commitment is public; the
    dates are in order (受付開始 < 受付終了 ≤ 抽選 < 確定期限 ≤ 先着開始, the window not yet
    over, first come inside the month); the facilities (the category's and those listed) are
    the organisation's; no other unfinished lottery covers the same facility and month; the
    month's free single-booking slots of those facilities become ``LOTTERY`` (not bookable
    first come). Raises :class:`ReservationError`; ``Organisation.DoesNotExist`` for staff
    of another organisation.
    """
    now = now or _now()
    _require_admin(staff, organisation)
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ReservationError("抽選の名称を100文字以内で入力してください。", code="invalid")
    if release_rule not in ReleaseRule.values:
        raise ReservationError("残った枠の扱いを選んでください。", code="invalid")
    if not (entry_opens_at < entry_closes_at <= draw_at < confirm_deadline <= release_at):
        raise ReservationError(
            "日時の順序が正しくありません（受付開始 < 受付終了 ≦ 抽選 < 確定期限 ≦ 先着受付の開始）。",
            code="invalid",
        )
    if entry_closes_at <= now:
        raise ReservationError("受付終了の日時が過ぎています。", code="invalid")
    first, following = month_bounds(month)
    if to_tokyo(release_at).date() >= following:
        raise ReservationError("先着受付の開始は、利用月が終わる前にしてください。", code="invalid")
    if to_tokyo(draw_at).date() >= first:
        raise ReservationError("抽選は、利用月が始まる前に行ってください。", code="invalid")
    if not (1 <= max_choices <= MAX_CHOICES):
        raise ReservationError(f"希望の数は1〜{MAX_CHOICES}で指定してください。", code="invalid")
    if not (1 <= cap_per_month <= 31) or not (0 <= cap_weekend <= cap_per_month):
        raise ReservationError(
            "応募数の上限は1〜31、土日祝の上限はその範囲内で指定してください。", code="invalid"
        )
    with transaction.atomic(durable=True):
        facilities = Facility.objects.filter(organisation=organisation)
        chosen = set(facilities.filter(pk__in=list(facility_ids)).values_list("pk", flat=True))
        if len(chosen) != len(set(facility_ids)):
            raise ReservationError("指定された施設が見つかりません。", code="invalid")
        if category:
            chosen |= set(facilities.filter(category=category).values_list("pk", flat=True))
        if not chosen:
            raise ReservationError("対象の施設を選んでください。", code="invalid")
        clash = Lottery.objects.filter(
            organisation=organisation, month=first, facilities__in=chosen
        ).exclude(status=LotteryStatus.CLOSED)
        if clash.exists():
            raise ReservationError("同じ施設・同じ月の抽選がすでにあります。", code="duplicate")
        seed = new_seed()
        lottery = Lottery.objects.create(
            organisation=organisation,
            name=name,
            category=category,
            month=first,
            entry_opens_at=entry_opens_at,
            entry_closes_at=entry_closes_at,
            draw_at=draw_at,
            confirm_deadline=confirm_deadline,
            release_rule=release_rule,
            release_at=release_at,
            cap_per_month=cap_per_month,
            cap_weekend=cap_weekend,
            max_choices=max_choices,
            seed=seed,
            commitment=draw_module.commitment_of(seed),
            algorithm=draw_module.ALGORITHM,
        )
        lottery.facilities.set(chosen)
        claimed = Claim.objects.filter(
            organisation=organisation, slot__date__gte=first, slot__date__lt=following
        ).values("slot_id")
        moved = (
            lottery_slots(lottery)
            .filter(state=SlotState.OPEN, capacity=1)
            .exclude(pk__in=claimed)
            .update(state=SlotState.LOTTERY, opens_at=None)
        )
        if moved == 0:
            raise ReservationError("対象の月に、抽選にできる枠がありません。", code="invalid")
        audit_record(
            action=AuditAction.LOTTERY_CREATED,
            now=now,
            organisation=organisation,
            actor=staff.user,
            target_type="lottery",
            target_id=lottery.pk,
            detail={"slots": moved, "facilities": sorted(chosen), "commitment": lottery.commitment},
        )
        return lottery


# --- Enter / withdraw -----------------------------------------------------------------------


@dataclass(frozen=True)
class EnterResult:
    entry: LotteryEntry
    replayed: bool


def _choice_groups(raw: Any, max_choices: int) -> list[tuple[int, ...]]:
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ReservationError("希望する枠を1つ以上選んでください。", code="invalid")
    if len(raw) > max_choices:
        raise ReservationError(f"希望は{max_choices}つまでです。", code="invalid")
    groups: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for group in raw:
        if not isinstance(group, (list, tuple)) or not group:
            raise ReservationError("希望の枠の指定が正しくありません。", code="invalid")
        if len(group) > MAX_GROUP:
            raise ReservationError(
                f"1つの希望にまとめられる枠は{MAX_GROUP}つまでです。", code="invalid"
            )
        ids: list[int] = []
        for item in group:
            if type(item) is not int or not 1 <= item < 2**63:
                raise ReservationError("希望の枠の指定が正しくありません。", code="invalid")
            if item in seen:
                raise ReservationError("同じ枠を重ねて希望することはできません。", code="duplicate")
            seen.add(item)
            ids.append(item)
        groups.append(tuple(ids))
    return groups


def _check_group(group: tuple[int, ...], slots: dict[int, Slot], lottery: Lottery) -> None:
    members = [slots[pk] for pk in group]
    if len({s.resource_id for s in members}) != 1:
        raise ReservationError(
            "まとめて希望できるのは、同じ部屋・コートの枠だけです。", code="invalid"
        )
    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in members:
        by_day[slot.date].append(slot)
    for day, same_day in by_day.items():
        if len(same_day) < 2:
            continue
        same_day.sort(key=lambda s: s.starts_at)
        between = Slot.objects.filter(
            resource_id=same_day[0].resource_id,
            starts_at__gte=same_day[0].starts_at,
            starts_at__lte=same_day[-1].starts_at,
        ).count()
        if between != len(same_day):
            raise ReservationError(
                f"{day:%m月%d日}の枠は、続いたコマだけをまとめて希望できます。", code="invalid"
            )


def lottery_enter(
    *,
    organisation: Organisation,
    lottery_id: int,
    registration: Registration,
    user: User,
    choices: Any,
    idempotency_key: str = "",
    now: datetime | None = None,
) -> EnterResult:
    """抽選への応募 with an approved registration (a group counts as one).

    Guarantees: the entry window is open; every chosen slot belongs to the lottery and is in
    ``LOTTERY`` state; at most ``max_choices`` choices, each a group of up to
    :data:`MAX_GROUP` slots of one resource (on one day only consecutive コマ); no slot twice,
    nor one the registration already chose in another entry of this lottery; the
    registration's entries for the month (all lotteries of the organisation) stay within
    ``cap_per_month`` and those with a weekend or holiday slot within ``cap_weekend``; a
    replay with the same ``idempotency_key`` returns the earlier entry. Raises
    :class:`ReservationError`; ``DoesNotExist`` for another organisation's lottery or
    another user's registration.
    """
    now = now or _now()
    key = (idempotency_key or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ReservationError("Idempotency-Key が長すぎます（100文字まで）。", code="invalid")
    if registration.user_id != user.pk:
        raise Registration.DoesNotExist
    with transaction.atomic(durable=True):
        # One registration's entries are counted under its row lock (PostgreSQL); SQLite
        # serialises writers anyway.
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        lottery = Lottery.objects.get(pk=lottery_id, organisation=organisation)
        if key:
            earlier = LotteryEntry.objects.filter(
                registration=registration, idempotency_key=key
            ).first()
            if earlier is not None:
                if earlier.lottery_id != lottery.pk:
                    raise ReservationError(
                        "この Idempotency-Key は別の応募に使われています。", code="idempotency"
                    )
                return EnterResult(entry=earlier, replayed=True)
        _registration_usable(registration, organisation, now)
        if (
            lottery.status != LotteryStatus.ACCEPTING
            or now < lottery.entry_opens_at
            or now >= lottery.entry_closes_at
        ):
            raise ReservationError(
                f"この抽選の受付期間（{_when(lottery.entry_opens_at)}〜"
                f"{_when(lottery.entry_closes_at)}）ではありません。",
                code="not_open",
            )
        groups = _choice_groups(choices, lottery.max_choices)
        wanted = {pk for group in groups for pk in group}
        slots = {
            s.pk: s
            for s in lottery_slots(lottery)
            .filter(pk__in=wanted, state=SlotState.LOTTERY)
            .select_related("band")
        }
        if len(slots) != len(wanted):
            raise ReservationError(
                "この抽選で受け付けていない枠が含まれています。", code="not_in_lottery"
            )
        for group in groups:
            _check_group(group, slots, lottery)
        mine = LotteryEntry.objects.filter(registration=registration).exclude(
            status=EntryStatus.WITHDRAWN
        )
        if LotteryChoice.objects.filter(
            entry__in=mine.filter(lottery=lottery), slot_id__in=wanted
        ).exists():
            raise ReservationError(
                "すでに応募している枠が含まれています。同じ枠に重ねて応募できません。",
                code="duplicate",
            )
        month_entries = mine.filter(
            lottery__organisation=organisation, lottery__month=lottery.month
        )
        if month_entries.count() >= lottery.cap_per_month:
            raise ReservationError(
                f"1か月分の応募は{lottery.cap_per_month}件までです（団体は1団体で数えます）。",
                code="cap",
            )
        weekend = any(is_weekend(slot) for slot in slots.values())
        if weekend and month_entries.filter(weekend=True).count() >= lottery.cap_weekend:
            raise ReservationError(
                f"土日祝の枠を含む応募は、1か月分で{lottery.cap_weekend}件までです。",
                code="cap",
            )
        entry: LotteryEntry | None = None
        for _ in range(5):
            try:
                with transaction.atomic():
                    entry = LotteryEntry.objects.create(
                        organisation=organisation,
                        lottery=lottery,
                        registration=registration,
                        code=new_code(),
                        weekend=weekend,
                        idempotency_key=key,
                    )
                break
            except IntegrityError:
                continue
        if entry is None:
            raise ReservationError("応募番号を発行できませんでした。もう一度お試しください。")
        LotteryChoice.objects.bulk_create(
            [
                LotteryChoice(organisation=organisation, entry=entry, rank=rank, slot_id=pk)
                for rank, group in enumerate(groups, start=1)
                for pk in group
            ]
        )
        audit_record(
            action=AuditAction.LOTTERY_ENTERED,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="lottery_entry",
            target_id=entry.pk,
            detail={"lottery": lottery.pk, "code": entry.code, "choices": len(groups)},
        )
        return EnterResult(entry=entry, replayed=False)


def lottery_withdraw(
    *, organisation: Organisation, entry_id: int, user: User, now: datetime | None = None
) -> LotteryEntry:
    """応募の取下げ before the window closes. Withdrawing twice returns the entry unchanged.
    Raises :class:`ReservationError` after the window; ``DoesNotExist`` for someone else's."""
    now = now or _now()
    with transaction.atomic(durable=True):
        entry = (
            LotteryEntry.objects.select_for_update()
            .select_related("lottery")
            .get(pk=entry_id, organisation=organisation, registration__user=user)
        )
        if entry.status == EntryStatus.WITHDRAWN:
            return entry
        lottery = entry.lottery
        if lottery.status != LotteryStatus.ACCEPTING or now >= lottery.entry_closes_at:
            raise ReservationError(
                "受付期間が終わったため、応募を取り下げられません。", code="closed"
            )
        entry.status = EntryStatus.WITHDRAWN
        entry.save(update_fields=["status", "updated_at"])
        audit_record(
            action=AuditAction.LOTTERY_WITHDRAWN,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="lottery_entry",
            target_id=entry.pk,
            detail={"lottery": lottery.pk, "code": entry.code},
        )
        return entry


# --- Draw ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entrant:
    """An entry as the draw needs it (no model instances: 100,000 of them must be cheap)."""

    pk: int
    code: str
    registration_id: int
    user_id: int | None
    email: str


def _entrants_of(lottery: Lottery, status: EntryStatus) -> list[_Entrant]:
    return [
        _Entrant(pk, code, registration, user, email or "")
        for pk, code, registration, user, email in LotteryEntry.objects.filter(
            lottery=lottery, status=status
        )
        .order_by("pk")
        .values_list(
            "pk", "code", "registration_id", "registration__user_id", "registration__user__email"
        )
    ]


def _offer_all(
    *,
    lottery: Lottery,
    wins: list[tuple[_Entrant, list[tuple[int, int]]]],
    slots: dict[int, Slot],
    occupied: dict[int, tuple[int, ...]],
    expires_at: datetime,
    round_: int,
    now: datetime,
) -> None:
    """One OFFERED booking per slot of every winning group, with the claims of every part
    slot it occupies (as :func:`~madoguchi.reservations.services._claim` makes them), in a
    few bulk inserts: the draw holds the write lock, so it must be short. The claims' unique
    constraint still decides: a slot claimed by anything else makes the insert fail and the
    whole draw roll back (a rerun after the conflict is resolved completes it)."""
    taken = set(
        Booking.objects.filter(
            organisation_id=lottery.organisation_id, number__startswith=_new_number(now)[:7]
        ).values_list("number", flat=True)
    )
    bookings: list[Booking] = []
    owners: list[tuple[int, int]] = []  # (choice pk, slot pk) of each booking
    for entry, rows in wins:
        for choice_pk, slot_pk in rows:
            slot = slots[slot_pk]
            number = _new_number(now)
            while number in taken:
                number = _new_number(now)
            taken.add(number)
            bookings.append(
                Booking(
                    organisation_id=lottery.organisation_id,
                    facility_id=slot.facility_id,
                    slot=slot,
                    number=number,
                    registration_id=entry.registration_id,
                    user_id=entry.user_id,
                    status=BookingStatus.OFFERED,
                    source=BookingSource.LOTTERY,
                    channel=Channel.ONLINE,
                    expires_at=expires_at,
                    fee=slot.fee,
                    fee_due=slot.fee,
                )
            )
            owners.append((choice_pk, slot_pk))
    Booking.objects.bulk_create(bookings, batch_size=500)
    claims: list[Claim] = []
    logs: list[FacilityLogEntry] = []
    choices: list[LotteryChoice] = []
    rule = "抽選による当選" if round_ == 1 else "二次抽選による当選"
    for booking, (choice_pk, slot_pk) in zip(bookings, owners, strict=True):
        choices.append(LotteryChoice(pk=choice_pk, booking=booking))
        for part in occupied.get(slot_pk, (slot_pk,)):
            claims.append(
                Claim(
                    organisation_id=lottery.organisation_id, slot_id=part, seat=0, booking=booking
                )
            )
        logs.append(
            FacilityLogEntry(
                organisation_id=lottery.organisation_id,
                facility_id=booking.facility_id,
                slot_id=slot_pk,
                at=now,
                kind=LogKind.LOTTERY,
                rule=f"{rule}（{lottery.name}）"[:300],
            )
        )
    try:
        with transaction.atomic():
            Claim.objects.bulk_create(claims, batch_size=1000)
    except IntegrityError:
        raise ReservationError(
            "当選した枠の一部が、抽選の外で予約されています。職員に確認してください。",
            code="conflict",
        ) from None
    FacilityLogEntry.objects.bulk_create(logs, batch_size=1000)
    LotteryChoice.objects.bulk_update(choices, ["booking"], batch_size=1000)


@dataclass
class _Plan:
    """A draw computed but not yet stored (reads only: it can run before the write lock)."""

    entries: list[_Entrant]
    slots: dict[int, Slot]
    occupied: dict[int, tuple[int, ...]]
    entrants: list[dict[str, Any]]
    winners: list[dict[str, Any]]
    digest: str
    wins: list[tuple[_Entrant, list[tuple[int, int]]]]
    won: set[int]


def _plan(
    *, lottery: Lottery, seed: str, entries: list[_Entrant], allowed: set[int] | None
) -> _Plan:
    """Draw among ``entries`` (choices only within ``allowed`` slots when given)."""
    slots = {s.pk: s for s in lottery_slots(lottery)}
    occupied = _occupied(slots.values())
    # entry pk → rank → [(choice pk, slot pk)]
    rows_of: dict[int, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    wanted = {e.pk for e in entries}
    for pk, entry_pk, rank, slot_pk in (
        LotteryChoice.objects.filter(entry__lottery=lottery)
        .order_by("entry_id", "rank", "slot_id")
        .values_list("pk", "entry_id", "rank", "slot_id")
        .iterator(chunk_size=5000)
    ):
        if entry_pk in wanted:
            rows_of[entry_pk][rank].append((pk, slot_pk))
    entrants: list[draw_module.Entrant] = []
    by_code: dict[str, _Entrant] = {}
    rank_map: dict[str, list[int]] = {}
    for entry in entries:
        groups: list[tuple[int, ...]] = []
        ranks: list[int] = []
        for rank in sorted(rows_of[entry.pk]):
            group = _expanded((slot for _, slot in rows_of[entry.pk][rank]), occupied)
            if allowed is not None and not set(group) <= allowed:
                continue
            groups.append(group)
            ranks.append(rank)
        if not groups:
            continue
        entrants.append(draw_module.Entrant(code=entry.code, choices=tuple(groups)))
        by_code[entry.code] = entry
        rank_map[entry.code] = ranks
    result = draw_module.draw(seed=seed, entrants=entrants, algorithm=lottery.algorithm)
    won: set[int] = set()
    wins: list[tuple[_Entrant, list[tuple[int, int]]]] = []
    for win in result.wins:
        entry = by_code[win.code]
        wins.append((entry, rows_of[entry.pk][rank_map[win.code][win.rank - 1]]))
        won.add(entry.pk)
    # The published list in the canonical form of draw.entrants_canonical (sorted by code).
    published_entrants = [
        {"code": e.code, "choices": [list(c) for c in e.choices]}
        for e in sorted(entrants, key=lambda e: e.code)
    ]
    return _Plan(
        entries=entries,
        slots=slots,
        occupied=occupied,
        entrants=published_entrants,
        winners=[{"code": w.code, "rank": w.rank, "slots": list(w.slots)} for w in result.wins],
        digest=result.entrants_digest,
        wins=wins,
        won=won,
    )


def _apply(
    *, lottery: Lottery, plan: _Plan, expires_at: datetime, round_: int, now: datetime
) -> None:
    """Store a planned draw: the offers with their claims, and the winning entries."""
    _offer_all(
        lottery=lottery,
        wins=plan.wins,
        slots=plan.slots,
        occupied=plan.occupied,
        expires_at=expires_at,
        round_=round_,
        now=now,
    )
    won_list = sorted(plan.won)
    for start in range(0, len(won_list), 500):
        LotteryEntry.objects.filter(pk__in=won_list[start : start + 500]).update(
            status=EntryStatus.WON, won_round=round_, updated_at=now
        )


def _fingerprint(lottery: Lottery) -> tuple[object, ...]:
    """What a planned draw depends on: if it is unchanged inside the transaction, the plan
    made before it still holds (entries cannot change after the window closes anyway)."""
    from django.db.models import Count, Max

    entries = LotteryEntry.objects.filter(lottery=lottery, status=EntryStatus.ENTERED).aggregate(
        n=Count("id"), last=Max("id"), changed=Max("updated_at")
    )
    choices = LotteryChoice.objects.filter(entry__lottery=lottery).count()
    slots = lottery_slots(lottery).aggregate(n=Count("id"), last=Max("id"))
    return (*entries.values(), choices, *slots.values(), lottery.seed)


def _mail_results(
    *, lottery: Lottery, entries: list[_Entrant], won: set[int], round_: int, now: datetime
) -> None:
    """One mail per account: its entries' results (codes only; details on the my page)."""
    per_user: dict[int, tuple[str, list[_Entrant]]] = {}
    for entry in entries:
        if entry.user_id is None or not entry.email:
            continue
        per_user.setdefault(entry.user_id, (entry.email, []))[1].append(entry)
    title = "二次抽選" if round_ == 2 else "抽選"
    deadline = lottery.release_at if round_ == 2 else lottery.confirm_deadline
    mails: list[tuple[str, str, str]] = []
    for email, mine in per_user.values():
        wins = [e for e in mine if e.pk in won]
        if round_ == 2 and not wins:
            continue
        lines = [f"「{lottery.name}」の{title}の結果をお知らせします。", ""]
        for entry in mine:
            lines.append(f"応募番号 {entry.code}: {'当選' if entry.pk in won else '落選'}")
        if wins:
            lines += [
                "",
                f"当選した枠は、{_when(deadline)}までにマイページで確定してください。",
                "期限までに確定しないと、当選は無効になります。",
            ]
        lines += [
            "",
            "抽選の結果と、誰でも結果を確かめられる公開データは、抽選のページに載せています。",
        ]
        subject = f"【{title}結果】{lottery.name}" + ("（当選）" if wins else "")
        mails.append((email, subject, "\n".join(lines)))
    outbox_enqueue_emails(mails=mails, now=now, organisation=lottery.organisation)


def lottery_draw(
    *,
    organisation: Organisation,
    lottery_id: int,
    staff: Staff | None = None,
    now: datetime | None = None,
) -> Lottery:
    """抽選の実施 (by the scheduled task, or by an admin once ``draw_at`` has passed).

    Guarantees, all in ONE transaction (a crash stores nothing; a rerun completes it): runs at
    most once (a second run is refused, ``drawn``); the entrants are the entries not
    withdrawn; the seed, the entrant list, its digest and the winners are published; each
    winning group gets one OFFERED booking per slot (with its claims), due by
    ``confirm_deadline``; entries become won or lost; slots nobody won open to first come at
    ``release_at`` (``FIRST_COME``) or wait for the second draw (``SECOND_DRAW``, whose fresh
    secret seed is made now and only its commitment published); every registration with an
    account is mailed its results. Raises :class:`ReservationError`.
    """
    now = now or _now()
    if staff is not None:
        _require_admin(staff, organisation)
    # The draw is computed before the write lock (SQLite has one for the whole database), and
    # stored under it only if what it depends on is unchanged; otherwise it is redone inside.
    plan: _Plan | None = None
    early = Lottery.objects.filter(pk=lottery_id, organisation=organisation).first()
    if early is not None and early.status == LotteryStatus.ACCEPTING and now >= early.draw_at:
        fingerprint = _fingerprint(early)
        plan = _plan(
            lottery=early,
            seed=early.seed,
            entries=_entrants_of(early, EntryStatus.ENTERED),
            allowed=None,
        )
    with transaction.atomic(durable=True):
        lottery = Lottery.objects.select_for_update().get(pk=lottery_id, organisation=organisation)
        if lottery.status != LotteryStatus.ACCEPTING or lottery.drawn_at is not None:
            raise ReservationError("この抽選はすでに実施しました。", code="drawn")
        if now < lottery.draw_at:
            raise ReservationError(
                f"抽選日時（{_when(lottery.draw_at)}）の前は実施できません。", code="not_due"
            )
        if plan is None or _fingerprint(lottery) != fingerprint:
            plan = _plan(
                lottery=lottery,
                seed=lottery.seed,
                entries=_entrants_of(lottery, EntryStatus.ENTERED),
                allowed=None,
            )
        entries = plan.entries
        LotteryEntry.objects.filter(lottery=lottery, status=EntryStatus.ENTERED).update(
            status=EntryStatus.LOST, updated_at=now
        )
        _apply(lottery=lottery, plan=plan, expires_at=lottery.confirm_deadline, round_=1, now=now)
        entrants, winners, digest, won = plan.entrants, plan.winners, plan.digest, plan.won
        in_lottery = lottery_slots(lottery).filter(state=SlotState.LOTTERY)
        won_slots = Claim.objects.filter(
            booking__source=BookingSource.LOTTERY, booking__status=BookingStatus.OFFERED
        ).values("slot_id")
        if lottery.release_rule == ReleaseRule.FIRST_COME:
            in_lottery.exclude(pk__in=won_slots).update(
                state=SlotState.OPEN, opens_at=lottery.release_at
            )
        in_lottery.update(state=SlotState.PENDING)
        lottery.entrants = entrants
        lottery.winners = winners
        lottery.entrants_digest = digest
        lottery.drawn_at = now
        lottery.status = LotteryStatus.DRAWN
        if lottery.release_rule == ReleaseRule.SECOND_DRAW:
            # Independent of the first seed, which is public from now on.
            lottery.seed2 = new_seed()
            lottery.commitment2 = draw_module.commitment_of(lottery.seed2, lottery.algorithm)
        lottery.save(
            update_fields=[
                "seed2",
                "commitment2",
                "entrants",
                "winners",
                "entrants_digest",
                "drawn_at",
                "status",
                "updated_at",
            ]
        )
        _mail_results(lottery=lottery, entries=entries, won=won, round_=1, now=now)
        audit_record(
            action=AuditAction.LOTTERY_DRAWN,
            now=now,
            organisation=organisation,
            actor=staff.user if staff is not None else None,
            actor_label="" if staff is not None else "scheduled task",
            target_type="lottery",
            target_id=lottery.pk,
            detail={"entrants": len(entrants), "winners": len(winners), "digest": digest},
        )
        return lottery


# --- Release ---------------------------------------------------------------------------------


def _settle(lottery: Lottery, round_: int, now: datetime) -> int:
    """Expire the unconfirmed offers of ``round_``; its won entries become confirmed (any slot
    confirmed) or forfeited. Returns how many offers expired."""
    entries = LotteryEntry.objects.filter(lottery=lottery, status=EntryStatus.WON, won_round=round_)
    booking_ids = LotteryChoice.objects.filter(entry__in=entries, booking__isnull=False).values(
        "booking_id"
    )
    expired = 0
    for booking in (
        Booking.objects.select_for_update()
        .select_related("slot", "organisation")
        .filter(pk__in=booking_ids, status__in=(BookingStatus.OFFERED, BookingStatus.HELD))
    ):
        _expire(booking, now)
        expired += 1
    confirmed = LotteryChoice.objects.filter(
        entry__in=entries, booking__status=BookingStatus.CONFIRMED
    ).values("entry_id")
    entries.filter(pk__in=confirmed).update(status=EntryStatus.CONFIRMED, updated_at=now)
    LotteryEntry.objects.filter(lottery=lottery, status=EntryStatus.WON, won_round=round_).update(
        status=EntryStatus.FORFEITED, updated_at=now
    )
    return expired


def _open_rest(lottery: Lottery, now: datetime) -> int:
    """Every slot of the lottery still waiting opens to first come at ``release_at`` — a set,
    announced time, never the moment it is freed."""
    slots = list(lottery_slots(lottery).filter(state__in=(SlotState.PENDING, SlotState.LOTTERY)))
    free = set(
        lottery_slots(lottery)
        .filter(pk__in=[s.pk for s in slots])
        .exclude(claims__isnull=False)
        .values_list("pk", flat=True)
    )
    Slot.objects.filter(pk__in=[s.pk for s in slots]).update(
        state=SlotState.OPEN, opens_at=lottery.release_at
    )
    for slot in slots:
        if slot.pk in free:
            _log(
                slot=slot,
                kind=LogKind.RELEASED,
                rule=f"抽選で残った枠として、{_when(lottery.release_at)}から先着順で受付",
                now=now,
            )
    return len(free)


def lottery_release(
    *, organisation: Organisation, lottery_id: int, now: datetime | None = None
) -> Lottery:
    """残り枠の解放, after ``confirm_deadline`` (and, after a second draw, after
    ``release_at``). One transaction; safe to run again (a lottery not due is refused).

    After the confirm deadline: unconfirmed offers expire and their entries are forfeited;
    then ``FIRST_COME``: every slot left opens to first come at ``release_at`` (closed);
    ``SECOND_DRAW``: a second draw among the losing entries' choices that lie wholly in the
    freed slots, seeded with the ``seed2`` made at the first draw (whose commitment was
    published then) and revealed now with its results, its offers due by ``release_at``. After ``release_at`` (second draw): its unconfirmed offers
    expire, and every slot left opens to first come at ``release_at`` (closed).
    Raises :class:`ReservationError` (``not_due``) when there is nothing to do yet.
    """
    now = now or _now()
    with transaction.atomic(durable=True):
        lottery = Lottery.objects.select_for_update().get(pk=lottery_id, organisation=organisation)
        if lottery.status == LotteryStatus.DRAWN and now >= lottery.confirm_deadline:
            expired = _settle(lottery, 1, now)
            if lottery.release_rule == ReleaseRule.SECOND_DRAW:
                free = set(
                    lottery_slots(lottery)
                    .filter(state=SlotState.PENDING)
                    .exclude(claims__isnull=False)
                    .values_list("pk", flat=True)
                )
                losers = _entrants_of(lottery, EntryStatus.LOST)
                if not lottery.seed2:  # drawn before second seeds existed: fresh, committed now
                    lottery.seed2 = new_seed()
                    lottery.commitment2 = draw_module.commitment_of(
                        lottery.seed2, lottery.algorithm
                    )
                seed2 = lottery.seed2
                second = _plan(lottery=lottery, seed=seed2, entries=losers, allowed=free)
                _apply(
                    lottery=lottery,
                    plan=second,
                    expires_at=lottery.release_at,
                    round_=2,
                    now=now,
                )
                entrants, winners, digest, won = (
                    second.entrants,
                    second.winners,
                    second.digest,
                    second.won,
                )
                lottery.second = {
                    "seed": seed2,
                    "commitment": lottery.commitment2,
                    "entrants_digest": digest,
                    "entrants": entrants,
                    "winners": winners,
                    "drawn_at": to_tokyo(now).isoformat(),
                }
                lottery.status = LotteryStatus.SECOND_DRAWN
                _mail_results(lottery=lottery, entries=losers, won=won, round_=2, now=now)
                detail: dict[str, Any] = {
                    "expired": expired,
                    "second_entrants": len(entrants),
                    "second_winners": len(winners),
                }
            else:
                detail = {"expired": expired, "opened": _open_rest(lottery, now)}
                lottery.status = LotteryStatus.CLOSED
        elif lottery.status == LotteryStatus.SECOND_DRAWN and now >= lottery.release_at:
            expired = _settle(lottery, 2, now)
            detail = {"expired": expired, "opened": _open_rest(lottery, now)}
            lottery.status = LotteryStatus.CLOSED
        else:
            raise ReservationError("この抽選は、いま解放する枠がありません。", code="not_due")
        lottery.released_at = now
        lottery.save(
            update_fields=[
                "seed2",
                "commitment2",
                "second",
                "status",
                "released_at",
                "updated_at",
            ]
        )
        audit_record(
            action=AuditAction.LOTTERY_RELEASED,
            now=now,
            organisation=organisation,
            actor_label="scheduled task",
            target_type="lottery",
            target_id=lottery.pk,
            detail=detail,
        )
        return lottery


@dataclass
class LotteryTickReport:
    drawn: int = 0
    released: int = 0


def lotteries_tick(*, now: datetime) -> LotteryTickReport:
    """Draw every lottery whose ``draw_at`` has passed and release those past their deadline,
    each in its own transaction. Safe to run twice at once: the second run finds the status
    changed (under the row lock on PostgreSQL; SQLite serialises writers) and skips it."""
    report = LotteryTickReport()
    due_draw = Lottery.objects.filter(
        status=LotteryStatus.ACCEPTING, draw_at__lte=now
    ).select_related("organisation")
    for lottery in list(due_draw):
        try:
            lottery_draw(organisation=lottery.organisation, lottery_id=lottery.pk, now=now)
            report.drawn += 1
        except ReservationError:
            continue
    due_release = Lottery.objects.filter(
        status__in=(LotteryStatus.DRAWN, LotteryStatus.SECOND_DRAWN)
    ).select_related("organisation")
    for lottery in list(due_release):
        deadline = (
            lottery.confirm_deadline
            if lottery.status == LotteryStatus.DRAWN
            else lottery.release_at
        )
        if deadline > now:
            continue
        try:
            lottery_release(organisation=lottery.organisation, lottery_id=lottery.pk, now=now)
            report.released += 1
        except ReservationError:
            continue
    return report


# --- Reading -------------------------------------------------------------------------------


def lotteries_of(organisation: Organisation) -> QuerySet[Lottery]:
    """The organisation's lotteries, newest month first."""
    return (
        Lottery.objects.filter(organisation=organisation)
        .select_related("organisation")
        .prefetch_related("facilities")
        .order_by("-month", "-id")
    )


def lottery_get(*, pk: int, organisation: Organisation | None = None) -> Lottery:
    """One lottery (of ``organisation`` when given); ``Lottery.DoesNotExist`` otherwise."""
    qs = Lottery.objects.select_related("organisation").prefetch_related("facilities")
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs.get(pk=pk)


def registration_of(organisation: Organisation, user: User) -> Registration | None:
    """The user's approved registration with the organisation (the one they enter with)."""
    from madoguchi.reservations.constants import RegistrationStatus

    return (
        Registration.objects.filter(
            organisation=organisation, user=user, status=RegistrationStatus.APPROVED
        )
        .order_by("pk")
        .first()
    )


def entries_of_user(
    organisation: Organisation, user: User, lottery: Lottery | None = None
) -> QuerySet[LotteryEntry]:
    """The user's entries (through their registrations), with choices and their bookings."""
    qs = LotteryEntry.objects.filter(organisation=organisation, registration__user=user)
    if lottery is not None:
        qs = qs.filter(lottery=lottery)
    return (
        qs.select_related("lottery")
        .prefetch_related("choices__slot__resource", "choices__slot__facility", "choices__booking")
        .order_by("-lottery__month", "lottery_id", "created_at")
    )


def lottery_entry_counts(lottery: Lottery) -> dict[str, int]:
    """Entries per status (for staff)."""
    from django.db.models import Count

    rows = (
        LotteryEntry.objects.filter(lottery=lottery)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["status"]: row["n"] for row in rows}


def lottery_open_slots(lottery: Lottery) -> QuerySet[Slot]:
    """The slots one can choose in the lottery now (state ``LOTTERY``), in calendar order."""
    return (
        lottery_slots(lottery)
        .filter(state=SlotState.LOTTERY)
        .select_related("facility", "resource", "band")
        .order_by("date", "starts_at", "facility_id", "resource__order", "resource_id")
    )


def slot_after(slot: Slot) -> Slot | None:
    """The next コマ of the same resource on the same day (for a choice of two in a row)."""
    return (
        Slot.objects.filter(
            resource_id=slot.resource_id, date=slot.date, starts_at__gt=slot.starts_at
        )
        .order_by("starts_at")
        .first()
    )


def month_usage(registration: Registration, lottery: Lottery) -> tuple[int, int]:
    """(entries, entries with a weekend or holiday slot) of the registration for the
    lottery's month, withdrawn ones not counted — what the caps are checked against."""
    mine = LotteryEntry.objects.filter(
        registration=registration,
        lottery__organisation_id=lottery.organisation_id,
        lottery__month=lottery.month,
    ).exclude(status=EntryStatus.WITHDRAWN)
    return mine.count(), mine.filter(weekend=True).count()


def entries_of_resident(user: User, limit: int = 100) -> list[LotteryEntry]:
    """The user's entries in every organisation, newest month first (for the my page)."""
    return list(
        LotteryEntry.objects.filter(registration__user=user)
        .select_related("lottery", "organisation")
        .prefetch_related(
            "choices__slot__resource",
            "choices__slot__facility",
            "choices__slot__band",
            "choices__booking",
        )
        .order_by("-lottery__month", "lottery_id", "created_at")[:limit]
    )


def entry_of_resident(*, pk: int, user: User) -> LotteryEntry:
    """One of the user's entries; ``LotteryEntry.DoesNotExist`` for anyone else's."""
    return LotteryEntry.objects.select_related("organisation").get(pk=pk, registration__user=user)


def lottery_results(lottery: Lottery) -> QuerySet[LotteryEntry]:
    """For staff: the entries that won (any round), with their registration, by code."""
    return (
        LotteryEntry.objects.filter(lottery=lottery, won_round__gt=0)
        .select_related("registration")
        .order_by("won_round", "code")
    )
