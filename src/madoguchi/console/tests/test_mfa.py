"""Staff log in with a password and an authenticator code (TOTP); every attempt is recorded."""

import re
from base64 import b32encode
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.console.access import MFA_SESSION_KEY
from madoguchi.console.views_mfa import MAX_CODE_TRIES, PENDING_KEY
from madoguchi.core.time import now
from madoguchi.identity import mfa, throttle
from madoguchi.identity.models import LoginAttempt, RecoveryCode, StaffTOTP
from madoguchi.identity.throttle import account_key_of
from madoguchi.testing import STAFF_PASSWORD, console_login, totp_enrol, totp_fresh_code

LOGIN = "/console/login/"
CODE = "/console/login/code/"
RECOVERY = "/console/login/recovery/"
ENROL = "/console/login/enrol/"
HOME = "/console/"
PROCEDURES = "/console/procedures/"
EMAIL = "reviewer@yokohama.test"


def text(response: Any) -> str:
    return str(response.content.decode())


def password_step(client: Client, email: str = EMAIL, password: str = STAFF_PASSWORD, **meta):
    return client.post(LOGIN, {"username": email, "password": password}, **meta)


def logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session and MFA_SESSION_KEY in client.session


# --- the TOTP computation itself -----------------------------------------------------------


def test_codes_are_those_of_rfc_6238():
    # RFC 6238 appendix B, SHA-1, truncated to the 6 digits authenticator apps show.
    secret = b32encode(b"12345678901234567890").decode()
    for seconds, code in ((59, "287082"), (1111111109, "081804"), (1234567890, "005924")):
        instant = datetime.fromtimestamp(seconds, UTC)
        assert mfa.totp_code_at(secret_b32=secret, instant=instant) == code


def test_a_code_of_the_next_or_previous_step_passes_but_not_two_steps_away(staff_with_totp):
    user, at = staff_with_totp.user, now()

    assert not mfa.totp_verify(
        user=user, code=staff_with_totp.code(at - timedelta(seconds=65)), now=at
    )
    assert not mfa.totp_verify(
        user=user, code=staff_with_totp.code(at + timedelta(seconds=65)), now=at
    )
    assert mfa.totp_verify(user=user, code=staff_with_totp.code(at - timedelta(seconds=30)), now=at)
    assert mfa.totp_verify(user=user, code=staff_with_totp.code(at + timedelta(seconds=30)), now=at)


def test_a_code_is_never_accepted_twice_nor_an_older_one_after_it(staff_with_totp):
    user, at = staff_with_totp.user, now()
    current = staff_with_totp.code(at)

    assert mfa.totp_verify(user=user, code=current, now=at)
    assert not mfa.totp_verify(user=user, code=current, now=at)
    assert not mfa.totp_verify(
        user=user, code=staff_with_totp.code(at - timedelta(seconds=30)), now=at
    )


def test_the_secret_is_stored_encrypted(staff_with_totp):
    stored = StaffTOTP.objects.get(user=staff_with_totp.user).secret_encrypted

    assert staff_with_totp.secret not in stored


def test_the_enrolment_uri_is_what_authenticator_apps_read(staff_member):
    uri = mfa.otpauth_uri(secret_b32="JBSWY3DPEHPK3PXP", account=EMAIL)

    assert uri.startswith("otpauth://totp/")
    for part in ("secret=JBSWY3DPEHPK3PXP", "algorithm=SHA1", "digits=6", "period=30", EMAIL):
        assert part in uri


# --- the login with both factors -------------------------------------------------------------


def test_staff_log_in_with_password_then_code(client, staff_with_totp):
    first = password_step(client)

    assert first.status_code == 302
    assert first["Location"] == CODE
    assert SESSION_KEY not in client.session  # not logged in after the password alone
    assert client.get(HOME)["Location"].startswith(LOGIN)

    page = client.get(CODE)
    assert page.status_code == 200
    assert "確認コード（6桁の数字）" in text(page)
    response = client.post(CODE, {"code": staff_with_totp.code()})

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert logged_in(client)
    assert '<h2 id="org-heading">横浜市</h2>' in text(client.get(HOME))
    assert PENDING_KEY not in client.session
    assert throttle.DEVICE_COOKIE in response.cookies


def test_full_width_digits_and_spaces_in_the_code_are_fine(client, staff_with_totp):
    password_step(client)
    code = staff_with_totp.code()
    typed = (
        " ".join(code[:3])
        + " "
        + code[3:].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    )

    assert client.post(CODE, {"code": typed})["Location"] == HOME


def test_a_replayed_code_is_refused(client, staff_with_totp):
    password_step(client)
    code = staff_with_totp.code()
    assert client.post(CODE, {"code": code}).status_code == 302
    client.post("/console/logout/")

    password_step(client)
    response = client.post(CODE, {"code": code})

    assert response.status_code == 400
    assert "確認コードが正しくありません" in text(response)
    assert not logged_in(client)


