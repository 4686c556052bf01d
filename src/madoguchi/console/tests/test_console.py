"""Staff log in to the console and see their own organisation, and nobody else's."""

import re
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from madoguchi.core.time import now
from madoguchi.identity.services import group_operator_upsert
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.services import shared_group_upsert
from madoguchi.testing import STAFF_PASSWORD, console_log_in, console_login

LOGIN = "/console/login/"
HOME = "/console/"
GROUP = "/console/groups/kanagawa/"


def text(response: Any) -> str:
    return str(response.content.decode())


def log_in(client: Client, email: str, password: str = STAFF_PASSWORD, **extra: str) -> Any:
    """Password, then the authenticator's code (see test_mfa.py for the steps themselves)."""
    return console_log_in(client, email, password, **extra)


@pytest.fixture
def kanagawa(db):
    """The Kanagawa group: 神奈川県 and all its municipalities, 横浜市 and 鎌倉市 among them."""
    members = Organisation.objects.filter(prefecture_code="14", active=True).exclude(kind="ward")
    return shared_group_upsert(
        slug="kanagawa",
        name="かながわ電子申請共同利用グループ",
        prefecture=Organisation.objects.get(lg_code="140007"),
        members=members,
        now=now(),
        portal_title="かながわ電子申請ポータル",
    )


@pytest.fixture
def group_operator(kanagawa):
    operator = group_operator_upsert(
        group=kanagawa, email="operator@kanagawa.test", password=STAFF_PASSWORD
    )
    return operator.user


# --- logging in and out ------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={HOME}"


def test_staff_log_in_with_email_and_password_and_see_their_organisation(client, staff_member):
    response = log_in(client, "reviewer@yokohama.test")

    assert response.status_code == 302
    assert response["Location"] == HOME
    home = text(client.get(HOME))
    assert '<h2 id="org-heading">横浜市</h2>' in home
    assert "141003" in home
    assert "審査担当" in home
    assert "審査 一郎" in home


def test_the_email_is_not_case_sensitive(client, staff_member):
    assert log_in(client, "Reviewer@Yokohama.TEST").status_code == 302


def test_login_returns_to_the_page_asked_for(client, group_operator):
    response = log_in(client, "operator@kanagawa.test", next=GROUP)

    assert response["Location"] == GROUP


def test_login_never_returns_to_another_site(client, staff_member):
    response = log_in(client, "reviewer@yokohama.test", next="https://evil.example/")

    assert response["Location"] == HOME


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("reviewer@yokohama.test", "wrong password"),
        ("nobody@yokohama.test", STAFF_PASSWORD),
        ("", ""),
        ("reviewer@yokohama.test\x00", STAFF_PASSWORD),
        ("' OR 1=1 --", "' OR 1=1 --"),
        ("x" * 5000, "y" * 5000),
    ],
)
def test_a_failed_login_says_so_in_japanese(client, staff_member, email, password):
    response = log_in(client, email, password)

    assert response.status_code == 200
    assert "ログインできませんでした。" in text(response)
    assert "メールアドレスとパスワードを確認して" in text(response)
    assert "_auth_user_id" not in client.session


def test_a_failed_login_does_not_say_whether_the_account_exists(client, staff_member):
    def error_summary(response: Any) -> str:
        found = re.search(r'<div [^>]*id="error-summary">.*?</div>', text(response), re.S)
        assert found is not None
        return found.group(0)

    wrong_password = log_in(client, "reviewer@yokohama.test", "wrong password")
    no_account = log_in(client, "nobody@yokohama.test", "wrong password")

    assert error_summary(wrong_password) == error_summary(no_account)


def test_logout_is_post_only(staff_client):
    assert staff_client.get("/console/logout/").status_code == 405
    assert staff_client.get(HOME).status_code == 200  # still logged in

    response = staff_client.post("/console/logout/")

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert staff_client.get(HOME).status_code == 302


def test_logout_needs_the_csrf_token(client, staff_member):
    csrf_client = Client(enforce_csrf_checks=True)
    console_login(csrf_client, staff_member.user)

    assert csrf_client.post("/console/logout/").status_code == 403
    assert csrf_client.get(HOME).status_code == 200


# --- tenancy -----------------------------------------------------------------------------


def test_staff_of_kamakura_never_see_yokohama_staff(client, staff_member, other_staff):
    console_login(client, other_staff.user)

    home = text(client.get(HOME))

    assert '<h2 id="org-heading">鎌倉市</h2>' in home
    assert "審査 花子" in home
    for detail in ("横浜市", "141003", "審査 一郎", "reviewer@yokohama.test"):
        assert detail not in home


