"""A resident makes a national account, proves the address, logs in, keeps a profile, resets the
password and closes the account; hostile input gets a clear Japanese answer and changes nothing.
"""

from __future__ import annotations

import re
from email import message_from_bytes

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.models import Application, Draft
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity import throttle
from madoguchi.identity.models import LoginAttempt, ResidentProfile, User
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.services import outbox_deliver_email

PASSWORD = "blue whale under 7 bridges"
NEW_PASSWORD = "seven quiet lanterns at dusk"
EMAIL = "hanako@example.jp"

SIGNUP = reverse("portal:account:signup")
LOGIN = reverse("portal:account:login")
LOGOUT = reverse("portal:account:logout")
PROFILE = reverse("portal:account:profile")
PROFILE_EDIT = reverse("portal:account:profile_edit")
DELETE = reverse("portal:account:delete")
RESET = reverse("portal:account:password_reset")
RESEND = reverse("portal:account:verify_resend")


# --- Helpers ---------------------------------------------------------------------------------


def mails_to(address: str) -> list[dict[str, str]]:
    return [
        row.payload
        for row in OutboxMessage.objects.order_by("id")
        if row.payload.get("to") == address
    ]


def link_in(body: str) -> str:
    match = re.search(r"https?://\S+", body)
    assert match, body
    return match.group(0)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def sign_up(client: Client, email: str = EMAIL, password: str = PASSWORD):
    return client.post(SIGNUP, {"email": email, "password": password, "password_again": password})


def verify_link(email: str = EMAIL) -> str:
    mail = next(m for m in reversed(mails_to(email)) if "メールアドレスの確認" in m["subject"])
    return path_of(link_in(mail["body"]))


def log_in(client: Client, email: str = EMAIL, password: str = PASSWORD, next_url: str = ""):
    data = {"username": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data)


@pytest.fixture
def resident(db) -> User:
    user = User.objects.create_user(EMAIL, PASSWORD)
    user.email_verified_at = now()
    user.save()
    return user


@pytest.fixture
def resident_client(client: Client, resident: User) -> Client:
    client.force_login(resident)
    return client


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


# --- The whole story -------------------------------------------------------------------------


