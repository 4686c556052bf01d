"""施設の設定 (the write path of facility configuration): facilities, their rooms and courts,
コマ, 休館日, 使用料, 減免, and the generation of a month's slots.

Each public service owns its transaction, lets only an organisation admin (団体管理者) of the
same organisation act, records its audit event, and raises :class:`ReservationError` with a
Japanese message when it refuses (nothing stored). Another organisation's facility, resource
or band raises ``DoesNotExist`` (404).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Final

from django.db import IntegrityError, transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.selectors import procedure_get
from madoguchi.core.time import TOKYO, to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.reservations.calendar import (
    closed_by_weekday,
    day_type_of,
    month_days,
)
from madoguchi.reservations.constants import (
    DayType,
    Eligibility,
    FacilityCategory,
    LogKind,
    ResourceKind,
    SlotState,
)
from madoguchi.reservations.models import (
    Claim,
    ClosedDay,
    Facility,
    Fee,
    Reduction,
    Resource,
    Slot,
    TimeBand,
)
from madoguchi.reservations.services import ReservationError, _log
from madoguchi.tenants.models import Organisation

#: Slots can be generated this many months ahead at most.
MAX_MONTHS_AHEAD: Final = 24
#: The highest fee of one コマ (a typo guard: ten million yen).
MAX_FEE: Final = 10_000_000


# --- Checks of input (hostile input gives a Japanese message, never a 500) -----------------


def _admin(actor: Staff, organisation: Organisation) -> None:
    if (
        actor.organisation_id != organisation.pk
        or actor.role != StaffRole.ADMIN
        or not actor.active
    ):
        raise ReservationError("施設の設定を変更できるのは団体管理者だけです。", code="forbidden")


def _text(value: object, *, label: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ReservationError(f"{label}は文字で入力してください。", code="invalid")
    text = value.strip()
    if "\x00" in text:
        raise ReservationError(f"{label}に使えない文字が含まれています。", code="invalid")
    if required and not text:
        raise ReservationError(f"{label}を入力してください。", code="invalid")
    if len(text) > limit:
        raise ReservationError(f"{label}は{limit}文字以内で入力してください。", code="invalid")
    return text


def _int(value: object, *, label: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ReservationError(f"{label}は数字で入力してください。", code="invalid")
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 12:
            raise ReservationError(f"{label}は半角の数字で入力してください。", code="invalid")
        value = int(value)
    if not isinstance(value, int):
        raise ReservationError(f"{label}は数字で入力してください。", code="invalid")
    if not low <= value <= high:
        raise ReservationError(
            f"{label}は{low}から{high}までの数で入力してください。", code="invalid"
        )
    return value


def _choice(value: object, choices: type[DayType] | Iterable[str], *, label: str) -> str:
    allowed = [str(c) for c in choices]
    if not isinstance(value, str) or value not in allowed:
        raise ReservationError(f"{label}は一覧から選んでください。", code="invalid")
    return value


def _time(value: object, *, label: str) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, str):
        text = value.strip()
        parts = text.split(":")
        if (
            len(parts) == 2
            and all(p.isascii() and p.isdigit() and 1 <= len(p) <= 2 for p in parts)
            and int(parts[0]) <= 23
            and int(parts[1]) <= 59
        ):
            return time(int(parts[0]), int(parts[1]))
    raise ReservationError(f"{label}は「9:00」のように時と分で入力してください。", code="invalid")


def _date(value: object, *, label: str) -> date:
    if isinstance(value, datetime):
        raise ReservationError(f"{label}は日付で入力してください。", code="invalid")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value.strip()) <= 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ReservationError(
        f"{label}は「2026-04-01」のように年-月-日で入力してください。", code="invalid"
    )


def month_parse(value: object) -> date:
    """The first day of the month ``value`` names (a date, or ``"YYYY-MM"``); raises
    :class:`ReservationError` for anything else."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.replace(day=1)
    if isinstance(value, str):
        text = value.strip()
        parts = text.split("-")
        if (
            len(parts) == 2
            and len(parts[0]) == 4
            and 1 <= len(parts[1]) <= 2
            and all(p.isascii() and p.isdigit() for p in parts)
            and 1 <= int(parts[1]) <= 12
            and 2000 <= int(parts[0]) <= 2100
        ):
            return date(int(parts[0]), int(parts[1]), 1)
    raise ReservationError("月は「2026-04」のように年-月で入力してください。", code="invalid")


