"""Passkeys through the real pages with real WebAuthn answers (an EC P-256 software
authenticator: real authenticatorData, clientDataJSON, "none" attestation and signatures)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.assurance import identity_current, identity_session_load
from madoguchi.identity.models import LoginAttempt, PasskeyCredential
from madoguchi.identity.passkeys import CHALLENGE_KEY
from madoguchi.testing import PASSWORD, SoftAuthenticator, resident_create

LOGIN = "/account/login/"
LOGIN_PASSKEY = "/account/login/passkey/"
LOGIN_OPTIONS = "/account/login/passkey/options/"
PASSKEYS = "/account/passkeys/"
OPTIONS = "/account/passkeys/options/"
REAUTH = "/account/passkeys/password/"


@pytest.fixture
def hanako(db: None) -> Any:
    return resident_create("hanako@example.jp", verified=True)


def password_login(client: Client, email: str) -> None:
    response = client.post(LOGIN, {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]


def options(client: Client, url: str) -> dict[str, Any]:
    response = client.post(url)
    assert response.status_code == 200, response.content
    data: dict[str, Any] = json.loads(response.content)
    return data


def register(client: Client, authenticator: SoftAuthenticator, **knobs: Any) -> Any:
    opts = options(client, OPTIONS)
    return client.post(
        PASSKEYS, {"credential": authenticator.register(opts, **knobs), "name": "私のスマホ"}
    )


@pytest.fixture
def registered(hanako: Any) -> tuple[Any, SoftAuthenticator]:
    """花子 with one passkey on a software authenticator, logged out again."""
    client = Client()
    password_login(client, hanako.email)
    authenticator = SoftAuthenticator()
    response = register(client, authenticator)
    assert response.status_code == 302, response.content.decode()[:3000]
    return hanako, authenticator


def passkey_login(client: Client, authenticator: SoftAuthenticator, **knobs: Any) -> Any:
    opts = options(client, LOGIN_OPTIONS)
    assert opts["userVerification"] == "required"
    assert opts.get("allowCredentials", []) == []
    return client.post(LOGIN_PASSKEY, {"credential": authenticator.assertion(opts, **knobs)})


# --- Registration ---------------------------------------------------------------------------


def test_a_resident_registers_a_passkey_with_user_verification_required(hanako):
    client = Client()
    password_login(client, hanako.email)
    opts = options(client, OPTIONS)
    assert opts["authenticatorSelection"]["userVerification"] == "required"
    assert opts["authenticatorSelection"]["residentKey"] == "required"
    assert opts["rp"]["id"] == "testserver"
    authenticator = SoftAuthenticator()
    response = client.post(
        PASSKEYS, {"credential": authenticator.register(opts), "name": " 私のスマホ "}
    )
    assert response.status_code == 302
    passkey = PasskeyCredential.objects.get(user=hanako)
    assert passkey.name == "私のスマホ"
    assert passkey.credential_id == SoftAuthenticator.b64(authenticator.credential_id)
    assert bytes(passkey.user_handle) == authenticator.user_handle
    assert passkey.transports == ["hybrid", "internal"]
    assert AuditEvent.objects.filter(action="resident.passkey_added", actor=hanako).count() == 1
    page = client.get(PASSKEYS)
    assert "私のスマホ" in page.content.decode()
    # The next passkey of the account keeps the account's user handle and excludes the first.
    second = options(client, OPTIONS)
    assert second["user"]["id"] == SoftAuthenticator.b64(authenticator.user_handle)
    assert [c["id"] for c in second["excludeCredentials"]] == [passkey.credential_id]


def test_registration_needs_the_password_again_in_an_old_session(hanako):
    client = Client()
    client.force_login(hanako)
    response = client.post(OPTIONS)
    assert response.status_code == 403
    assert "パスワード" in json.loads(response.content)["message"]
    page = client.get(PASSKEYS)
    assert "パスワードを確認する" in page.content.decode()
    wrong = client.post(REAUTH, {"password": "not the password"})
    assert wrong.status_code == 422
    assert "パスワードが違います" in wrong.content.decode()
    assert client.post(REAUTH, {"password": PASSWORD}).status_code == 302
    assert client.post(OPTIONS).status_code == 200


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "rp_id"),
        ({"flags": SoftAuthenticator.UP | SoftAuthenticator.AT}, "user_verification"),
        ({"challenge": SoftAuthenticator.b64(b"another challenge 32 bytes long!")}, "challenge"),
    ],
)
def test_a_wrong_registration_is_refused_recorded_and_stores_nothing(hanako, knobs, reason):
    client = Client()
    password_login(client, hanako.email)
    response = register(client, SoftAuthenticator(), **knobs)
    assert response.status_code == 422
    assert "パスキーを確認できませんでした" in response.content.decode()
    assert not PasskeyCredential.objects.exists()
    refused = AuditEvent.objects.get(action="resident.passkey_refused")
    assert refused.detail == {"reason": reason}


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "not json",
        "[]",
        '{"id": 1}',
        '{"id": "***", "response": {}}',
        '{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "%%%"}}',
        json.dumps({"id": "A" * 2000, "response": {}}),
        "x" * 70_000,
        '{"id": "AAAA\\u0000", "response": {}}',
        "[" * 60_000,
    ],
)
def test_malformed_registration_answers_get_a_japanese_message_never_a_500(hanako, credential):
    client = Client()
    password_login(client, hanako.email)
    options(client, OPTIONS)
    response = client.post(PASSKEYS, {"credential": credential, "name": "x"})
    assert response.status_code == 422
    text = response.content.decode()
    assert "パスキー" in text
    assert not PasskeyCredential.objects.exists()


def test_a_registration_challenge_is_single_use(hanako):
    client = Client()
    password_login(client, hanako.email)
    opts = options(client, OPTIONS)
    authenticator = SoftAuthenticator()
    answer = authenticator.register(opts)
    assert client.post(PASSKEYS, {"credential": answer, "name": "a"}).status_code == 302
    # The same answer again: its challenge is spent.
    again = client.post(PASSKEYS, {"credential": answer, "name": "b"})
    assert again.status_code == 422
    assert "もう一度はじめから" in again.content.decode()
    assert PasskeyCredential.objects.count() == 1


def test_a_registration_challenge_expires(hanako, settings):
    client = Client()
    password_login(client, hanako.email)
    opts = options(client, OPTIONS)
    session = client.session
    session[CHALLENGE_KEY]["expires"] = (now() - timedelta(seconds=1)).isoformat()
    session.save()
    response = client.post(PASSKEYS, {"credential": SoftAuthenticator().register(opts)})
    assert response.status_code == 422
    assert not PasskeyCredential.objects.exists()


def test_a_challenge_of_another_session_does_not_count(hanako):
    first, second = Client(), Client()
    password_login(first, hanako.email)
    password_login(second, hanako.email)
    opts = options(first, OPTIONS)
    response = second.post(PASSKEYS, {"credential": SoftAuthenticator().register(opts)})
    assert response.status_code == 422
    assert not PasskeyCredential.objects.exists()


def test_rename_and_delete_only_ones_own_passkeys(registered):
    hanako, _authenticator = registered
    passkey = PasskeyCredential.objects.get(user=hanako)
    taro = resident_create("taro@example.jp", verified=True)
    other = Client()
    other.force_login(taro)
    assert other.post(f"{PASSKEYS}{passkey.pk}/rename/", {"name": "乗っ取り"}).status_code == 404
    assert other.post(f"{PASSKEYS}{passkey.pk}/delete/").status_code == 404
    passkey.refresh_from_db()
    assert passkey.name == "私のスマホ"
    owner = Client()
    owner.force_login(hanako)
    too_long = owner.post(f"{PASSKEYS}{passkey.pk}/rename/", {"name": "あ" * 65})
    assert too_long.status_code == 422
    assert owner.post(f"{PASSKEYS}{passkey.pk}/rename/", {"name": "仕事用"}).status_code == 302
    passkey.refresh_from_db()
    assert passkey.name == "仕事用"
    assert owner.post(f"{PASSKEYS}{passkey.pk}/delete/").status_code == 302
    assert not PasskeyCredential.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"resident.passkey_renamed", "resident.passkey_deleted"} <= actions


# --- Login ----------------------------------------------------------------------------------


def test_a_passkey_login_reaches_authentication_level_2(registered):
    hanako, authenticator = registered
    client = Client()
    response = passkey_login(client, authenticator)
    assert response.status_code == 302
    assert response["Location"] == "/mypage/"
    assert int(client.session["_auth_user_id"]) == hanako.pk
    stored = identity_session_load(client.session, user_id=hanako.pk)
    assert stored is not None
    assert (stored.ial, stored.aal, stored.methods) == (1, 2, ("passkey",))
    current = identity_current(user=hanako, session=client.session)
    assert current is not None
    assert current.aal == 2
    passkey = PasskeyCredential.objects.get(user=hanako)
    assert passkey.sign_count == 1
    assert passkey.last_used_at is not None
    attempt = LoginAttempt.objects.filter(user=hanako, stage="passkey").get()
    assert attempt.success
    assert attempt.portal == "portal"
    assert AuditEvent.objects.filter(action="resident.login", actor=hanako).exists()
    page = client.get("/account/identity/")
    assert "当人認証</dt><dd>レベル2（パスキー）" in page.content.decode()


def _refused(response: Any) -> str:
    assert response.status_code == 422, response.status_code
    assert "_auth_user_id" not in response.client.session
    return str(response.content.decode())


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "rp_id"),
        ({"flags": SoftAuthenticator.UP}, "user_verification"),
        ({"sign_count": 0}, "sign_count"),
    ],
)
def test_a_wrong_login_answer_is_refused_and_recorded(registered, knobs, reason):
    hanako, authenticator = registered
    passkey_login(Client(), authenticator)  # counter 1
    client = Client()
    text = _refused(passkey_login(client, authenticator, **knobs))
    assert "パスキーでログインできませんでした" in text
    failed = LoginAttempt.objects.filter(user=hanako, success=False, stage="passkey").get()
    assert failed.portal == "portal"
    event = AuditEvent.objects.filter(action="resident.login_failed", actor=hanako).get()
    assert event.detail["reason"] == reason
    assert PasskeyCredential.objects.get(user=hanako).sign_count == 1


def test_a_replayed_login_answer_is_refused(registered):
    _hanako, authenticator = registered
    client = Client()
    opts = options(client, LOGIN_OPTIONS)
    answer = authenticator.assertion(opts)
    assert client.post(LOGIN_PASSKEY, {"credential": answer}).status_code == 302
    # Another browser posts the same answer: no challenge of its own.
    thief = Client()
    options(thief, LOGIN_OPTIONS)
    text = _refused(thief.post(LOGIN_PASSKEY, {"credential": answer}))
    assert "パスキー" in text
    # The same browser again, after logging out: its challenge was spent.
    client.post("/account/logout/")
    assert client.post(LOGIN_PASSKEY, {"credential": answer}).status_code == 422


def test_an_unknown_credential_is_refused(registered):
    _hanako, _authenticator = registered
    stranger = SoftAuthenticator()
    stranger.user_handle = b"x" * 32
    text = _refused(passkey_login(Client(), stranger))
    assert "パスキーでログインできませんでした" in text
    assert LoginAttempt.objects.filter(success=False, user=None, stage="passkey").count() == 1


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "{",
        "null",
        '{"id": "AAAA"}',
        '{"id": "@@@@", "response": {}}',
        json.dumps({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"x": 1}}),
        "x" * 70_000,
        '{"a":' * 20_000,
    ],
)
def test_malformed_login_answers_get_a_japanese_message_never_a_500(registered, credential):
    hanako, _authenticator = registered
    client = Client()
    options(client, LOGIN_OPTIONS)
    before = PasskeyCredential.objects.get(user=hanako).sign_count
    text = _refused(client.post(LOGIN_PASSKEY, {"credential": credential}))
    assert "ログインできませんでした" in text
    assert PasskeyCredential.objects.get(user=hanako).sign_count == before


def test_a_forged_answer_for_a_known_credential_is_refused(registered):
    hanako, authenticator = registered
    client = Client()
    opts = options(client, LOGIN_OPTIONS)
    answer = json.loads(authenticator.assertion(opts))
    forger = SoftAuthenticator()  # another key signs
    forged = json.loads(forger.assertion(opts, sign_count=5))
    answer["response"]["signature"] = forged["response"]["signature"]
    _refused(client.post(LOGIN_PASSKEY, {"credential": json.dumps(answer)}))
    event = AuditEvent.objects.filter(action="resident.login_failed", actor=hanako).get()
    assert event.detail["reason"] == "signature"


def test_a_staff_account_cannot_use_the_resident_passkey_login(registered, organisation):
    hanako, authenticator = registered
    from madoguchi.identity.constants import StaffRole
    from madoguchi.identity.models import Staff

    Staff.objects.create(user=hanako, organisation=organisation, role=StaffRole.REVIEWER)
    text = _refused(passkey_login(Client(), authenticator))
    assert "パスキーでログインできませんでした" in text
    event = AuditEvent.objects.filter(action="resident.login_failed", actor=hanako).get()
    assert event.detail["reason"] == "staff_account"


def test_passkey_failures_count_towards_the_accounts_login_limits(registered):
    hanako, authenticator = registered
    client = Client()
    for _ in range(3):
        _refused(passkey_login(client, authenticator, origin="https://evil.example"))
    # The pair (account, address) now waits: even a right answer is refused, before checking.
    response = passkey_login(client, authenticator)
    assert response.status_code == 429
    assert "しばらくログインを受け付けません" in response.content.decode()
    # And the password door of the same account from the same address waits too.
    blocked = Client().post(LOGIN, {"username": hanako.email, "password": PASSWORD})
    assert blocked.status_code == 429


def test_the_login_page_explains_passkeys_need_javascript(db):
    page = Client().get(LOGIN).content.decode()
    assert "パスキーでログイン" in page
    assert "<noscript>" in page
    assert "JavaScript" in page
    assert "portal/passkey.js" in page


def test_the_relying_party_comes_from_settings_when_configured(hanako, settings):
    settings.WEBAUTHN_RP_ID = "example.jp"
    settings.WEBAUTHN_ORIGINS = ["https://madoguchi.example.jp"]
    client = Client()
    password_login(client, hanako.email)
    opts = options(client, OPTIONS)
    assert opts["rp"]["id"] == "example.jp"
    # An answer from the test server's origin no longer counts.
    authenticator = SoftAuthenticator(rp_id="example.jp")
    response = client.post(PASSKEYS, {"credential": authenticator.register(opts)})
    assert response.status_code == 422
    opts = options(client, OPTIONS)
    good = SoftAuthenticator(origin="https://madoguchi.example.jp", rp_id="example.jp")
    assert client.post(PASSKEYS, {"credential": good.register(opts)}).status_code == 302


# --- The resident's 本人確認 page --------------------------------------------------------------


def test_the_identity_page_shows_levels_what_they_allow_and_how_to_raise_them(hanako):
    client = Client()
    client.force_login(hanako)
    page = client.get("/account/identity/").content.decode()
    assert "身元確認</dt><dd>レベル1（メールアドレスの確認）" in page
    assert "当人認証</dt><dd>レベル1（パスワード）" in page
    for words in ("レベル3", "電子署名が必要な手続", "/account/passkeys/", "本人確認コード"):
        assert words in page
    assert "TODO" not in page


def test_the_identity_and_passkey_pages_are_for_residents_only(hanako, organisation):
    from madoguchi.identity.constants import StaffRole
    from madoguchi.testing import staff_create

    visitor = Client()
    for url in ("/account/identity/", PASSKEYS):
        response = visitor.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
    assert visitor.post(OPTIONS).status_code == 302
    staff = staff_create(organisation, email="s@yokohama.test", role=StaffRole.REVIEWER)
    staff_client = Client()
    staff_client.force_login(staff.user)
    assert staff_client.get("/account/identity/").status_code == 403
    assert staff_client.post("/account/identity/").status_code == 403


def test_closing_an_account_removes_its_passkeys_and_codes(registered):
    from madoguchi.identity.models import ProofingCode
    from madoguchi.identity.proofing import proofing_code_issue
    from madoguchi.identity.services import resident_delete

    hanako, _authenticator = registered
    proofing_code_issue(user=hanako, now=now())
    resident_delete(user=hanako, now=now())
    assert not PasskeyCredential.objects.exists()
    assert not ProofingCode.objects.exists()


def test_a_platform_operator_cannot_register_a_resident_passkey(db):
    operator = resident_create("operator@example.jp", verified=True)
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(operator)
    session = client.session
    from madoguchi.identity.passkeys import reauth_mark

    reauth_mark(session, user_id=operator.pk, now=now())
    session.save()
    response = client.post(OPTIONS)
    assert response.status_code == 403
    assert "職員のアカウント" in json.loads(response.content)["message"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/account/identity/", "/account/identity/"), ("https://evil.example/", "/mypage/")],
)
def test_a_passkey_login_follows_next_only_within_the_site(registered, target, expected):
    _hanako, authenticator = registered
    client = Client()
    opts = options(client, LOGIN_OPTIONS)
    response = client.post(
        LOGIN_PASSKEY, {"credential": authenticator.assertion(opts), "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == expected