def test_resident_signs_up_verifies_logs_in_edits_profile_resets_password_and_leaves(client, db):
    response = sign_up(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:account:signup_sent")
    assert "確認メールを送りました" in client.get(response["Location"]).content.decode()

    user = User.objects.get(email=EMAIL)
    assert user.email_verified_at is None
    assert user.password.startswith("argon2$")
    # Not verified yet: the login is refused, with the way to verify.
    refused = log_in(client)
    assert refused.status_code == 422
    assert "メールアドレスの確認が済んでいません" in refused.content.decode()
    assert RESEND in refused.content.decode()

    link = verify_link()
    page = client.get(link)  # what a mail scanner does: nothing is spent
    assert page.status_code == 200
    assert "メールアドレスを確認する" in page.content.decode()
    user.refresh_from_db()
    assert user.email_verified_at is None
    verified = client.post(link)
    assert verified.status_code == 302
    assert verified["Location"] == LOGIN
    user.refresh_from_db()
    assert user.email_verified_at is not None

    before = client.cookies.get("sessionid")
    logged_in = log_in(client)
    assert logged_in.status_code == 302
    assert logged_in["Location"] == "/mypage/"
    assert client.cookies["sessionid"].value != (before.value if before else "")
    nav = client.get(PROFILE).content.decode()
    assert "マイページ" in nav
    assert LOGOUT in nav
    assert SIGNUP not in nav

    saved = client.post(
        PROFILE_EDIT,
        {
            "family_name": "髙橋",
            "given_name": "花子",
            "family_name_kana": "たかはし",
            "given_name_kana": "ﾊﾅｺ",
            "postal_code": "〒２３１－００２３",
            "address": "神奈川県横浜市中区山下町1-2",
            "birth_date": "昭和55年4月1日",
            "phone": "０４５－１２３－４５６７",
        },
    )
    assert saved.status_code == 302
    assert saved["Location"] == PROFILE
    profile = ResidentProfile.objects.get(user=user)
    assert (profile.family_name, profile.family_name_kana, profile.given_name_kana) == (
        "髙橋",
        "タカハシ",
        "ハナコ",
    )
    assert (profile.postal_code, profile.phone) == ("2310023", "0451234567")
    assert profile.birth_date.isoformat() == "1980-04-01"
    shown = client.get(PROFILE).content.decode()
    assert "昭和55年4月1日" in shown
    assert "〒231-0023" in shown

    assert client.post(LOGOUT).status_code == 302
    assert client.get(PROFILE)["Location"].startswith(LOGIN)

    # Password reset, by mail.
    asked = client.post(RESET, {"email": EMAIL})
    assert asked["Location"] == reverse("portal:account:password_reset_done")
    reset_mail = mails_to(EMAIL)[-1]
    assert "パスワードの再設定" in reset_mail["subject"]
    reset_link = path_of(link_in(reset_mail["body"]))
    form_page = client.get(reset_link, follow=True)
    assert "新しいパスワードの設定" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("portal:account:password_reset_complete")
    again = client.get(reset_link, follow=True)
    assert "このリンクは使えません" in again.content.decode()  # used once only
    assert log_in(client).status_code == 422
    assert log_in(client, password=NEW_PASSWORD).status_code == 302

    # Leaving: no applications, so nothing is kept.
    page = client.get(DELETE).content.decode()
    assert "送信済みの申請はありません" in page
    gone = client.post(DELETE, {"password": NEW_PASSWORD})
    assert gone.status_code == 200
    assert "アカウントを削除しました" in gone.content.decode()
    assert not User.objects.filter(pk=user.pk).exists()
    assert not ResidentProfile.objects.filter(user_id=user.pk).exists()
    assert "アカウントを削除しました" in mails_to(EMAIL)[-1]["subject"]
    assert client.get(PROFILE).status_code == 302  # logged out

    assert [action for action in audit_actions() if ".login" not in action] == [
        "resident.signed_up",
        "resident.email_verified",
        "resident.profile_updated",
        "resident.password_reset",
        "resident.deleted",
    ]
    assert "resident.login" in audit_actions()  # every login attempt is recorded too
    for event in AuditEvent.objects.exclude(action__startswith="resident.login"):
        text = str(event.detail) + event.actor_label + event.reason
        assert "hanako" not in text
        assert "髙橋" not in text
        assert "2310023" not in text
    assert AuditEvent.objects.get(action="resident.profile_updated").detail["fields"]


def test_verification_mail_arrives_through_a_real_smtp_server(client, db, smtp_server):
    sign_up(client)

    report = outbox_deliver_email(now=now())

    assert report.delivered == 1
    message = message_from_bytes(smtp_server.messages[0])
    raw = message.get_payload(decode=True)
    assert isinstance(raw, bytes)
    body = raw.decode(message.get_content_charset() or "utf-8")
    link = path_of(link_in(body))
    assert client.post(link).status_code == 302
    assert User.objects.get(email=EMAIL).email_verified_at is not None


# --- Sign-up that reveals nothing --------------------------------------------------------------


def test_signing_up_with_a_taken_address_looks_the_same_and_tells_the_owner(client, resident):
    stored_password = resident.password

    response = sign_up(client, email="Hanako@Example.JP", password=NEW_PASSWORD)
    fresh = Client().post(
        SIGNUP,
        {"email": "new@example.jp", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )

    assert (response.status_code, response["Location"]) == (fresh.status_code, fresh["Location"])
    assert User.objects.filter(email=EMAIL).count() == 1
    resident.refresh_from_db()
    assert resident.password == stored_password
    notice = mails_to(EMAIL)[-1]
    assert "アカウント登録の申込みがありました" in notice["subject"]
    assert reverse("portal:account:password_reset") in notice["body"]
    assert audit_actions() == ["resident.signed_up"]  # the new address only


def test_weak_or_mismatched_passwords_are_refused_in_japanese_and_nothing_is_stored(client, db):
    weak = sign_up(client, password="12345678")
    mismatch = client.post(
        SIGNUP, {"email": EMAIL, "password": PASSWORD, "password_again": PASSWORD + "x"}
    )

    assert weak.status_code == 422
    assert "パスワード" in weak.content.decode()
    assert 'role="alert"' in weak.content.decode()
    assert 'aria-invalid="true"' in weak.content.decode()
    assert "一致しません" in mismatch.content.decode()
    assert User.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


@pytest.mark.parametrize(
    "email",
    ["not-an-address", "hanako\x00@example.jp", "a" * 250 + "@example.jp", "", "han ako@x.jp"],
)
def test_hostile_addresses_are_refused_at_sign_up(client, db, email):
    response = sign_up(client, email=email)

    assert response.status_code == 422
    assert "メールアドレス" in response.content.decode()
    assert User.objects.count() == 0


def test_overlong_password_is_refused_before_hashing(client, db):
    response = sign_up(client, password="x" * 5000)

    assert response.status_code == 422
    assert "128文字以内" in response.content.decode()
    assert User.objects.count() == 0


def test_resend_answers_the_same_for_every_address_and_mails_only_the_unverified(client, db):
    sign_up(client)
    before = OutboxMessage.objects.count()

    unverified = client.post(RESEND, {"email": EMAIL})
    unknown = client.post(RESEND, {"email": "nobody@example.jp"})

    assert unverified["Location"] == unknown["Location"]
    assert OutboxMessage.objects.count() == before + 1
    assert client.post(verify_link()).status_code == 302


# --- Verification links ----------------------------------------------------------------------


def test_a_verification_link_works_once(client, db):
    sign_up(client)
    link = verify_link()

    client.post(link)
    again = client.post(link)

    assert again.status_code == 400
    assert "このリンクは使えません" in again.content.decode()
    assert audit_actions().count("resident.email_verified") == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # tampered signature
        lambda t: "OTk5OTk." + t.partition(".")[2],  # someone else's id (99999), this token
        lambda t: "x" * 300,  # overlong
        lambda t: "garbage",
        lambda t: "%E6%97%A5." + t.partition(".")[2],  # not ASCII
        lambda t: t.partition(".")[0] + ".1-" + "0" * 20,  # forged timestamp
    ],
)
def test_tampered_verification_links_are_refused_and_verify_nothing(client, db, mangle):
    sign_up(client)
    token = verify_link().rstrip("/").rsplit("/", 1)[1]
    bad = reverse("portal:account:verify", args=["PLACEHOLDER"]).replace(
        "PLACEHOLDER", mangle(token)
    )

    shown = client.get(bad)
    posted = client.post(bad)

    assert (shown.status_code, posted.status_code) == (400, 400)
    assert "このリンクは使えません" in posted.content.decode()
    assert not User.objects.filter(email_verified_at__isnull=False).exists()