def _facility(organisation: Organisation, facility_id: int) -> Facility:
    return Facility.objects.select_for_update().get(pk=facility_id, organisation=organisation)


def _audit(
    action: AuditAction,
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    target_type: str,
    target_id: int,
    detail: dict[str, object] | None = None,
    reason: str = "",
) -> None:
    audit_record(
        action=action,
        now=now,
        organisation=organisation,
        actor=actor.user,
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        detail=detail or {},
    )


# --- Facilities ---------------------------------------------------------------------------


def facility_save(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    facility_id: int | None = None,
    name: object,
    kana: object = "",
    category: object = FacilityCategory.SPORTS,
    address: object = "",
    phone: object = "",
    description: object = "",
    rules: object = "",
    eligibility: object = Eligibility.LOCAL,
    min_group_members: object = 0,
    group_only: bool = False,
    ial: object = 1,
    aal: object = 1,
    procedure_id: int | None = None,
    published: bool = False,
    closed_weekdays: Iterable[object] = (),
    no_show_suspension_days: object = 30,
) -> Facility:
    """Create (``facility_id`` None) or update a facility of ``organisation`` with its rules,
    who may use it, the identity levels a booking needs, its closed weekdays and the
    procedure a booking counts as (a procedure of the same organisation).

    Guarantees: names are unique per organisation; the values are in range; audited as
    ``facility.saved``. Raises :class:`ReservationError` (not an admin, invalid value, a name
    in use), ``Facility.DoesNotExist`` / ``Procedure.DoesNotExist`` for another
    organisation's facility or procedure.
    """
    _admin(actor, organisation)
    if isinstance(closed_weekdays, str | bytes) or not isinstance(
        closed_weekdays, list | tuple | set | frozenset
    ):
        raise ReservationError("定休日の曜日は一覧から選んでください。", code="invalid")
    if procedure_id is not None and (
        isinstance(procedure_id, bool) or not isinstance(procedure_id, int)
    ):
        raise ReservationError("手続は一覧から選んでください。", code="invalid")
    values: dict[str, object] = {
        "name": _text(name, label="施設名", limit=100, required=True),
        "kana": _text(kana, label="よみ", limit=200),
        "category": _choice(category, FacilityCategory.values, label="分類"),
        "address": _text(address, label="所在地", limit=200),
        "phone": _text(phone, label="電話番号", limit=20),
        "description": _text(description, label="説明", limit=4000),
        "rules": _text(rules, label="利用の決まり", limit=8000),
        "eligibility": _choice(eligibility, Eligibility.values, label="利用できる人"),
        "min_group_members": _int(min_group_members, label="団体の最少人数", low=0, high=1000),
        "group_only": bool(group_only),
        "ial": _int(ial, label="身元確認保証レベル", low=1, high=3),
        "aal": _int(aal, label="当人認証保証レベル", low=1, high=3),
        "published": bool(published),
        "closed_weekdays": sorted(
            {_int(d, label="定休日の曜日", low=0, high=6) for d in closed_weekdays}
        ),
        "no_show_suspension_days": _int(
            no_show_suspension_days, label="利用停止の日数", low=0, high=365
        ),
    }
    if values["group_only"] and values["min_group_members"] == 0:
        values["min_group_members"] = 2
    with transaction.atomic(durable=True):
        values["procedure"] = (
            None
            if procedure_id is None
            else procedure_get(organisation=organisation, procedure_id=procedure_id)
        )
        if (
            Facility.objects.filter(organisation=organisation, name=values["name"])
            .exclude(pk=facility_id or 0)
            .exists()
        ):
            raise ReservationError("同じ名前の施設がすでにあります。", code="duplicate")
        if facility_id is None:
            facility = Facility.objects.create(organisation=organisation, **values)
            created = True
        else:
            facility = _facility(organisation, facility_id)
            for key, value in values.items():
                setattr(facility, key, value)
            facility.save()
            created = False
        _audit(
            AuditAction.FACILITY_SAVED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="facility",
            target_id=facility.pk,
            detail={"created": created, "published": facility.published},
        )
        return facility


