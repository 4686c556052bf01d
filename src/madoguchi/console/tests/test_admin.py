"""An organisation admin manages the organisation's staff, reviewers and reads its audit log —
and nothing of any other organisation."""

import re
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import audit_record
from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, StaffTOTP, User
from madoguchi.identity.services import staff_upsert
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.services import outbox_deliver_email
from madoguchi.testing import STAFF_PASSWORD, console_log_in, console_login, totp_enrol

STAFF = "/console/admin/staff/"
INVITE = "/console/admin/staff/invite/"
PROCEDURES = "/console/admin/procedures/"
AUDIT = "/console/admin/audit/"
NEW_PASSWORD = "a long new password for the console 7"


def text(response: Any) -> str:
    return str(response.content.decode())


def role_url(staff: Staff) -> str:
    return f"/console/admin/staff/{staff.pk}/role/"


def active_url(staff: Staff) -> str:
    return f"/console/admin/staff/{staff.pk}/active/"


def reset_url(staff: Staff) -> str:
    return f"/console/admin/staff/{staff.pk}/totp-reset/"


def reviewers_url(procedure: Any) -> str:
    return f"/console/admin/procedures/{procedure.pk}/reviewers/"


@pytest.fixture
def kamakura_admin(other_organisation):
    return staff_upsert(
        organisation=other_organisation,
        email="admin@kamakura.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
        display_name="鎌倉 管理",
    )


@pytest.fixture
def procedure(organisation):
    return procedure_adopt(
        organisation=organisation,
        template_version=template_version_get(slug="jidou-teate-nintei"),
        now=now(),
    )


@pytest.fixture
def kamakura_procedure(other_organisation, procedure):
    return procedure_adopt(
        organisation=other_organisation,
        template_version=template_version_get(slug="jidou-teate-nintei"),
        now=now(),
    )


def snapshot() -> list[tuple[Any, ...]]:
    return list(
        Staff.objects.order_by("pk").values_list(
            "pk", "role", "active", "department", "user__email"
        )
    )


# --- the staff list ---------------------------------------------------------------------------


def test_the_admin_sees_the_organisations_staff_and_no_one_elses(
    admin_client, staff_member, other_staff, kamakura_admin
):
    html = text(admin_client.get(STAFF))

    assert "<h1>横浜市の職員</h1>" in html
    for shown in ("admin@yokohama.test", "reviewer@yokohama.test", "審査 一郎"):
        assert shown in html
    for hidden in ("kamakura", "審査 花子", "鎌倉"):
        assert hidden not in html


def test_the_navigation_offers_the_admin_pages_to_admins_only(admin_client, staff_client):
    assert 'href="/console/admin/staff/"' in text(admin_client.get("/console/"))
    assert 'href="/console/admin/staff/"' not in text(staff_client.get("/console/"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", STAFF),
        ("post", INVITE),
        ("get", PROCEDURES),
        ("get", AUDIT),
    ],
)
def test_non_admins_get_403_in_japanese(staff_client, method, path):
    response = getattr(staff_client, method)(path, {})

    assert response.status_code == 403


def test_non_admins_cannot_change_anyone(staff_client, admin_staff, procedure):
    before = snapshot()
    for path, data in (
        (role_url(admin_staff), {"role": "viewer"}),
        (active_url(admin_staff), {"active": "0"}),
        (reset_url(admin_staff), {}),
        (reviewers_url(procedure), {"reviewers": []}),
    ):
        assert staff_client.post(path, data).status_code == 403
    assert snapshot() == before


def test_anonymous_visitors_are_sent_to_log_in(client, admin_staff):
    response = client.get(STAFF)

    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_another_organisations_staff_ids_are_404(admin_client, other_staff, kamakura_admin):
    before = snapshot()
    for target in (other_staff, kamakura_admin):
        assert admin_client.post(role_url(target), {"role": "viewer"}).status_code == 404
        assert admin_client.post(active_url(target), {"active": "0"}).status_code == 404
        assert admin_client.post(reset_url(target), {}).status_code == 404
    assert (
        admin_client.post("/console/admin/staff/999999/role/", {"role": "admin"}).status_code == 404
    )
    assert snapshot() == before