def test_a_password_reset_token_does_not_verify_an_address(client, db):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    sign_up(client)
    user = User.objects.get()
    forged = (
        f"{urlsafe_base64_encode(force_bytes(user.pk))}.{default_token_generator.make_token(user)}"
    )

    assert client.post(reverse("portal:account:verify", args=[forged])).status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None


# --- Login --------------------------------------------------------------------------------------


def test_wrong_password_gets_the_same_answer_as_an_unknown_address(client, resident):
    wrong = log_in(client, password="not the password at all")
    unknown = log_in(client, email="nobody@example.jp")

    assert wrong.status_code == unknown.status_code == 422
    assert "メールアドレスまたはパスワードが違います" in wrong.content.decode()
    assert "メールアドレスまたはパスワードが違います" in unknown.content.decode()


def test_a_staff_password_gets_the_same_answer_as_a_wrong_one_and_counts_as_a_failure(
    client, staff_member
):
    from madoguchi.testing import STAFF_PASSWORD

    right = log_in(client, email=staff_member.user.email, password=STAFF_PASSWORD)
    wrong = log_in(client, email=staff_member.user.email, password="not the password at all")

    assert right.status_code == wrong.status_code == 422
    assert "_auth_user_id" not in client.session
    assert "職員のアカウントです" not in right.content.decode()
    assert "メールアドレスまたはパスワードが違います" in _error_summary(right)
    assert _error_summary(right) == _error_summary(wrong)
    attempts = LoginAttempt.objects.filter(user=staff_member.user, portal="portal")
    assert list(attempts.values_list("success", flat=True)) == [False, False]
    reasons = AuditEvent.objects.filter(action="resident.login_failed").order_by("id")
    assert [event.detail["reason"] for event in reasons] == ["staff_account", "bad_credentials"]