@pytest.mark.parametrize(
    "code",
    [
        "000000",
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345\x00",
        "１" * 10_000,
        "' OR 1=1 --",
        "９" * 6,
    ],
)
def test_a_wrong_code_is_answered_in_japanese_and_recorded(client, staff_with_totp, code):
    password_step(client)
    before = LoginAttempt.objects.count()

    response = client.post(CODE, {"code": code})

    assert response.status_code == 400
    assert "確認コードが正しくありません" in text(response)
    assert 'aria-invalid="true"' in text(response)
    assert not logged_in(client)
    attempt = LoginAttempt.objects.latest("pk")
    assert LoginAttempt.objects.count() == before + 1
    assert (attempt.stage, attempt.success, attempt.user_id) == (
        "totp",
        False,
        staff_with_totp.user.pk,
    )


def test_too_many_wrong_codes_send_back_to_the_password(client, staff_with_totp):
    password_step(client)
    for _ in range(MAX_CODE_TRIES - 1):
        assert client.post(CODE, {"code": "000000"}).status_code == 400

    response = client.post(CODE, {"code": "000000"})

    assert response["Location"] == LOGIN
    assert "最初からやり直してください" in text(client.get(LOGIN))
    assert client.post(CODE, {"code": staff_with_totp.code()})["Location"] == LOGIN
    assert not logged_in(client)


def test_the_code_step_expires(client, staff_with_totp):
    password_step(client)
    session = client.session
    session[PENDING_KEY] = {**session[PENDING_KEY], "until": 0}
    session.save()

    response = client.post(CODE, {"code": staff_with_totp.code()})

    assert response["Location"] == LOGIN
    assert "ログインをやり直してください" in text(client.get(LOGIN))
    assert not logged_in(client)


@pytest.mark.parametrize("path", [CODE, RECOVERY, ENROL])
def test_the_second_steps_need_the_password_first(client, staff_with_totp, path):
    assert client.get(path)["Location"] == LOGIN
    assert client.post(path, {"code": staff_with_totp.code()})["Location"] == LOGIN
    assert not logged_in(client)


def test_a_forged_pending_state_is_ignored(client, staff_with_totp):
    session = client.session
    session[PENDING_KEY] = {"user": "1 OR 1=1", "until": 10**12}
    session.save()

    assert client.post(CODE, {"code": staff_with_totp.code()})["Location"] == LOGIN


def test_the_code_step_needs_the_csrf_token(staff_with_totp):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(LOGIN)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text(page))
    assert found is not None
    token = found.group(1)
    browser.post(
        LOGIN, {"username": EMAIL, "password": STAFF_PASSWORD, "csrfmiddlewaretoken": token}
    )

    assert browser.post(CODE, {"code": staff_with_totp.code()}).status_code == 403
    assert not logged_in(browser)


# --- recovery codes ---------------------------------------------------------------------------


def test_a_recovery_code_logs_in_once(client, staff_with_totp):
    codes = mfa.recovery_codes_generate(user=staff_with_totp.user, now=now())
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(code not in str(RecoveryCode.objects.values_list("code_hash")) for code in codes)

    password_step(client)
    response = client.post(RECOVERY, {"code": codes[3].lower().replace("-", " ")})

    assert response["Location"] == HOME
    assert logged_in(client)
    assert "残りは9個です" in text(client.get(HOME))
    client.post("/console/logout/")
    password_step(client)
    again = client.post(RECOVERY, {"code": codes[3]})
    assert again.status_code == 400
    assert "すでに使用されています" in text(again)
    assert not logged_in(client)
    attempt = LoginAttempt.objects.latest("pk")
    assert (attempt.stage, attempt.success) == ("recovery", False)


@pytest.mark.parametrize(
    "code", ["", "AAAA-AAAA-AAAA", "x" * 100_000, "\x00" * 12, "ABCD-EFGH-JKM0"]
)
def test_a_wrong_recovery_code_is_refused_in_japanese(client, staff_with_totp, code):
    mfa.recovery_codes_generate(user=staff_with_totp.user, now=now())
    password_step(client)

    response = client.post(RECOVERY, {"code": code})

    assert response.status_code == 400
    assert "リカバリーコードが正しくないか" in text(response)
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 0


# --- enrolment at the first login -------------------------------------------------------------