# --- Resources (rooms, courts, a divisible hall and its parts) -----------------------------


def resource_save(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    facility_id: int,
    resource_id: int | None = None,
    name: object,
    kind: object = ResourceKind.ROOM,
    capacity: object = 0,
    equipment: object = "",
    order: object = 0,
    active: bool = True,
    parent_id: int | None = None,
) -> Resource:
    """Create or update a room, court or hall of a facility. ``parent_id`` makes it a part of
    a divisible hall of the same facility (booking the whole then claims every part).

    Guarantees: a parent is of the same facility and never the resource itself or one of its
    parts (no cycles); names are unique per facility; audited. Raises
    :class:`ReservationError`, or ``DoesNotExist`` for another organisation's ids.
    """
    _admin(actor, organisation)
    values: dict[str, object] = {
        "name": _text(name, label="名称", limit=100, required=True),
        "kind": _choice(kind, ResourceKind.values, label="種類"),
        "capacity": _int(capacity, label="定員", low=0, high=100_000),
        "equipment": _text(equipment, label="設備", limit=2000),
        "order": _int(order, label="表示順", low=0, high=10_000),
        "active": bool(active),
    }
    with transaction.atomic(durable=True):
        facility = _facility(organisation, facility_id)
        resource = (
            None
            if resource_id is None
            else Resource.objects.get(pk=resource_id, organisation=organisation)
        )
        if resource is not None and resource.facility_id != facility.pk:
            raise Resource.DoesNotExist
        parent = None
        if parent_id is not None:
            parent = Resource.objects.get(pk=parent_id, organisation=organisation)
            if parent.facility_id != facility.pk:
                raise ReservationError(
                    "ほかの施設の部屋を、分割の元にすることはできません。", code="invalid"
                )
            ancestor: Resource | None = parent
            while ancestor is not None:
                if resource is not None and ancestor.pk == resource.pk:
                    raise ReservationError(
                        "部屋を、それ自身やその一部の「一部」にすることはできません。",
                        code="invalid",
                    )
                ancestor = ancestor.parent
        if (
            Resource.objects.filter(facility=facility, name=values["name"])
            .exclude(pk=resource_id or 0)
            .exists()
        ):
            raise ReservationError("同じ名前の部屋・コートがすでにあります。", code="duplicate")
        if resource is None:
            resource = Resource.objects.create(
                organisation=organisation, facility=facility, parent=parent, **values
            )
        else:
            resource.parent = parent
            for key, value in values.items():
                setattr(resource, key, value)
            resource.save()
        _audit(
            AuditAction.FACILITY_RESOURCE_SAVED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="resource",
            target_id=resource.pk,
            detail={"facility": facility.pk, "parent": parent.pk if parent else None},
        )
        return resource


# --- コマ -----------------------------------------------------------------------------------