def test_staff_passwords_tried_at_the_resident_login_count_against_the_console_login(
    client, staff_member
):
    from madoguchi.testing import STAFF_PASSWORD

    for _ in range(throttle.PAIR_FREE_FAILURES + 1):
        log_in(client, email=staff_member.user.email, password=STAFF_PASSWORD)

    console = client.post(
        reverse("console:login"),
        {"username": staff_member.user.email, "password": STAFF_PASSWORD},
    )
    assert console.status_code == 429
    assert "_madoguchi_mfa_pending" not in client.session


def _error_summary(response):
    html = response.content.decode()
    start = html.index('<div class="error-summary"')
    return html[start : html.index("</div>", start)]


ATTACKER = "203.0.113.66"
HOME = "198.51.100.7"
CAFE = "192.0.2.44"


def test_fifty_wrong_passwords_then_the_right_one_is_refused_from_that_address_only(resident):
    # The resident logged in before, at home, with this browser.
    own_browser = Client(REMOTE_ADDR=HOME)
    assert log_in(own_browser).status_code == 302
    assert own_browser.cookies.get(throttle.DEVICE_COOKIE)
    own_browser.post(LOGOUT)

    attacker = Client(REMOTE_ADDR=ATTACKER)
    answers = [log_in(attacker, password=f"guess {n}").status_code for n in range(50)]
    right = log_in(attacker)

    assert set(answers) <= {422, 429}
    assert 429 in answers
    assert right.status_code == 429
    assert "しばらくログインを受け付けません" in right.content.decode()
    assert "_auth_user_id" not in attacker.session
    # Every attempt is recorded, with an audit event each; none of them was a success.
    attempts = LoginAttempt.objects.filter(address=ATTACKER, portal="portal")
    assert attempts.count() == 51
    assert not attempts.filter(success=True).exists()
    assert attempts.filter(stage=throttle.STAGE_THROTTLED).exists()
    assert AuditEvent.objects.filter(action="resident.login_failed").count() == 51

    # The resident still gets in: from home (a known address), with a fresh browser ...
    assert log_in(Client(REMOTE_ADDR=HOME)).status_code == 302
    # ... and from anywhere with the browser that logged in before (the device cookie).
    own_browser.defaults["REMOTE_ADDR"] = CAFE
    assert log_in(own_browser).status_code == 302
    assert AuditEvent.objects.filter(action="resident.login").count() == 3


def test_a_deactivated_account_cannot_log_in(client, resident):
    resident.is_active = False
    resident.save()

    response = log_in(client)

    assert response.status_code == 422
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "\x00/mypage/",
    ],
)
def test_login_never_redirects_off_site(client, resident, target):
    response = log_in(client, next_url=target)

    assert response.status_code == 302
    assert response["Location"] == "/mypage/"


def test_login_follows_a_next_on_this_site(client, resident):
    response = log_in(client, next_url=PROFILE)

    assert response["Location"] == PROFILE


