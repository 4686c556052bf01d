"""The portal's 利用者登録 and イベント・講座 pages: forms without JavaScript (rows added and
removed by submit buttons), hostile input answered with a message and nothing stored, another
organisation's or another resident's objects a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from madoguchi.core.time import now
from madoguchi.ops.demo_reservations import demo_reservations
from madoguchi.reservations.constants import RegistrationStatus
from madoguchi.reservations.events import event_save, event_signup
from madoguchi.reservations.models import Event, EventSignup, Registration, RegistrationMember
from madoguchi.reservations.models.events import EventMode, SignupStatus
from madoguchi.testing import resident_create


@pytest.fixture
def resident(db):
    return resident_create("portal-member@example.jp", verified=True)


@pytest.fixture
def logged_in(client, resident):
    client.force_login(resident)
    return client


def reg_url(org, name="portal:reservation_registration"):
    return reverse(name, args=[org.lg_code])


def individual(**extra):
    return {
        "kind": "individual",
        "name": "横浜 花子",
        "kana": "よこはま はなこ",
        "birth": "1980-02-03",
        "residency": "resident",
        "action": "apply",
        **extra,
    }


def group(rows, **extra):
    data = {
        "kind": "group",
        "group_name": "本町テニスクラブ",
        "name": "横浜 花子",
        "kana": "よこはま はなこ",
        "birth": "1980-02-03",
        "residency": "resident",
        "rows": str(len(rows)),
        "action": "apply",
    }
    for i, (name, kana, birth) in enumerate(rows):
        data |= {
            f"m{i}_name": name,
            f"m{i}_kana": kana,
            f"m{i}_birth": birth,
            f"m{i}_residency": "resident",
        }
    data.update(extra)
    return data


def test_anonymous_goes_to_login(client, organisation):
    response = client.get(reg_url(organisation))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_pages_render(logged_in, organisation):
    for url in (reg_url(organisation), reg_url(organisation) + "?kind=group"):
        page = logged_in.get(url)
        assert page.status_code == 200
        assert "登録の決まり" in page.content.decode()
    group_page = logged_in.get(reg_url(organisation) + "?kind=group").content.decode()
    assert "行を追加" in group_page
    assert 'name="m2_name"' in group_page
    status = logged_in.get(reg_url(organisation, "portal:reservation_registration_status"))
    assert status.status_code == 200


def test_form_is_prefilled_from_the_profile(logged_in, organisation, resident):
    from datetime import date

    from madoguchi.identity.models import ResidentProfile

    ResidentProfile.objects.create(
        user=resident,
        family_name="横浜",
        given_name="花子",
        family_name_kana="ヨコハマ",
        given_name_kana="ハナコ",
        birth_date=date(1980, 2, 3),
    )
    body = logged_in.get(reg_url(organisation)).content.decode()
    assert 'value="横浜 花子"' in body
    assert 'value="1980-02-03"' in body


def test_unknown_organisation_is_404(logged_in):
    assert logged_in.get("/o/999999/registration/").status_code == 404
    assert logged_in.get("/o/abc/events/").status_code == 404


def test_individual_registration_waits_for_the_counter_at_level_one(
    logged_in, organisation, resident
):
    response = logged_in.post(reg_url(organisation), individual())
    assert response.status_code == 302
    registration = Registration.objects.get(user=resident)
    assert registration.status == RegistrationStatus.PENDING
    page = logged_in.get(response["Location"]).content.decode()
    assert registration.number in page
    assert "窓口にお持ちください" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"birth": "2999-01-01"}, "未来"),
        ({"birth": "1980-02-30"}, "正しい日付"),
        ({"birth": "１９８０-０２-０３"}, "正しい日付"),
        ({"birth": "yesterday"}, "正しい日付"),
        ({"name": ""}, "氏名"),
        ({"name": "<script>alert(1)</script>" * 3}, "50文字"),
        ({"residency": "mars"}, "市との関係"),
        ({"kind": "group"}, "団体名"),
    ],
)
def test_hostile_registration_input(logged_in, organisation, change, message):
    response = logged_in.post(reg_url(organisation), individual(**change))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Registration.objects.exists()


def test_hostile_label_is_escaped(logged_in, organisation):
    response = logged_in.post(
        reg_url(organisation), individual(name="<script>alert(1)</script>", birth="2999-01-01")
    )
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_rows_added_and_removed_without_js(logged_in, organisation):
    rows = [("会員 一", "かいいん いち", "1990-01-01"), ("会員 二", "かいいん に", "1991-01-01")]
    added = logged_in.post(reg_url(organisation), group(rows, action="add_row"))
    body = added.content.decode()
    assert added.status_code == 200
    assert 'name="m6_name"' in body  # 2 rows + 5 added
    assert 'value="会員 二"' in body
    removed = logged_in.post(
        reg_url(organisation), group(rows, action="remove_rows", m0_remove="1")
    )
    body = removed.content.decode()
    assert 'value="会員 一"' not in body
    assert 'value="会員 二"' in body
    assert not Registration.objects.exists()


def test_group_registration_with_blank_rows_ignored(logged_in, organisation, resident):
    rows = [
        ("会員 一", "かいいん いち", "1990-01-01"),
        ("", "", ""),
        ("会員 二", "かいいん に", "2015-01-01"),
    ]
    response = logged_in.post(reg_url(organisation), group(rows))
    assert response.status_code == 302
    registration = Registration.objects.get(user=resident)
    assert registration.members.count() == 3


def test_too_many_rows_refused(logged_in, organisation):
    rows = [(f"会員 {i}", f"かいいん {i}", "1990-01-01") for i in range(120)]
    response = logged_in.post(reg_url(organisation), group(rows))
    assert response.status_code == 400
    assert "100人まで" in response.content.decode()
    assert not RegistrationMember.objects.exists()
    # A huge row count does not make the page loop or crash.
    response = logged_in.post(reg_url(organisation), {**group([]), "rows": "99999999999999999999"})
    assert response.status_code == 400


def test_close_own_registration_and_not_someone_elses(logged_in, organisation, resident):
    logged_in.post(reg_url(organisation), individual())
    registration = Registration.objects.get(user=resident)
    other = Registration.objects.create(
        organisation=organisation, kind="individual", number="X1", name="他人", status="approved"
    )
    url = reverse("portal:reservation_registration_close", args=[organisation.lg_code, other.pk])
    assert logged_in.post(url).status_code == 404
    assert logged_in.get(url).status_code == 405
    url = reverse(
        "portal:reservation_registration_close", args=[organisation.lg_code, registration.pk]
    )
    assert logged_in.post(url).status_code == 302
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CLOSED


# --- Events --------------------------------------------------------------------------------


@pytest.fixture
def course(organisation, staff_member):
    at = now()
    return event_save(
        organisation=organisation,
        staff=staff_member,
        event_id=None,
        title="<b>太字</b>ヨガ講座",
        starts_at=at + timedelta(days=7),
        ends_at=at + timedelta(days=7, hours=1),
        signup_opens_at=at - timedelta(hours=1),
        signup_closes_at=at + timedelta(days=6),
        capacity=1,
        published=True,
    )


def test_events_pages_render_for_anyone(client, organisation, course):
    listing = client.get(reverse("portal:events", args=[organisation.lg_code]))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "&lt;b&gt;太字" in body
    assert "残り1人" in body
    detail = client.get(reverse("portal:event", args=[organisation.lg_code, course.pk]))
    assert detail.status_code == 200
    assert "ログイン" in detail.content.decode()


def test_signup_and_mypage_and_cancel(logged_in, organisation, course, resident):
    url = reverse("portal:event", args=[organisation.lg_code, course.pk])
    response = logged_in.post(url, {"name": "横浜 花子"})
    assert response.status_code == 302
    signup = EventSignup.objects.get(user=resident)
    assert signup.status == SignupStatus.CONFIRMED
    assert signup.code in logged_in.get(url).content.decode()
    again = logged_in.post(url, {"name": "横浜 花子"})
    assert again.status_code == 400
    assert "すでに" in again.content.decode()
    mine = logged_in.get(reverse("portal:my_event_signups"))
    assert course.title in mine.content.decode() or "太字" in mine.content.decode()
    cancel = reverse("portal:event_signup_cancel", args=[organisation.lg_code, signup.pk])
    assert logged_in.post(cancel).status_code == 302
    signup.refresh_from_db()
    assert signup.status == SignupStatus.CANCELLED


def test_full_event_and_hostile_signup(logged_in, client, organisation, course):
    winner = resident_create("first@example.jp", verified=True)
    event_signup(organisation=organisation, event_id=course.pk, user=winner, name="先着 一郎")
    url = reverse("portal:event", args=[organisation.lg_code, course.pk])
    assert "満員" in logged_in.get(url).content.decode()
    response = logged_in.post(url, {"name": "遅れ 太郎"})
    assert response.status_code == 400
    assert "満員" in response.content.decode()
    assert EventSignup.objects.count() == 1
    assert logged_in.post(url, {"name": ""}).status_code == 400
    # another organisation's event id under this organisation's code is a 404
    assert logged_in.get(reverse("portal:event", args=["142042", course.pk])).status_code == 404


def test_someone_elses_signup_cannot_be_cancelled(logged_in, organisation, course):
    other = resident_create("other@example.jp", verified=True)
    signup = event_signup(organisation=organisation, event_id=course.pk, user=other, name="他人")
    cancel = reverse("portal:event_signup_cancel", args=[organisation.lg_code, signup.pk])
    assert logged_in.post(cancel).status_code == 404
    signup.refresh_from_db()
    assert signup.status == SignupStatus.CONFIRMED


def test_lottery_event_page_shows_the_commitment(client, organisation, staff_member):
    at = now()
    event = event_save(
        organisation=organisation,
        staff=staff_member,
        event_id=None,
        title="抽選の講座",
        starts_at=at + timedelta(days=7),
        ends_at=at + timedelta(days=7, hours=1),
        signup_opens_at=at - timedelta(hours=1),
        signup_closes_at=at + timedelta(days=6),
        capacity=5,
        mode=EventMode.LOTTERY,
        published=True,
    )
    body = client.get(
        reverse("portal:event", args=[organisation.lg_code, event.pk])
    ).content.decode()
    assert event.draw_commitment in body
    assert event.draw_seed not in body


def test_demo_is_idempotent_and_shows_the_feature(logged_in, organisation, resident):
    demo_reservations(organisation, resident, now=now())
    demo_reservations(organisation, resident, now=now())
    pending = Registration.objects.get(user=resident, kind="group")
    assert pending.status == RegistrationStatus.PENDING
    assert "Y000101" in pending.flag_reason
    assert Event.objects.filter(organisation=organisation).count() == 2
    assert EventSignup.objects.filter(user=resident, status=SignupStatus.CONFIRMED).exists()
    body = logged_in.get(reverse("portal:events", args=[organisation.lg_code])).content.decode()
    assert "はじめてのバドミントン教室" in body
    assert "親子テニス体験会" in body