# --- inviting ---------------------------------------------------------------------------------


def test_the_admin_invites_a_new_staff_member_who_sets_a_password_and_enrols(
    admin_client,
    admin_staff,
    smtp_server,
):
    response = admin_client.post(
        INVITE,
        {
            "email": "New.Member@Yokohama.test",
            "display_name": "新人 𠮷子",
            "department": "市民局",
            "role": "reviewer",
        },
    )

    assert response.status_code == 302
    assert "new.member@yokohama.test に招待のメールを送りました。" in text(admin_client.get(STAFF))
    member = Staff.objects.get(user__email="new.member@yokohama.test")
    assert (member.organisation_id, member.role, member.department) == (
        admin_staff.organisation_id,
        "reviewer",
        "市民局",
    )
    assert member.user.display_name == "新人 𠮷子"
    assert not member.user.has_usable_password()
    event = AuditEvent.objects.get(action="staff.invited")
    assert (event.organisation_id, event.actor_id, event.target_id) == (
        admin_staff.organisation_id,
        admin_staff.user_id,
        str(member.pk),
    )

    assert outbox_deliver_email(now=now()).delivered == 1
    mail = message_from_bytes(smtp_server.messages[0])
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode(mail.get_content_charset() or "utf-8")
    found = re.search(r"http://testserver(/console/invitation/[^\s]+/)", body)
    assert found is not None
    link = found.group(1)

    invitee = Client()
    page = invitee.get(link)
    assert page.status_code == 200
    assert "パスワードの設定" in text(page)
    mismatch = invitee.post(link, {"new_password1": NEW_PASSWORD, "new_password2": "other"})
    assert mismatch.status_code == 400
    weak = invitee.post(link, {"new_password1": "12345", "new_password2": "12345"})
    assert weak.status_code == 400
    set_password = invitee.post(
        link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert set_password["Location"] == "/console/login/"
    assert invitee.get(link).status_code == 404  # spent
    assert "ログインして、二要素認証を設定してください" in text(invitee.get("/console/login/"))
    first = invitee.post(
        "/console/login/", {"username": "new.member@yokohama.test", "password": NEW_PASSWORD}
    )
    assert first["Location"] == "/console/login/enrol/"


@pytest.mark.parametrize(
    "token",
    ["x", "a" * 5000, "eyJ1IjoxfQ:1u:abc", "%00", "../../etc/passwd"],
)
@pytest.mark.django_db  # on PostgreSQL every console request sets its row-level-security scope
def test_a_forged_invitation_link_is_a_japanese_404(client, token):
    response = client.get(f"/console/invitation/{token}/")

    assert response.status_code == 404
    assert "招待のリンクが使えません" in text(response) or "ページが見つかりません" in text(
        response
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"email": "not-an-address", "display_name": "山田", "role": "viewer"},
            "形式が正しくありません",
        ),
        (
            {"email": "", "display_name": "山田", "role": "viewer"},
            "メールアドレスを入力してください",
        ),
        ({"email": "a" * 250 + "@x.jp", "display_name": "山田", "role": "viewer"}, "254文字以内"),
        (
            {"email": "ok@yokohama.test", "display_name": "山" * 129, "role": "viewer"},
            "128文字以内",
        ),
        (
            {"email": "ok@yokohama.test", "display_name": "", "role": "viewer"},
            "氏名を入力してください",
        ),
        ({"email": "ok@yokohama.test", "display_name": "山田", "role": "superuser"}, "役割は"),
        ({"email": "ok@yokohama.test", "display_name": "山田", "role": ""}, "役割を選んでください"),
        (
            {"email": "ok@yokohama.test", "display_name": "山\x00田", "role": "viewer"},
            "使えない文字",
        ),
        (
            {
                "email": "ok@yokohama.test",
                "display_name": "山田",
                "department": "課" * 200,
                "role": "viewer",
            },
            "128文字以内",
        ),
        (
            {"email": "reviewer@kamakura.test", "display_name": "乗っ取り", "role": "admin"},
            "招待できません",
        ),
        (
            {"email": "admin@yokohama.test", "display_name": "二重", "role": "viewer"},
            "招待できません",
        ),
    ],
)
def test_bad_invitations_are_refused_in_japanese_and_change_nothing(
    admin_client, other_staff, data, message
):
    before = snapshot()
    users = User.objects.count()

    response = admin_client.post(INVITE, data)

    assert response.status_code == 400
    assert message in text(response)
    assert 'id="error-summary"' in text(response)
    assert snapshot() == before
    assert User.objects.count() == users
    assert OutboxMessage.objects.count() == 0