@pytest.mark.parametrize(
    "data",
    [
        {"username": "hanako\x00@example.jp", "password": PASSWORD},
        {"username": "a" * 10_000, "password": PASSWORD},
        {"username": EMAIL, "password": "x" * 10_000},
        {"username": ["a", "b"], "password": PASSWORD},
        {},
    ],
)
def test_hostile_login_posts_get_a_japanese_error_not_a_500(client, resident, data):
    response = client.post(LOGIN, data)

    assert response.status_code == 422
    assert "ログインできませんでした" in response.content.decode()


def test_logout_is_post_only(resident_client):
    assert resident_client.get(LOGOUT).status_code == 405
    assert resident_client.get(PROFILE).status_code == 200


# --- Access to resident pages --------------------------------------------------------------------


def test_resident_pages_send_visitors_to_the_resident_login(client, db):
    response = client.get(PROFILE)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={PROFILE}"


def test_resident_pages_refuse_staff_politely(staff_client):
    response = staff_client.get(PROFILE)

    assert response.status_code == 403
    assert "職員のアカウントでは使えない" in response.content.decode()


def test_resident_pages_refuse_an_unverified_account(client, db):
    client.force_login(User.objects.create_user("new@example.jp", PASSWORD))

    response = client.get(PROFILE)

    assert response.status_code == 403
    assert "メールアドレスの確認が必要です" in response.content.decode()


def test_navigation_offers_login_and_sign_up_to_visitors(client, db):
    page = client.get(LOGIN).content.decode()

    assert SIGNUP in page
    assert "ログアウト" not in page


# --- Profile -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("family_name", "山田\x00", "制御文字"),
        ("given_name", "太郎\u202e", "制御文字"),
        ("address", "あ" * 257, "256文字以内"),
        ("family_name_kana", "yamada", "カタカナ"),
        ("postal_code", "123-456", "7桁"),
        ("postal_code", "１２３４５６７８", "7桁"),
        ("postal_code", "1" * 17, "16文字以内"),
        ("birth_date", "令和99年13月1日", "日付"),
        ("birth_date", "2999-01-01", "未来"),
        ("birth_date", "平成31年5月1日", "令和元年"),
        ("phone", "03-1234", "桁数"),
        ("phone", "電話してね", "電話番号"),
    ],
)
def test_hostile_profile_input_is_refused_and_nothing_changes(
    resident_client, resident, field, value, message
):
    ResidentProfile.objects.create(user=resident, family_name="山田", address="横浜市中区")
    data = {"family_name": "山田", "address": "横浜市中区", field: value}

    response = resident_client.post(PROFILE_EDIT, data)

    assert response.status_code == 422
    content = response.content.decode()
    assert message in content
    assert 'role="alert"' in content
    assert 'aria-invalid="true"' in content
    profile = ResidentProfile.objects.get(user=resident)
    assert (profile.family_name, profile.given_name, profile.address) == ("山田", "", "横浜市中区")
    assert profile.birth_date is None
    assert "resident.profile_updated" not in audit_actions()


def test_profile_form_shows_what_is_stored(resident_client, resident):
    ResidentProfile.objects.create(user=resident, family_name="𠮷田", postal_code="2310023")

    page = resident_client.get(PROFILE_EDIT).content.decode()

    assert 'value="𠮷田"' in page
    assert 'value="2310023"' in page


def test_saving_the_same_profile_twice_records_one_change(resident_client, resident):
    data = {"family_name": "山田", "given_name": "花子"}

    resident_client.post(PROFILE_EDIT, data)
    resident_client.post(PROFILE_EDIT, data)

    assert audit_actions() == ["resident.profile_updated"]


# --- Password reset ------------------------------------------------------------------------------


