"""The operators' admin site (/operator-admin/) asks for both factors, is throttled like the
console, and every change made there is an audit event (field names, never values)."""

import pytest
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.conftest import STAFF_PASSWORD, console_log_in
from madoguchi.identity import throttle
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import LoginAttempt, Staff, User

ADMIN = "/operator-admin/"
OPERATOR = "operator@madoguchi.test"


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser(OPERATOR, STAFF_PASSWORD)


def test_a_password_alone_opens_no_admin_page(client, operator):
    # Django's own password login (as the admin's login form used to do it).
    assert client.login(username=OPERATOR, password=STAFF_PASSWORD)

    for url in (ADMIN, f"{ADMIN}identity/staff/", f"{ADMIN}identity/user/{operator.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/operator-admin/login/")
    # The admin's login page checks no password: it sends to the console's login.
    login_page = client.get(f"{ADMIN}login/?next={ADMIN}")
    assert login_page.status_code == 302
    assert login_page["Location"].startswith("/console/login/")
    posted = Client().post(
        f"{ADMIN}login/", {"username": OPERATOR, "password": STAFF_PASSWORD, "next": ADMIN}
    )
    assert posted.status_code == 302
    assert posted["Location"].startswith("/console/login/")


def test_both_factors_open_the_admin(client, operator):
    last = console_log_in(client, OPERATOR, next=ADMIN)

    assert last.status_code == 302
    assert last["Location"] == ADMIN
    page = client.get(ADMIN)
    assert page.status_code == 200
    assert "窓口 運用者管理" in page.content.decode()


def test_a_change_made_in_the_admin_is_audited_without_values(client, operator, staff_member):
    console_log_in(client, OPERATOR, next=ADMIN)
    url = f"{ADMIN}identity/staff/{staff_member.pk}/change/"

    response = client.post(
        url,
        {
            "user": staff_member.user.pk,
            "organisation": staff_member.organisation.pk,
            "role": StaffRole.ADMIN,
            "department": "秘密の課",
            "active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    staff_member.refresh_from_db()
    assert staff_member.role == StaffRole.ADMIN
    event = AuditEvent.objects.get(action="admin.changed")
    assert event.actor == operator
    assert event.target_type == "identity.staff"
    assert event.target_id == str(staff_member.pk)
    assert event.organisation == staff_member.organisation
    assert event.detail == {"model": "identity.staff", "fields": ["department", "role"]}
    assert "秘密の課" not in str(event.detail) + event.reason + event.actor_label


def test_a_deletion_in_the_admin_is_audited(client, operator, other_staff):
    console_log_in(client, OPERATOR, next=ADMIN)

    response = client.post(f"{ADMIN}identity/staff/{other_staff.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Staff.objects.filter(pk=other_staff.pk).exists()
    event = AuditEvent.objects.get(action="admin.deleted")
    assert event.target_id == str(other_staff.pk)
    assert event.actor == operator


def test_failed_admin_logins_are_throttled_like_the_console(client, operator):
    # Whoever wants the admin comes through the console's login, with its limits.
    for _ in range(throttle.PAIR_FREE_FAILURES + 1):
        client.post("/console/login/", {"username": OPERATOR, "password": "guess", "next": ADMIN})

    refused = client.post(
        "/console/login/", {"username": OPERATOR, "password": STAFF_PASSWORD, "next": ADMIN}
    )

    assert refused.status_code == 429
    assert client.get(ADMIN).status_code == 302
    attempts = LoginAttempt.objects.filter(user=operator)
    assert attempts.filter(success=False).count() == throttle.PAIR_FREE_FAILURES + 2
    assert not attempts.filter(success=True).exists()


def test_staff_who_are_not_operators_are_refused_not_sent_round_in_a_loop(client, staff_member):
    """Found in the browser: after both factors, an organisation's staff were sent from the
    admin to the console login and straight back, for ever."""
    console_log_in(client, staff_member.user.email, next=ADMIN)

    response = client.get(ADMIN, follow=True)

    assert response.status_code == 403
    assert len(response.redirect_chain) <= 2
    assert "運用者だけが使えます" in response.content.decode()