def test_a_residents_address_cannot_be_invited(admin_client, db):
    User.objects.create_user("resident@example.jp", "resident password 123")

    response = admin_client.post(
        INVITE, {"email": "resident@example.jp", "display_name": "住民", "role": "admin"}
    )

    assert response.status_code == 400
    assert not Staff.objects.filter(user__email="resident@example.jp").exists()


def test_posts_without_the_csrf_token_are_refused(admin_staff, staff_member):
    browser = Client(enforce_csrf_checks=True)
    console_login(browser, admin_staff.user)
    before = snapshot()

    assert (
        browser.post(
            INVITE, {"email": "x@yokohama.test", "display_name": "x", "role": "admin"}
        ).status_code
        == 403
    )
    assert browser.post(role_url(staff_member), {"role": "admin"}).status_code == 403
    assert browser.post(active_url(staff_member), {"active": "0"}).status_code == 403
    assert snapshot() == before


# --- roles and disabling ----------------------------------------------------------------------


def test_the_admin_changes_a_role_and_it_is_audited(admin_client, staff_member):
    response = admin_client.post(role_url(staff_member), {"role": "viewer"})

    assert response.status_code == 302
    staff_member.refresh_from_db()
    assert staff_member.role == "viewer"
    event = AuditEvent.objects.get(action="staff.role_changed")
    assert event.detail == {"before": "reviewer", "after": "viewer"}


@pytest.mark.parametrize("role", ["root", "", "ADMIN", "admin\x00", "x" * 10_000])
def test_a_forged_role_is_refused_in_japanese(admin_client, staff_member, role):
    before = snapshot()

    response = admin_client.post(role_url(staff_member), {"role": role})

    assert response.status_code == 400
    assert "役割" in text(response)
    assert snapshot() == before


def test_the_last_admin_cannot_be_demoted_or_disabled(admin_client, admin_staff):
    demote = admin_client.post(role_url(admin_staff), {"role": "reviewer"})

    assert demote.status_code == 400
    assert "最後の団体管理者の役割は変更できません" in text(demote)
    admin_staff.refresh_from_db()
    assert admin_staff.role == "admin"


def test_an_admin_cannot_disable_themself(admin_client, admin_staff):
    response = admin_client.post(active_url(admin_staff), {"active": "0"})

    assert response.status_code == 400
    assert "自分自身を利用停止にすることはできません" in text(response)