def test_reset_answers_the_same_for_unknown_and_staff_addresses_and_mails_neither(
    client, resident, staff_member
):
    answers = [
        client.post(RESET, {"email": email})["Location"]
        for email in (EMAIL, "nobody@example.jp", staff_member.user.email)
    ]

    assert len(set(answers)) == 1
    assert [m["to"] for m in OutboxMessage.objects.values_list("payload", flat=True)] == [EMAIL]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda uid, token: (uid, token[:-1] + ("0" if token[-1] != "0" else "1")),
        lambda uid, token: ("x" * 100, token),
        lambda uid, token: (uid, "y" * 500),
        lambda uid, token: ("MA", token),
    ],
)
def test_tampered_reset_links_change_no_password(client, resident, mangle):
    client.post(RESET, {"email": EMAIL})
    uid, token = link_in(mails_to(EMAIL)[-1]["body"]).rstrip("/").rsplit("/", 2)[1:]
    bad_uid, bad_token = mangle(uid, token)
    url = reverse("portal:account:password_reset_confirm", args=[bad_uid, bad_token])

    page = client.get(url, follow=True)
    posted = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert "このリンクは使えません" in page.content.decode()
    assert posted.status_code == 200
    assert "このリンクは使えません" in posted.content.decode()
    resident.refresh_from_db()
    assert resident.check_password(PASSWORD)


def test_a_reset_proves_the_address_of_an_unverified_account(client, db):
    """Someone else signed up with my address and never verified: a reset makes it mine."""
    sign_up(client, password=PASSWORD)

    client.post(RESET, {"email": EMAIL})
    reset_mail = next(m for m in mails_to(EMAIL) if "パスワードの再設定" in m["subject"])
    form = client.get(path_of(link_in(reset_mail["body"])), follow=True)
    weak = client.post(form.redirect_chain[-1][0], {"new_password1": "1", "new_password2": "1"})
    assert weak.status_code == 422
    assert 'role="alert"' in weak.content.decode()
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert User.objects.get().email_verified_at is not None
    assert log_in(client, password=NEW_PASSWORD).status_code == 302


# --- Deletion ------------------------------------------------------------------------------------


def test_deletion_needs_the_password(resident_client, resident):
    response = resident_client.post(DELETE, {"password": "not my password at all"})

    assert response.status_code == 422
    assert "パスワードが違います" in response.content.decode()
    assert User.objects.filter(pk=resident.pk, is_active=True).exists()


@pytest.fixture
def published_procedure(db):
    from madoguchi.applications.publishing import procedure_set_status
    from madoguchi.catalog.constants import ProcedureStatus
    from madoguchi.catalog.selectors import template_version_get
    from madoguchi.catalog.services import procedure_adopt
    from madoguchi.tenants.models import Organisation
    from madoguchi.testing import at_level_one

    organisation = Organisation.objects.get(lg_code="141003")
    item = procedure_adopt(
        organisation=organisation, template_version=template_version_get(slug="juminhyo"), now=now()
    )
    return at_level_one(
        procedure_set_status(
            organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
        )
    )


def test_deletion_with_applications_keeps_them_with_the_organisation_and_locks_the_account(
    resident_client, resident, published_procedure
):
    from madoguchi.applications.services import draft_save
    from madoguchi.identity.tokens import SCOPE_APPLICATIONS, access_token_create
    from madoguchi.testing import submit, valid_answers

    answers = valid_answers(published_procedure)
    application = submit(published_procedure, resident, answers).application
    draft_save(
        organisation=published_procedure.organisation,
        procedure=published_procedure,
        applicant=resident,
        answers=answers,
        step="",
        now=now(),
    )
    ResidentProfile.objects.create(user=resident, family_name="山田")
    access_token_create(user=resident, name="アプリ", scopes=[SCOPE_APPLICATIONS], now=now())

    page = resident_client.get(DELETE).content.decode()
    assert "申請は、申請先の各団体の保存期間まで保存されます" in page
    response = resident_client.post(DELETE, {"password": PASSWORD})

    assert response.status_code == 200
    application.refresh_from_db()
    assert application.applicant_id == resident.pk
    resident.refresh_from_db()
    assert not resident.is_active
    assert not resident.has_usable_password()
    assert resident.email.endswith("@deleted.invalid")
    assert not ResidentProfile.objects.filter(user=resident).exists()
    assert not Draft.objects.filter(applicant=resident).exists()
    assert not resident.access_tokens.exists()
    assert Application.objects.count() == 1
    assert log_in(Client()).status_code == 422
    notice = mails_to(EMAIL)[-1]
    assert "保存期間" in notice["body"]
    assert AuditEvent.objects.get(action="resident.deleted").detail == {"retained": True}
    # The address is free again: its owner may start afresh.
    assert sign_up(Client()).status_code == 302
    assert User.objects.filter(email=EMAIL, is_active=True).count() == 1