def test_staff_without_a_second_factor_enrol_right_after_the_password(client, staff_member):
    first = password_step(client)

    assert first["Location"] == ENROL
    page = client.get(ENROL)
    html = text(page)
    assert page.status_code == 200
    assert '<img src="data:image/png;base64,' in html
    secret = mfa.totp_pending_secret(user=staff_member.user)
    assert secret is not None
    assert " ".join(secret[i : i + 4] for i in range(0, 32, 4)) in html  # typed by hand too
    assert "otpauth://totp/" in html
    # Nothing else opens until enrolment is done.
    for path in (HOME, PROCEDURES):
        assert client.get(path)["Location"].startswith(LOGIN)

    wrong = client.post(ENROL, {"code": "000000"})
    assert wrong.status_code == 400
    assert "確認コードが正しくありません" in text(wrong)
    done = client.post(ENROL, {"code": mfa.totp_code_at(secret_b32=secret, instant=now())})

    assert done.status_code == 200
    codes = re.findall(r"<code>([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})</code>", text(done))
    assert len(codes) == 10
    assert "このコードが表示されるのは今回だけです" in text(done)
    assert "no-store" in done["Cache-Control"]
    assert logged_in(client)
    assert client.get(HOME).status_code == 200
    assert mfa.totp_is_confirmed(user=staff_member.user)
    assert mfa.recovery_code_use(user=staff_member.user, code=codes[0], now=now())


def test_reloading_the_enrolment_page_keeps_the_same_secret(client, staff_member):
    password_step(client)
    client.get(ENROL)
    secret = mfa.totp_pending_secret(user=staff_member.user)
    client.get(ENROL)

    assert mfa.totp_pending_secret(user=staff_member.user) == secret


def test_a_password_cannot_replace_a_confirmed_second_factor(client, staff_with_totp):
    password_step(client)

    assert client.get(ENROL)["Location"] == CODE
    with pytest.raises(mfa.AlreadyEnrolled):
        mfa.totp_begin_enrolment(user=staff_with_totp.user, now=now())


# --- who may log in, and the session mark -----------------------------------------------------


def test_a_resident_cannot_log_in_to_the_console(client, db):
    from madoguchi.identity.models import User

    User.objects.create_user("resident@example.jp", STAFF_PASSWORD)

    response = password_step(client, "resident@example.jp")

    assert response.status_code == 200
    assert "ログインできませんでした。" in text(response)
    assert PENDING_KEY not in client.session


