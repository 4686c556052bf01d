"""利用者登録: caps, age, the overlap flag (one team holding many cards), counter confirmation,
approval, rejection, closing, and the facility rules checked when booking."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.assurance import VerifiedIdentity
from madoguchi.notifications.models import OutboxMessage
from madoguchi.reservations.constants import (
    Eligibility,
    RegistrationKind,
    RegistrationStatus,
    Residency,
)
from madoguchi.reservations.eligibility import registration_may_book
from madoguchi.reservations.models import Registration, RegistrationMember, ReservationSettings
from madoguchi.reservations.models.registrations import identity_key_of
from madoguchi.reservations.registrations import (
    MAX_MEMBERS,
    MemberInput,
    age_on,
    registration_apply,
    registration_approve,
    registration_close,
    registration_confirm_at_counter,
    registration_reject,
)
from madoguchi.reservations.services import ReservationError, booking_hold
from madoguchi.reservations.testing import facility_make, next_weekday, slot_of, slots_make
from madoguchi.testing import resident_create

ADULT = date(1985, 4, 1)
LEVEL2 = VerifiedIdentity(ial=2, aal=1)


def person(n: int, *, birth: date = ADULT, residency: str = Residency.RESIDENT) -> MemberInput:
    return MemberInput(
        name=f"会員 {n}号", kana=f"かいいん {n}ごう", birth_date=birth, residency=residency
    )


def members(start: int, count: int) -> list[MemberInput]:
    return [person(n) for n in range(start, start + count)]


@pytest.fixture
def resident(db):
    return resident_create("member@example.jp", verified=True)


def apply(organisation, user, **kwargs):
    kwargs.setdefault("identity", LEVEL2)
    kwargs.setdefault("kind", RegistrationKind.INDIVIDUAL)
    kwargs.setdefault("applicant", person(0))
    return registration_apply(organisation=organisation, user=user, **kwargs)


def test_identity_key_folds_kana_and_hides_the_values(settings):
    a = identity_key_of(kana="やまだ　たろう", name="山田太郎", birth_date=ADULT)
    b = identity_key_of(kana="ﾔﾏﾀﾞﾀﾛｳ", name="", birth_date=ADULT)
    c = identity_key_of(kana="ヤマダタロウ", name="", birth_date=ADULT + timedelta(days=1))
    assert a == b != c
    assert "ヤマダ" not in a
    assert "1985" not in a
    assert len(a) == 64
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert identity_key_of(kana="やまだたろう", name="", birth_date=ADULT) != a


def test_age_on_birthdays():
    assert age_on(date(2008, 12, 5), date(2026, 12, 4)) == 17
    assert age_on(date(2008, 12, 4), date(2026, 12, 4)) == 18
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17


def test_individual_at_level_two_is_approved_at_once_and_mailed(organisation, resident):
    registration = apply(organisation, resident)
    assert registration.status == RegistrationStatus.APPROVED
    assert registration.members.get().representative
    mail = OutboxMessage.objects.get(organisation=organisation)
    assert registration.number in str(mail.payload)
    assert "会員" not in str(mail.payload)  # no names in mail
    event = AuditEvent.objects.get(action="registration.applied")
    assert "会員" not in str(event.detail)
    assert "1985" not in str(event.detail)


def test_level_one_waits_for_the_counter(organisation, resident, staff_member):
    registration = apply(organisation, resident, identity=VerifiedIdentity(ial=1))
    assert registration.status == RegistrationStatus.PENDING
    assert "窓口" in str(OutboxMessage.objects.get().payload)
    done = registration_confirm_at_counter(
        organisation=organisation,
        staff=staff_member,
        registration_id=registration.pk,
        document="driving_licence",
    )
    assert done.status == RegistrationStatus.APPROVED
    assert done.confirmed_by == staff_member
    assert done.document_seen == "driving_licence"
    with pytest.raises(ReservationError):  # twice: no longer pending
        registration_confirm_at_counter(
            organisation=organisation,
            staff=staff_member,
            registration_id=registration.pk,
            document="passport",
        )


def test_counter_refuses_unknown_document_and_other_organisation(
    organisation, resident, other_staff, staff_member
):
    registration = apply(organisation, resident, identity=None)
    with pytest.raises(ReservationError, match="書類"):
        registration_confirm_at_counter(
            organisation=organisation,
            staff=staff_member,
            registration_id=registration.pk,
            document="<script>",
        )
    with pytest.raises(Registration.DoesNotExist):
        registration_confirm_at_counter(
            organisation=other_staff.organisation,
            staff=other_staff,
            registration_id=registration.pk,
            document="passport",
        )
    with pytest.raises(Registration.DoesNotExist):  # staff of another org, this org's id
        registration_confirm_at_counter(
            organisation=organisation,
            staff=other_staff,
            registration_id=registration.pk,
            document="passport",
        )
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING


@pytest.mark.parametrize(
    ("applicant", "message"),
    [
        (MemberInput(name="", kana="かな", birth_date=ADULT, residency="resident"), "氏名"),
        (
            MemberInput(name="\u200b\u3000", kana="かな", birth_date=ADULT, residency="resident"),
            "氏名",
        ),
        (
            MemberInput(name="名" * 51, kana="かな", birth_date=ADULT, residency="resident"),
            "50文字",
        ),
        (MemberInput(name="名", kana="", birth_date=ADULT, residency="resident"), "ふりがな"),
        (MemberInput(name="名", kana="か", birth_date=None, residency="resident"), "生年月日"),
        (
            MemberInput(name="名", kana="か", birth_date=date(2999, 1, 1), residency="resident"),
            "未来",
        ),
        (
            MemberInput(name="名", kana="か", birth_date=date(1800, 1, 1), residency="resident"),
            "確かめて",
        ),
        (MemberInput(name="名", kana="か", birth_date=ADULT, residency="martian"), "市との関係"),
        (
            MemberInput(name="名", kana="か", birth_date=date(2015, 1, 1), residency="resident"),
            "18歳以上",
        ),
    ],
)
def test_hostile_applicant_is_refused_and_nothing_stored(
    organisation, resident, applicant, message
):
    with pytest.raises(ReservationError, match=message):
        apply(organisation, resident, applicant=applicant)
    assert not Registration.objects.exists()
    assert not RegistrationMember.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_hostile_kind_and_members(organisation, resident):
    with pytest.raises(ReservationError):
        apply(organisation, resident, kind="admin")
    with pytest.raises(ReservationError, match="構成員を書けません"):
        apply(organisation, resident, members=members(1, 1))
    with pytest.raises(ReservationError, match="団体名"):
        apply(organisation, resident, kind=RegistrationKind.GROUP, members=members(1, 2))
    with pytest.raises(ReservationError, match="100文字"):
        apply(
            organisation,
            resident,
            kind=RegistrationKind.GROUP,
            group_name="団" * 101,
            members=members(1, 2),
        )
    with pytest.raises(ReservationError, match="2人以上"):
        apply(organisation, resident, kind=RegistrationKind.GROUP, group_name="一人団")
    with pytest.raises(ReservationError, match=f"{MAX_MEMBERS}人まで"):
        apply(
            organisation,
            resident,
            kind=RegistrationKind.GROUP,
            group_name="大所帯",
            members=members(1, MAX_MEMBERS),
        )
    with pytest.raises(ReservationError, match="同じ方"):
        apply(
            organisation,
            resident,
            kind=RegistrationKind.GROUP,
            group_name="二重",
            members=[person(1), MemberInput("別名", "かいいん1ごう", ADULT, "resident")],
        )
    with pytest.raises(ReservationError, match="2人目の構成員の生年月日が未来"):
        apply(
            organisation,
            resident,
            kind=RegistrationKind.GROUP,
            group_name="未来人",
            members=[person(1), person(2, birth=date(2999, 1, 1))],
        )
    assert not Registration.objects.exists()


def test_group_of_a_minor_representative_is_refused(organisation, resident):
    with pytest.raises(ReservationError, match="代表者は18歳以上"):
        apply(
            organisation,
            resident,
            kind=RegistrationKind.GROUP,
            group_name="中学生クラブ",
            applicant=person(0, birth=to_years_ago(15)),
            members=members(1, 3),
        )
    # A minor member is fine.
    done = apply(
        organisation,
        resident,
        kind=RegistrationKind.GROUP,
        group_name="親子クラブ",
        members=[person(1, birth=to_years_ago(10))],
    )
    assert done.members.count() == 2


def to_years_ago(years: int) -> date:
    today = date.today()
    return today.replace(year=today.year - years) - timedelta(days=2)


def test_registration_cap_by_user_and_by_person(organisation, resident):
    apply(organisation, resident)
    with pytest.raises(ReservationError, match="1人1件まで"):
        apply(organisation, resident)
    # The same person through another account: counted by the identity key.
    other = resident_create("second-account@example.jp", verified=True)
    with pytest.raises(ReservationError, match="1人1件まで"):
        apply(
            organisation,
            other,
            applicant=MemberInput("会員 0号", "カイイン0ゴウ", ADULT, "resident"),
        )
    assert Registration.objects.count() == 1


def test_group_cap_two_then_refused_and_closed_does_not_count(organisation, resident):
    first = apply(
        organisation, resident, kind=RegistrationKind.GROUP, group_name="A", members=members(10, 2)
    )
    apply(
        organisation, resident, kind=RegistrationKind.GROUP, group_name="B", members=members(20, 2)
    )
    with pytest.raises(ReservationError, match="団体の利用者登録は、1人2件まで"):
        apply(
            organisation,
            resident,
            kind=RegistrationKind.GROUP,
            group_name="C",
            members=members(30, 2),
        )
    registration_close(organisation=organisation, registration_id=first.pk, user=resident)
    third = apply(
        organisation, resident, kind=RegistrationKind.GROUP, group_name="C", members=members(30, 2)
    )
    assert third.status == RegistrationStatus.APPROVED


def test_overlapping_group_is_pending_and_flagged_with_the_other_number(organisation, resident):
    first = apply(
        organisation,
        resident,
        kind=RegistrationKind.GROUP,
        group_name="本町テニス",
        members=members(1, 5),
    )
    assert first.status == RegistrationStatus.APPROVED
    other = resident_create("teammate@example.jp", verified=True)
    # The same team under another 代表者: 4 of 6 people (67 %) are in the first group.
    second = apply(
        organisation,
        other,
        kind=RegistrationKind.GROUP,
        group_name="本町テニス2",
        applicant=person(50),
        members=[*members(1, 4), person(51)],
    )
    assert second.status == RegistrationStatus.PENDING
    assert first.number in second.flag_reason
    assert "会員" not in second.flag_reason  # numbers only, never names
    # Below the threshold: 2 of 6 (33 %) is not flagged.
    third = apply(
        organisation,
        resident_create("third@example.jp", verified=True),
        kind=RegistrationKind.GROUP,
        group_name="別のクラブ",
        applicant=person(60),
        members=[person(0), person(5), *members(61, 3)],
    )
    assert third.status == RegistrationStatus.APPROVED
    assert third.flag_reason == ""


def test_member_over_cap_flags_without_telling_the_applicant(organisation, resident):
    ReservationSettings.objects.create(organisation=organisation, max_groups=1, overlap_percent=100)
    apply(
        organisation, resident, kind=RegistrationKind.GROUP, group_name="A", members=members(1, 2)
    )
    other = resident_create("other-rep@example.jp", verified=True)
    second = apply(
        organisation,
        other,
        kind=RegistrationKind.GROUP,
        group_name="B",
        applicant=person(40),
        members=[person(1), person(41)],
    )
    assert second.status == RegistrationStatus.PENDING
    assert "上限" in second.flag_reason


def test_approve_reject_close_are_audited_and_mailed(organisation, resident, staff_member):
    pending = apply(organisation, resident, identity=None)
    with pytest.raises(ReservationError, match="理由"):
        registration_reject(
            organisation=organisation,
            staff=staff_member,
            registration_id=pending.pk,
            reason="\u200b ",
        )
    with pytest.raises(ReservationError, match="500文字"):
        registration_reject(
            organisation=organisation,
            staff=staff_member,
            registration_id=pending.pk,
            reason="x" * 501,
        )
    rejected = registration_reject(
        organisation=organisation,
        staff=staff_member,
        registration_id=pending.pk,
        reason="市外にお住まいのため",
    )
    assert rejected.status == RegistrationStatus.REJECTED
    assert "市外にお住まいのため" in str(OutboxMessage.objects.order_by("-id")[0].payload)
    with pytest.raises(ReservationError):
        registration_approve(
            organisation=organisation, staff=staff_member, registration_id=pending.pk
        )
    again = apply(organisation, resident, identity=None)
    approved = registration_approve(
        organisation=organisation, staff=staff_member, registration_id=again.pk, reason="確認済み"
    )
    assert approved.status == RegistrationStatus.APPROVED
    closed = registration_close(
        organisation=organisation, registration_id=again.pk, staff=staff_member
    )
    assert closed.status == RegistrationStatus.CLOSED
    with pytest.raises(ReservationError):
        registration_close(organisation=organisation, registration_id=again.pk, user=resident)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"registration.rejected", "registration.approved", "registration.closed"} <= actions


def test_resident_cannot_close_someone_elses(organisation, resident, other_organisation):
    registration = apply(organisation, resident)
    stranger = resident_create("stranger@example.jp", verified=True)
    with pytest.raises(Registration.DoesNotExist):
        registration_close(
            organisation=organisation, registration_id=registration.pk, user=stranger
        )
    with pytest.raises(Registration.DoesNotExist):
        registration_close(
            organisation=other_organisation, registration_id=registration.pk, user=resident
        )


# --- Eligibility at booking ------------------------------------------------------------------


def test_eligibility_rules(organisation, resident):
    individual = apply(organisation, resident)
    outsider = apply(
        organisation,
        resident_create("outsider@example.jp", verified=True),
        applicant=person(70, residency=Residency.OUTSIDE),
    )
    worker = apply(
        organisation,
        resident_create("worker@example.jp", verified=True),
        applicant=person(80, residency=Residency.WORKER),
    )
    group = apply(
        organisation,
        resident,
        kind=RegistrationKind.GROUP,
        group_name="混成",
        members=[person(90, residency=Residency.OUTSIDE), person(91, residency=Residency.OUTSIDE)],
    )
    facility = facility_make(organisation, eligibility=Eligibility.LOCAL)
    assert registration_may_book(facility, individual) is None
    assert registration_may_book(facility, worker) is None
    assert "通勤" in (registration_may_book(facility, outsider) or "")
    assert "半数以上" in (registration_may_book(facility, group) or "")
    residents_only = facility_make(organisation, name="市民専用", eligibility=Eligibility.RESIDENTS)
    assert registration_may_book(residents_only, worker) is not None
    anyone = facility_make(organisation, name="だれでも", eligibility=Eligibility.ANYONE)
    assert registration_may_book(anyone, outsider) is None
    groups = facility_make(organisation, name="団体専用", group_only=True, eligibility="anyone")
    assert "団体" in (registration_may_book(groups, individual) or "")
    big = facility_make(organisation, name="5人以上", min_group_members=5, eligibility="anyone")
    assert "5人以上" in (registration_may_book(big, group) or "")
    assert "5人以上" in (registration_may_book(big, individual) or "")


def test_booking_hold_refuses_an_ineligible_registration(organisation, resident):
    outsider_user = resident_create("outsider2@example.jp", verified=True)
    outsider = apply(organisation, outsider_user, applicant=person(70, residency=Residency.OUTSIDE))
    facility = facility_make(organisation, eligibility=Eligibility.RESIDENTS)
    day = next_weekday()
    slots_make(facility, day)
    with pytest.raises(ReservationError) as refused:
        booking_hold(
            organisation=organisation,
            slot_id=slot_of(facility, "テニスコート1", day).pk,
            registration=outsider,
            user=outsider_user,
            identity=None,
            now=now(),
        )
    assert refused.value.code == "eligibility"