# --- Requests without a CSRF token -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (SIGNUP, {"email": EMAIL, "password": PASSWORD, "password_again": PASSWORD}),
        (LOGIN, {"username": EMAIL, "password": PASSWORD}),
        (LOGOUT, {}),
        (RESET, {"email": EMAIL}),
        (PROFILE_EDIT, {"family_name": "悪意"}),
        (DELETE, {"password": PASSWORD}),
    ],
)
def test_posts_without_a_csrf_token_get_the_403_page_and_change_nothing(resident, url, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(resident)

    response = client.post(url, data)

    assert response.status_code == 403
    assert "送信を確認できませんでした" in response.content.decode()
    assert User.objects.filter(pk=resident.pk, is_active=True).count() == 1
    assert not ResidentProfile.objects.exists()
    assert OutboxMessage.objects.count() == 0


# --- In a real browser -----------------------------------------------------------------------------


@pytest.mark.browser
def test_account_pages_in_a_real_browser_have_no_accessibility_violations(page):
    from madoguchi.testing import axe_violations

    def check(expected_h1: str) -> None:
        assert page.locator("h1").inner_text() == expected_h1
        assert axe_violations(page) == [], page.url

    page.goto(SIGNUP)
    check("アカウントの登録")
    page.get_by_role("button", name="登録して確認メールを受け取る").click()
    page.wait_for_load_state()
    check("アカウントの登録")  # with the error summary
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.get_by_role("button", name="登録して確認メールを受け取る").click()
    page.wait_for_url("**/account/signup/sent/")
    check("確認メールを送りました")

    page.goto(verify_link())
    check("メールアドレスの確認")
    page.get_by_role("button", name="メールアドレスを確認する").click()
    page.wait_for_url("**/account/login/")
    assert "メールアドレスを確認しました" in page.content()
    check("ログイン")

    page.get_by_label("メールアドレス").fill(EMAIL)
    page.get_by_label("パスワード", exact=False).first.fill("wrong password here")
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_load_state()
    check("ログイン")  # with the error summary
    page.get_by_label("パスワード", exact=False).first.fill(PASSWORD)
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_url("**/mypage/")

    page.goto(PROFILE)
    check("登録情報")
    page.goto(PROFILE_EDIT)
    check("登録情報の変更")
    page.fill("#id_family_name_kana", "yamada")
    page.fill("#id_birth_date", "令和99年13月1日")
    page.get_by_role("button", name="保存する").click()
    page.wait_for_load_state()
    check("登録情報の変更")  # with the error summary
    page.fill("#id_family_name_kana", "やまだ")
    page.fill("#id_birth_date", "S55.4.1")
    page.get_by_role("button", name="保存する").click()
    page.wait_for_url("**/account/profile/")
    assert "ヤマダ" in page.content()
    page.goto(DELETE)
    check("アカウントを削除する")

    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url("**/")
    for path, h1 in [
        (RESET, "パスワードの再設定"),
        (reverse("portal:account:password_reset_done"), "再設定のメールを送りました"),
        (RESEND, "確認メールをもう一度送る"),
        (reverse("portal:account:verify", args=["garbage"]), "このリンクは使えません"),
    ]:
        page.goto(path)
        check(h1)


def test_sign_up_mails_to_one_address_are_limited_with_a_clear_message(client, db):
    """Finding 6: sign-up mails (new or taken address alike) count against the mail limits."""
    from madoguchi.notifications.ratelimit import RECIPIENT_LIMITS

    most = RECIPIENT_LIMITS[0][1]
    answers = [sign_up(client) for _ in range(most + 1)]

    assert [answer.status_code for answer in answers[:most]] == [302] * most
    assert answers[-1].status_code == 429
    assert "メールの送信回数が上限に達しました" in answers[-1].content.decode()
    assert len(mails_to(EMAIL)) == most


def test_reset_and_resend_are_limited_without_telling_whether_an_account_exists(client, resident):
    from madoguchi.notifications.ratelimit import RECIPIENT_LIMITS

    most = RECIPIENT_LIMITS[0][1]
    known = [
        client.post("/account/password/reset/", {"email": resident.email}) for _ in range(most + 2)
    ]
    unknown = [
        client.post("/account/password/reset/", {"email": "nobody@example.jp"})
        for _ in range(most + 2)
    ]

    assert {answer.status_code for answer in known + unknown} == {302}
    assert {answer["Location"] for answer in known} == {answer["Location"] for answer in unknown}
    assert len(mails_to(resident.email)) == most


@pytest.mark.parametrize("kind", ["group_operator", "platform_operator"])
def test_console_accounts_without_a_staff_row_cannot_log_in_or_reset_here(client, db, kind):
    """Review finding: group and platform operators have no Staff row; their right password
    logged them in at the resident login, outside the console's limits, and made the address
    "known" to the console's throttle."""
    from madoguchi.identity.services import group_operator_upsert
    from madoguchi.tenants.models import Organisation, SharedGroup

    address = f"{kind}@madoguchi.test"
    if kind == "group_operator":
        prefecture = Organisation.objects.get(lg_code="140007")
        group = SharedGroup.objects.create(
            slug="kanagawa-test", name="神奈川", prefecture=prefecture
        )
        user = group_operator_upsert(group=group, email=address, password=PASSWORD).user
    else:
        user = User.objects.create_superuser(address, PASSWORD)
    user.email_verified_at = now()
    user.save()

    right = log_in(client, email=address)
    wrong = log_in(client, email=address, password="not the password at all")
    client.post("/account/password/reset/", {"email": address})

    assert right.status_code == wrong.status_code == 422
    assert _error_summary(right) == _error_summary(wrong)
    assert "_auth_user_id" not in client.session
    assert not LoginAttempt.objects.filter(user=user, success=True).exists()
    assert mails_to(address) == []


def test_mail_limits_hold_when_the_client_address_is_unknown(db):
    """Review finding: with no usable REMOTE_ADDR (a unix socket, a misconfigured proxy) the
    account mails had no limit at all."""
    from madoguchi.notifications.ratelimit import RECIPIENT_LIMITS

    client = Client(REMOTE_ADDR="")
    most = RECIPIENT_LIMITS[0][1]
    answers = [sign_up(client) for _ in range(most + 1)]

    assert answers[-1].status_code == 429
    assert len(mails_to(EMAIL)) == most


def test_an_account_can_be_closed_even_after_many_mails_to_its_address(client, resident):
    """Review finding: the closing notice counted against the mail limits, so three reset
    requests by anyone made the deletion fail (500) and roll back."""
    for _ in range(5):
        client.post("/account/password/reset/", {"email": resident.email})
    client.force_login(resident)

    gone = client.post(DELETE, {"password": PASSWORD})

    assert gone.status_code == 200
    assert "アカウントを削除しました" in gone.content.decode()
    assert not User.objects.filter(pk=resident.pk).exists()
    assert "アカウントを削除しました" in mails_to(EMAIL)[-1]["subject"]