def test_with_a_second_admin_one_can_step_down(admin_client, admin_staff, organisation):
    second = staff_upsert(
        organisation=organisation,
        email="admin2@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )

    assert admin_client.post(active_url(second), {"active": "0"}).status_code == 302
    assert admin_client.post(role_url(admin_staff), {"role": "viewer"}).status_code == 400
    assert admin_client.post(active_url(second), {"active": "1"}).status_code == 302
    assert admin_client.post(role_url(admin_staff), {"role": "viewer"}).status_code == 302
    # The former admin's next request is no longer an admin's.
    assert admin_client.get(STAFF).status_code == 403


def test_a_disabled_member_is_refused_at_once_and_cannot_log_in(admin_client, staff_member):
    member = Client()
    console_login(member, staff_member.user)
    assert member.get("/console/procedures/").status_code == 200

    assert admin_client.post(active_url(staff_member), {"active": "0"}).status_code == 302

    assert member.get("/console/procedures/").status_code == 403
    again = console_log_in(Client(), "reviewer@yokohama.test")
    assert again.status_code == 200
    assert "ログインできませんでした。" in text(again)
    assert AuditEvent.objects.filter(
        action="staff.disabled", target_id=str(staff_member.pk)
    ).exists()


@pytest.mark.parametrize("value", ["", "2", "yes", "0" * 1000])
def test_a_forged_active_value_is_refused(admin_client, staff_member, value):
    response = admin_client.post(active_url(staff_member), {"active": value})

    assert response.status_code == 400
    assert "有効にするか利用停止にするか" in text(response)


def test_get_on_a_change_is_not_allowed(admin_client, staff_member):
    assert admin_client.get(role_url(staff_member)).status_code == 405


# --- resetting the second factor ------------------------------------------------------------


def test_the_admin_resets_a_lost_authenticator(admin_client, staff_member):
    totp_enrol(staff_member.user)

    response = admin_client.post(reset_url(staff_member))

    assert response.status_code == 302
    assert not StaffTOTP.objects.filter(user=staff_member.user).exists()
    event = AuditEvent.objects.get(action="staff.totp_reset")
    assert (event.target_id, event.detail) == (str(staff_member.pk), {"removed": True})
    first = Client().post(
        "/console/login/", {"username": "reviewer@yokohama.test", "password": STAFF_PASSWORD}
    )
    assert first["Location"] == "/console/login/enrol/"


# --- reviewers per procedure ------------------------------------------------------------------


def test_the_admin_assigns_reviewers_to_a_procedure(
    admin_client, admin_staff, staff_member, procedure
):
    page = admin_client.get(reviewers_url(procedure))
    assert page.status_code == 200
    assert "審査 一郎" in text(page)

    response = admin_client.post(reviewers_url(procedure), {"reviewers": [staff_member.pk]})

    assert response.status_code == 302
    assert list(procedure.reviewers.all()) == [staff_member]
    assert "審査 一郎" in text(admin_client.get(PROCEDURES))
    event = AuditEvent.objects.get(action="procedure.reviewers_set")
    assert event.detail == {"before": [], "after": [staff_member.pk]}
    assert admin_client.post(reviewers_url(procedure), {}).status_code == 302
    assert list(procedure.reviewers.all()) == []


@pytest.mark.parametrize("forged", ["other", "viewer", "junk", "huge"])
def test_forged_reviewers_are_refused_in_japanese(
    admin_client, organisation, other_staff, procedure, forged
):
    viewer = staff_upsert(
        organisation=organisation,
        email="viewer@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.VIEWER,
    )
    value = {
        "other": other_staff.pk,
        "viewer": viewer.pk,
        "junk": "1 OR 1=1",
        "huge": "9" * 40,
    }[forged]

    response = admin_client.post(reviewers_url(procedure), {"reviewers": [value]})

    assert response.status_code == 400
    assert "選べない職員が含まれています" in text(response)
    assert procedure.reviewers.count() == 0


def test_another_organisations_procedure_is_404(admin_client, kamakura_procedure):
    assert admin_client.get(reviewers_url(kamakura_procedure)).status_code == 404
    assert (
        admin_client.post(reviewers_url(kamakura_procedure), {"reviewers": []}).status_code == 404
    )
    assert "鎌倉" not in text(admin_client.get(PROCEDURES))


# --- the audit log ----------------------------------------------------------------------------


@pytest.fixture
def events(admin_staff, organisation, other_organisation, staff_member):
    at = now()
    for i in range(60):
        audit_record(
            action="application.viewed",
            now=at - timedelta(minutes=i),
            organisation=organisation,
            actor=staff_member.user,
            actor_label=staff_member.user.email,
            target_type="application",
            target_id=f"Y-{i}",
        )
    audit_record(
        action="staff.role_changed",
        now=at - timedelta(days=40),
        organisation=organisation,
        actor=admin_staff.user,
        actor_label=admin_staff.user.email,
        target_type="staff",
        target_id=staff_member.pk,
    )
    audit_record(
        action="application.viewed",
        now=at,
        organisation=other_organisation,
        actor_label="reviewer@kamakura.test",
        target_type="application",
        target_id="KAMAKURA-SECRET",
    )
    audit_record(action="resident.signed_up", now=at, actor_label="住民")
    return at


def test_the_audit_log_shows_only_the_organisations_events_page_by_page(admin_client, events):
    first = text(admin_client.get(AUDIT))

    assert "KAMAKURA-SECRET" not in first
    assert "resident.signed_up" not in first
    assert first.count("application: Y-") == 50
    found = re.search(r'<a href="\?([^"]+)">さらに古い記録を見る</a>', first)
    assert found is not None
    next_link = found.group(1)
    second = text(admin_client.get(f"{AUDIT}?{next_link.replace('&amp;', '&')}"))
    assert second.count("application: Y-") == 10
    assert "staff.role_changed" in second
    assert "KAMAKURA-SECRET" not in second
    shown = re.findall(r"application: (Y-\d+)", first + second)
    assert len(shown) == len(set(shown)) == 60


def test_the_audit_log_is_searched_by_action_actor_target_and_period(admin_client, events):
    by_action = text(admin_client.get(AUDIT, {"action": "staff."}))
    assert "staff.role_changed" in by_action
    assert "application: Y-" not in by_action

    by_actor = text(admin_client.get(AUDIT, {"actor": "admin@yokohama"}))
    assert "staff.role_changed" in by_actor
    assert "application: Y-" not in by_actor

    by_target = text(admin_client.get(AUDIT, {"target_type": "application", "target_id": "Y-7"}))
    assert by_target.count("application: Y-") == 1
    assert (
        admin_client.get(AUDIT, {"target_id": "KAMAKURA-SECRET"})
        .content.decode()
        .count("KAMAKURA-SECRET")
        == 1
    )  # only the search field echoes it

    old = (events - timedelta(days=41)).date().isoformat()
    until = (events - timedelta(days=39)).date().isoformat()
    by_period = text(admin_client.get(AUDIT, {"since": old, "until": until}))
    assert "staff.role_changed" in by_period
    assert "application: Y-" not in by_period


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "2026-13-45"}, "日付は 2026-04-01 の形で"),
        ({"since": "令和"}, "日付は 2026-04-01 の形で"),
        ({"since": "2026-05-01", "until": "2026-04-01"}, "終了日は開始日と同じか"),
        ({"action": "a" * 65}, "64文字以内"),
        ({"actor": "b" * 201}, "200文字以内"),
        ({"action": "staff\x00"}, "使えない文字"),
    ],
)
def test_bad_searches_are_answered_in_japanese(admin_client, events, query, message):
    response = admin_client.get(AUDIT, query)

    assert response.status_code == 400
    assert message in text(response)


@pytest.mark.parametrize(
    "cursor", ["garbage", "1.1.1", "9" * 60 + ".1", "-5.3", "99999999999999999.1"]
)
def test_a_tampered_page_link_starts_from_the_first_page(admin_client, events, cursor):
    response = admin_client.get(AUDIT, {"after": cursor})

    assert response.status_code in (200, 400)
    assert "KAMAKURA-SECRET" not in text(response)


def test_the_admins_own_actions_and_logins_appear_in_the_log(client, admin_staff, staff_member):
    response = console_log_in(client, "admin@yokohama.test")
    assert response.status_code == 302
    assert SESSION_KEY in client.session
    client.post(role_url(staff_member), {"role": "viewer"})

    html = text(client.get(AUDIT))

    for action in ("staff.login", "staff.login_first_factor", "staff.role_changed"):
        assert f"<code>{action}</code>" in html
