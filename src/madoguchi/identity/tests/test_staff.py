"""An administrator registers staff: each belongs to exactly one organisation."""

import pytest
from django.contrib.auth import authenticate

from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.identity.services import staff_upsert
from madoguchi.tenants.models import Organisation
from madoguchi.testing import STAFF_PASSWORD


def test_new_staff_get_an_account_with_an_argon2_password_hash(organisation):
    staff = staff_upsert(
        organisation=organisation,
        email="Clerk@Yokohama.TEST",
        password=STAFF_PASSWORD,
        role=StaffRole.VIEWER,
        display_name="窓口 三郎",
        department="市民局",
    )

    user = User.objects.get(pk=staff.user_id)
    assert user.email == "clerk@yokohama.test"
    assert user.password.startswith("argon2$")
    assert STAFF_PASSWORD not in user.password
    assert user.check_password(STAFF_PASSWORD)
    assert user.is_staff is False  # the Django admin is for platform operators only
    assert (staff.organisation, staff.role, staff.department) == (organisation, "viewer", "市民局")


def test_new_staff_can_log_in(organisation, staff_member):
    assert authenticate(username="reviewer@yokohama.test", password=STAFF_PASSWORD) == (
        staff_member.user
    )
    assert authenticate(username="reviewer@yokohama.test", password="wrong") is None


def test_registering_the_same_person_again_updates_them(organisation, staff_member):
    again = staff_upsert(
        organisation=organisation,
        email="REVIEWER@yokohama.test",
        password="a new and long password 7",
        role=StaffRole.ADMIN,
    )

    assert again.pk == staff_member.pk
    assert again.role == "admin"
    assert Staff.objects.filter(user__email="reviewer@yokohama.test").count() == 1
    assert again.user.display_name == "審査 一郎"  # kept when not given
    assert again.user.check_password("a new and long password 7")


def test_a_ward_cannot_have_staff(db):
    tsurumi = Organisation.objects.get(lg_code="141011")

    with pytest.raises(ValueError, match="横浜市鶴見区 には職員を登録できません"):
        staff_upsert(
            organisation=tsurumi,
            email="clerk@tsurumi.test",
            password=STAFF_PASSWORD,
            role=StaffRole.REVIEWER,
        )

    assert not User.objects.filter(email="clerk@tsurumi.test").exists()


def test_an_organisation_merged_away_cannot_get_new_staff(other_organisation):
    Organisation.objects.filter(pk=other_organisation.pk).update(active=False)
    other_organisation.refresh_from_db()

    with pytest.raises(ValueError, match="職員を登録できません"):
        staff_upsert(
            organisation=other_organisation,
            email="clerk@kamakura.test",
            password=STAFF_PASSWORD,
            role=StaffRole.REVIEWER,
        )


def test_staff_of_another_organisation_cannot_be_taken_over(organisation, other_staff):
    with pytest.raises(ValueError, match="他の団体の職員として登録済みです"):
        staff_upsert(
            organisation=organisation,
            email="reviewer@kamakura.test",
            password="an attacker's password 1",
            role=StaffRole.ADMIN,
            display_name="なりすまし",
        )

    other_staff.refresh_from_db()
    other_staff.user.refresh_from_db()
    assert other_staff.organisation.lg_code == "142042"
    assert other_staff.role == "reviewer"
    assert other_staff.user.display_name == "審査 花子"
    assert other_staff.user.check_password(STAFF_PASSWORD)  # nothing was changed
    assert not other_staff.user.check_password("an attacker's password 1")


def test_outside_the_test_suite_passwords_are_hashed_with_argon2_at_its_full_cost():
    """The suite hashes with argon2 at its smallest cost (madoguchi.testing); the settings
    that run everywhere else keep Django's argon2 and its default cost."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    from madoguchi.conf import settings as configured

    assert configured.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert (Argon2PasswordHasher.time_cost, Argon2PasswordHasher.memory_cost) == (2, 102400)