def time_band_save(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    facility_id: int,
    band_id: int | None = None,
    day_type: object,
    name: object,
    start: object,
    end: object,
) -> TimeBand:
    """Create or update a コマ of a facility for one day type.

    Guarantees: ends after it starts on the same day (a band never crosses midnight); never
    overlaps another band of the same facility and day type; audited. Existing slots keep
    their times (generate again for new months). Raises :class:`ReservationError`, or
    ``DoesNotExist`` for another organisation's ids.
    """
    _admin(actor, organisation)
    kind = _choice(day_type, DayType.values, label="曜日区分")
    label = _text(name, label="コマの名称", limit=32, required=True)
    begins = _time(start, label="開始時刻")
    ends = _time(end, label="終了時刻")
    if ends == begins:
        raise ReservationError("終了時刻は開始時刻より後にしてください。", code="invalid")
    if ends < begins:
        raise ReservationError(
            "日付をまたぐコマ（例: 22:00〜翌1:00）は登録できません。"
            "0:00までのコマと0:00からのコマに分けてください（終了は23:59まで）。",
            code="invalid",
        )
    with transaction.atomic(durable=True):
        facility = _facility(organisation, facility_id)
        band = (
            None
            if band_id is None
            else TimeBand.objects.get(pk=band_id, organisation=organisation, facility=facility)
        )
        overlapping = (
            TimeBand.objects.filter(
                facility=facility, day_type=kind, start__lt=ends, end__gt=begins
            )
            .exclude(pk=band_id or 0)
            .first()
        )
        if overlapping is not None:
            raise ReservationError(
                f"ほかのコマ（{overlapping.name} {overlapping.start:%H:%M}〜"
                f"{overlapping.end:%H:%M}）と時間が重なっています。",
                code="overlap",
            )
        if band is None:
            band = TimeBand.objects.create(
                organisation=organisation,
                facility=facility,
                day_type=kind,
                name=label,
                start=begins,
                end=ends,
            )
        else:
            band.day_type, band.name, band.start, band.end = kind, label, begins, ends
            band.save()
        _audit(
            AuditAction.FACILITY_TIME_BAND_SAVED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="time_band",
            target_id=band.pk,
            detail={"facility": facility.pk, "day_type": kind},
        )
        return band


def time_band_delete(
    *, organisation: Organisation, actor: Staff, now: datetime, facility_id: int, band_id: int
) -> None:
    """Delete a コマ (and its fees). Slots already made keep their times and bookings; new
    months are generated without it. Audited. ``DoesNotExist`` for another organisation's."""
    _admin(actor, organisation)
    with transaction.atomic(durable=True):
        facility = _facility(organisation, facility_id)
        band = TimeBand.objects.get(pk=band_id, organisation=organisation, facility=facility)
        band.delete()
        _audit(
            AuditAction.FACILITY_TIME_BAND_DELETED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="time_band",
            target_id=band_id,
            detail={"facility": facility.pk},
        )


# --- 休館日 -----------------------------------------------------------------------------------


def closed_day_save(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    facility_id: int,
    day: object,
    reason: object = "",
) -> ClosedDay:
    """Mark a date as 休館日 (or change its reason). Slots of that date not booked and open are
    closed to booking (受付停止, in the public log); booked ones stay for staff to handle.
    Audited. Raises :class:`ReservationError` for a past or malformed date."""
    _admin(actor, organisation)
    when = _date(day, label="休館日")
    why = _text(reason, label="理由", limit=100)
    if when < to_tokyo(now).date():
        raise ReservationError("過ぎた日は休館日にできません。", code="past")
    with transaction.atomic(durable=True):
        facility = _facility(organisation, facility_id)
        closed, _ = ClosedDay.objects.update_or_create(
            facility=facility,
            date=when,
            defaults={"organisation": organisation, "reason": why},
        )
        free = Slot.objects.filter(facility=facility, date=when, state=SlotState.OPEN).exclude(
            pk__in=Claim.objects.filter(slot__facility=facility, slot__date=when).values("slot_id")
        )
        for slot in free:
            slot.state = SlotState.CLOSED
            slot.save(update_fields=["state"])
            _log(slot=slot, kind=LogKind.CLOSED, rule="休館日のため", now=now)
        _audit(
            AuditAction.FACILITY_CLOSED_DAY_SAVED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="facility",
            target_id=facility.pk,
            detail={"date": when.isoformat()},
        )
        return closed