def test_a_session_logged_in_elsewhere_does_not_open_the_console(client, staff_member):
    # force_login alone is a session with the password and no second factor, as after a
    # login by the resident portal or the admin site (no fixture marks it complete).
    client.force_login(staff_member.user)
    assert MFA_SESSION_KEY not in client.session

    for path in (HOME, PROCEDURES, "/console/admin/staff/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)


def test_only_the_explicit_console_login_opens_a_page_that_needs_the_second_factor(
    client, admin_staff
):
    # The proof that a console test can catch a bypass of the second factor: the same staff
    # member, the same page, refused with force_login only and shown after console_login.
    client.force_login(admin_staff.user)
    refused = client.get("/console/admin/staff/")
    assert refused.status_code == 302
    assert refused["Location"].startswith(LOGIN)

    console_login(client, admin_staff.user)
    assert client.get("/console/admin/staff/").status_code == 200


def test_a_mark_for_another_user_does_not_count(client, staff_member, other_staff):
    client.force_login(staff_member.user)
    session = client.session
    session[MFA_SESSION_KEY] = other_staff.user.pk
    session.save()

    assert client.get(PROCEDURES)["Location"].startswith(LOGIN)


def test_the_login_page_of_a_half_logged_in_session_is_the_form(client, staff_with_totp):
    password_step(client)

    assert client.get(LOGIN).status_code == 200


# --- the record of every attempt --------------------------------------------------------------


def test_every_attempt_is_recorded_with_an_audit_event(client, staff_with_totp):
    password_step(client, password="wrong")
    password_step(client, "nobody@yokohama.test", "wrong")
    password_step(client)
    client.post(CODE, {"code": "000000"})
    client.post(CODE, {"code": staff_with_totp.code()})

    attempts = list(LoginAttempt.objects.order_by("pk").values_list("stage", "success"))
    assert attempts == [
        ("password", False),
        ("password", False),
        ("password", True),
        ("totp", False),
        ("totp", True),
    ]
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [
        "staff.login_failed",
        "staff.login_failed",
        "staff.login_first_factor",
        "staff.login_failed",
        "staff.login",
    ]
    login_event = AuditEvent.objects.get(action="staff.login")
    assert login_event.organisation == staff_with_totp.staff.organisation
    assert login_event.actor == staff_with_totp.user
    unknown = AuditEvent.objects.filter(action="staff.login_failed", actor__isnull=True).get()
    recorded = str(unknown.detail) + unknown.actor_label + unknown.target_id
    assert "nobody" not in recorded
    assert unknown.detail["account_key"] == account_key_of("nobody@yokohama.test")[:16]
    assert "wrong" not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


# --- throttling through the login page --------------------------------------------------------


def test_an_attacker_cannot_lock_the_victim_out(client, staff_with_totp):
    # The victim logged in from their office before.
    password_step(client, REMOTE_ADDR="198.51.100.7")
    client.post(CODE, {"code": staff_with_totp.code()}, REMOTE_ADDR="198.51.100.7")
    client.post("/console/logout/", REMOTE_ADDR="198.51.100.7")
    # An attacker hammers the account from many addresses.
    attacker = Client()
    for i in range(throttle.ACCOUNT_FREE_FAILURES * 2):
        attacker.post(
            LOGIN, {"username": EMAIL, "password": f"guess{i}"}, REMOTE_ADDR=f"203.0.113.{i}"
        )
    slowed = attacker.post(
        LOGIN, {"username": EMAIL, "password": STAFF_PASSWORD}, REMOTE_ADDR="203.0.113.250"
    )
    assert slowed.status_code == 429
    assert "しばらくログインを受け付けません" in text(slowed)
    assert PENDING_KEY not in attacker.session  # refused before the password was checked

    # The victim, from the usual address (even in a fresh browser), gets in.
    victim = Client()
    first = password_step(victim, REMOTE_ADDR="198.51.100.7")
    assert first["Location"] == CODE
    code = totp_fresh_code(staff_with_totp.user, staff_with_totp.secret)
    assert victim.post(CODE, {"code": code}, REMOTE_ADDR="198.51.100.7")["Location"] == HOME
    # And with the browser that logged in before, from anywhere.
    client.cookies[throttle.DEVICE_COOKIE] = client.cookies[throttle.DEVICE_COOKIE].value
    assert password_step(client, REMOTE_ADDR="192.0.2.9")["Location"] == CODE


def test_an_attacker_behind_the_victims_office_address_cannot_hold_up_the_victims_browser(
    client, staff_with_totp
):
    office = "198.51.100.7"
    # The victim logged in from the office with this browser (its device cookie).
    password_step(client, REMOTE_ADDR=office)
    client.post(CODE, {"code": staff_with_totp.code()}, REMOTE_ADDR=office)
    client.post("/console/logout/", REMOTE_ADDR=office)
    # Someone behind the same office NAT hammers the account.
    attacker = Client()
    for i in range(throttle.PAIR_FREE_FAILURES + 3):
        password_step(attacker, password=f"guess{i}", REMOTE_ADDR=office)
    assert password_step(attacker, REMOTE_ADDR=office).status_code == 429
    assert password_step(Client(), REMOTE_ADDR=office).status_code == 429  # no cookie: waits

    # The victim's own browser, at that same address, is not held up at either step.
    client.cookies[throttle.DEVICE_COOKIE] = client.cookies[throttle.DEVICE_COOKIE].value
    assert password_step(client, REMOTE_ADDR=office)["Location"] == CODE
    code = totp_fresh_code(staff_with_totp.user, staff_with_totp.secret)
    assert client.post(CODE, {"code": code}, REMOTE_ADDR=office)["Location"] == HOME
    devices = set(LoginAttempt.objects.filter(success=True).values_list("device", flat=True))
    assert throttle.device_key_of(client.cookies[throttle.DEVICE_COOKIE].value) in devices


def test_one_address_trying_many_accounts_is_slowed(client, staff_member):
    for i in range(throttle.ADDRESS_MAX_FAILURES):
        client.post(LOGIN, {"username": f"user{i}@yokohama.test", "password": "Passw0rd!"})

    response = password_step(client)  # even the right password of a real account

    assert response.status_code == 429
    assert "しばらくログインを受け付けません" in text(response)
    assert PENDING_KEY not in client.session
    assert LoginAttempt.objects.filter(stage="throttled").count() == 1
    assert password_step(Client(), REMOTE_ADDR="198.51.100.8")["Location"] == ENROL


def test_guessing_codes_after_the_password_is_throttled_too(client, staff_with_totp):
    other = Client()
    for _ in range(3):
        password_step(other, REMOTE_ADDR="203.0.113.1")
        for _ in range(MAX_CODE_TRIES):
            other.post(CODE, {"code": "000000"}, REMOTE_ADDR="203.0.113.1")

    response = password_step(other, REMOTE_ADDR="203.0.113.1")

    assert response.status_code == 429
    assert "しばらくログインを受け付けません" in text(response)


def test_a_wrong_password_still_enrolls_nothing(client, staff_member):
    password_step(client, password="wrong")

    assert client.get(ENROL)["Location"] == LOGIN
    assert not StaffTOTP.objects.filter(user=staff_member.user).exists()


def test_an_account_that_lost_its_totp_enrols_again(client, staff_member):
    totp_enrol(staff_member.user)
    mfa.totp_reset(user=staff_member.user)

    assert password_step(client)["Location"] == ENROL