def test_each_staff_member_sees_only_their_own_organisation(client, staff_member, other_staff):
    console_login(client, staff_member.user)

    home = text(client.get(HOME))

    for detail in ("鎌倉市", "142042", "審査 花子", "reviewer@kamakura.test"):
        assert detail not in home


def test_staff_of_a_member_municipality_see_their_group_by_name(client, kanagawa, staff_member):
    console_login(client, staff_member.user)

    assert "かながわ電子申請共同利用グループ" in text(client.get(HOME))


# --- the group operator's view -----------------------------------------------------------


def test_the_group_operator_sees_the_group(client, group_operator):
    console_login(client, group_operator)

    home = text(client.get(HOME))
    response = client.get(GROUP)

    assert f'href="{GROUP}"' in home
    assert response.status_code == 200
    html = text(response)
    assert "<h1>かながわ電子申請共同利用グループ</h1>" in html
    assert "34団体" in html
    assert "<td>142042</td><td>鎌倉市</td>" in html


def test_staff_of_a_member_municipality_get_404_for_the_group(client, kanagawa, staff_member):
    console_login(client, staff_member.user)

    assert client.get(GROUP).status_code == 404


def test_a_missing_group_is_the_same_404(client, kanagawa, staff_member, group_operator):
    console_login(client, staff_member.user)
    forbidden = client.get(GROUP)
    missing = client.get("/console/groups/no-such-group/")

    assert forbidden.status_code == missing.status_code == 404
    assert text(forbidden) == text(missing)

    console_login(client, group_operator)
    assert client.get("/console/groups/no-such-group/").status_code == 404
    assert client.get("/console/groups/" + "k" * 5000 + "/").status_code == 404


def test_an_operator_of_another_group_gets_404(client, kanagawa, db):
    other = shared_group_upsert(
        slug="shonan", name="湘南グループ", prefecture=None, members=[], now=now()
    )
    operator = group_operator_upsert(group=other, email="op@shonan.test", password=STAFF_PASSWORD)
    console_login(client, operator.user)

    assert client.get("/console/groups/shonan/").status_code == 200
    assert client.get(GROUP).status_code == 404


def test_anonymous_visitors_asking_for_a_group_are_sent_to_log_in(client, kanagawa):
    for url in (GROUP, "/console/groups/no-such-group/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{LOGIN}?next=")


def test_a_deactivated_group_disappears_for_its_operator(client, group_operator, kanagawa):
    console_login(client, group_operator)
    SharedGroup.objects.filter(pk=kanagawa.pk).update(active=False)

    assert client.get(GROUP).status_code == 404


# --- session timeouts --------------------------------------------------------------------


def set_session(client: Client, **values: Any) -> None:
    session = client.session
    session.update(values)
    session.save()


def test_an_idle_session_is_logged_out(client, staff_member):
    log_in(client, "reviewer@yokohama.test")
    assert client.get(HOME).status_code == 200

    idle = django_settings.SESSION_IDLE_SECONDS
    set_session(client, _madoguchi_seen=time.time() - idle - 60)
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in client.session
    assert "一定時間操作がなかったため" in text(client.get(LOGIN))


def test_a_session_in_use_stays_logged_in(client, staff_member):
    log_in(client, "reviewer@yokohama.test")
    idle = django_settings.SESSION_IDLE_SECONDS

    set_session(client, _madoguchi_seen=time.time() - idle + 60)

    assert client.get(HOME).status_code == 200


def test_a_session_older_than_the_maximum_is_logged_out_even_when_busy(client, staff_member):
    log_in(client, "reviewer@yokohama.test")
    assert client.get(HOME).status_code == 200

    maximum = django_settings.SESSION_MAX_SECONDS
    set_session(client, _madoguchi_started=time.time() - maximum - 60, _madoguchi_seen=time.time())
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert client.get(HOME).status_code == 302


def test_logging_in_again_after_a_timeout_starts_a_fresh_session(client, staff_member):
    log_in(client, "reviewer@yokohama.test")
    client.get(HOME)
    set_session(client, _madoguchi_started=time.time() - django_settings.SESSION_MAX_SECONDS - 60)
    client.get(HOME)

    log_in(client, "reviewer@yokohama.test")

    assert client.get(HOME).status_code == 200
    assert client.get(HOME).status_code == 200