def closed_day_delete(
    *, organisation: Organisation, actor: Staff, now: datetime, facility_id: int, closed_day_id: int
) -> None:
    """Remove a 休館日 (slots closed for it stay closed until staff open them). Audited."""
    _admin(actor, organisation)
    with transaction.atomic(durable=True):
        facility = _facility(organisation, facility_id)
        closed = ClosedDay.objects.get(
            pk=closed_day_id, organisation=organisation, facility=facility
        )
        closed.delete()
        _audit(
            AuditAction.FACILITY_CLOSED_DAY_DELETED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="facility",
            target_id=facility.pk,
            detail={"date": closed.date.isoformat()},
        )


# --- 使用料・減免 ------------------------------------------------------------------------------


def fee_save(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    resource_id: int,
    band_id: int,
    amount: object,
) -> Fee:
    """Set the fee (yen) of one resource for one コマ. Slots made later carry it (slots made
    before keep theirs). Audited. Raises :class:`ReservationError` for a bad amount or a band
    of another facility; ``DoesNotExist`` for another organisation's ids."""
    _admin(actor, organisation)
    yen = _int(amount, label="使用料", low=0, high=MAX_FEE)
    with transaction.atomic(durable=True):
        resource = Resource.objects.get(pk=resource_id, organisation=organisation)
        band = TimeBand.objects.get(pk=band_id, organisation=organisation)
        if band.facility_id != resource.facility_id:
            raise ReservationError("ほかの施設のコマには使用料を設定できません。", code="invalid")
        fee, _ = Fee.objects.update_or_create(
            resource=resource, band=band, defaults={"organisation": organisation, "amount": yen}
        )
        _audit(
            AuditAction.FACILITY_FEE_SAVED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="resource",
            target_id=resource.pk,
            detail={"band": band.pk, "amount": yen},
        )
        return fee


def reduction_save(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    facility_id: int,
    reduction_id: int | None = None,
    code: object,
    name: object,
    percent: object,
    note: object = "",
    active: bool = True,
) -> Reduction:
    """Create or update a reduction (減免) of a facility: its code (half-width letters, digits,
    ``-`` and ``_``), name, percent off (0–100) and the proof it needs. Audited. Raises
    :class:`ReservationError`; ``DoesNotExist`` for another organisation's ids."""
    _admin(actor, organisation)
    slug = _text(code, label="区分コード", limit=32, required=True)
    if not slug.isascii() or not all(c.isalnum() or c in "-_" for c in slug):
        raise ReservationError(
            "区分コードは半角の英数字と「-」「_」で入力してください。", code="invalid"
        )
    values: dict[str, object] = {
        "name": _text(name, label="名称", limit=100, required=True),
        "percent": _int(percent, label="減額の割合", low=0, high=100),
        "note": _text(note, label="必要な確認書類", limit=300),
        "active": bool(active),
    }
    with transaction.atomic(durable=True):
        facility = _facility(organisation, facility_id)
        if (
            Reduction.objects.filter(facility=facility, code=slug)
            .exclude(pk=reduction_id or 0)
            .exists()
        ):
            raise ReservationError("同じ区分コードの減免がすでにあります。", code="duplicate")
        if reduction_id is None:
            reduction = Reduction.objects.create(
                organisation=organisation, facility=facility, code=slug, **values
            )
        else:
            reduction = Reduction.objects.get(
                pk=reduction_id, organisation=organisation, facility=facility
            )
            reduction.code = slug
            for key, value in values.items():
                setattr(reduction, key, value)
            reduction.save()
        _audit(
            AuditAction.FACILITY_REDUCTION_SAVED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="facility",
            target_id=facility.pk,
            detail={"reduction": reduction.pk, "code": slug, "percent": values["percent"]},
        )
        return reduction


# --- 予約枠の作成 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotsGenerated:
    month: date
    #: Slots made now.
    created: int
    #: Slots that were there already (left as they were).
    existing: int
    #: Dates skipped: 休館日, closed weekdays, and days already past.
    skipped_days: int


