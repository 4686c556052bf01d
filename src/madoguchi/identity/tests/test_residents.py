"""Resident accounts and guest e-mail tokens, at the service level."""

from __future__ import annotations

import pytest
from django.core import signing
from django.core.exceptions import ValidationError

from madoguchi.core.time import now
from madoguchi.identity.models import ResidentProfile, User
from madoguchi.identity.services import (
    EmailAlreadyRegistered,
    InvalidToken,
    guest_email_token_check,
    guest_email_token_make,
    resident_delete,
    resident_profile_update,
    resident_signup,
    resident_verification_token_make,
    resident_verify_email,
)

PASSWORD = "blue whale under 7 bridges"


def test_sign_up_creates_an_unverified_account_with_a_lower_case_address(db):
    user = resident_signup(email=" Hanako@Example.JP ", password=PASSWORD, now=now())

    assert user.email == "hanako@example.jp"
    assert user.email_verified_at is None
    assert user.check_password(PASSWORD)


def test_a_weak_password_is_refused_before_the_address_is_looked_up(db):
    resident_signup(email="hanako@example.jp", password=PASSWORD, now=now())

    with pytest.raises(ValidationError):
        resident_signup(email="hanako@example.jp", password="hanako@example.jp", now=now())
    with pytest.raises(EmailAlreadyRegistered):
        resident_signup(email="HANAKO@example.jp", password=PASSWORD + "!", now=now())
    assert User.objects.get().check_password(PASSWORD)


def test_verification_spends_the_token(db):
    user = resident_signup(email="hanako@example.jp", password=PASSWORD, now=now())
    token = resident_verification_token_make(user=user)

    assert resident_verify_email(token=token, now=now()).email_verified_at is not None
    with pytest.raises(InvalidToken):
        resident_verify_email(token=token, now=now())


def test_profile_update_takes_only_profile_fields_and_refuses_what_does_not_fit(db):
    user = resident_signup(email="hanako@example.jp", password=PASSWORD, now=now())

    profile, changed = resident_profile_update(
        user=user, data={"family_name": "山田", "is_staff": True}, now=now()
    )
    with pytest.raises(ValueError, match="longer than 64"):
        resident_profile_update(user=user, data={"family_name": "x" * 65}, now=now())

    assert changed == ["family_name"]
    assert ResidentProfile.objects.get(pk=profile.pk).family_name == "山田"
    assert User.objects.get(pk=user.pk).is_staff is False


def test_deleting_a_staff_account_this_way_is_refused(staff_member):
    with pytest.raises(ValueError, match="職員"):
        resident_delete(user=staff_member.user, now=now())
    assert User.objects.filter(pk=staff_member.user_id).exists()


def test_guest_token_round_trip():
    token = guest_email_token_make(email="guest@example.jp", procedure_id=42)

    assert guest_email_token_check(token=token, max_age=3600) == ("guest@example.jp", 42)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "x" * 5000,
        "日本語",
        signing.dumps({"e": "guest@example.jp", "p": 42}),  # not our salt
        signing.dumps({"e": "guest@example.jp", "p": "42"}, salt="madoguchi.identity.guest_email"),
        signing.dumps(["guest@example.jp", 42], salt="madoguchi.identity.guest_email"),
    ],
)
def test_forged_or_malformed_guest_tokens_are_refused(token):
    assert guest_email_token_check(token=token, max_age=3600) is None


def test_tampered_and_expired_guest_tokens_are_refused():
    token = guest_email_token_make(email="guest@example.jp", procedure_id=42)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert guest_email_token_check(token=tampered, max_age=3600) is None
    assert guest_email_token_check(token=token, max_age=-1) is None
