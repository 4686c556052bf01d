"""Worker process of ``bench/lottery_draw.py``: a fresh installation with a facility of
``slots`` slots in the month after next, ``entries`` entries (bulk-inserted, two choices
each), then one timed ``lottery_draw``. Prints ``BENCH-RESULT {json}``.

    python bench/_lottery_worker.py '{"entries": 100000, "slots": 5000}'
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta
from typing import Any


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    import django

    django.setup()
    arguments = json.loads(sys.argv[1])
    print("BENCH-RESULT " + json.dumps(measure(**arguments)), flush=True)  # noqa: T201


def measure(*, entries: int, slots: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import transaction

    from madoguchi.core.time import TOKYO, now
    from madoguchi.identity.constants import StaffRole
    from madoguchi.identity.models import User
    from madoguchi.identity.services import staff_upsert
    from madoguchi.notifications.models import OutboxMessage
    from madoguchi.reservations import draw
    from madoguchi.reservations.constants import DayType, ResourceKind, SlotState
    from madoguchi.reservations.lottery import CROCKFORD, lottery_create, lottery_draw
    from madoguchi.reservations.lottery_testing import target_month
    from madoguchi.reservations.models import (
        Booking,
        Facility,
        LotteryChoice,
        LotteryEntry,
        Registration,
        Resource,
        Slot,
        TimeBand,
    )
    from madoguchi.tenants.models import Organisation

    started = time.perf_counter()
    call_command("bootstrap", stdout=io.StringIO())
    yokohama = Organisation.objects.get(lg_code="141003")
    staff = staff_upsert(
        organisation=yokohama,
        email="bench-admin@yokohama.test",
        password="bench correct horse battery 42",  # noqa: S106 (a throw-away database)
        role=StaffRole.ADMIN,
    )
    at = now()
    month = target_month(at)
    days = [month + timedelta(days=i) for i in range(28)]
    per_resource = len(days) * 3
    courts = -(-slots // per_resource)
    facility = Facility.objects.create(organisation=yokohama, name="ベンチ運動公園", published=True)
    bands = [
        TimeBand.objects.create(
            organisation=yokohama,
            facility=facility,
            day_type=DayType.WEEKDAY,
            name=name,
            start=datetime.strptime(start, "%H:%M").time(),  # noqa: DTZ007 (a time of day)
            end=datetime.strptime(end, "%H:%M").time(),  # noqa: DTZ007
        )
        for name, start, end in (
            ("午前", "09:00", "12:00"),
            ("午後", "13:00", "17:00"),
            ("夜間", "18:00", "21:00"),
        )
    ]
    resources = Resource.objects.bulk_create(
        [
            Resource(
                organisation=yokohama,
                facility=facility,
                name=f"コート{i + 1}",
                kind=ResourceKind.COURT,
                order=i,
            )
            for i in range(courts)
        ]
    )
    rows = []
    for resource in resources:
        for day in days:
            for band in bands:
                if len(rows) < slots:
                    rows.append(
                        Slot(
                            organisation=yokohama,
                            facility=facility,
                            resource=resource,
                            band=band,
                            date=day,
                            starts_at=datetime.combine(day, band.start, TOKYO),
                            ends_at=datetime.combine(day, band.end, TOKYO),
                            state=SlotState.OPEN,
                        )
                    )
    Slot.objects.bulk_create(rows, batch_size=2000)
    lottery = lottery_create(
        organisation=yokohama,
        staff=staff,
        name="ベンチ抽選",
        month=month,
        entry_opens_at=at - timedelta(hours=1),
        entry_closes_at=at + timedelta(days=1),
        draw_at=at + timedelta(days=2),
        confirm_deadline=at + timedelta(days=5),
        release_at=at + timedelta(days=6),
        facility_ids=[facility.pk],
        now=at,
    )
    slot_ids = list(
        Slot.objects.filter(facility=facility).order_by("pk").values_list("pk", flat=True)
    )
    rng = random.Random(13)  # noqa: S311 (invented data)
    people = max(1, entries // 5)
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(email=f"bench{i}@example.jp", password="!") for i in range(people)],  # noqa: S106
            batch_size=2000,
        )
        registrations = Registration.objects.bulk_create(
            [
                Registration(
                    organisation=yokohama,
                    user=user,
                    kind="individual",
                    number=f"B{i:07d}",
                    name="ベンチ",
                    status="approved",
                )
                for i, user in enumerate(users)
            ],
            batch_size=2000,
        )
        codes: set[str] = set()
        while len(codes) < entries:
            codes.add("".join(rng.choice(CROCKFORD) for _ in range(8)))
        made = LotteryEntry.objects.bulk_create(
            [
                LotteryEntry(
                    organisation=yokohama,
                    lottery=lottery,
                    registration=registrations[i % people],
                    code=code,
                )
                for i, code in enumerate(sorted(codes))
            ],
            batch_size=2000,
        )
        choices = []
        for entry in made:
            first, second = rng.sample(slot_ids, 2)
            choices.append(LotteryChoice(organisation=yokohama, entry=entry, rank=1, slot_id=first))
            choices.append(
                LotteryChoice(organisation=yokohama, entry=entry, rank=2, slot_id=second)
            )
        LotteryChoice.objects.bulk_create(choices, batch_size=5000)
    setup = time.perf_counter() - started
    before = OutboxMessage.objects.count()
    # What lottery_draw computes before taking the write lock, timed on its own.
    from madoguchi.reservations.lottery import _entrants_of, _fingerprint, _plan
    from madoguchi.reservations.models import EntryStatus

    clock = time.perf_counter()
    _fingerprint(lottery)
    _plan(
        lottery=lottery,
        seed=lottery.seed,
        entries=_entrants_of(lottery, EntryStatus.ENTERED),
        allowed=None,
    )
    plan_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    drawn = lottery_draw(organisation=yokohama, lottery_id=lottery.pk, now=at + timedelta(days=2))
    draw_seconds = time.perf_counter() - clock
    entrants = [
        draw.Entrant(code=row["code"], choices=tuple(tuple(c) for c in row["choices"]))
        for row in drawn.entrants
    ]
    clock = time.perf_counter()
    result = draw.draw(seed=drawn.seed, entrants=entrants)
    pure_seconds = time.perf_counter() - clock
    assert len(result.wins) == len(drawn.winners) > 0
    return {
        "setup_seconds": setup,
        "draw_seconds": draw_seconds,
        "pure_seconds": pure_seconds,
        "plan_seconds": plan_seconds,
        "winners": len(drawn.winners),
        "bookings": Booking.objects.count(),
        "mails": OutboxMessage.objects.count() - before,
    }


if __name__ == "__main__":
    main()