def slots_generate(
    *, organisation: Organisation, facility_id: int, month: object, actor: Staff, now: datetime
) -> SlotsGenerated:
    """Make the slots of one month (``"YYYY-MM"`` or a date in it) of a facility: every active
    resource × every コマ of the date's day type (土日祝 for Saturdays, Sundays and national
    holidays), open to first come, with the fee set for that resource and コマ.

    Guarantees: idempotent — existing slots are left untouched (their state, fee and
    bookings), none is ever removed; 休館日, closed weekdays (with the holiday rule of
    :mod:`madoguchi.reservations.calendar`) and past days get no slots; audited. Raises
    :class:`ReservationError` for a malformed month, a past month or one more than
    :data:`MAX_MONTHS_AHEAD` months ahead; ``Facility.DoesNotExist`` for another
    organisation's facility.
    """
    _admin(actor, organisation)
    first = month_parse(month)
    today = to_tokyo(now).date()
    this_month = today.replace(day=1)
    if first < this_month:
        raise ReservationError("過ぎた月の予約枠は作れません。", code="past")
    ahead = (first.year - this_month.year) * 12 + first.month - this_month.month
    if ahead > MAX_MONTHS_AHEAD:
        raise ReservationError(
            f"予約枠は{MAX_MONTHS_AHEAD}か月先までしか作れません。", code="invalid"
        )
    with transaction.atomic(durable=True):
        facility = _facility(organisation, facility_id)
        resources = list(facility.resources.filter(active=True))
        bands: dict[str, list[TimeBand]] = {}
        for band in facility.time_bands.all():
            bands.setdefault(band.day_type, []).append(band)
        fees = {
            (f.resource_id, f.band_id): f.amount
            for f in Fee.objects.filter(resource__facility=facility)
        }
        days = month_days(first)
        closed = set(
            ClosedDay.objects.filter(
                facility=facility, date__gte=days[0], date__lte=days[-1]
            ).values_list("date", flat=True)
        )
        existing = set(
            Slot.objects.filter(
                facility=facility, date__gte=days[0], date__lte=days[-1]
            ).values_list("resource_id", "starts_at")
        )
        new: list[Slot] = []
        skipped = kept = 0
        for day in days:
            if day <= today or day in closed or closed_by_weekday(facility.closed_weekdays, day):
                skipped += 1
                continue
            for band in bands.get(day_type_of(day), []):
                starts = datetime.combine(day, band.start, TOKYO)
                for resource in resources:
                    if (resource.pk, starts) in existing:
                        kept += 1
                        continue
                    new.append(
                        Slot(
                            organisation=organisation,
                            facility=facility,
                            resource=resource,
                            band=band,
                            date=day,
                            starts_at=starts,
                            ends_at=datetime.combine(day, band.end, TOKYO),
                            state=SlotState.OPEN,
                            fee=fees.get((resource.pk, band.pk), 0),
                        )
                    )
        made = len(new)
        try:
            with transaction.atomic():
                Slot.objects.bulk_create(new, batch_size=500)
        except IntegrityError:  # another run made some at the same moment: add the rest
            made = 0
            for slot in new:
                slot.pk = None
                try:
                    with transaction.atomic():
                        slot.save()
                    made += 1
                except IntegrityError:
                    kept += 1
        _audit(
            AuditAction.FACILITY_SLOTS_GENERATED,
            organisation=organisation,
            actor=actor,
            now=now,
            target_type="facility",
            target_id=facility.pk,
            detail={"month": f"{first:%Y-%m}", "created": made, "existing": kept},
        )
        return SlotsGenerated(month=first, created=made, existing=kept, skipped_days=skipped)


__all__ = [
    "MAX_MONTHS_AHEAD",
    "SlotsGenerated",
    "closed_day_delete",
    "closed_day_save",
    "facility_save",
    "fee_save",
    "month_parse",
    "reduction_save",
    "resource_save",
    "slots_generate",
    "time_band_delete",
    "time_band_save",
]
